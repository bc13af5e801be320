package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// caseCmd decodes a command's body and returns the command to run against
// the case's current state.
type caseCmd func(r *http.Request) (func(*cases.Case) (cases.Change, error), error)

// bind turns a case method taking a request struct into a caseCmd: the body
// is decoded and validated as T, then the method checks it against the case.
func bind[T any](do func(*cases.Case, T) (cases.Change, error)) caseCmd {
	return func(r *http.Request) (func(*cases.Case) (cases.Change, error), error) {
		var req T
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return func(c *cases.Case) (cases.Change, error) { return do(c, req) }, nil
	}
}

// reopenRequest is the body of POST /cases/{id}/reopen.
type reopenRequest struct {
	Reason string `json:"reason"`
}

// caseCommands are the changes POST /api/v1/cases/{id}/{command} accepts.
var caseCommands = map[string]caseCmd{
	"intake":     bind((*cases.Case).UpdateIntake),
	"classify":   bind((*cases.Case).Classify),
	"phase":      bind((*cases.Case).SetPhase),
	"reopen":     bind(func(c *cases.Case, r reopenRequest) (cases.Change, error) { return c.Reopen(r.Reason) }),
	"notes":      bind((*cases.Case).Note),
	"tasks":      bind((*cases.Case).AddTask),
	"task":       bind((*cases.Case).UpdateTask),
	"join":       bind((*cases.Case).Join),
	"leave":      bind((*cases.Case).Leave),
	"sla":        bind((*cases.Case).SetSLATargets),
	"milestone":  bind((*cases.Case).Milestone),
	"assets-set": bind((*cases.Case).ImportAssets),
}

// caseError maps the case book's and model's errors to API errors whose
// messages are about the request.
func caseError(err error) error {
	switch {
	case errors.Is(err, casebook.ErrNotFound), errors.Is(err, cases.ErrNotFound):
		return UserError(ErrNotFound, err)
	case errors.Is(err, cases.ErrInvalid), errors.Is(err, cases.ErrTooLarge), errors.Is(err, journal.ErrInvalid):
		return UserError(ErrBadRequest, err)
	case errors.Is(err, cases.ErrTransition), errors.Is(err, cases.ErrClosed), errors.Is(err, cases.ErrNotOpen),
		errors.Is(err, cases.ErrAlreadyOpen), errors.Is(err, cases.ErrNoChange):
		return UserError(ErrConflict, err)
	}
	return err
}

func listCases(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	list, err := s.cfg.Book.List()
	if err != nil {
		return err
	}
	if list == nil {
		list = []casebook.Summary{}
	}
	return writeJSON(w, http.StatusOK, list)
}

// caseView is a case as the API returns it: the projection and its SLA
// timers as of now.
type caseView struct {
	*cases.Case
	Timers []cases.Timer `json:"sla_timers"`
}

func (s *Server) writeCase(w http.ResponseWriter, status int, id string) error {
	return caseError(s.cfg.Book.View(id, func(c *cases.Case) error {
		return writeJSON(w, status, caseView{Case: c, Timers: c.Timers(s.cfg.Now())})
	}))
}

func createCase(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	var req cases.OpenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	id, err := s.cfg.Book.Create(r.Context(), c.Actor, req)
	if err != nil {
		return caseError(err)
	}
	return s.writeCase(w, http.StatusCreated, id)
}

func getCase(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	return s.writeCase(w, http.StatusOK, r.PathValue("id"))
}

func caseCommand(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	name := r.PathValue("command")
	bindCmd, ok := caseCommands[name]
	if !ok {
		return userErrorf(ErrNotFound, "no case command %q", name)
	}
	cmd, err := bindCmd(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := s.cfg.Book.Do(r.Context(), c.Actor, id, cmd); err != nil {
		return caseError(err)
	}
	return s.writeCase(w, http.StatusOK, id)
}

// importAssets takes the customer's asset list as CSV (Content-Type
// text/csv) or as JSON (an ImportAssetsRequest).
func importAssets(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
		return caseCommandNamed(s, w, r, c, "assets-set")
	}
	list, err := cases.ParseAssetsCSV(r.Body)
	if err != nil {
		return UserError(ErrBadRequest, err)
	}
	req := cases.ImportAssetsRequest{Source: r.URL.Query().Get("source"), Mode: cases.ImportMode(r.URL.Query().Get("mode")), Assets: list.Assets}
	id := r.PathValue("id")
	if err := s.cfg.Book.Do(r.Context(), c.Actor, id, func(cs *cases.Case) (cases.Change, error) { return cs.ImportAssets(req) }); err != nil {
		return caseError(err)
	}
	return s.writeCase(w, http.StatusOK, id)
}

func caseCommandNamed(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller, name string) error {
	r.SetPathValue("command", name)
	return caseCommand(s, w, r, c)
}

// Verification is the answer of GET /cases/{id}/verify.
type Verification struct {
	Case    string       `json:"case"`
	OK      bool         `json:"ok"`
	Entries uint64       `json:"entries"`
	Head    journal.Hash `json:"head"`
	// Problem names the first bad entry when OK is false.
	Problem *journal.ChainError `json:"problem,omitempty"`
	Checked time.Time           `json:"checked"`
}

func verifyCase(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	id := r.PathValue("id")
	n, err := s.cfg.Book.Verify(id)
	v := Verification{Case: id, OK: err == nil, Entries: n, Checked: s.cfg.Now().UTC()}
	var ce *journal.ChainError
	switch {
	case errors.As(err, &ce):
		v.Problem = ce
	case err != nil:
		return caseError(err)
	default:
		_, v.Head, _ = s.cfg.Journal.Head(id)
	}
	return writeJSON(w, http.StatusOK, v)
}

func getJournal(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	after, err := intParam(r, "after", 0)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 1000)
	if err != nil {
		return err
	}
	if limit == 0 || limit > 10000 {
		return userErrorf(ErrBadRequest, "limit must be 1 to 10000")
	}
	es, err := s.cfg.Book.Entries(r.PathValue("id"), after, int(limit))
	if err != nil {
		return caseError(err)
	}
	return writeJSON(w, http.StatusOK, es)
}
