package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync/s3test"
)

// HQ publishes a signed module and an indicator feed; an appliance syncing
// to the bucket pulls them, installs them once it trusts HQ's key, and
// refuses a module someone changed in the bucket.
func TestHQPublishesModulesAndFeeds(t *testing.T) {
	dir := t.TempDir()
	d, g := startSyncingDaemon(t, dir)
	mod, key, pub := watModule(t)
	mustFB(t, dir, "module", "sign", mod, "--key", key)
	feed := filepath.Join(t.TempDir(), "hq-blocklist.json")
	require.NoError(t, os.WriteFile(feed, []byte(`{"indicators":[{"type":"domain","value":"c2.example","name":"HQ blocklist"}]}`), 0o644))
	mustFB(t, dir, "module", "sign-feed", "hq-blocklist", feed, "--key", key)
	hq := []string{"--endpoint", g.URL(), "--bucket", s3test.Bucket}
	assert.Contains(t, mustFB(t, dir, append([]string{"hq", "publish", "module", mod}, hq...)...), "published module conf")
	assert.Contains(t, mustFB(t, dir, append([]string{"hq", "publish", "feed", "hq-blocklist", feed}, hq...)...), "published feed hq-blocklist")

	pulled := func(typ, what string) bool {
		for _, line := range strings.Split(applianceLog(t, d.Journal), "\n") {
			if strings.HasPrefix(line, typ+" ") && strings.Contains(line, what) {
				return true
			}
		}
		return false
	}
	// The appliance does not trust HQ's key yet: both are refused.
	waitSynced(t, dir)
	require.Eventually(t, func() bool {
		return pulled("module.pull_refused", "conf") && pulled("feed.pull_refused", "hq-blocklist")
	},
		20*time.Second, 50*time.Millisecond)
	assert.NotContains(t, mustFB(t, dir, "module", "list"), "conf")

	mustFB(t, dir, "module", "trust", "hq", pub)
	waitSynced(t, dir)
	require.Eventually(t, func() bool {
		return pulled("module.installed", `"name":"conf"`) && pulled("feed.installed", "hq-blocklist")
	},
		20*time.Second, 50*time.Millisecond)
	assert.Regexp(t, `conf\s+0\.1\.0\s+detect\s+installed\s+true`, mustFB(t, dir, "module", "list"))
	cfg, err := d.Modules.Config("ioc")
	require.NoError(t, err)
	assert.Contains(t, string(cfg), "c2.example")
	assert.Contains(t, applianceLog(t, d.Journal), `"from":"hq"`)

	// Someone changes the module in the bucket, keeping HQ's signature.
	man := filepath.Join(mod, "manifest.json")
	b, err := os.ReadFile(man)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(man, []byte(strings.Replace(string(b), "0.1.0", "6.6.6", 1)), 0o644))
	mustFB(t, dir, append([]string{"hq", "publish", "module", mod}, hq...)...)
	waitSynced(t, dir)
	require.Eventually(t, func() bool { return pulled("module.pull_refused", "does not verify") }, 20*time.Second, 50*time.Millisecond)
	assert.Regexp(t, `conf\s+0\.1\.0\s+detect\s+installed\s+true`, mustFB(t, dir, "module", "list"), "the installed module stays")

	code, _, errs := fb(t, dir, append([]string{"hq", "publish", "feed", "x", feed, "--sig", os.DevNull}, hq...)...)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "signature is missing")
}

// sync now --wait follows the run to its end: when it returns, HQ has it all.
func TestSyncNowWaits(t *testing.T) {
	dir := t.TempDir()
	startSyncingDaemon(t, dir)
	id := mustFB(t, dir, "case", "new", "--title", "Beaconing from the print server")
	mustFB(t, dir, "case", "note", id, "C2 every 60 s")
	out := mustFB(t, dir, "sync", "now", "--wait")
	assert.Contains(t, out, ": idle")
	assert.Regexp(t, id+`\s+2\s+2\s+0`, out, "both entries acknowledged when it returns")
}
