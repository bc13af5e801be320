package journal_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// On a full disk an append fails with an error, nothing of it is written,
// every earlier entry stays, and appends work again once there is space.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })

	// Most of the disk is taken by other data, freed later.
	filler := filepath.Join(dir, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, 3<<20), 0o600))

	_, key, _ := ed25519.GenerateKey(nil)
	pub := key.Public().(ed25519.PublicKey)
	db, err := bolt.Open(filepath.Join(dir, "firebreak.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	s, err := journal.Open(db, journal.Options{Key: key})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	big := strings.Repeat("x", 64<<10)

	var ok int
	var appendErr error
	for i := 0; i < 200; i++ {
		if _, appendErr = s.Append(ctx, journal.Record{Journal: "FB-1", Actor: "a", Type: "note.added", Payload: map[string]string{"text": big}}); appendErr != nil {
			break
		}
		ok++
	}
	require.Error(t, appendErr, "1 MiB cannot hold 200 entries of 64 KiB")
	assert.ErrorIs(t, appendErr, syscall.ENOSPC)
	t.Logf("%d entries fit, then: %v", ok, appendErr)
	seq, _, err := s.Head("FB-1")
	require.NoError(t, err)
	assert.Equal(t, uint64(ok), seq, "the failed append left nothing")
	_, err = s.Verify("FB-1", pub)
	require.NoError(t, err)

	// Once there is space again, appends go on from where they were.
	require.NoError(t, os.Remove(filler))
	es, err := s.Append(ctx, journal.Record{Journal: "FB-1", Actor: "a", Type: "note.added", Payload: map[string]string{"text": big}})
	require.NoError(t, err)
	assert.Equal(t, seq+1, es[0].Seq)
	_, err = s.Verify("FB-1", pub)
	require.NoError(t, err)
}
