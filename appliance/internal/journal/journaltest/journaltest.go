// Package journaltest opens a journal on a fresh bbolt file for tests and,
// when the test ends, verifies every chain in it. It must never be imported
// by code that ships.
package journaltest

import (
	"crypto/ed25519"
	"path/filepath"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// Store is a journal under t.TempDir() with its bbolt handle and signing key.
type Store struct {
	*journal.Store
	DB   *bolt.DB
	Path string
	Key  ed25519.PrivateKey
}

// New opens a signed journal on a new bbolt file. On cleanup it closes the
// store and fails the test if any chain in it does not verify.
func New(t testing.TB) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "firebreak.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	require.NoError(t, err)
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	s, err := journal.Open(db, journal.Options{Key: key})
	require.NoError(t, err)
	st := &Store{Store: s, DB: db, Path: path, Key: key}
	t.Cleanup(func() {
		ids, err := s.IDs()
		require.NoError(t, err)
		for _, id := range ids {
			_, err := s.Verify(id, key.Public().(ed25519.PublicKey))
			require.NoError(t, err, "journal %s must verify at the end of the test", id)
		}
		require.NoError(t, s.Close())
		require.NoError(t, db.Close())
	})
	return st
}
