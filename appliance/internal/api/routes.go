package api

import (
	"errors"
	"net/http"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// routes is the handler table: every API path, the least role that may call
// it, and its handler. Reads need viewer, changes to a case responder, and
// changes to the appliance admin.
func routes() []route {
	return []route{
		{"GET /api/v1/status", auth.Viewer, getStatus, 0},

		{"GET /api/v1/cases", auth.Viewer, listCases, 0},
		{"POST /api/v1/cases", auth.Responder, createCase, 0},
		{"GET /api/v1/cases/{id}", auth.Viewer, getCase, 0},
		{"GET /api/v1/cases/{id}/journal", auth.Viewer, getJournal, 0},
		{"GET /api/v1/cases/{id}/verify", auth.Viewer, verifyCase, 0},
		{"POST /api/v1/cases/{id}/assets", auth.Responder, importAssets, 0},
		{"POST /api/v1/cases/{id}/{command}", auth.Responder, caseCommand, 0},
		{"GET /api/v1/cases/{id}/evidence", auth.Viewer, listEvidence, 0},
		{"GET /api/v1/cases/{id}/evidence/{sha256}", auth.Viewer, getEvidence, 0},
		{"POST /api/v1/cases/{id}/evidence", auth.Responder, collectEvidence, unlimited},
		{"POST /api/v1/cases/{id}/analyses", auth.Responder, analyzeEvidence, 0},
		{"GET /api/v1/cases/{id}/triage", auth.Viewer, getTriage, 0},
		{"POST /api/v1/cases/{id}/triage/collect", auth.Responder, triageCollect, 0},
		{"POST /api/v1/cases/{id}/triage/scan", auth.Responder, triageScan, 0},
		{"POST /api/v1/cases/{id}/triage/plan", auth.Responder, triagePlan, 0},
		{"POST /api/v1/cases/{id}/triage/steps/{step}/{action}", auth.Responder, triageStep, 0},
		{"GET /api/v1/cases/{id}/findings", auth.Viewer, listFindings, 0},

		{"GET /api/v1/capture", auth.Viewer, captureStatus, 0},
		{"GET /api/v1/capture/events", auth.Viewer, captureEvents, 0},
		{"GET /api/v1/capture/hosts", auth.Viewer, captureHosts, 0},
		{"GET /api/v1/console/traffic", auth.Viewer, consoleTraffic, 0},
		{"GET /api/v1/cases/{id}/findings/{fid}/pcap", auth.Viewer, findingPcap, 0},

		{"GET /api/v1/tokens", auth.Admin, listTokens, 0},
		{"POST /api/v1/tokens", auth.Admin, createToken, 0},
		{"DELETE /api/v1/tokens/{name}", auth.Admin, revokeToken, 0},
		{"GET /api/v1/accounts", auth.Admin, listAccounts, 0},
		{"POST /api/v1/accounts", auth.Admin, createAccount, 0},
		{"POST /api/v1/accounts/{name}/{command}", auth.Admin, accountCommand, 0},
		{"DELETE /api/v1/accounts/{name}", auth.Admin, removeAccount, 0},

		{"POST /api/v1/cases/{id}/export", auth.Responder, exportCase, 0},
		{"GET /api/v1/cases/{id}/report", auth.Viewer, getReport, 0},
		{"GET /api/v1/isolations", auth.Viewer, listIsolations, 0},
		{"POST /api/v1/isolations", auth.Responder, addIsolation, 0},
		{"POST /api/v1/isolations/plan", auth.Viewer, planIsolation, 0},
		{"POST /api/v1/isolations/release", auth.Responder, releaseIsolations, 0},
		{"GET /api/v1/isolations/{id}", auth.Viewer, getIsolation, 0},
		{"POST /api/v1/isolations/{id}/confirm", auth.Responder, confirmIsolation, 0},
		{"POST /api/v1/isolations/{id}/release", auth.Responder, releaseIsolation, 0},
		{"GET /api/v1/modules", auth.Viewer, listModules, 0},
		{"POST /api/v1/modules", auth.Admin, installModule, maxModule},
		{"POST /api/v1/modules/trust", auth.Admin, trustKey, 0},
		{"GET /api/v1/modules/feeds", auth.Viewer, listFeeds, 0},
		{"POST /api/v1/modules/feeds", auth.Admin, installFeed, maxModule},
		{"POST /api/v1/modules/{name}/{command}", auth.Admin, moduleCommand, 0},
		{"GET /api/v1/sync", auth.Viewer, syncStatus, 0},
		{"POST /api/v1/sync/{command}", auth.Responder, syncCommand, 0},
	}
}

type tokenRequest struct {
	Name string    `json:"name"`
	Role auth.Role `json:"role"`
}

func listTokens(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	toks, err := s.cfg.Tokens.List()
	if err != nil {
		return err
	}
	if toks == nil {
		toks = []auth.Token{}
	}
	return writeJSON(w, http.StatusOK, toks)
}

func createToken(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	var req tokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	tok, secret, err := s.cfg.Tokens.Create(req.Name, req.Role, c.Actor, s.cfg.Now())
	if err != nil {
		return tokenError(err)
	}
	if err := s.journalAppliance(r, c, "token.created", tok); err != nil {
		// The token must not work if its creation is not on record.
		s.cfg.Tokens.Revoke(tok.Name)
		return err
	}
	return writeJSON(w, http.StatusCreated, struct {
		auth.Token
		Secret string `json:"secret"`
	}{tok, secret.Reveal()})
}

func revokeToken(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	tok, err := s.cfg.Tokens.Revoke(r.PathValue("name"))
	if err != nil {
		return tokenError(err)
	}
	if err := s.journalAppliance(r, c, "token.revoked", tok); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func tokenError(err error) error {
	switch {
	case errors.Is(err, auth.ErrInvalid):
		return UserError(ErrBadRequest, err)
	case errors.Is(err, auth.ErrExists):
		return UserError(ErrConflict, err)
	case errors.Is(err, auth.ErrNotFound):
		return UserError(ErrNotFound, err)
	}
	return err
}

// journalAppliance records a change to the appliance itself in its journal.
func (s *Server) journalAppliance(r *http.Request, c auth.Caller, typ string, payload any) error {
	_, err := s.cfg.Journal.Append(r.Context(), journal.Record{Journal: casebook.ApplianceJournal, Actor: c.Actor, Type: typ, Payload: payload})
	return err
}
