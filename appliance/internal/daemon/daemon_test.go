package daemon

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:1": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.1:443": false, "nonsense": false,
	} {
		err := checkLoopback(addr)
		assert.Equal(t, ok, err == nil, "%s: %v", addr, err)
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	dir := t.TempDir()
	// A socket file left by a daemon that died.
	l, err := net.Listen("unix", filepath.Join(dir, "firebreak.sock"))
	require.NoError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	d, err := Start(Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	fi, err := os.Stat(d.Dir.Socket())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the socket is for the daemon's user only")
	require.NoError(t, d.Close())
	assert.NoFileExists(t, d.Dir.Socket(), "removed on a clean stop")
}

// The modules run over every traffic source: a replayed scan raises the
// port-scan alert in the traffic view.
func TestReplayedTrafficRunsTheModules(t *testing.T) {
	if _, err := firstparty.Packages(); err != nil {
		t.Skipf("%v: run make modules first", err)
	}
	scan := filepath.Join("..", "..", "..", "..", "shared", "testdata", "pcap", "malicious", "ndpi-synscan.pcap")
	if _, err := os.Stat(scan); err != nil {
		t.Skip("../shared/testdata is absent; the test capture comes from there")
	}
	d, err := Start(Options{DataDir: t.TempDir(), Replay: []string{scan}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer d.Close()
	require.NotNil(t, d.Detect)
	require.Eventually(t, func() bool {
		for _, ev := range d.Sensor.Events("alert", 100) {
			if ev.Alert.Metadata["firebreak_module"][0] == "portscan" && ev.SrcIP == "172.16.0.8" {
				return true
			}
		}
		return false
	}, 2*time.Minute, 100*time.Millisecond)
	h := d.Sensor.ModuleHealth()["portscan"]
	assert.Positive(t, h.Events, "the module's health counts what it saw")
	assert.Positive(t, h.Alerts)
	assert.Positive(t, h.Time)

	quiet, err := Start(Options{DataDir: t.TempDir(), NoModules: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	assert.Nil(t, quiet.Detect)
	quiet.Close()
}
