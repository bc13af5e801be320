// Package hqview is headquarters' read-only view of the cases in its
// bucket (firebreak hq serve): the list of appliances and cases with each
// case's verification and, for every verified case, the appliance
// console's own case pages (case, timeline, triage, evidence, report),
// served read-only from a local store rebuilt from the entries HQ verified,
// verbatim; also the report and the journal on their own.
//
// It never shows a case that did not verify as if it had — such a case is
// listed with the reason only, and it is not in the rebuilt store — and it
// never writes to the bucket or acts on a case: every request but GET and
// HEAD is refused, and the console pages are served to a viewer. Every
// request needs the view's token: given once in the URL printed at start,
// it becomes an HttpOnly cookie.
package hqview

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/console"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
	"github.com/firebreak-ir/firebreak/appliance/internal/report"
)

// Case is one case as HQ sees it.
type Case struct {
	hqsync.CaseReport
	Case *cases.Case // nil unless verified
}

// Server serves the view. Set replaces what it shows.
type Server struct {
	token   string
	version string
	log     *slog.Logger

	mu       sync.RWMutex
	cases    []Case
	verified time.Time
	views    map[string]*applianceView // by appliance: its verified cases, rebuilt
}

// New returns a view with a fresh random token.
func New(version string, log *slog.Logger) *Server {
	b := make([]byte, 20)
	rand.Read(b)
	return &Server{token: strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), version: version, log: log}
}

// Token is what the engineer at HQ needs to open the view.
func (s *Server) Token() string { return s.token }

// Set shows the cases of a verification run. A verified case's projection
// is rebuilt from its verified entries, and each appliance's verified cases
// are written into a store of their own for the console pages.
func (s *Server) Set(reports []hqsync.CaseReport, at time.Time) {
	var out []Case
	for _, r := range reports {
		c := Case{CaseReport: r}
		if r.Error == "" && !r.Pending && r.Journal != "appliance" {
			p, err := cases.Replay(r.Journal, r.Log)
			if err != nil {
				c.Error = fmt.Sprintf("the verified journal does not replay: %v", err)
			} else {
				c.Case = p
			}
		}
		c.Log = r.Log
		out = append(out, c)
	}
	byApp := map[string][]*Case{}
	for i := range out {
		if out[i].Case != nil {
			byApp[out[i].Appliance] = append(byApp[out[i].Appliance], &out[i])
		}
	}
	views := map[string]*applianceView{}
	for app, cs := range byApp {
		v, bad, err := s.buildView(app, cs)
		for c, err := range bad {
			c.Case, c.Error = nil, fmt.Sprintf("the verified journal could not be rebuilt for viewing: %v", err)
		}
		if err != nil {
			s.log.Error("hq view: rebuild the verified cases", "appliance", app, "err", err)
			for _, c := range cs {
				c.Case, c.Error = nil, "the verified journal could not be rebuilt for viewing"
			}
			continue
		}
		views[app] = v
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Appliance != out[j].Appliance {
			return out[i].Appliance < out[j].Appliance
		}
		return out[i].Journal < out[j].Journal
	})
	s.mu.Lock()
	old := s.views
	s.cases, s.verified, s.views = out, at, views
	s.mu.Unlock()
	for _, v := range old {
		v.close()
	}
}

// Close removes the rebuilt stores.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.views {
		v.close()
	}
	s.views = nil
	return nil
}

func (s *Server) find(app, id string) (Case, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.cases {
		if c.Appliance == app && c.Journal == id {
			return c, true
		}
	}
	return Case{}, false
}

const cookie = "fb_hq"

// ServeHTTP authenticates, then serves the list, the console pages of a
// verified case, a case's report or its journal. Only GET and HEAD are
// served, on every path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "the HQ view is read-only", http.StatusMethodNotAllowed)
		return
	}
	if t := r.URL.Query().Get("token"); t != "" && s.valid(t) {
		http.SetCookie(w, &http.Cookie{Name: cookie, Value: s.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, r.URL.Path, http.StatusSeeOther) // the token leaves the address bar
		return
	}
	authed := false
	if c, err := r.Cookie(cookie); err == nil && s.valid(c.Value) {
		authed = true
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.valid(t) {
		authed = true
	}
	if !authed {
		http.Error(w, "authentication required: open the URL firebreak hq serve printed", http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/":
		s.index(w)
	case strings.HasPrefix(r.URL.Path, "/assets/"):
		console.ServeAsset(w, r)
	case len(parts) == 2 && parts[0] == "a" && !strings.HasSuffix(r.URL.Path, "/"):
		u := *r.URL
		u.Path += "/"
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
	case len(parts) >= 2 && parts[0] == "a":
		s.serveConsole(w, r, parts[1], strings.TrimPrefix(r.URL.Path, "/a/"+parts[1]))
	case len(parts) == 3 && parts[0] == "cases":
		s.report(w, r, parts[1], parts[2])
	case len(parts) == 4 && parts[0] == "cases" && parts[3] == "journal.json":
		s.journal(w, parts[1], parts[2])
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) valid(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.token)) == 1
}

var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Firebreak HQ</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}.bad{color:#b00}.ok{color:#070}</style></head>
<body><h1>Firebreak HQ — cases in the bucket (read-only)</h1>
<p>Verified {{.At}}: each case's cursor signature, every entry's hash and link, every referenced blob re-hashed.</p>
<table><tr><th>appliance</th><th>case</th><th>title</th><th>phase</th><th>entries</th><th>blobs</th><th>check</th><th></th></tr>
{{range .Cases}}<tr><td>{{.Appliance}}</td><td>{{.Journal}}</td><td>{{if .Case}}{{.Case.Title}}{{end}}</td><td>{{if .Case}}{{.Case.Phase}}{{end}}</td>
<td>{{.Entries}}</td><td>{{.Blobs}}</td>
<td>{{if .Error}}<span class="bad">FAILED: {{.Error}}</span>{{else if .Pending}}on its way{{else}}<span class="ok">verified</span>{{end}}</td>
<td>{{if .Case}}<a href="/a/{{.Appliance}}/?case={{.Journal}}#/case">console</a> <a href="/cases/{{.Appliance}}/{{.Journal}}?lang=zh">报告</a> <a href="/cases/{{.Appliance}}/{{.Journal}}?lang=en">report</a> <a href="/cases/{{.Appliance}}/{{.Journal}}/journal.json">journal</a>{{end}}</td></tr>
{{end}}</table></body></html>
`))

func (s *Server) index(w http.ResponseWriter) {
	s.mu.RLock()
	data := struct {
		At    string
		Cases []Case
	}{s.verified.UTC().Format(time.RFC3339), s.cases}
	defer s.mu.RUnlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := indexTmpl.Execute(w, data); err != nil {
		s.log.Error("hq view", "err", err)
	}
}

func (s *Server) report(w http.ResponseWriter, r *http.Request, app, id string) {
	c, ok := s.find(app, id)
	if !ok || c.Case == nil {
		http.Error(w, "no verified case "+id+" of "+app+" in the bucket", http.StatusNotFound)
		return
	}
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = "zh"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	in := report.Input{Case: c.Case, Entries: c.Log, Appliance: app, Version: s.version, Now: time.Now(), Lang: lang}
	if err := report.HTML(w, in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

func (s *Server) journal(w http.ResponseWriter, app, id string) {
	c, ok := s.find(app, id)
	if !ok || c.Error != "" || c.Pending {
		http.Error(w, "no verified case "+id+" of "+app+" in the bucket", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(c.Log)
}
