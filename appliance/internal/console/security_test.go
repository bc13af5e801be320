package console_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/console"
	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
)

// apiPaths are API calls a page makes, with a case ID filled in.
func apiPaths(id string) []string {
	return []string{"/api/v1/status", "/api/v1/cases", "/api/v1/cases/" + id, "/api/v1/cases/" + id + "/journal",
		"/api/v1/cases/" + id + "/evidence", "/api/v1/cases/" + id + "/report", "/api/v1/capture", "/api/v1/capture/hosts",
		"/api/v1/capture/events?type=alert", "/api/v1/console/traffic", "/api/v1/modules", "/api/v1/isolations", "/api/v1/sync",
		"/api/v1/tokens", "/api/v1/accounts", "/api/v1/no-such-path"}
}

func TestConsoleNothingWithoutSessionOrToken(t *testing.T) {
	d := startDaemon(t, daemon.Options{})
	addAccount(t, d, "alice", auth.Admin)
	for _, base := range []string{httpBase(d), httpsBase(d)} {
		anon := newBrowser(t, base)
		admin := newBrowser(t, base).mustLogin("alice")
		code, body := admin.act("POST", "/api/v1/cases", map[string]string{"title": "Intrusion"})
		require.Equal(t, http.StatusCreated, code, string(body))
		var c struct{ ID string }
		require.NoError(t, json.Unmarshal(body, &c))

		// The console itself sends a browser without a session to the login page.
		code, _ = anon.do("GET", "/", nil, nil)
		assert.Equal(t, http.StatusSeeOther, code, "%s/ without a session", base)
		code, _ = anon.do("GET", "/console/session", nil, nil)
		assert.Equal(t, http.StatusUnauthorized, code)
		code, _ = anon.do("GET", "/login", nil, nil)
		assert.Equal(t, http.StatusOK, code, "the login page itself is public")

		for _, p := range apiPaths(c.ID) {
			code, _ := anon.do("GET", p, nil, nil)
			assert.Equal(t, http.StatusUnauthorized, code, "GET %s without a session", p)
			code, _ = anon.do("GET", p, nil, map[string]string{"Authorization": "Bearer fbt_notatoken"})
			assert.Equal(t, http.StatusUnauthorized, code, "GET %s with a bad token", p)
			code, _ = anon.do("GET", p, nil, map[string]string{"Cookie": console.CookieName + "=forged"})
			assert.Equal(t, http.StatusUnauthorized, code, "GET %s with a forged session", p)
			code, _ = admin.do("GET", p, nil, nil)
			assert.NotEqual(t, http.StatusUnauthorized, code, "GET %s with a session", p)
		}
		for _, p := range []string{"/api/v1/cases", "/api/v1/cases/" + c.ID + "/notes", "/api/v1/isolations", "/api/v1/cases/" + c.ID + "/export", "/api/v1/accounts"} {
			code, _ := anon.do("POST", p, `{}`, nil)
			assert.Equal(t, http.StatusUnauthorized, code, "POST %s without a session", p)
		}
		code, _ = admin.do("GET", "/", nil, nil)
		assert.Equal(t, http.StatusOK, code, "the console with a session")
	}
}

func TestConsoleViewerCannotAct(t *testing.T) {
	d := startDaemon(t, daemon.Options{})
	addAccount(t, d, "alice", auth.Responder)
	addAccount(t, d, "victor", auth.Viewer)
	alice := newBrowser(t, httpsBase(d)).mustLogin("alice")
	code, body := alice.act("POST", "/api/v1/cases", map[string]string{"title": "Intrusion"})
	require.Equal(t, http.StatusCreated, code, string(body))
	var c struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &c))

	v := newBrowser(t, httpsBase(d)).mustLogin("victor")
	code, _ = v.do("GET", "/api/v1/cases/"+c.ID, nil, nil)
	assert.Equal(t, http.StatusOK, code, "a viewer reads")
	for _, call := range []struct{ path, body string }{
		{"/api/v1/cases", `{"title":"x"}`},
		{"/api/v1/cases/" + c.ID + "/notes", `{"text":"x"}`},
		{"/api/v1/cases/" + c.ID + "/phase", `{"to":"confirmed"}`},
		{"/api/v1/cases/" + c.ID + "/export", ``},
		{"/api/v1/isolations", `{"case":"` + c.ID + `","ip":"10.0.0.9","reason":"x"}`},
		{"/api/v1/sync/pause", `{}`},
		{"/api/v1/accounts", `{"name":"mallory","role":"admin","password":"0123456789ab"}`},
	} {
		code, body := v.act("POST", call.path, call.body)
		assert.Equal(t, http.StatusForbidden, code, "viewer POST %s: %s", call.path, body)
	}
	// Nothing the viewer tried is in the case.
	code, body = alice.do("GET", "/api/v1/cases/"+c.ID, nil, nil)
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, string(body), `"text":"x"`)
	assert.Contains(t, string(body), `"phase":"intake"`)
	// A responder may not manage accounts either.
	code, _ = alice.act("POST", "/api/v1/accounts", `{"name":"mallory","role":"admin","password":"0123456789ab"}`)
	assert.Equal(t, http.StatusForbidden, code)
}

