// Package vault is the evidence vault: immutable blobs addressed by their
// SHA-256, under the data directory's vault/ folder.
//
// A blob is written to a temporary file while it is hashed, fsynced, made
// read-only and renamed into place, so after a crash the vault holds whole
// blobs or nothing. The vault never changes or deletes a blob once stored,
// and never opens a path that did not come from a valid hash.
//
// Each blob's SHA-256, SM3 and MD5 are computed once, when it is stored,
// and recorded beside it (sums/), so an export copies and checks a blob
// with SHA-256 alone and writes the SM3 and MD5 lists from the record.
package vault

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/firebreak-ir/firebreak/appliance/internal/sm3"
)

// Errors of the vault.
var (
	// ErrNotFound means no blob has that hash.
	ErrNotFound = errors.New("no such blob in the vault")
	// ErrBadHash means a string is not a lower-case hex SHA-256.
	ErrBadHash = errors.New("not a SHA-256 in hex")
	// ErrCorrupt means a stored blob no longer hashes to its name.
	ErrCorrupt = errors.New("blob does not match its hash")
)

// Blob names a stored blob.
type Blob struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Vault is a folder of blobs.
type Vault struct {
	root *os.Root
	dir  string
}

const (
	blobDir = "sha256"
	sumsDir = "sums"
	tmpDir  = "tmp"
)

// Open opens the vault in dir, creating it, and removes temporary files a
// crash left behind (they were never acknowledged).
func Open(dir string) (*Vault, error) {
	for _, d := range []string{dir, filepath.Join(dir, blobDir), filepath.Join(dir, sumsDir), filepath.Join(dir, tmpDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create vault: %w", err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open vault: %w", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, tmpDir, "*"))
	for _, f := range left {
		os.Remove(f)
	}
	return &Vault{root: root, dir: dir}, nil
}

// Close releases the vault.
func (v *Vault) Close() error { return v.root.Close() }

// ValidHash reports whether s is a lower-case hex SHA-256.
func ValidHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func relPath(sum string) string { return filepath.Join(blobDir, sum[:2], sum) }

// Path returns the file path of a blob, for tools that read it directly.
func (v *Vault) Path(sum string) (string, error) {
	if !ValidHash(sum) {
		return "", fmt.Errorf("%w: %q", ErrBadHash, sum)
	}
	return filepath.Join(v.dir, relPath(sum)), nil
}

