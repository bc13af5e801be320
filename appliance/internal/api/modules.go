package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modstore"
)

// maxModule is the largest module upload (wasm, manifest and signature,
// base64 in JSON).
const maxModule = 64 << 20

// moduleView is a module as GET /modules lists it: what the store knows,
// and its health since the daemon started.
type moduleView struct {
	modstore.Module
	Health *moduleHealth `json:"health,omitempty"`
}

type moduleHealth struct {
	Events    int     `json:"events"`
	Batches   int     `json:"batches"`
	Alerts    int     `json:"alerts"`
	Faults    int     `json:"faults"`
	Disabled  bool    `json:"disabled_by_faults,omitempty"`
	LastFault string  `json:"last_fault,omitempty"`
	Millis    float64 `json:"time_ms"` // in its batch calls
}

// listModules lists the appliance's modules: embedded and installed, each
// with its signature check, whether it runs, and how it has run on the
// traffic since the daemon started.
func listModules(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	if s.cfg.Modules == nil {
		return notYet("the module store")(s, w, r, c)
	}
	ms, err := s.cfg.Modules.List()
	if err != nil {
		return err
	}
	var health map[string]modhost.ModuleStats
	if s.cfg.Sensor != nil {
		health = s.cfg.Sensor.ModuleHealth()
	}
	out := make([]moduleView, len(ms))
	for i, m := range ms {
		out[i].Module = m
		if h, ok := health[m.Name]; ok {
			out[i].Health = &moduleHealth{Events: h.Events, Batches: h.Batches, Alerts: h.Alerts, Faults: h.Faults,
				Disabled: h.Disabled, LastFault: h.LastFault, Millis: float64(h.Time.Microseconds()) / 1000}
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// moduleUpload is the body of POST /modules: the three files of a module
// directory (base64 in JSON).
type moduleUpload struct {
	Manifest      []byte `json:"manifest"`
	Wasm          []byte `json:"wasm"`
	Signature     []byte `json:"signature,omitempty"`
	AllowUnsigned bool   `json:"allow_unsigned,omitempty"`
}

func (u *moduleUpload) Validate() error {
	if len(u.Manifest) == 0 || len(u.Wasm) == 0 {
		return fmt.Errorf("manifest and wasm are required")
	}
	return nil
}

// installModule installs a module an engineer uploaded, after checking
// its signature and compiling it, and journals the install (and, first,
// the engineer's choice to allow an unsigned module).
func installModule(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	if s.cfg.Modules == nil {
		return notYet("the module store")(s, w, r, c)
	}
	var u moduleUpload
	if err := decode(r, &u); err != nil {
		return err
	}
	p := &modhost.Package{Manifest: u.Manifest, Wasm: u.Wasm, Signature: u.Signature, Source: "upload by " + c.Actor}
	m, err := InstallModule(r.Context(), s.cfg.Modules, p, u.AllowUnsigned, c.Actor, "upload", s.journalFunc(c))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, m)
}

// InstallModule compiles and starts the module once in a scratch host (so
// a module that cannot load is refused before it is installed), installs
// it in the store and journals it. HQ's pull uses it too.
func InstallModule(ctx context.Context, st *modstore.Store, p *modhost.Package, allowUnsigned bool, actor, from string,
	journal func(ctx context.Context, typ string, payload any) error) (modstore.Module, error) {
	h, err := modhost.New(modhost.Options{Trust: st.Trust(), AllowUnsigned: allowUnsigned, Journal: journal})
	if err != nil {
		return modstore.Module{}, err
	}
	defer h.Close(ctx)
	if _, err := h.Load(ctx, p, nil); err != nil {
		return modstore.Module{}, moduleError(err)
	}
	m, err := st.Install(p, allowUnsigned, actor, from)
	if err != nil {
		return modstore.Module{}, moduleError(err)
	}
	if err := journal(ctx, "module.installed", m); err != nil {
		return modstore.Module{}, err
	}
	return m, nil
}

func moduleError(err error) error {
	switch {
	case modhost.IsTrustError(err), errors.Is(err, modhost.ErrManifest), errors.Is(err, modstore.ErrInvalid):
		return UserError(ErrBadRequest, err)
	case errors.Is(err, modstore.ErrNotFound):
		return UserError(ErrNotFound, err)
	}
	return UserError(ErrBadRequest, fmt.Errorf("module refused: %w", err))
}

// moduleCommand enables or disables a module.
func moduleCommand(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	if s.cfg.Modules == nil {
		return notYet("the module store")(s, w, r, c)
	}
	var on bool
	switch r.PathValue("command") {
	case "enable":
		on = true
	case "disable":
	default:
		return userErrorf(ErrNotFound, "modules/{name}/ takes enable or disable")
	}
	m, err := s.cfg.Modules.SetEnabled(r.PathValue("name"), on)
	if err != nil {
		return moduleError(err)
	}
	if err := s.journalAppliance(r, c, "module."+r.PathValue("command")+"d", map[string]string{"module": m.Name, "sha256": m.SHA256}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

// trustRequest is the body of POST /modules/trust.
type trustRequest struct {
	Name string `json:"name"`
	Key  string `json:"key"` // PEM ed25519 public key
}

func trustKey(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	if s.cfg.Modules == nil {
		return notYet("the module store")(s, w, r, c)
	}
	var req trustRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	fp, err := s.cfg.Modules.TrustKey(req.Name, []byte(req.Key))
	if err != nil {
		return moduleError(err)
	}
	out := map[string]string{"name": req.Name, "fingerprint": fp}
	if err := s.journalAppliance(r, c, "module.key_trusted", out); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

// feedUpload is the body of POST /modules/feeds: a signed indicator feed.
type feedUpload struct {
	Name      string `json:"name"`
	Data      []byte `json:"data"`
	Signature []byte `json:"signature"`
}

func installFeed(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	if s.cfg.Modules == nil {
		return notYet("the module store")(s, w, r, c)
	}
	var u feedUpload
	if err := decode(r, &u); err != nil {
		return err
	}
	f, err := s.cfg.Modules.InstallFeed(u.Name, u.Data, u.Signature, "upload")
	if err != nil {
		return moduleError(err)
	}
	if err := s.journalAppliance(r, c, "feed.installed", f); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, f)
}

func listFeeds(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	if s.cfg.Modules == nil {
		return notYet("the module store")(s, w, r, c)
	}
	return writeJSON(w, http.StatusOK, s.cfg.Modules.Feeds())
}

// journalFunc journals in the appliance journal as the caller.
func (s *Server) journalFunc(c auth.Caller) func(ctx context.Context, typ string, payload any) error {
	return func(ctx context.Context, typ string, payload any) error {
		_, err := s.cfg.Journal.Append(ctx, journal.Record{Journal: casebook.ApplianceJournal, Actor: c.Actor, Type: typ, Payload: payload})
		return err
	}
}
