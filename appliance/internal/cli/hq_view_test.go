package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync/s3test"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqview"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// HQ reads a synced case from the bucket alone: the list says it
// verified, its report and journal are served from the verified entries,
// only to the holder of the view's token, and nothing can be changed.
func TestHQViewOfASyncedCase(t *testing.T) {
	dir := t.TempDir()
	d, g := startSyncingDaemon(t, dir)
	id := mustFB(t, dir, "case", "new", "--title", "Ransomware at the print shop")
	mustFB(t, dir, "case", "note", id, `<script>alert("x")</script> seen in a page`)
	waitSynced(t, dir)

	reports, err := hqsync.Verify(context.Background(), hqsync.Options{Endpoint: g.URL(), Bucket: s3test.Bucket, KeepLog: true}, "", nil)
	require.NoError(t, err)
	view := hqview.New("test", slog.New(slog.DiscardHandler))
	view.Set(reports, time.Now())
	srv := httptest.NewServer(view)
	defer srv.Close()
	app := d.Dir.Identity.ID()

	res, err := http.Get(srv.URL + "/")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "no token, no view")

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		res, err := c.Get(srv.URL + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := get("/?token=" + view.Token())
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, id)
	assert.Contains(t, body, "Ransomware at the print shop")
	assert.Contains(t, body, "verified")

	code, body = get("/cases/" + app + "/" + id + "?lang=en")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "Ransomware at the print shop")
	assert.NotContains(t, body, `<script>alert("x")</script>`, "text from the case is escaped")

	code, body = get("/cases/" + app + "/" + id + "/journal.json")
	require.Equal(t, http.StatusOK, code)
	var es []journal.Entry
	require.NoError(t, json.Unmarshal([]byte(body), &es))
	require.Len(t, es, 2)
	assert.Equal(t, es[1].Prev, es[0].Hash)

	res, err = c.Post(srv.URL+"/cases/"+app+"/"+id, "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, "the view is read-only")
	code, _ = get("/cases/" + app + "/FB-0000-0000")
	assert.Equal(t, http.StatusNotFound, code)

	code, _, errs := fb(t, dir, "hq", "serve", "--endpoint", g.URL(), "--bucket", s3test.Bucket, "--listen", "0.0.0.0:8090")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errs, "loopback only")
}