// Put stores what r yields and returns its hash and size. Storing bytes
// that are already in the vault keeps the existing blob.
func (v *Vault) Put(r io.Reader) (Blob, error) {
	f, err := os.CreateTemp(filepath.Join(v.dir, tmpDir), "put-*")
	if err != nil {
		return Blob{}, fmt.Errorf("vault put: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	h := newHasher()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	d := h.digests(n)
	if err != nil {
		return Blob{}, fmt.Errorf("vault put: %w", err)
	}
	b := Blob{SHA256: d.SHA256, Size: n}
	if err := v.seal(tmp, b); err != nil {
		return Blob{}, err
	}
	if err := v.record(d); err != nil {
		return Blob{}, err
	}
	return b, nil
}

// Adopt moves a file that was written and hashed elsewhere on the same
// filesystem (a sealed capture segment) into the vault. sum must be the
// file's SHA-256 as computed while it was written; Adopt checks the size.
func (v *Vault) Adopt(path string, b Blob) error {
	if !ValidHash(b.SHA256) {
		return fmt.Errorf("%w: %q", ErrBadHash, b.SHA256)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("vault adopt: %w", err)
	}
	if fi.Size() != b.Size {
		return fmt.Errorf("vault adopt %s: size %d, expected %d", path, fi.Size(), b.Size)
	}
	if err := v.seal(path, b); err != nil {
		return err
	}
	_, err = v.Digests(b.SHA256)
	return err
}

// seal makes the file at tmp read-only and renames it to its blob name.
func (v *Vault) seal(tmp string, b Blob) error {
	final := filepath.Join(v.dir, relPath(b.SHA256))
	if fi, err := os.Stat(final); err == nil {
		if fi.Size() != b.Size {
			return fmt.Errorf("%w: %s has size %d, expected %d", ErrCorrupt, b.SHA256, fi.Size(), b.Size)
		}
		return os.Remove(tmp)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o400); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("vault seal %s: %w", b.SHA256, err)
	}
	return syncDir(filepath.Dir(final))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open opens a blob for reading.
func (v *Vault) Open(sum string) (*os.File, error) {
	if !ValidHash(sum) {
		return nil, fmt.Errorf("%w: %q", ErrBadHash, sum)
	}
	f, err := v.root.Open(relPath(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, sum)
	}
	return f, err
}

// Has reports whether a blob is stored.
func (v *Vault) Has(sum string) bool {
	if !ValidHash(sum) {
		return false
	}
	_, err := v.root.Stat(relPath(sum))
	return err == nil
}

// Verify re-reads a blob and checks it still hashes to its name.
func (v *Vault) Verify(sum string) (Blob, error) {
	f, err := v.Open(sum)
	if err != nil {
		return Blob{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Blob{}, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return Blob{}, fmt.Errorf("%w: %s now hashes to %s", ErrCorrupt, sum, got)
	}
	return Blob{SHA256: sum, Size: n}, nil
}

// Digests are the integrity values of a blob in the three hashes an
// evidence bundle lists.
type Digests struct {
	SHA256 string `json:"sha256"`
	SM3    string `json:"sm3"`
	MD5    string `json:"md5"`
	Size   int64  `json:"size"`
}

func sumsPath(sum string) string { return filepath.Join(sumsDir, sum[:2], sum+".json") }

// Digests returns a blob's recorded digests. A blob stored before digests
// were recorded is read once, checked against its name and recorded now.
func (v *Vault) Digests(sum string) (Digests, error) {
	if !ValidHash(sum) {
		return Digests{}, fmt.Errorf("%w: %q", ErrBadHash, sum)
	}
	if b, err := v.root.ReadFile(sumsPath(sum)); err == nil {
		var d Digests
		if err := json.Unmarshal(b, &d); err != nil || d.SHA256 != sum || len(d.SM3) != 64 || len(d.MD5) != 32 {
			return Digests{}, fmt.Errorf("%w: the digest record of %s is damaged", ErrCorrupt, sum)
		}
		return d, nil
	}
	f, err := v.Open(sum)
	if err != nil {
		return Digests{}, err
	}
	defer f.Close()
	h := newHasher()
	n, err := io.Copy(h, f)
	if err != nil {
		return Digests{}, err
	}
	d := h.digests(n)
	if d.SHA256 != sum {
		return Digests{}, fmt.Errorf("%w: %s now hashes to %s", ErrCorrupt, sum, d.SHA256)
	}
	return d, v.record(d)
}

// record writes a blob's digests beside it, read-only, like the blob.
func (v *Vault) record(d Digests) error {
	final := filepath.Join(v.dir, sumsPath(d.SHA256))
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	b, _ := json.Marshal(d)
	f, err := os.CreateTemp(filepath.Join(v.dir, tmpDir), "sums-*")
	if err != nil {
		return fmt.Errorf("vault record digests: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(final), 0o700)
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o400)
	}
	if err == nil {
		err = os.Rename(f.Name(), final)
	}
	if err != nil {
		return fmt.Errorf("vault record digests of %s: %w", d.SHA256, err)
	}
	return syncDir(filepath.Dir(final))
}

// hasher computes SHA-256 and MD5 in the writer's goroutine and SM3, the
// slowest, in its own, so storing a blob uses two cores.
type hasher struct {
	sha, md hashWriter
	sm      chan []byte
	done    chan string
	free    chan []byte
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func newHasher() *hasher {
	h := &hasher{sha: sha256.New(), md: md5.New(), sm: make(chan []byte, 4), done: make(chan string, 1), free: make(chan []byte, 4)}
	go func() {
		s := sm3.New()
		for b := range h.sm {
			s.Write(b)
			select {
			case h.free <- b[:0]:
			default:
			}
		}
		h.done <- hex.EncodeToString(s.Sum(nil))
	}()
	return h
}

func (h *hasher) Write(p []byte) (int, error) {
	h.sha.Write(p)
	h.md.Write(p)
	var b []byte
	select {
	case b = <-h.free:
	default:
	}
	h.sm <- append(b, p...)
	return len(p), nil
}

// digests ends the hashing; the hasher cannot be used again.
func (h *hasher) digests(n int64) Digests {
	close(h.sm)
	return Digests{SHA256: hex.EncodeToString(h.sha.Sum(nil)), SM3: <-h.done, MD5: hex.EncodeToString(h.md.Sum(nil)), Size: n}
}

// List returns every stored blob's hash.
func (v *Vault) List() ([]string, error) {
	var out []string
	err := filepath.WalkDir(filepath.Join(v.dir, blobDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && ValidHash(d.Name()) && strings.HasPrefix(d.Name(), filepath.Base(filepath.Dir(p))) {
			out = append(out, d.Name())
		}
		return nil
	})
	return out, err
}
