package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync/s3test"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// HQ publishes settings for its fleet; the appliance applies a signed,
// newer configuration and journals what changed, and refuses one changed
// in the bucket, one signed by a key it does not trust and an old one put
// back, keeping its settings.
func TestHQPublishesConfiguration(t *testing.T) {
	dir := t.TempDir()
	d, g := startSyncingDaemon(t, dir)
	_, key, pub := watModule(t)
	_, otherKey, _ := watModule(t)
	mustFB(t, dir, "module", "trust", "hq", pub)
	hq := []string{"--endpoint", g.URL(), "--bucket", s3test.Bucket}
	files := t.TempDir()
	publish := func(name, body, signWith string) (int, string) {
		t.Helper()
		path := filepath.Join(files, name)
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
		if signWith != "" {
			mustFB(t, dir, "module", "sign-feed", hqsync.ConfigName, path, "--key", signWith)
		}
		code, _, errs := fb(t, dir, append([]string{"hq", "publish", "config", path}, hq...)...)
		return code, errs
	}
	status := func() hqsync.Status {
		var st hqsync.Status
		require.NoError(t, json.Unmarshal([]byte(mustFB(t, dir, "sync", "status", "--json")), &st))
		return st
	}
	logged := func(typ, what string) bool {
		for _, line := range strings.Split(applianceLog(t, d.Journal), "\n") {
			if strings.HasPrefix(line, typ+" ") && strings.Contains(line, what) {
				return true
			}
		}
		return false
	}
	waitFor := func(typ, what string) {
		t.Helper()
		waitSynced(t, dir)
		require.Eventually(t, func() bool { return logged(typ, what) }, 20*time.Second, 50*time.Millisecond, "%s %s", typ, what)
	}

	// A good configuration: applied, every change journaled.
	code, errs := publish("v2.json", `{"version":2,"sync":{"max_rate":1048576,"interval":"10m"},"modules":{"portscan":false}}`, key)
	require.Equal(t, ExitOK, code, errs)
	waitFor("config.applied", `"version":2`)
	var applied struct {
		Version uint64   `json:"version"`
		Signer  string   `json:"signer"`
		Changes []string `json:"changes"`
	}
	require.NoError(t, d.Journal.Entries("appliance", 0, func(e journal.Entry) error {
		if e.Type == "config.applied" {
			assert.Equal(t, "hq", e.Actor)
			return json.Unmarshal(e.Payload, &applied)
		}
		return nil
	}))
	assert.Equal(t, "hq", applied.Signer)
	assert.Equal(t, []string{"sync.max_rate: 0 → 1048576", "sync.interval: 1h0m0s → 10m0s", "module portscan: enabled → disabled"}, applied.Changes)
	assert.Equal(t, int64(1048576), status().MaxRate)
	assert.Regexp(t, `portscan\s+\S+\s+detect\s+embedded\s+false`, mustFB(t, dir, "module", "list"))

	// Changed in the bucket under HQ's signature: refused, settings stay.
	tampered := `{"version":3,"sync":{"max_rate":0},"modules":{"portscan":true}}`
	require.NoError(t, os.WriteFile(filepath.Join(files, "v3.json.sig"), mustRead(t, filepath.Join(files, "v2.json.sig")), 0o644))
	code, errs = publish("v3.json", tampered, "")
	require.Equal(t, ExitOK, code, errs)
	waitFor("config.pull_refused", "does not verify")

	// Signed by a key the appliance does not trust: refused.
	code, errs = publish("v4.json", `{"version":4,"sync":{"max_rate":0}}`, otherKey)
	require.Equal(t, ExitOK, code, errs)
	waitFor("config.pull_refused", "not trusted")

	// HQ's own older configuration put back: refused as a replay.
	code, errs = publish("v1.json", `{"version":1,"sync":{"max_rate":0}}`, key)
	require.Equal(t, ExitOK, code, errs)
	waitFor("config.pull_refused", "not newer")
	// The applied one again: nothing to do, nothing journaled.
	_, _, _ = fb(t, dir, append([]string{"hq", "publish", "config", filepath.Join(files, "v2.json")}, hq...)...)
	waitSynced(t, dir)
	assert.Equal(t, int64(1048576), status().MaxRate, "the applied settings stay")
	assert.Regexp(t, `portscan\s+\S+\s+detect\s+embedded\s+false`, mustFB(t, dir, "module", "list"))
	assert.Equal(t, 1, strings.Count(applianceLog(t, d.Journal), "config.applied "))

	// A setting the appliance does not have is refused before it is published.
	code, errs = publish("v5.json", `{"version":5,"sync":{"max_rate":0,"bandwidth":"1M"}}`, key)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, `unknown setting "bandwidth"`)

	// After a restart the applied sync settings hold from the start.
	require.NoError(t, d.Close())
	d2, err := daemon.Start(daemon.Options{DataDir: dir, Version: "test", Logger: discardLogger(),
		Sync: hqsync.Options{Endpoint: g.URL(), Bucket: s3test.Bucket, Interval: time.Hour}})
	require.NoError(t, err)
	defer d2.Close()
	assert.Equal(t, int64(1048576), d2.Sync.Status().MaxRate)
}

func mustRead(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
