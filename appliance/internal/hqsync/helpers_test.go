package hqsync

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync/s3test"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
)

// The tests run a real S3-compatible server on loopback (package s3test).

const (
	testAccess = s3test.AccessKey
	testSecret = s3test.SecretKey
	testBucket = s3test.Bucket
)

type gateway struct{ *s3test.Gateway }

func startGateway(t testing.TB) *gateway { return &gateway{s3test.Start(t)} }

func (g *gateway) url() string { return g.URL() }
func (g *gateway) kill()       { g.Kill() }
func (g *gateway) start()      { g.Restart() }

// box is an appliance: a store, a journal, a vault and a key.
type box struct {
	db    *bolt.DB
	j     *journal.Store
	v     *vault.Vault
	key   ed25519.PrivateKey
	id    string
	dir   string
	blobs map[string]int64 // what the vault holds, by hash
}

func newBox(t testing.TB) *box {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	b := openBox(t, t.TempDir(), key)
	t.Cleanup(b.close)
	return b
}

// openBox opens the appliance's store in dir; close it before another
// process opens it.
func openBox(t testing.TB, dir string, key ed25519.PrivateKey) *box {
	db, err := bolt.Open(filepath.Join(dir, "firebreak.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	require.NoError(t, err)
	j, err := journal.Open(db, journal.Options{Key: key})
	require.NoError(t, err)
	v, err := vault.Open(filepath.Join(dir, "vault"))
	require.NoError(t, err)
	return &box{db: db, j: j, v: v, key: key, id: applianceID(key.Public().(ed25519.PublicKey)), dir: dir, blobs: map[string]int64{}}
}

func (b *box) close() {
	b.j.Close()
	b.v.Close()
	b.db.Close()
}

func (b *box) options(g *gateway) Options {
	return Options{
		Endpoint: g.url(), Bucket: testBucket,
		Credentials: &Credentials{AccessKeyID: testAccess, SecretAccessKey: testSecret},
		MinBackoff:  20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		DB: b.db, Journal: b.j, Vault: b.v, Appliance: b.id, Key: b.key,
		Logger: slog.New(slog.DiscardHandler),
	}
}

func (b *box) syncer(t testing.TB, o Options) *Syncer {
	s, err := New(o)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// note appends n plain entries to a case.
func (b *box) note(t testing.TB, id string, n int) {
	for i := range n {
		_, err := b.j.Append(context.Background(), journal.Record{Journal: id, Actor: "alice", Type: "note.added",
			Payload: map[string]string{"text": fmt.Sprintf("note %d <with> & \u2028 characters JSON escapes", i)}})
		require.NoError(t, err)
	}
}

// collect stores size bytes in the vault and journals them as evidence.
func (b *box) collect(t testing.TB, id string, size int64, seed uint64) string {
	blob := putRandom(t, b.v, size, seed)
	b.blobs[blob.SHA256] = blob.Size
	_, err := b.j.Append(context.Background(), journal.Record{Journal: id, Actor: "alice", Type: cases.TypeEvidenceCollected,
		Payload: cases.EvidenceCollected{Exhibit: "E1", CollectRequest: cases.CollectRequest{
			Category: cases.EvidencePcap, Format: "pcapng", SHA256: blob.SHA256, Size: blob.Size,
			Method: cases.EvidenceMethod{Tool: "firebreak capture"}}}})
	require.NoError(t, err)
	return blob.SHA256
}

var randomFiles sync.Map // "size/seed" → path of a file made once per test binary

// putRandom puts size pseudo-random bytes in the vault; the same size and
// seed give the same blob, generated once and hard-linked after.
func putRandom(t testing.TB, v *vault.Vault, size int64, seed uint64) vault.Blob {
	k := fmt.Sprintf("%d-%d", size, seed)
	p, ok := randomFiles.Load(k)
	if !ok {
		f, err := os.CreateTemp("", "hqsync-blob-*")
		require.NoError(t, err)
		r := mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
		_, err = io.CopyN(f, r, size)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		p, _ = randomFiles.LoadOrStore(k, f.Name())
	}
	f, err := os.Open(p.(string))
	require.NoError(t, err)
	defer f.Close()
	blob, err := v.Put(f)
	require.NoError(t, err)
	return blob
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(childSync(dir))
	}
	code := m.Run()
	randomFiles.Range(func(_, p any) bool {
		os.Remove(p.(string))
		return true
	})
	os.Exit(code)
}
