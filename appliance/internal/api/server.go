// Package api is the appliance's HTTP/JSON API (/api/v1/...). The CLI reaches
// it on a Unix socket in the data directory, where the caller is the local
// user the kernel names; scripts and the console reach it on TCP, where every
// call needs a token or session.
//
// It never serves a call whose caller it has not authenticated, never lets a
// role do more than it may, and never puts internal error detail or secrets
// in a response.
package api

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/contain"
	"github.com/firebreak-ir/firebreak/appliance/internal/detect"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/modstore"
	"github.com/firebreak-ir/firebreak/appliance/internal/sensor"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
)

// MaxBody is the largest request body accepted.
const MaxBody = 4 << 20

// Config is what the API serves. All fields are required but Logger and Now.
type Config struct {
	Book      *casebook.Book
	Journal   *journal.Store
	Tokens    *auth.Tokens
	Vault     *vault.Vault
	Sensor    *sensor.Sensor
	Key       ed25519.PrivateKey // the appliance key; signs evidence bundles
	Contain   *contain.Service   // nil: containment not configured (501)
	Sync      *hqsync.Syncer     // nil: sync to HQ not configured (501)
	Detect    *detect.Detector   // nil: analyses run without detection modules
	Modules   *modstore.Store    // nil: module install answers 501
	Version   string
	Appliance string // appliance ID
	Logger    *slog.Logger
	Now       func() time.Time

	// Sessions authenticates console sessions (cookie and CSRF header)
	// beside tokens; nil: tokens only. Accounts are the console's
	// engineers; nil: the account API answers 501.
	Sessions SessionAuthenticator
	Accounts *auth.Accounts
}

// Server is the API handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	started time.Time
}

// route is one entry of the handler table.
type route struct {
	pattern string    // method and path, as http.ServeMux takes them
	role    auth.Role // the least role that may call it
	handle  func(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error
	maxBody int64 // 0: MaxBody; unlimited: no limit (uploads to the vault)
}

const unlimited = -1

// New returns the API handler.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "api"), mux: http.NewServeMux(), started: cfg.Now()}
	for _, rt := range routes() {
		s.mux.Handle(rt.pattern, s.wrap(rt))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// An unknown path is only revealed as such to an authenticated caller.
		if _, err := s.caller(r); err != nil {
			s.fail(w, r, err)
			return
		}
		s.fail(w, r, userErrorf(ErrNotFound, "no such API path: %s %s", r.Method, r.URL.Path))
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type ctxKey int

const localCallerKey ctxKey = iota

// EngineerHeader carries the engineer's name on the local socket, so the
// journal says who at the box did it, beside the OS account that did.
const EngineerHeader = "X-Firebreak-Engineer"

// LocalConnContext marks a connection accepted on the Unix socket with the
// peer's OS account, read from the kernel (SO_PEERCRED). Use it as an
// http.Server's ConnContext for the socket listener only.
func LocalConnContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *syscall.Ucred
	raw.Control(func(fd uintptr) {
		cred, err = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil || cred == nil {
		return ctx
	}
	name := strconv.Itoa(int(cred.Uid))
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return context.WithValue(ctx, localCallerKey, "local:"+name)
}

// caller authenticates a request. On the Unix socket the OS account is the
// caller (the socket is reachable by the daemon's user only, so it is an
// admin); on TCP a bearer token is required.
func (s *Server) caller(r *http.Request) (auth.Caller, error) {
	if local, ok := r.Context().Value(localCallerKey).(string); ok {
		actor := local
		if eng := r.Header.Get(EngineerHeader); eng != "" {
			if !printable(eng, 64) {
				return auth.Caller{}, userErrorf(ErrBadRequest, "%s must be 1-64 printable characters", EngineerHeader)
			}
			actor = eng + " (" + local + ")"
		}
		return auth.Caller{Actor: actor, Role: auth.Admin}, nil
	}
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok && h == "" && s.cfg.Sessions != nil {
		if c, found, err := s.cfg.Sessions.Authenticate(r); found {
			return c, sessionError(err)
		}
	}
	if !ok {
		return auth.Caller{}, UserError(ErrUnauthenticated, errors.New("authentication required: send Authorization: Bearer <token>"))
	}
	c, err := s.cfg.Tokens.Authenticate(tok)
	if err != nil {
		return auth.Caller{}, UserError(ErrUnauthenticated, err)
	}
	return c, nil
}

func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.caller(r)
		if err == nil && !c.Role.Allows(rt.role) {
			err = userErrorf(ErrForbidden, "role %s may not do this (needs %s)", c.Role, rt.role)
		}
		if err == nil {
			switch rt.maxBody {
			case 0:
				r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
			case unlimited:
			default:
				r.Body = http.MaxBytesReader(w, r.Body, rt.maxBody)
			}
			err = rt.handle(s, w, r, c)
		}
		if err != nil {
			s.fail(w, r, err)
		}
	})
}

// fail writes err as a JSON error. Errors marked with UserError show their
// message; any other error shows a generic one, and the log keeps the
// detail under the same ID.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	e := &Error{Status: status, ID: newErrorID()}
	var ue *userError
	if errors.As(err, &ue) {
		e.Message = ue.Error()
	} else {
		e.Message = strings.ToLower(http.StatusText(status))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request failed", "id", e.ID, "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// Not indented and not HTML-escaped, so journal payloads keep the exact
	// bytes their hashes cover.
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// validator is a request body that can check itself.
type validator interface{ Validate() error }

// decode reads one JSON object into v, refusing unknown fields, trailing
// data and oversized bodies, then validates it. Every failure is a 400 that
// says what was wrong.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return userErrorf(ErrBadRequest, "body larger than %d bytes", mbe.Limit)
		case errors.Is(err, io.EOF):
			return userErrorf(ErrBadRequest, "empty body, want a JSON object")
		}
		return userErrorf(ErrBadRequest, "body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return userErrorf(ErrBadRequest, "body: unexpected data after the JSON object")
	}
	if val, ok := v.(validator); ok {
		if err := val.Validate(); err != nil {
			return UserError(ErrBadRequest, err)
		}
	}
	return nil
}

// Status is the answer of GET /api/v1/status.
type Status struct {
	Version   string    `json:"version"`
	Appliance string    `json:"appliance"`
	Started   time.Time `json:"started"`
	Caller    string    `json:"caller"`
	Role      auth.Role `json:"role"`
}

func getStatus(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	return writeJSON(w, http.StatusOK, Status{Version: s.cfg.Version, Appliance: s.cfg.Appliance, Started: s.started.UTC(), Caller: c.Actor, Role: c.Role})
}

func notYet(what string) func(*Server, http.ResponseWriter, *http.Request, auth.Caller) error {
	return func(*Server, http.ResponseWriter, *http.Request, auth.Caller) error {
		return userErrorf(ErrNotYet, "%s is not built yet", what)
	}
}

func intParam(r *http.Request, name string, def uint64) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, userErrorf(ErrBadRequest, "%s must be a whole number", name)
	}
	return n, nil
}
