package console_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync/s3test"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqview"
)

// At HQ, a case synced from an appliance opens in the console's own pages
// in Chromium: its timeline is there, and nothing that would change it is.
func TestHQConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	g := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	d := startDaemon(t, daemon.Options{DataDir: t.TempDir(), Version: "test", Logger: discardLogger(),
		Sync: hqsync.Options{Endpoint: g.URL(), Bucket: s3test.Bucket, Interval: time.Hour}})
	ctx := context.Background()
	id, err := d.Book.Create(ctx, "console:alice", cases.OpenRequest{Title: "Webshell on the intranet <b>portal</b>"})
	require.NoError(t, err)
	require.NoError(t, d.Book.Do(ctx, "console:alice", id, func(c *cases.Case) (cases.Change, error) {
		return c.Note(cases.NoteRequest{Text: "webshell found in /var/www/upload"})
	}))
	_, err = d.Sync.RunOnce(ctx)
	require.NoError(t, err)
	reports, err := hqsync.Verify(ctx, hqsync.Options{Endpoint: g.URL(), Bucket: s3test.Bucket, KeepLog: true}, "", nil)
	require.NoError(t, err)
	view := hqview.New("test", slog.New(slog.DiscardHandler))
	defer view.Close()
	view.Set(reports, time.Now())
	srv := httptest.NewServer(view)
	defer srv.Close()

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1366, 900))...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()

	app := d.Dir.Identity.ID()
	shots := artifactDir(t)
	var timeline, bar string
	var buttons, logoutHidden, nav int
	require.NoError(t, chromedp.Run(bctx,
		chromedp.Navigate(srv.URL+"/?token="+view.Token()),
		chromedp.WaitVisible(`table`, chromedp.ByQuery),
		chromedp.Evaluate(`localStorage.setItem("lang", "en")`, nil),
		chromedp.Navigate(srv.URL+"/a/"+app+"/?case="+id+"#/case"),
		chromedp.WaitVisible(`main[data-page="case"][data-ready="1"]`, chromedp.ByQuery),
		screenshot(shots, "hq-case"),
		chromedp.Text(`main`, &timeline, chromedp.ByQuery),
		chromedp.Text(`#casebar`, &bar, chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll("main button, main textarea, #casebar button, #casebar input").length`, &buttons),
		chromedp.Evaluate(`document.getElementById("logout").hidden ? 1 : 0`, &logoutHidden),
		chromedp.Evaluate(`document.querySelectorAll("#nav a").length`, &nav),
	))
	assert.Contains(t, timeline, "Webshell on the intranet <b>portal</b>", "shown as text")
	assert.Contains(t, timeline, "note.added")
	assert.Contains(t, timeline, "case.opened")
	assert.NotContains(t, timeline, "null", "nothing drawn in place of a control")
	assert.Contains(t, bar, id)
	assert.Zero(t, buttons, "no control that changes the case")
	assert.Equal(t, 1, logoutHidden)
	assert.Equal(t, 4, nav, "the case pages only")

	for _, p := range []string{"triage", "evidence", "report"} {
		var flash string
		require.NoError(t, chromedp.Run(bctx, openPage(p), chromedp.Sleep(150*time.Millisecond), chromedp.Text(`#flash`, &flash, chromedp.ByID), screenshot(shots, "hq-"+p)))
		assert.Empty(t, flash, "page %s reported an error", p)
	}
}
