package cli

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync/s3test"
)

// startSyncingDaemon runs a daemon that syncs to a versitygw on loopback,
// with the credentials in the standard environment variables.
func startSyncingDaemon(t *testing.T, dir string) (*daemon.Daemon, *s3test.Gateway) {
	g := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	d, err := daemon.Start(daemon.Options{DataDir: dir, Version: "test", Logger: discardLogger(),
		Sync: hqsync.Options{Endpoint: g.URL(), Bucket: s3test.Bucket, Interval: time.Hour}})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d, g
}

// waitSynced runs `sync now` and waits until HQ has every journal entry.
func waitSynced(t *testing.T, dir string) hqsync.Status {
	mustFB(t, dir, "sync", "now")
	var st hqsync.Status
	require.Eventually(t, func() bool {
		require.NoError(t, json.Unmarshal([]byte(mustFB(t, dir, "sync", "status", "--json")), &st))
		if st.State != "idle" || len(st.Journals) == 0 {
			return false
		}
		for _, j := range st.Journals {
			if j.Acked != j.Local {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond)
	return st
}

func TestSyncVerb(t *testing.T) {
	dir := t.TempDir()
	startSyncingDaemon(t, dir)
	id := mustFB(t, dir, "case", "new", "--title", "Ransomware on the file server", "--symptom", "virus_infection")
	mustFB(t, dir, "case", "note", id, "fs01 unplugged")
	st := waitSynced(t, dir)
	assert.Empty(t, st.LastError)
	out := mustFB(t, dir, "sync", "status")
	assert.Contains(t, out, "bucket "+s3test.Bucket+": idle")
	assert.Contains(t, out, id)

	assert.Contains(t, mustFB(t, dir, "sync", "pause", "--as", "alice"), "paused")
	code, _, errs := fb(t, dir, "sync", "now")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "sync is paused")
	mustFB(t, dir, "case", "note", id, "written while paused")
	assert.Contains(t, mustFB(t, dir, "sync", "resume", "--as", "alice"), "bucket")
	waitSynced(t, dir)
	log := mustFB(t, dir, "case", "log", "appliance")
	assert.Contains(t, log, "sync.paused")
	assert.Contains(t, log, "sync.resumed")

	code, _, _ = fb(t, dir, "sync", "sideways")
	assert.Equal(t, ExitUsage, code)
}

func TestSyncNotConfigured(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	defer d.Close()
	code, _, errs := fb(t, dir, "sync", "status")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "not configured")
}

func TestSyncServeFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--sync-endpoint", "http://127.0.0.1:1"}, "needs --sync-bucket"},
		{[]string{"--sync-bucket", "b"}, "needs --sync-endpoint"},
		{[]string{"--sync-endpoint", "http://127.0.0.1:1", "--sync-bucket", "b", "--sync-max-rate", "fast"}, "not a byte rate"},
	} {
		code, _, errs := fb(t, t.TempDir(), append([]string{"serve"}, c.args...)...)
		assert.Equal(t, ExitUsage, code, c.args)
		assert.Contains(t, errs, c.want)
	}
	for in, want := range map[string]int64{"0": 0, "500k": 500 << 10, "2M": 2 << 20, "2MiB/s": 2 << 20, "1G": 1 << 30, "1234": 1234} {
		got, err := parseRate(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}

// With HQ out of reach the appliance works as before: the API answers at
// once and the daemon stops at once.
func TestSyncNeverBlocksTheAppliance(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	// A closed port on loopback, and an address that drops packets.
	for _, endpoint := range []string{"http://127.0.0.1:1", "http://192.0.2.1:9000"} {
		d, err := daemon.Start(daemon.Options{DataDir: dir, Version: "test", Logger: discardLogger(),
			Sync: hqsync.Options{Endpoint: endpoint, Bucket: "firebreak-hq", Interval: time.Hour}})
		require.NoError(t, err)
		start := time.Now()
		id := mustFB(t, dir, "case", "new", "--title", "Works offline", "--symptom", "cpu_hog")
		mustFB(t, dir, "case", "note", id, "no link")
		assert.Contains(t, mustFB(t, dir, "sync", "status"), "PENDING")
		assert.Less(t, time.Since(start), 2*time.Second, endpoint)
		start = time.Now()
		require.NoError(t, d.Close())
		assert.Less(t, time.Since(start), 2*time.Second, "Close with a run in flight to %s", endpoint)
	}
}
