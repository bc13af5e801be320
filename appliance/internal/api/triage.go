package api

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
	"github.com/firebreak-ir/firebreak/appliance/internal/triage"
)

// Host triage: collect from a target into the vault, scan it with the
// host detection modules, plan its cleanup, and approve, apply or undo one
// step at a time (the console lists the plans and acts on their steps).

// TriageRequest names a target (triage.Spec) for collect, scan and plan.
type TriageRequest struct {
	triage.Spec
}

// TriageScan is the answer of a scan: what was collected first, if
// anything, and what the scan found.
type TriageScan struct {
	Collected *triage.Collection `json:"collected,omitempty"`
	*triage.ScanResult
}

var triageServices sync.Map // *Server → *triage.Service

func (s *Server) triage() *triage.Service {
	if v, ok := triageServices.Load(s); ok {
		return v.(*triage.Service)
	}
	cache := ""
	if d, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(d, "firebreak", "modules") // the CLI's compilation cache too
	}
	svc := triage.New(triage.Options{Book: s.cfg.Book, Vault: s.cfg.Vault, Version: s.cfg.Version, Logger: s.cfg.Logger, CacheDir: cache,
		ModuleJournal: func(ctx context.Context, typ string, payload any) error {
			_, err := s.cfg.Journal.Append(ctx, journal.Record{Journal: casebook.ApplianceJournal, Actor: "firebreak", Type: typ, Payload: payload})
			return err
		}})
	v, _ := triageServices.LoadOrStore(s, svc)
	return v.(*triage.Service)
}

func triageError(err error) error {
	switch {
	case errors.Is(err, triage.ErrTarget), errors.Is(err, triage.ErrEscape):
		return UserError(ErrBadRequest, err)
	case errors.Is(err, triage.ErrNoCollection), errors.Is(err, triage.ErrNoFindings), errors.Is(err, triage.ErrRefused),
		errors.Is(err, triage.ErrChanged), errors.Is(err, triage.ErrReadOnly):
		return UserError(ErrConflict, err)
	case errors.Is(err, triage.ErrNotYet), errors.Is(err, firstparty.ErrNotBuilt):
		return UserError(ErrNotYet, err)
	}
	return caseError(err)
}

// getTriage is the case's collections (without their file lists) and
// plans: GET /cases/{id}/triage.
func getTriage(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	var out cases.TriageState
	err := s.cfg.Book.View(r.PathValue("id"), func(cs *cases.Case) error {
		out.Plans = append([]cases.TriagePlan{}, cs.Triage.Plans...)
		out.Collections = []cases.TriageCollection{}
		for _, col := range cs.Triage.Collections {
			col.Files = nil
			out.Collections = append(out.Collections, col)
		}
		return nil
	})
	if err != nil {
		return caseError(err)
	}
	return writeJSON(w, http.StatusOK, out)
}

// triageCollect collects from a target: POST /cases/{id}/triage/collect.
func triageCollect(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	var req TriageRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := triage.Open(r.Context(), req.Spec)
	if err != nil {
		return triageError(err)
	}
	defer t.Close()
	col, err := s.triage().Collect(r.Context(), c.Actor, r.PathValue("id"), t)
	if err != nil && col == nil {
		return triageError(err)
	}
	return writeJSON(w, http.StatusCreated, col)
}

// triageScan scans a target's latest collection, collecting first if
// nothing was collected from it: POST /cases/{id}/triage/scan.
func triageScan(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	var req TriageRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	id, name := r.PathValue("id"), triage.Canonical(req.Target)
	var out TriageScan
	res, err := s.triage().Scan(r.Context(), c.Actor, id, name)
	if errors.Is(err, triage.ErrNoCollection) {
		t, oerr := triage.Open(r.Context(), req.Spec)
		if oerr != nil {
			return triageError(oerr)
		}
		out.Collected, err = s.triage().Collect(r.Context(), c.Actor, id, t)
		t.Close()
		if err != nil && out.Collected == nil {
			return triageError(err)
		}
		name = out.Collected.Target
		res, err = s.triage().Scan(r.Context(), c.Actor, id, name)
	}
	if err != nil {
		return triageError(err)
	}
	out.ScanResult = res
	return writeJSON(w, http.StatusOK, out)
}

// triagePlan asks the cleanup modules for a plan: POST /cases/{id}/triage/plan.
func triagePlan(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	var req TriageRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	plan, err := s.triage().Plan(r.Context(), c.Actor, r.PathValue("id"), triage.Canonical(req.Target))
	if err != nil {
		return triageError(err)
	}
	return writeJSON(w, http.StatusCreated, plan)
}

// triageStep approves, applies or undoes one step:
// POST /cases/{id}/triage/steps/{step}/{approve,apply,undo}.
func triageStep(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	id, step := r.PathValue("id"), r.PathValue("step")
	var err error
	switch r.PathValue("action") {
	case "approve":
		err = s.triage().Approve(r.Context(), c.Actor, id, step)
	case "apply":
		var out *cases.TriageStepResult
		out, err = s.triage().Apply(r.Context(), c.Actor, id, step)
		if err != nil && out != nil && out.Error != "" {
			// Journaled as failed; the answer says which files changed.
			return writeJSON(w, http.StatusConflict, struct {
				*cases.TriageStepResult
				Message string `json:"message"`
			}{out, err.Error()})
		}
	case "undo":
		_, err = s.triage().Undo(r.Context(), c.Actor, id, step)
	default:
		return userErrorf(ErrNotFound, "no step action %q (approve, apply, undo)", r.PathValue("action"))
	}
	if err != nil {
		return triageError(err)
	}
	var rec *cases.TriageStepRec
	s.cfg.Book.View(id, func(cs *cases.Case) error {
		if _, st := cs.TriageStepByID(step); st != nil {
			cp := *st
			rec = &cp
		}
		return nil
	})
	return writeJSON(w, http.StatusOK, rec)
}
