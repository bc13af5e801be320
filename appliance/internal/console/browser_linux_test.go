package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
	"github.com/firebreak-ir/firebreak/internal/netlab"
	"github.com/firebreak-ir/firebreak/netctl"
	"github.com/firebreak-ir/firebreak/samples"
)

var pages = []string{"dashboard", "case", "alerts", "hosts", "containment", "modules", "triage", "evidence", "sync", "report"}

func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("FIREBREAK_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Skip("skipping: no Chromium (apt-get install chromium, or set FIREBREAK_CHROMIUM)")
	return ""
}

// artifactDir is where screenshots are kept for people to look at:
// $FIREBREAK_ARTIFACTS/console, else a temporary folder named in the log.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("FIREBREAK_ARTIFACTS")
	var err error
	if dir != "" {
		dir = filepath.Join(dir, "console")
		err = os.MkdirAll(dir, 0o755)
	} else {
		dir, err = os.MkdirTemp("", "firebreak-console-screens-")
	}
	require.NoError(t, err)
	t.Logf("console screenshots in %s", dir)
	return dir
}

// TestConsoleInBrowser is the console end to end in headless Chromium: an
// appliance that replayed the sample captures and a capture full of
// hostile strings, and analysed evidence of a case; a responder logs in,
// opens every page in both languages, isolates a host through the plan
// and confirmation steps (and the host really is cut off, then restored),
// and exports the evidence with the progress bar.
func TestConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	netlab.RequireRoot(t)
	lab := netlab.NewBridgeLab(t)
	copts := netctl.Options{Mode: netctl.ModeBridge, Bridge: "fbbr0", Ports: lab.Ports, NetNS: lab.App.Path}
	work := t.TempDir()
	hostile := writeHostilePcap(t, work)
	d, err := daemon.Start(daemon.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Manage: "127.0.0.1:0", Version: "test",
		Logger: discardLogger(), Sample: true, Replay: []string{hostile}, Containment: copts})
	if errors.Is(err, netctl.ErrUnsupported) {
		t.Skipf("skipping: the kernel lacks a feature containment needs: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	lab.WaitFlowing(t, netlab.BV4, netlab.BV6)
	addAccount(t, d, "alice", auth.Responder)

	// The case: evidence sealed and analysed, a note carrying a hostile string.
	api := newBrowser(t, httpsBase(d)).mustLogin("alice")
	code, body := api.act("POST", "/api/v1/cases", map[string]string{"title": "Web server defaced <b>bold</b>"})
	require.Equal(t, http.StatusCreated, code, string(body))
	var c struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &c))
	var inputs []string
	for name, read := range map[string]func() ([]byte, error){
		"tls-glupteba.pcap": func() ([]byte, error) { return fs.ReadFile(samples.FS, "tls-glupteba.pcap") },
		"hostile.pcap":      func() ([]byte, error) { return os.ReadFile(hostile) },
	} {
		raw, err := read()
		require.NoError(t, err)
		code, body := api.do("POST", "/api/v1/cases/"+c.ID+"/evidence?category=pcap&name="+name, raw, map[string]string{"X-CSRF-Token": api.csrf})
		require.Equal(t, http.StatusCreated, code, string(body))
		var item struct{ SHA256 string }
		require.NoError(t, json.Unmarshal(body, &item))
		inputs = append(inputs, item.SHA256)
	}
	// The detection modules are exercised by their own tests; here the
	// analysis runs without them so that the browser test stays short.
	code, body = api.act("POST", "/api/v1/cases/"+c.ID+"/analyses", map[string]any{"inputs": inputs, "no_modules": true})
	require.Less(t, code, 300, string(body))
	for _, cmd := range []struct {
		name string
		body any
	}{
		{"phase", map[string]string{"to": "confirmed", "reason": "defaced page seen"}},
		{"classify", map[string]string{"category": "malware", "subcategory": "ransomware", "importance": "important", "loss": "serious", "social_impact": "considerable"}},
		{"notes", map[string]string{"text": "customer pasted " + hostileUA}},
		{"tasks", map[string]string{"title": "collect the web server logs", "assignee": "bob"}},
	} {
		code, body := api.act("POST", "/api/v1/cases/"+c.ID+"/"+cmd.name, cmd.body)
		require.Equal(t, http.StatusOK, code, "%s: %s", cmd.name, body)
	}

	shots := artifactDir(t)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Flag("ignore-certificate-errors", true), chromedp.WindowSize(1366, 900))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute) // generous: CI machines may be loaded
	defer cancel()
	start := time.Now()

	base := httpsBase(d)
	shot := func(name string) chromedp.Action { return screenshot(shots, name) }
	open := openPage
	inert := func(where string) {
		var pwned bool
		var injected int
		require.NoError(t, chromedp.Run(ctx,
			chromedp.Evaluate(`window.__pwned !== undefined`, &pwned),
			chromedp.Evaluate(`document.querySelectorAll("main img, main svg, main script, main b, #casebar b").length`, &injected)))
		assert.False(t, pwned, "a hostile string ran on %s", where)
		assert.Zero(t, injected, "a hostile string became markup on %s", where)
	}

	// A browser without a session lands on the login page.
	var url string
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#login`, chromedp.ByID), chromedp.Location(&url)))
	assert.Equal(t, base+"/login", url)
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Evaluate(`localStorage.setItem("lang", "en")`, nil),
		chromedp.Reload(), chromedp.WaitVisible(`#login`, chromedp.ByID), shot("login-en"),
		chromedp.SendKeys(`#name`, "alice", chromedp.ByID),
		chromedp.SendKeys(`#password`, "wrong password", chromedp.ByID),
		chromedp.Click(`#submit`, chromedp.ByID),
		chromedp.WaitVisible(`//p[@id="error"][contains(., "wrong name or password")]`, chromedp.BySearch),
		chromedp.SendKeys(`#password`, testPassword, chromedp.ByID),
		chromedp.Click(`#submit`, chromedp.ByID),
		chromedp.WaitVisible(`main[data-ready="1"]`, chromedp.ByQuery),
		chromedp.Evaluate(`localStorage.setItem("caseId", "`+c.ID+`")`, nil),
		chromedp.Reload(), chromedp.WaitVisible(`main[data-ready="1"]`, chromedp.ByQuery),
	))

	for _, lang := range []string{"en", "zh-CN"} {
		require.NoError(t, chromedp.Run(ctx, chromedp.SetValue(`#lang`, lang, chromedp.ByID),
			chromedp.Evaluate(`document.getElementById("lang").dispatchEvent(new Event("change"))`, nil),
			chromedp.WaitVisible(`html[lang="`+lang+`"] main[data-ready="1"]`, chromedp.ByQuery)))
		for _, p := range pages {
			if p == "dashboard" {
				// The chart draws once the replay's flows are in.
				require.NoError(t, chromedp.Run(ctx, open(p), chromedp.WaitVisible(`.chart canvas`, chromedp.ByQuery)))
			} else {
				require.NoError(t, chromedp.Run(ctx, open(p)), "page %s", p)
			}
			var errText string
			require.NoError(t, chromedp.Run(ctx, chromedp.Sleep(150*time.Millisecond), chromedp.Text(`#flash`, &errText, chromedp.ByID), shot(p+"-"+lang)))
			assert.Empty(t, errText, "page %s (%s) reported an error", p, lang)
			inert(p + " " + lang)
		}
	}
	require.NoError(t, chromedp.Run(ctx, chromedp.SetValue(`#lang`, "en", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("lang").dispatchEvent(new Event("change"))`, nil),
		chromedp.WaitVisible(`html[lang="en"] main[data-ready="1"]`, chromedp.ByQuery)))

	// The hostile strings are on the pages, as text.
	var text string
	require.NoError(t, chromedp.Run(ctx, open("hosts"), chromedp.Text(`main`, &text, chromedp.ByQuery)))
	assert.Contains(t, text, hostileHost, "the HTTP host is shown as text on the hosts page")
	require.NoError(t, chromedp.Run(ctx, open("case"), chromedp.Text(`main`, &text, chromedp.ByQuery)))
	assert.Contains(t, text, hostileUA, "the note is shown as text on the case page")
	require.NoError(t, chromedp.Run(ctx, chromedp.Text(`#casebar`, &text, chromedp.ByID)))
	inert("case bar")

	// Containment: plan, apply with confirmation, confirm, release.
	require.NoError(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 2*time.Second), "A reaches B before")
	require.NoError(t, chromedp.Run(ctx, open("containment"),
		chromedp.SendKeys(`input[name=ip]`, netlab.AV4, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=reason]`, "beaconing to a C2", chromedp.ByQuery),
		chromedp.Click(`#iso-plan`, chromedp.ByID),
		chromedp.WaitVisible(`//main//button[contains(@class,"danger")][text()="Apply isolation"]`, chromedp.BySearch),
		shot("containment-plan-en"),
		chromedp.Click(`//main//button[text()="Apply isolation"]`, chromedp.BySearch),
		chromedp.WaitVisible(`dialog#confirm[open]`, chromedp.ByQuery),
		shot("containment-apply-confirm-en"),
		chromedp.Click(`#confirm-ok`, chromedp.ByID),
		chromedp.WaitVisible(`//main//td[text()="`+netlab.AV4+`"]`, chromedp.BySearch),
	))
	assert.Error(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 300*time.Millisecond), "A->B while isolated from the console")
	assert.NoError(t, netlab.UDPProbe(lab.C.NS, netlab.BV4+":9001", lab.Probe, 2*time.Second), "C->B while A isolated")
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible(`//main//td//button[text()="Confirm"]`, chromedp.BySearch),
		shot("containment-active-en"),
		chromedp.Click(`//main//td//button[text()="Confirm"]`, chromedp.BySearch),
		chromedp.WaitVisible(`dialog#confirm[open]`, chromedp.ByQuery),
		chromedp.Click(`#confirm-ok`, chromedp.ByID),
		chromedp.WaitVisible(`//main//td[contains(., "confirmed · console:alice")]`, chromedp.BySearch),
		chromedp.Click(`//main//td//button[text()="Release"]`, chromedp.BySearch),
		chromedp.WaitVisible(`dialog#confirm[open] input`, chromedp.ByQuery),
		chromedp.SendKeys(`dialog#confirm input`, "C2 blocked upstream", chromedp.ByQuery),
		shot("containment-release-confirm-en"),
		chromedp.Click(`#confirm-ok`, chromedp.ByID),
		chromedp.WaitVisible(`//main//p[text()="No isolations in force"]`, chromedp.BySearch),
	))
	lab.A.ForgetNeighbours(netlab.BV4)
	assert.NoError(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 2*time.Second), "A->B after release")

	// Export with the progress bar.
	require.NoError(t, chromedp.Run(ctx, open("evidence"),
		chromedp.Click(`//main//button[text()="Export evidence bundle"]`, chromedp.BySearch),
		chromedp.WaitVisible(`dialog#confirm[open]`, chromedp.ByQuery),
		chromedp.Click(`#confirm-ok`, chromedp.ByID),
		chromedp.WaitVisible(`//span[@id="export-status"][starts-with(., "Exported")]`, chromedp.BySearch),
		shot("evidence-exported-en")))
	var progress int
	require.NoError(t, chromedp.Run(ctx, chromedp.Evaluate(`document.getElementById("export-progress").value`, &progress)))
	assert.Equal(t, 100, progress)
	t.Logf("TIMING browser part: %v", time.Since(start).Round(time.Millisecond))

	// Every action is in the journal under the engineer's name.
	code, body = api.do("GET", "/api/v1/cases/"+c.ID+"/journal?limit=1000", nil, nil)
	require.Equal(t, http.StatusOK, code)
	var entries []struct{ Actor, Type string }
	require.NoError(t, json.Unmarshal(body, &entries))
	seen := map[string]string{}
	for _, e := range entries {
		seen[e.Type] = e.Actor
	}
	for _, typ := range []string{"isolation.applied", "isolation.confirmed", "isolation.released", "custody.exported"} {
		assert.Equal(t, "console:alice", seen[typ], "%s attributed to the engineer (journal: %v)", typ, fmt.Sprint(seen))
	}
}

// screenshot saves the whole page as dir/name.png, a test artefact.
func screenshot(dir, name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var buf []byte
		if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

// openPage shows a console page and waits until it has rendered.
func openPage(page string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Evaluate(`location.hash = "#/`+page+`"`, nil),
		chromedp.WaitVisible(`main[data-page="`+page+`"][data-ready="1"]`, chromedp.ByQuery),
	}
}
