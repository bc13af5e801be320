// Package console is the appliance's web console: the pages a responder
// opens from a laptop on the management port, the login that gives a
// browser a session, and the TLS certificate of that port. The pages are
// plain HTML, CSS and JavaScript embedded in the binary; they are a thin
// client of the API, which the console serves under /api/.
//
// It never renders a value from traffic as markup (pages build the DOM with
// textContent), never loads anything from outside the appliance, never
// accepts a state-changing request without the session's CSRF token, and
// never logs a password or session ID.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

//go:embed web
var webFS embed.FS

// Config is what the console serves.
type Config struct {
	// API is the API handler, served under /api/. Required.
	API http.Handler
	// Accounts are the engineers who may log in. Required.
	Accounts *auth.Accounts
	// Sessions is the session store the API also checks. Required.
	Sessions *Sessions
	// Journal records logins and logouts in the appliance journal. Nil
	// records nothing (tests of the handler alone).
	Journal *journal.Store
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Now. Default time.Now.
	Now func() time.Time
}

// Handler serves the console and the API.
type Handler struct {
	cfg       Config
	log       *slog.Logger
	mux       *http.ServeMux
	static    fs.FS
	byAccount *limiter
	byAddress *limiter
}

// Content-Security-Policy of every console answer: nothing inline, nothing
// from elsewhere, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

var reportPath = regexp.MustCompile(`^/api/v1/cases/[^/]+/report$`)

// New returns the console handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	static, _ := fs.Sub(webFS, "web")
	h := &Handler{cfg: cfg, log: cfg.Logger.With("component", "console"), mux: http.NewServeMux(), static: static,
		byAccount: newLimiter(LoginWindow, MaxFailsPerAccount), byAddress: newLimiter(LoginWindow, MaxFailsPerAddress)}
	h.mux.Handle("/api/", cfg.API)
	h.mux.HandleFunc("POST /console/login", h.login)
	h.mux.HandleFunc("POST /console/logout", h.logout)
	h.mux.HandleFunc("GET /console/session", h.session)
	h.mux.HandleFunc("GET /assets/", h.asset)
	h.mux.HandleFunc("GET /login", h.loginPage)
	h.mux.HandleFunc("GET /{$}", h.appPage)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SecurityHeaders(w.Header(), r.URL.Path)
	h.mux.ServeHTTP(w, r)
}

// SecurityHeaders sets the headers every console answer carries, for the
// console path p (a path under /api/ or /assets/, or a page).
func SecurityHeaders(hd http.Header, p string) {
	hd.Set("Content-Security-Policy", csp)
	if reportPath.MatchString(p) {
		// The report page shows the report in a sandboxed frame of its own.
		hd.Set("X-Frame-Options", "SAMEORIGIN")
	} else {
		hd.Set("X-Frame-Options", "DENY")
	}
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// Assets are the console's pages, scripts and styles (assets/index.html,
// assets/app.js, ...), for HQ's view, which shows the same pages
// read-only.
func Assets() fs.FS {
	static, _ := fs.Sub(webFS, "web")
	return static
}

func (h *Handler) asset(w http.ResponseWriter, r *http.Request) { serveAsset(h.static, w, r) }

// ServeAsset serves the console's scripts, styles and dictionaries (not
// its pages) with the console's security headers: for HQ's view, which
// shows the same pages read-only.
func ServeAsset(w http.ResponseWriter, r *http.Request) {
	SecurityHeaders(w.Header(), r.URL.Path)
	serveAsset(Assets(), w, r)
}

func serveAsset(static fs.FS, w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if name == "assets" || strings.HasSuffix(name, ".html") {
		http.NotFound(w, r)
		return
	}
	serveFile(static, w, r, name, false)
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, name string, noStore bool) {
	serveFile(h.static, w, r, name, noStore)
}

func serveFile(static fs.FS, w http.ResponseWriter, r *http.Request, name string, noStore bool) {
	b, err := fs.ReadFile(static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ct := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8", ".json": "application/json", ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}[path.Ext(name)]
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	if noStore {
		w.Header().Set("Cache-Control", "no-store")
	} else {
		w.Header().Set("Cache-Control", "private, max-age=300")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.serveFile(w, r, "assets/login.html", true)
}

// appPage is the console itself, only for a browser with a live session;
// any other is sent to the login page.
func (h *Handler) appPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.cfg.Sessions.lookup(r); !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	h.serveFile(w, r, "assets/index.html", true)
}

type loginRequest struct {
	Name     string        `json:"name"`
	Password auth.Password `json:"password"`
}

// sameOrigin refuses a cross-site login or logout: a browser sends Origin
// on every POST, and it must be this host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "send the login as application/json")
		return
	}
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-site login refused")
		return
	}
	var req loginRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Name == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "send {\"name\": ..., \"password\": ...}")
		return
	}
	addr := clientAddr(r)
	now := h.cfg.Now()
	name := strings.ToLower(req.Name)
	wait := max(h.byAccount.blocked("account:"+name, now), h.byAddress.blocked("address:"+addr, now))
	if wait > 0 {
		secs := int(wait.Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.log.Warn("login refused: too many failures", "account", name, "address", addr, "retry_after_s", secs)
		writeError(w, http.StatusTooManyRequests, "too many failed logins; try again in "+strconv.Itoa(secs)+" s")
		return
	}
	acc, err := h.cfg.Accounts.Verify(name, req.Password)
	if err != nil {
		h.byAccount.fail("account:"+name, now)
		h.byAddress.fail("address:"+addr, now)
		h.log.Info("login failed", "account", name, "address", addr)
		writeError(w, http.StatusUnauthorized, auth.ErrBadLogin.Error())
		return
	}
	h.byAccount.reset("account:" + name)
	id, info := h.cfg.Sessions.create(acc)
	if err := h.journal(r.Context(), acc.Caller().Actor, "console.login", map[string]string{"account": acc.Name, "address": addr}); err != nil {
		h.cfg.Sessions.EndAccount(acc.Name)
		h.log.Error("login not journaled; refused", "err", err)
		writeError(w, http.StatusInternalServerError, "the login could not be recorded")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(h.cfg.Sessions.lifetime.Seconds())})
	writeJSON(w, http.StatusOK, info)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	se, ok := h.cfg.Sessions.lookup(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, auth.ErrSession.Error())
		return
	}
	if !checkCSRF(se, r) || !sameOrigin(r) {
		writeError(w, http.StatusForbidden, auth.ErrCSRF.Error())
		return
	}
	h.cfg.Sessions.end(r)
	h.journal(r.Context(), se.acc.Caller().Actor, "console.logout", map[string]string{"account": se.acc.Name, "address": clientAddr(r)})
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	se, ok := h.cfg.Sessions.lookup(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, auth.ErrSession.Error())
		return
	}
	h.cfg.Sessions.mu.Lock()
	info := h.cfg.Sessions.info(se)
	h.cfg.Sessions.mu.Unlock()
	writeJSON(w, http.StatusOK, info)
}

func (h *Handler) journal(ctx context.Context, actor, typ string, payload any) error {
	if h.cfg.Journal == nil {
		return nil
	}
	_, err := h.cfg.Journal.Append(ctx, journal.Record{Journal: casebook.ApplianceJournal, Actor: actor, Type: typ, Payload: payload})
	return err
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
