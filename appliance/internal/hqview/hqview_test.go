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
