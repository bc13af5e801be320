package hqview

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
)

// A case that failed verification is listed with the reason and nothing
// else: no report, no journal.
func TestAFailedCaseShowsOnlyWhy(t *testing.T) {
	v := New("test", slog.New(slog.DiscardHandler))
	v.Set([]hqsync.CaseReport{{Appliance: "fb-0123456789abcdef", Journal: "FB-2026-0001", Error: "entry 3: content does not match its hash"}}, time.Now())
	srv := httptest.NewServer(v)
	defer srv.Close()
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+v.Token())
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := get("/")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "FAILED: entry 3: content does not match its hash")
	assert.NotContains(t, body, "journal.json")
	code, _ = get("/cases/fb-0123456789abcdef/FB-2026-0001")
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = get("/cases/fb-0123456789abcdef/FB-2026-0001/journal.json")
	assert.Equal(t, http.StatusNotFound, code)

	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

// With no verified case there is no console to open, and nothing but GET
// and HEAD is served on any path.
func TestNoConsoleWithoutAVerifiedCase(t *testing.T) {
	v := New("test", slog.New(slog.DiscardHandler))
	defer v.Close()
	v.Set([]hqsync.CaseReport{{Appliance: "fb-0123456789abcdef", Journal: "FB-2026-0001", Error: "the cursor is not signed by the appliance"}}, time.Now())
	srv := httptest.NewServer(v)
	defer srv.Close()
	do := func(method, path string) int {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+v.Token())
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	for _, p := range []string{"/a/fb-0123456789abcdef/", "/a/fb-0123456789abcdef/api/v1/cases", "/a/fb-0123456789abcdef/api/v1/cases/FB-2026-0001",
		"/a/fb-0123456789abcdef/console/session", "/a/other/", "/assets/index.html"} {
		assert.Equal(t, http.StatusNotFound, do("GET", p), p)
	}
	assert.Equal(t, http.StatusOK, do("GET", "/assets/app.js"))
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		for _, p := range []string{"/", "/a/fb-0123456789abcdef/api/v1/cases", "/assets/app.js", "/x"} {
			assert.Equal(t, http.StatusMethodNotAllowed, do(m, p), "%s %s", m, p)
		}
	}
}
