package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync/s3test"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqview"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// HQ opens a synced case in the console's own pages, read from the
// entries it verified, verbatim; every change is refused on every path,
// and a case whose copy in the bucket was changed is not served at all.
func TestHQConsoleOfASyncedCase(t *testing.T) {
	dir := t.TempDir()
	d, g := startSyncingDaemon(t, dir)
	id := mustFB(t, dir, "case", "new", "--title", "Ransomware at the print shop")
	mustFB(t, dir, "case", "note", id, "encrypted shares on fs01")
	bad := mustFB(t, dir, "case", "new", "--title", "Phishing at the front desk")
	waitSynced(t, dir)
	app := d.Dir.Identity.ID()

	// Someone changes the second case's cursor in the bucket.
	_, err := g.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s3test.Bucket),
		Key: aws.String("appliances/" + app + "/cases/" + bad + "/cursor.json"), Body: strings.NewReader(`{"seq":1}`)})
	require.NoError(t, err)

	reports, err := hqsync.Verify(context.Background(), hqsync.Options{Endpoint: g.URL(), Bucket: s3test.Bucket, KeepLog: true}, "", nil)
	require.ErrorIs(t, err, hqsync.ErrVerify)
	view := hqview.New("test", slog.New(slog.DiscardHandler))
	defer view.Close()
	view.Set(reports, time.Now())
	srv := httptest.NewServer(view)
	defer srv.Close()

	do := func(method, path string) (int, string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(`{}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+view.Token())
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := do("GET", "/")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `/a/`+app+`/?case=`+id+`#/case`)
	assert.NotContains(t, body, `?case=`+bad, "no console for a case that failed")

	code, body = do("GET", "/a/"+app+"/")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `<meta name="firebreak-root" content="/a/`+app+`">`)
	assert.Contains(t, body, `/assets/app.js`)
	code, _ = do("GET", "/assets/app.js")
	assert.Equal(t, http.StatusOK, code)
	code, body = do("GET", "/a/"+app+"/console/session")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"role":"viewer"`)

	code, body = do("GET", "/a/"+app+"/api/v1/cases")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, id)
	assert.NotContains(t, body, bad, "a case that failed verification is not listed")
	code, _ = do("GET", "/a/"+app+"/api/v1/cases/"+bad)
	assert.Equal(t, http.StatusNotFound, code)

	// The timeline is the verified entries, byte for byte.
	var verified []journal.Entry
	for _, r := range reports {
		if r.Journal == id {
			verified = r.Log
		}
	}
	require.Len(t, verified, 2)
	code, body = do("GET", "/a/"+app+"/api/v1/cases/"+id+"/journal?limit=1000")
	require.Equal(t, http.StatusOK, code, body)
	var es []journal.Entry
	require.NoError(t, json.Unmarshal([]byte(body), &es))
	require.Len(t, es, 2)
	for i := range es {
		assert.Equal(t, verified[i].Hash, es[i].Hash)
		assert.True(t, verified[i].Time.Equal(es[i].Time))
		assert.Equal(t, verified[i].Actor, es[i].Actor)
	}
	code, body = do("GET", "/a/"+app+"/api/v1/cases/"+id+"/verify")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"ok":true`)
	code, body = do("GET", "/a/"+app+"/api/v1/cases/"+id+"/report?lang=en")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "Ransomware at the print shop")

	// Only what the case pages read is served.
	for _, p := range []string{"/a/" + app + "/api/v1/tokens", "/a/" + app + "/api/v1/accounts", "/a/" + app + "/api/v1/capture",
		"/a/" + app + "/api/v1/sync", "/a/" + app + "/api/v1/cases/" + id + "/evidence/00"} {
		code, _ := do("GET", p)
		assert.Equal(t, http.StatusNotFound, code, p)
	}
	// Every change is refused, whatever the path.
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		for _, p := range []string{"/", "/a/" + app + "/api/v1/cases", "/a/" + app + "/api/v1/cases/" + id + "/notes",
			"/a/" + app + "/api/v1/cases/" + id + "/phase", "/a/" + app + "/api/v1/tokens/x", "/a/" + app + "/console/logout",
			"/a/" + app + "/api/v1/sync/now", "/cases/" + app + "/" + id, "/nowhere"} {
			code, _ := do(method, p)
			assert.Equal(t, http.StatusMethodNotAllowed, code, "%s %s", method, p)
		}
	}
	code, body = do("GET", "/a/"+app+"/api/v1/cases/"+id+"/journal")
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, json.Unmarshal([]byte(body), &es))
	assert.Len(t, es, 2, "nothing was added")

	res, err := http.Get(srv.URL + "/a/" + app + "/api/v1/cases")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "no token, no view")
}
