package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal/journaltest"
	"github.com/firebreak-ir/firebreak/appliance/internal/sensor"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fixture struct {
	srv    *Server
	store  *journaltest.Store
	tokens *auth.Tokens
	tcp    *httptest.Server
	local  *http.Client
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := journaltest.New(t)
	book, err := casebook.New(st.Store, st.DB, st.Key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	tokens, err := auth.NewTokens(st.DB)
	require.NoError(t, err)
	v, err := vault.Open(filepath.Join(t.TempDir(), "vault"))
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	sn, err := sensor.New(sensor.Options{})
	require.NoError(t, err)
	srv := New(Config{Book: book, Journal: st.Store, Tokens: tokens, Vault: v, Sensor: sn, Version: "test", Appliance: "fb-test"})
	f := &fixture{srv: srv, store: st, tokens: tokens, tcp: httptest.NewServer(srv)}
	t.Cleanup(f.tcp.Close)

	sock := filepath.Join(t.TempDir(), "api.sock")
	ul, err := net.Listen("unix", sock)
	require.NoError(t, err)
	hs := &http.Server{Handler: srv, ConnContext: LocalConnContext}
	go hs.Serve(ul)
	t.Cleanup(func() { hs.Close() })
	f.local = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	return f
}

func (f *fixture) token(t testing.TB, role auth.Role) string {
	_, s, err := f.tokens.Create("t-"+string(role), role, "test", time.Now())
	require.NoError(t, err)
	return s.Reveal()
}

// call sends a request on TCP with token (empty: none) or, with token
// "local", on the Unix socket.
func (f *fixture) call(t testing.TB, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	base, client := f.tcp.URL, f.tcp.Client()
	if token == "local" {
		base, client = "http://firebreak", f.local
	}
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" && token != "local" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func (f *fixture) entries(t testing.TB, id string) uint64 {
	seq, _, err := f.store.Head(id)
	require.NoError(t, err)
	return seq
}

func TestEveryCallNeedsAuthentication(t *testing.T) {
	f := newFixture(t)
	for _, rt := range routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.NewReplacer("{id}", "FB-2026-0001", "{command}", "notes", "{name}", "x", "{sha256}", strings.Repeat("a", 64)).Replace(path)
		for _, tok := range []string{"", "fbt_wrong", "not-a-token"} {
			code, m := f.call(t, tok, method, path, `{}`)
			assert.Equal(t, http.StatusUnauthorized, code, "%s %s with %q", method, path, tok)
			assert.NotEmpty(t, m["id"], "an error carries an ID")
		}
	}
	code, _ := f.call(t, "", "GET", "/api/v1/nonexistent", "")
	assert.Equal(t, http.StatusUnauthorized, code, "unknown paths are not revealed to strangers")
}

func TestRoles(t *testing.T) {
	f := newFixture(t)
	viewer, responder := f.token(t, auth.Viewer), f.token(t, auth.Responder)

	code, _ := f.call(t, viewer, "POST", "/api/v1/cases", `{"title":"x"}`)
	assert.Equal(t, http.StatusForbidden, code, "a viewer cannot act")
	code, m := f.call(t, responder, "POST", "/api/v1/cases", `{"title":"Ransomware on file server"}`)
	require.Equal(t, http.StatusCreated, code, "%v", m)
	id := m["id"].(string)
	assert.Equal(t, "token:t-responder", m["created_by"], "the journal records the authenticated actor")

	code, _ = f.call(t, viewer, "GET", "/api/v1/cases/"+id, "")
	assert.Equal(t, http.StatusOK, code)
	code, _ = f.call(t, viewer, "POST", "/api/v1/cases/"+id+"/notes", `{"text":"hi"}`)
	assert.Equal(t, http.StatusForbidden, code)
	code, _ = f.call(t, responder, "POST", "/api/v1/tokens", `{"name":"x","role":"admin"}`)
	assert.Equal(t, http.StatusForbidden, code, "only an admin makes tokens")
	code, m = f.call(t, "local", "POST", "/api/v1/tokens", `{"name":"script","role":"viewer"}`)
	require.Equal(t, http.StatusCreated, code, "%v", m)
	assert.Regexp(t, `^fbt_`, m["secret"])
	code, _ = f.call(t, "local", "GET", "/api/v1/status", "")
	assert.Equal(t, http.StatusOK, code)
}

