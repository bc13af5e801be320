package daemon

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

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
