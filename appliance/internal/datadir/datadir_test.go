package datadir

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdentityIsStable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	d, err := Open(path, 0)
	require.NoError(t, err)
	id := d.Identity.ID()
	assert.Regexp(t, `^fb-[0-9a-f]{16}$`, id)
	require.NoError(t, d.Close())

	fi, err := os.Stat(filepath.Join(path, IdentityFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the key is readable by the daemon's user only")
	fi, err = os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	d, err = Open(path, 0)
	require.NoError(t, err)
	defer d.Close()
	assert.Equal(t, id, d.Identity.ID(), "the same key is loaded on the next start")
	assert.DirExists(t, d.Vault())
	assert.NotContains(t, d.Identity.String(), "PRIVATE")
}

func TestSecondOpenFailsClearly(t *testing.T) {
	path := t.TempDir()
	d, err := Open(path, 0)
	require.NoError(t, err)
	defer d.Close()
	start := time.Now()
	_, err = Open(path, 200*time.Millisecond)
	require.ErrorIs(t, err, ErrInUse)
	assert.Contains(t, err.Error(), path)
	assert.Less(t, time.Since(start), 2*time.Second, "fails, never hangs")
}

func TestCorruptIdentityIsAnError(t *testing.T) {
	path := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(path, IdentityFile), []byte("garbage"), 0o600))
	_, err := Open(path, 0)
	require.ErrorContains(t, err, "not a PEM private key")
	// The lock is released on failure.
	require.NoError(t, os.Remove(filepath.Join(path, IdentityFile)))
	d, err := Open(path, 0)
	require.NoError(t, err)
	d.Close()
}
