// Package datadir owns the appliance's data directory: the bbolt store
// (firebreak.db), the evidence vault folder, the API socket, and the
// appliance identity, an ed25519 key generated on first start whose
// fingerprint is the appliance ID.
//
// It must never hand out the private key in a form that could be logged, and
// never open a directory another daemon holds.
package datadir

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrInUse means another daemon holds the data directory.
var ErrInUse = errors.New("data directory is in use by another firebreak daemon")

// Files and folders inside the data directory.
const (
	DBFile       = "firebreak.db"
	VaultDir     = "vault"
	SocketFile   = "firebreak.sock"
	IdentityFile = "identity.pem"
)

// Dir is an open data directory.
type Dir struct {
	Path     string
	DB       *bolt.DB
	Identity Identity
}

// Identity is the appliance's signing key. Its String and LogValue never
// show the private half.
type Identity struct {
	key ed25519.PrivateKey
}

// Key returns the private key for signing.
func (id Identity) Key() ed25519.PrivateKey { return id.key }

// Public returns the public key.
func (id Identity) Public() ed25519.PublicKey { return id.key.Public().(ed25519.PublicKey) }

// Fingerprint is the SHA-256 of the raw public key, in hex.
func (id Identity) Fingerprint() string {
	sum := sha256.Sum256(id.Public())
	return hex.EncodeToString(sum[:])
}

// ID is the appliance ID: "fb-" and the first 16 hex digits of the fingerprint.
func (id Identity) ID() string { return "fb-" + id.Fingerprint()[:16] }

func (id Identity) String() string { return id.ID() }

// Open opens (creating on first start) the data directory at path. lock is
// how long to wait for another daemon's lock on the store before failing
// with ErrInUse; zero means one second.
func Open(path string, lock time.Duration) (*Dir, error) {
	if lock <= 0 {
		lock = time.Second
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, VaultDir), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db, err := bolt.Open(filepath.Join(abs, DBFile), 0o600, &bolt.Options{Timeout: lock})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrInUse, abs)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// The identity is read after the lock is held, so two first starts on one
	// directory cannot both generate a key.
	key, err := loadOrCreateKey(filepath.Join(abs, IdentityFile))
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Dir{Path: abs, DB: db, Identity: Identity{key: key}}, nil
}

// Close releases the store and its lock.
func (d *Dir) Close() error { return d.DB.Close() }

// Socket is the path of the local API socket.
func (d *Dir) Socket() string { return SocketPath(d.Path) }

// SocketPath is the path of the local API socket for a data directory.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketFile) }

// Vault is the path of the evidence vault folder.
func (d *Dir) Vault() string { return filepath.Join(d.Path, VaultDir) }

func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("identity %s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("identity %s: not an ed25519 key", path)
	}
	return key, nil
}

func createKey(path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("write identity: %w", err)
	}
	return key, nil
}

// WriteFileAtomic writes data to a temporary file beside path, fsyncs it,
// renames it into place and fsyncs the folder, so after a crash path holds
// either the old content or the new, never a part.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