func TestConsoleCSRFHolds(t *testing.T) {
	d := startDaemon(t, daemon.Options{})
	addAccount(t, d, "alice", auth.Responder)
	b := newBrowser(t, httpsBase(d)).mustLogin("alice")
	for name, hdr := range map[string]map[string]string{
		"no token":    nil,
		"wrong token": {console.CSRFHeader: "AAAA" + b.csrf[4:]},
		"empty token": {console.CSRFHeader: ""},
	} {
		code, body := b.do("POST", "/api/v1/cases", map[string]string{"title": "forged"}, hdr)
		assert.Equal(t, http.StatusForbidden, code, "%s: %s", name, body)
		code, _ = b.do("POST", "/console/logout", nil, hdr)
		assert.Equal(t, http.StatusForbidden, code, "logout with %s", name)
	}
	code, body := b.do("GET", "/api/v1/cases", nil, nil)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "[]\n", string(body), "no forged request opened a case")

	// Another session's token does not work in this one.
	other := newBrowser(t, httpsBase(d)).mustLogin("alice")
	code, _ = b.do("POST", "/api/v1/cases", map[string]string{"title": "x"}, map[string]string{console.CSRFHeader: other.csrf})
	assert.Equal(t, http.StatusForbidden, code)

	// A login from another site is refused.
	code, _ = newBrowser(t, httpsBase(d)).do("POST", "/console/login", map[string]string{"name": "alice", "password": testPassword},
		map[string]string{"Origin": "https://evil.example"})
	assert.Equal(t, http.StatusForbidden, code)

	code, body = b.act("POST", "/api/v1/cases", map[string]string{"title": "real"})
	assert.Equal(t, http.StatusCreated, code, string(body))
	// The journal attributes it to the engineer.
	assert.Contains(t, string(body), `"created_by":"console:alice"`)

	// Logout ends the session: the cookie no longer works.
	code, _ = b.act("POST", "/console/logout", nil)
	assert.Equal(t, http.StatusNoContent, code)
	code, _ = b.do("GET", "/api/v1/cases", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, code, "after logout")
}

func TestConsoleLoginRateLimit(t *testing.T) {
	d := startDaemon(t, daemon.Options{})
	addAccount(t, d, "alice", auth.Admin)
	addAccount(t, d, "bob", auth.Viewer)
	b := newBrowser(t, httpsBase(d))
	for i := range console.MaxFailsPerAccount {
		assert.Equal(t, http.StatusUnauthorized, b.login("alice", "wrong password "+string(rune('a'+i))), "failure %d", i+1)
	}
	// Now even the right password is refused for the window.
	assert.Equal(t, http.StatusTooManyRequests, b.login("alice", testPassword))
	// Another account from the same address still logs in...
	assert.Equal(t, http.StatusOK, b.login("bob", testPassword))
	// ...until the address has failed too often, across names.
	for i := range console.MaxFailsPerAddress {
		code := b.login("nobody"+string(rune('a'+i%26)), "whatever-password")
		if code == http.StatusTooManyRequests {
			assert.GreaterOrEqual(t, i+console.MaxFailsPerAccount, console.MaxFailsPerAddress)
			break
		}
		assert.Equal(t, http.StatusUnauthorized, code)
	}
	assert.Equal(t, http.StatusTooManyRequests, b.login("bob", testPassword), "the address is limited")
}