func TestBadBodiesChangeNothing(t *testing.T) {
	f := newFixture(t)
	code, m := f.call(t, "local", "POST", "/api/v1/cases", `{"title":"Intrusion"}`)
	require.Equal(t, http.StatusCreated, code)
	id := m["id"].(string)
	before := f.entries(t, id)

	tests := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"not JSON", "notes", `{"text":`, 400, "body"},
		{"empty", "notes", ``, 400, "empty body"},
		{"unknown field", "notes", `{"text":"a","evil":1}`, 400, "unknown field"},
		{"trailing data", "notes", `{"text":"a"}{"text":"b"}`, 400, "after the JSON object"},
		{"wrong type", "notes", `{"text":5}`, 400, "body"},
		{"empty note", "notes", `{"text":""}`, 400, "text"},
		{"control characters", "tasks", `{"title":"a\u0000b"}`, 400, "title"},
		{"unknown phase", "phase", `{"to":"pwned"}`, 400, "phase"},
		{"skip phases", "phase", `{"to":"closed"}`, 409, ""},
		{"bad level factor", "classify", `{"category":"malware","importance":"huge","loss":"minor","social_impact":"ordinary"}`, 400, "importance"},
		{"override without reason", "classify", `{"category":"malware","importance":"ordinary","loss":"minor","social_impact":"ordinary","override_level":"I"}`, 400, "override_reason"},
		{"unknown command", "rm-rf", `{}`, 404, "no case command"},
		{"huge body", "notes", `{"text":"` + strings.Repeat("a", MaxBody) + `"}`, 400, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, m := f.call(t, "local", "POST", "/api/v1/cases/"+id+"/"+tt.path, tt.body)
			assert.Equal(t, tt.status, code, "%v", m)
			assert.Contains(t, m["error"], tt.msg)
			assert.Equal(t, before, f.entries(t, id), "nothing written")
		})
	}
	code, _ = f.call(t, "local", "GET", "/api/v1/cases/FB-9999-9999", "")
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = f.call(t, "local", "POST", "/api/v1/cases/..%2f..%2fetc/notes", `{"text":"x"}`)
	assert.Equal(t, http.StatusNotFound, code)
}

func TestCSVImport(t *testing.T) {
	f := newFixture(t)
	_, m := f.call(t, "local", "POST", "/api/v1/cases", `{"title":"Intrusion"}`)
	id := m["id"].(string)
	csv := "\ufeffIP地址,主机名,mac,owner,importance\n10.0.0.5,web01,52:54:00:12:34:56,IT,critical\n10.0.0.6,db01,,DBA,important\n"
	req, _ := http.NewRequest("POST", "http://firebreak/api/v1/cases/"+id+"/assets?source=assets.csv", bytes.NewBufferString(csv))
	req.Header.Set("Content-Type", "text/csv")
	resp, err := f.local.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var c struct {
		Assets []map[string]any `json:"assets"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&c))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, c.Assets, 2)
}

// FuzzCaseCommand sends arbitrary bodies to every case command: the API
// answers 2xx or 4xx, never 5xx, and the journal stays a valid chain (the
// fixture verifies every chain when the test ends).
func FuzzCaseCommand(f *testing.F) {
	fx := newFixture(f)
	_, m := fx.call(f, "local", "POST", "/api/v1/cases", `{"title":"Fuzzed case"}`)
	id := m["id"].(string)
	names := make([]string, 0, len(caseCommands))
	for n := range caseCommands {
		names = append(names, n)
	}
	f.Add(uint8(0), []byte(`{"text":"a note"}`))
	f.Add(uint8(1), []byte(`{"to":"confirmed","reason":"x"}`))
	f.Add(uint8(2), []byte(`{"category":"malware","importance":"critical","loss":"extreme","social_impact":"major"}`))
	f.Add(uint8(3), []byte(`{"title":"collect auth.log","assignee":"bob"}`))
	f.Add(uint8(4), []byte(`{"responded":"30m"}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		name := names[int(which)%len(names)]
		code, m := fx.call(t, "local", "POST", "/api/v1/cases/"+id+"/"+name, string(body))
		if code >= 500 {
			t.Fatalf("%s %q: %d %v", name, body, code, m)
		}
	})
}
