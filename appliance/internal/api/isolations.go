package api

import (
	"errors"
	"net/http"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/contain"
	"github.com/firebreak-ir/firebreak/netctl"
)

// Containment: /api/v1/isolations. Without --mode the daemon has no
// containment service and every route answers 501 with what to do.

func (s *Server) contain() (*contain.Service, error) {
	if s.cfg.Contain == nil {
		return nil, userErrorf(ErrNotYet, "containment is not configured: start serve with --mode bridge|router|port (see firebreak serve --help)")
	}
	return s.cfg.Contain, nil
}

// containError maps the containment service's errors to API errors whose
// messages are about the request.
func containError(err error) error {
	switch {
	case errors.Is(err, netctl.ErrUnsafe):
		return UserError(ErrConflict, err)
	case errors.Is(err, contain.ErrNotFound), errors.Is(err, casebook.ErrNotFound):
		return UserError(ErrNotFound, err)
	case errors.Is(err, contain.ErrInvalid), errors.Is(err, netctl.ErrInvalidPolicy), errors.Is(err, netctl.ErrInvalidTarget),
		errors.Is(err, netctl.ErrUnsupported):
		return UserError(ErrBadRequest, err)
	case errors.Is(err, contain.ErrConflict), errors.Is(err, cases.ErrClosed), errors.Is(err, cases.ErrNotOpen):
		return UserError(ErrConflict, err)
	}
	return err
}

func listIsolations(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	svc, err := s.contain()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, svc.List())
}

func getIsolation(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	svc, err := s.contain()
	if err != nil {
		return err
	}
	iso, err := svc.Get(r.PathValue("id"))
	if err != nil {
		return containError(err)
	}
	return writeJSON(w, http.StatusOK, iso)
}

func addIsolation(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	svc, err := s.contain()
	if err != nil {
		return err
	}
	var req contain.Request
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := svc.Add(r.Context(), c.Actor, req)
	if err != nil {
		return containError(err)
	}
	return writeJSON(w, http.StatusCreated, res)
}

func planIsolation(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	svc, err := s.contain()
	if err != nil {
		return err
	}
	var req contain.Request
	if err := decode(r, &req); err != nil {
		return err
	}
	pl, err := svc.Plan(c.Actor, req)
	if err != nil {
		return containError(err)
	}
	return writeJSON(w, http.StatusOK, pl)
}

func confirmIsolation(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	svc, err := s.contain()
	if err != nil {
		return err
	}
	iso, err := svc.Confirm(r.Context(), c.Actor, r.PathValue("id"))
	if err != nil {
		return containError(err)
	}
	return writeJSON(w, http.StatusOK, iso)
}

// releaseRequest is the body of POST /isolations/{id}/release and of
// POST /isolations/release (which needs all, and may name a case).
type releaseRequest struct {
	Reason string `json:"reason,omitempty"`
	All    bool   `json:"all,omitempty"`
	Case   string `json:"case,omitempty"`
}

func (q releaseRequest) Validate() error {
	if len(q.Reason) > contain.MaxReason || !printable(q.Reason+".", contain.MaxReason+1) {
		return errors.New("reason must be at most 1000 printable characters")
	}
	return nil
}

func releaseIsolation(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	svc, err := s.contain()
	if err != nil {
		return err
	}
	var req releaseRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.All || req.Case != "" {
		return userErrorf(ErrBadRequest, "all and case belong to POST /api/v1/isolations/release")
	}
	ended, err := svc.Release(r.Context(), c.Actor, r.PathValue("id"), "", req.Reason)
	if err != nil {
		return containError(err)
	}
	return writeJSON(w, http.StatusOK, ended)
}

func releaseIsolations(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	svc, err := s.contain()
	if err != nil {
		return err
	}
	var req releaseRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if !req.All {
		return userErrorf(ErrBadRequest, `releasing every isolation needs "all": true (name one with POST /api/v1/isolations/{id}/release)`)
	}
	ended, err := svc.Release(r.Context(), c.Actor, "", req.Case, req.Reason)
	if err != nil {
		return containError(err)
	}
	return writeJSON(w, http.StatusOK, ended)
}