func TestConsoleSessionExpires(t *testing.T) {
	d := startDaemon(t, daemon.Options{})
	addAccount(t, d, "alice", auth.Responder)
	now := time.Now()
	s := console.NewSessions(time.Minute, time.Hour, func() time.Time { return now })
	acc, err := d.Accounts.Verify("alice", testPassword)
	require.NoError(t, err)
	id := console.StartSessionForTest(s, acc)
	req := func() *http.Request {
		r, _ := http.NewRequest("GET", "/api/v1/cases", nil)
		r.AddCookie(&http.Cookie{Name: console.CookieName, Value: id})
		return r
	}
	c, found, err := s.Authenticate(req())
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "console:alice", c.Actor)
	// Used within the idle time, it lives on...
	for range 5 {
		now = now.Add(50 * time.Second)
		_, _, err = s.Authenticate(req())
		require.NoError(t, err)
	}
	// ...but not past the idle time...
	now = now.Add(61 * time.Second)
	_, found, err = s.Authenticate(req())
	assert.True(t, found)
	assert.ErrorIs(t, err, auth.ErrSession)
	// ...nor past its lifetime however busy.
	id = console.StartSessionForTest(s, acc)
	for range 80 {
		now = now.Add(50 * time.Second)
		if _, _, err = s.Authenticate(req()); err != nil {
			break
		}
	}
	assert.ErrorIs(t, err, auth.ErrSession)
	// Disabling the account ends its sessions at once.
	addAccount(t, d, "root", auth.Admin)
	b := newBrowser(t, httpsBase(d)).mustLogin("alice")
	code, _ := b.do("GET", "/api/v1/cases", nil, nil)
	require.Equal(t, http.StatusOK, code)
	admin := newBrowser(t, httpsBase(d)).mustLogin("root")
	code, body := admin.act("POST", "/api/v1/accounts/alice/disable", nil)
	require.Equal(t, http.StatusOK, code, string(body))
	code, _ = b.do("GET", "/api/v1/cases", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, code, "the disabled account's session ended")
	assert.Equal(t, http.StatusUnauthorized, newBrowser(t, httpsBase(d)).login("alice", testPassword), "a disabled account cannot log in")
}

func TestManagePortHTTPS(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, daemon.Options{DataDir: dir})
	addAccount(t, d, "alice", auth.Admin)
	fi, err := os.Stat(filepath.Join(dir, "tls", "key.pem"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	conn, err := tls.Dial("tcp", d.ManageAddr.String(), &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	der := conn.ConnectionState().PeerCertificates[0].Raw
	conn.Close()
	sum := sha256.Sum256(der)
	assert.Equal(t, hex.EncodeToString(sum[:]), d.ManageCert.Fingerprint, "the printed fingerprint is the served certificate's")
	pub := conn.ConnectionState().PeerCertificates[0].PublicKeyAlgorithm.String()
	assert.Equal(t, "ECDSA", pub)

	// The session cookie is Secure, HttpOnly and SameSite=Strict over HTTPS.
	b := newBrowser(t, httpsBase(d))
	req, _ := http.NewRequest("POST", httpsBase(d)+"/console/login", strings.NewReader(`{"name":"alice","password":"`+testPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ck := resp.Cookies()[0]
	assert.True(t, ck.Secure && ck.HttpOnly && ck.SameSite == http.SameSiteStrictMode, "%+v", ck)

	// Headers every answer carries.
	for _, p := range []string{"/login", "/api/v1/status", "/assets/app.js"} {
		resp, err := b.c.Get(httpsBase(d) + p)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'", p)
		assert.NotContains(t, resp.Header.Get("Content-Security-Policy"), "unsafe", p)
		assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), p)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), p)
	}

	// A restart keeps the certificate the engineers' browsers trust.
	fp := d.ManageCert.Fingerprint
	require.NoError(t, d.Close())
	d2 := startDaemon(t, daemon.Options{DataDir: dir})
	assert.Equal(t, fp, d2.ManageCert.Fingerprint)
	assert.False(t, d2.ManageCert.Created)
}

// FuzzLogin throws arbitrary bodies at the login: it must never fail
// inside, and only the right credentials may log in. It runs the console
// handler alone, on a real account store, so that each fuzzing worker
// starts at once.
func FuzzLogin(f *testing.F) {
	db, err := bolt.Open(filepath.Join(f.TempDir(), "db"), 0o600, nil)
	require.NoError(f, err)
	f.Cleanup(func() { db.Close() })
	accs, err := auth.NewAccounts(db)
	require.NoError(f, err)
	_, err = accs.Add("alice", auth.Admin, testPassword, "test", time.Now())
	require.NoError(f, err)
	h := console.New(console.Config{API: http.NotFoundHandler(), Accounts: accs, Sessions: console.NewSessions(0, 0, nil), Logger: discardLogger()})
	for _, s := range []string{`{"name":"alice","password":"x"}`, `{"name":"alice","password":"` + testPassword + `"}`, `{}`, `[`, `{"name":1}`,
		`{"name":"alice","password":"a","extra":1}`, strings.Repeat("A", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/console/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = fmt.Sprintf("10.0.%d.%d:1234", len(body)%256, (len(body)/256)%256)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("login answered %d to %q: %s", w.Code, body, w.Body)
		}
		if w.Code == http.StatusOK {
			var req struct{ Name, Password string }
			if json.Unmarshal([]byte(body), &req) != nil || !strings.EqualFold(req.Name, "alice") || req.Password != testPassword {
				t.Fatalf("logged in with %q", body)
			}
		}
	})
}
