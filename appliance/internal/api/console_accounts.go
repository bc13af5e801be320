package api

import (
	"errors"
	"net/http"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
)

// accountRequest is POST /api/v1/accounts and POST /api/v1/accounts/{name}/password.
type accountRequest struct {
	Name     string        `json:"name"`
	Role     auth.Role     `json:"role"`
	Password auth.Password `json:"password"`
}

func (s *Server) accounts() (*auth.Accounts, error) {
	if s.cfg.Accounts == nil {
		return nil, userErrorf(ErrNotYet, "console accounts are not configured on this appliance")
	}
	return s.cfg.Accounts, nil
}

// endSessions logs an account's console sessions out after a change to it.
func (s *Server) endSessions(name string) {
	if e, ok := s.cfg.Sessions.(interface{ EndAccount(string) }); ok {
		e.EndAccount(name)
	}
}

func listAccounts(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	accs, err := s.accounts()
	if err != nil {
		return err
	}
	list, err := accs.List()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list)
}

func createAccount(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	accs, err := s.accounts()
	if err != nil {
		return err
	}
	var req accountRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	acc, err := accs.Add(req.Name, req.Role, req.Password, c.Actor, s.cfg.Now())
	if err != nil {
		return accountError(err)
	}
	if err := s.journalAppliance(r, c, "account.created", acc); err != nil {
		// The account must not work if its creation is not on record.
		accs.Remove(acc.Name)
		return err
	}
	return writeJSON(w, http.StatusCreated, acc)
}

// accountCommand is POST /api/v1/accounts/{name}/{password,disable,enable}.
func accountCommand(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	accs, err := s.accounts()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	var acc auth.Account
	switch cmd := r.PathValue("command"); cmd {
	case "password":
		var req accountRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		if req.Name != "" || req.Role != "" {
			return userErrorf(ErrBadRequest, "send only the password")
		}
		acc, err = accs.SetPassword(name, req.Password, s.cfg.Now())
	case "disable", "enable":
		acc, err = accs.SetDisabled(name, cmd == "disable")
	default:
		return userErrorf(ErrNotFound, "no account command %q (password, disable, enable)", cmd)
	}
	if err != nil {
		return accountError(err)
	}
	s.endSessions(name)
	if err := s.journalAppliance(r, c, "account."+r.PathValue("command"), map[string]any{"name": acc.Name, "role": acc.Role}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, acc)
}

func removeAccount(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	accs, err := s.accounts()
	if err != nil {
		return err
	}
	acc, err := accs.Remove(r.PathValue("name"))
	if err != nil {
		return accountError(err)
	}
	s.endSessions(acc.Name)
	if err := s.journalAppliance(r, c, "account.removed", acc); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func accountError(err error) error {
	switch {
	case errors.Is(err, auth.ErrAccountInvalid):
		return UserError(ErrBadRequest, err)
	case errors.Is(err, auth.ErrAccountExists):
		return UserError(ErrConflict, err)
	case errors.Is(err, auth.ErrNoAccount):
		return UserError(ErrNotFound, err)
	}
	return err
}
