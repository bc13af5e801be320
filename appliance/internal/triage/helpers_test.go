package triage_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal/journaltest"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/modbuild"
	"github.com/firebreak-ir/firebreak/appliance/internal/triage"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
)

// testdata is the shared test data, from this package's folder.
const testdata = "../../../../shared/testdata"

func needTestdata(t testing.TB, sub string) string {
	t.Helper()
	p := filepath.Join(testdata, sub)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data not found at %s (tests read ../shared/testdata beside the repository)", p)
	}
	return p
}

// The host triage modules, built from modules/ once per test binary and
// signed with a key of the test's own.
var (
	buildOnce sync.Once
	built     []*modhost.Package
	buildErr  error
	testKey   ed25519.PrivateKey
	cacheDir  string // wazero's compilation cache, shared by the tests
)

var triageModules = []string{"webshell", "accounts", "persistence", "authlog", "weblog", "processes", "cleanup"}

func modules(t testing.TB) ([]*modhost.Package, *modhost.TrustStore) {
	t.Helper()
	buildOnce.Do(func() {
		_, testKey, buildErr = ed25519.GenerateKey(rand.Reader)
		if buildErr != nil {
			return
		}
		tmp, err := os.MkdirTemp("", "triage-modules")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(tmp)
		if cacheDir, buildErr = os.MkdirTemp("", "triage-cache"); buildErr != nil {
			return
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2)
		for _, name := range triageModules {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				p, err := modbuild.Package(context.Background(), filepath.Join("../../../modules", name), tmp, testKey)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					buildErr = fmt.Errorf("build module %s: %w", name, err)
					return
				}
				built = append(built, p)
			})
		}
		wg.Wait()
		sort.Slice(built, func(i, j int) bool { return built[i].Source < built[j].Source })
	})
	require.NoError(t, buildErr)
	ts := modhost.NewTrustStore()
	require.NoError(t, ts.Add("test", testKey.Public().(ed25519.PublicKey)))
	return built, ts
}

// env is a case book, a vault and the triage service over them.
type env struct {
	book   *casebook.Book
	vault  *vault.Vault
	svc    *triage.Service
	store  *journaltest.Store
	caseID string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := journaltest.New(t)
	book, err := casebook.New(st.Store, st.DB, st.Key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	v, err := vault.Open(filepath.Join(t.TempDir(), "vault"))
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	pkgs, trust := modules(t)
	svc := triage.New(triage.Options{Book: book, Vault: v, Packages: pkgs, Trust: trust, Version: "test", CacheDir: cacheDir})
	id, err := book.Create(context.Background(), "alice", cases.OpenRequest{Title: "Web server compromised"})
	require.NoError(t, err)
	return &env{book: book, vault: v, svc: svc, store: st, caseID: id}
}

func (e *env) view(t *testing.T) *cases.Case {
	t.Helper()
	var out *cases.Case
	require.NoError(t, e.book.View(e.caseID, func(c *cases.Case) error {
		cp := *c
		out = &cp
		return nil
	}))
	return out
}

// fileState is what a byte-for-byte comparison of a tree looks at.
type fileState struct {
	Content  string
	Mode     uint32
	UID, GID uint32
	MTime    int64
	Link     string
}

// snapshot records every file and link of a tree (directories' own times
// change when an entry is removed and put back; their entries are
// compared).
func snapshot(t *testing.T, root string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fs := fileState{Mode: st.Mode, UID: st.Uid, GID: st.Gid}
		switch {
		case d.IsDir():
			fs.MTime = 0
		case fi.Mode()&os.ModeSymlink != 0:
			fs.Link, _ = os.Readlink(p)
		case fi.Size() > 64<<20: // a sparse giant: its size and time stand for it
			fs.Content, fs.MTime = fmt.Sprintf("%d bytes", fi.Size()), st.Mtim.Nano()
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fs.Content, fs.MTime = string(b), st.Mtim.Nano()
		}
		out[rel] = fs
		return nil
	}))
	return out
}

func write(t *testing.T, root, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), mode))
	require.NoError(t, os.Chmod(p, mode))
}

func copyFile(t *testing.T, src, root, rel string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	write(t, root, rel, string(b), mode)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cacheDir != "" {
		os.RemoveAll(cacheDir)
	}
	os.Exit(code)
}
