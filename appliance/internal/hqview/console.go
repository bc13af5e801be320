package hqview

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/firebreak-ir/firebreak/appliance/internal/api"
	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/console"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// applianceView is one appliance's verified cases in a store of their own,
// with the appliance API over it; the console pages read it under
// /a/<appliance>/.
type applianceView struct {
	dir string
	db  *bolt.DB
	j   *journal.Store
	api http.Handler
}

func (v *applianceView) close() {
	v.j.Close()
	v.db.Close()
	os.RemoveAll(v.dir)
}

// errNotVerbatim is a verified entry the rebuilt store would not hold
// byte for byte.
var errNotVerbatim = errors.New("the rebuilt journal differs from the verified one")

// buildView writes the verified entries of an appliance's cases into a new
// store, in order and with their own times, and checks that every entry
// came out with the hash HQ verified. A case that does not is left out and
// reported in bad, and the store is built again without it.
func (s *Server) buildView(app string, cs []*Case) (v *applianceView, bad map[*Case]error, err error) {
	bad = map[*Case]error{}
	for {
		var failed *Case
		v, failed, err = s.tryView(app, cs, bad)
		if err != nil || failed == nil {
			return v, bad, err
		}
	}
}

func (s *Server) tryView(app string, cs []*Case, bad map[*Case]error) (*applianceView, *Case, error) {
	dir, err := os.MkdirTemp("", "firebreak-hqview-")
	if err != nil {
		return nil, nil, err
	}
	// A scratch copy, rebuilt from the bucket at every start: no fsync.
	db, err := bolt.Open(filepath.Join(dir, "view.db"), 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true, Timeout: time.Second})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	var at time.Time
	j, err := journal.Open(db, journal.Options{Now: func() time.Time { return at }, Logger: s.log})
	if err != nil {
		db.Close()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	v := &applianceView{dir: dir, db: db, j: j}
	for _, c := range cs {
		if bad[c] != nil {
			continue
		}
		for _, e := range c.Log {
			at = e.Time
			got, err := j.Append(context.Background(), journal.Record{Journal: e.Journal, Actor: e.Actor, Type: e.Type, Payload: e.Payload})
			if err == nil && (got[0].Hash != e.Hash || got[0].Seq != e.Seq) {
				err = fmt.Errorf("%w at entry %d", errNotVerbatim, e.Seq)
			}
			if err != nil {
				bad[c] = err
				v.close()
				return nil, c, nil
			}
		}
	}
	book, err := casebook.New(j, db, nil)
	if err != nil {
		v.close()
		return nil, nil, err
	}
	v.api = api.New(api.Config{Book: book, Journal: j, Version: s.version, Appliance: app,
		Logger: s.log.With("appliance", app), Sessions: viewer{}})
	return v, nil, nil
}

// viewer is every caller of the rebuilt API: HQ's view authenticated the
// request already, and it may only read.
type viewer struct{}

func (viewer) Authenticate(*http.Request) (auth.Caller, bool, error) {
	return auth.Caller{Actor: "hq", Role: auth.Viewer}, true, nil
}

// readRoutes are the API paths the console's case pages read; nothing else
// of the appliance API is served at HQ.
var readRoutes = regexp.MustCompile(`^/api/v1/(status|cases(/[^/]+(/(journal|verify|report|findings|evidence|triage))?)?)$`)

// serveConsole serves /a/<appliance>/...: the console page, its session,
// and the read routes of the rebuilt API. rest is the path after the
// appliance, starting with /.
func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request, app, rest string) {
	s.mu.RLock()
	defer s.mu.RUnlock() // a refresh waits for the requests on the stores it replaces
	v := s.views[app]
	if v == nil {
		http.Error(w, "no verified case of "+app+" in the bucket", http.StatusNotFound)
		return
	}
	console.SecurityHeaders(w.Header(), rest)
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case rest == "/":
		s.consolePage(w, r, app)
	case rest == "/login":
		http.Redirect(w, r, "/", http.StatusSeeOther) // the token is the login
	case rest == "/console/session":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":"HQ","role":%q,"csrf":"","expires":%q}`+"\n", auth.Viewer, time.Now().Add(12*time.Hour).UTC().Format(time.RFC3339))
	case readRoutes.MatchString(rest):
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = rest, ""
		r2.Header.Del("Authorization") // the API knows no HQ token
		r2.Header.Del("Cookie")
		v.api.ServeHTTP(w, r2)
	case strings.HasPrefix(rest, "/api/"):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"status":404,"error":%s}`+"\n", strconv.Quote("not part of HQ's read-only view: "+r.Method+" "+rest))
	default:
		http.NotFound(w, r)
	}
}

// consolePage is the console's page, told where its API is.
func (s *Server) consolePage(w http.ResponseWriter, r *http.Request, app string) {
	b, err := fs.ReadFile(console.Assets(), "assets/index.html")
	if err != nil {
		http.Error(w, "the console pages are missing from this build", http.StatusInternalServerError)
		return
	}
	meta := `<head>` + "\n" + `<meta name="firebreak-root" content="/a/` + html.EscapeString(app) + `">`
	page := strings.Replace(string(b), "<head>", meta, 1)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method != http.MethodHead {
		fmt.Fprint(w, page)
	}
}
