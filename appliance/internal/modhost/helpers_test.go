package modhost_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/modbuild"
	"github.com/firebreak-ir/firebreak/capture"
)

// testdata is the shared test data, from this package's folder.
const testdata = "../../../../shared/testdata"

func needTestdata(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(testdata); err != nil {
		t.Skipf("shared test data not found at %s (see README: tests read ../shared/testdata from the repository root)", testdata)
	}
}

var (
	buildMu  sync.Mutex
	built    = map[string][]byte{}
	buildDir string
)

// wasmOf builds the Go module in dir once per test binary.
func wasmOf(t testing.TB, dir string) []byte {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[dir]; ok {
		return b
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "modhost-test")
		require.NoError(t, err)
		buildDir = d
	}
	out := filepath.Join(buildDir, strings.ReplaceAll(dir, "/", "_")+".wasm")
	require.NoError(t, modbuild.Wasm(context.Background(), dir, out))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	built[dir] = b
	return b
}

// TestMain removes the built modules and fails on leaked goroutines: the
// host starts one per call to watch its deadline.
func TestMain(m *testing.M) {
	before := goroutines()
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if code == 0 {
		deadline := time.Now().Add(5 * time.Second)
		for len(goroutines()) > len(before) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if after := goroutines(); len(after) > len(before) {
			fmt.Fprintf(os.Stderr, "leaked goroutines: %d before the tests, %d after:\n%s\n", len(before), len(after), strings.Join(after, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// goroutines are the stacks of the running goroutines, but for the
// signal watcher that the test framework (fuzzing) starts for itself.
func goroutines() []string {
	buf := make([]byte, 1<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "os/signal.signal_recv") {
			out = append(out, g)
		}
	}
	return out
}

var (
	testKey, _  = newKey()
	otherKey, _ = newKey()
)

func newKey() (ed25519.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	return k, err
}

// manifest returns a manifest for a test module.
func manifest(name string, mod func(*modhost.Manifest)) []byte {
	m := modhost.Manifest{Name: name, Version: "0.1.0", Kind: "detect", Techniques: []string{"T1046"},
		Subscriptions: []modhost.Subscription{{Event: "flow"}}, Limits: modhost.Limits{DeadlineMS: 200, MemoryMB: 64}}
	if mod != nil {
		mod(&m)
	}
	b, _ := json.Marshal(m)
	return b
}

// signed is a package signed with testKey.
func signed(man, wasm []byte) *modhost.Package {
	return &modhost.Package{Manifest: man, Wasm: wasm, Signature: modhost.Sign(testKey, man, wasm), Source: "test"}
}

// firstParty is the package of modules/<name>, signed with testKey.
func firstParty(t testing.TB, name string) *modhost.Package {
	dir := filepath.Join("../../../modules", name)
	man, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	return signed(man, wasmOf(t, dir))
}

type journalLog struct {
	store *journal.Store
}

// entries are the appliance journal's entries as "type payload".
func (j *journalLog) entries(t testing.TB) []string {
	var out []string
	err := j.store.Entries("appliance", 0, func(e journal.Entry) error {
		out = append(out, e.Type+" "+string(e.Payload))
		return nil
	})
	require.NoError(t, err)
	return out
}

func (j *journalLog) has(t testing.TB, typ, substr string) bool {
	for _, e := range j.entries(t) {
		if strings.HasPrefix(e, typ+" ") && strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

// newHost is a host whose journal is a real store, checked on cleanup.
func newHost(t testing.TB, opts modhost.Options) (*modhost.Host, *journalLog) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "j.db"), 0o600, nil)
	require.NoError(t, err)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	st, err := journal.Open(db, journal.Options{Key: key})
	require.NoError(t, err)
	jl := &journalLog{store: st}
	opts.Journal = func(ctx context.Context, typ string, payload any) error {
		_, err := st.Append(ctx, journal.Record{Journal: "appliance", Actor: "modhost", Type: typ, Payload: payload})
		return err
	}
	if opts.Trust == nil {
		opts.Trust = modhost.NewTrustStore()
		require.NoError(t, opts.Trust.Add("test", testKey.Public().(ed25519.PublicKey)))
	}
	if opts.CacheDir == "" {
		opts.CacheDir = filepath.Join(os.TempDir(), "firebreak-modhost-test-cache")
	}
	h, err := modhost.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, h.Close(context.Background()))
		if _, err := st.Verify("appliance", pub); err != nil && !errors.Is(err, journal.ErrNotFound) {
			t.Errorf("journal chain: %v", err)
		}
		st.Close()
		db.Close()
	})
	return h, jl
}

// analyze runs the modules over a capture and returns the events and
// alerts.
func analyze(t testing.TB, h *modhost.Host, mods []*modhost.Module, midstream bool, pcaps ...string) ([]*capture.Event, *modhost.Pipeline) {
	t.Helper()
	var events []*capture.Event
	p := h.Pipeline(context.Background(), mods, func(ev *capture.Event) error {
		events = append(events, ev)
		return nil
	})
	opts := capture.Options{Midstream: midstream}
	p.Configure(&opts) // as analyze runs: one flow engine, the modules' packet taps
	_, err := capture.Analyze(context.Background(), opts, pcaps, p.Emit)
	require.NoError(t, err, "the analysis must complete whatever the modules do")
	return events, p
}

func alerts(events []*capture.Event) []*capture.Event {
	var out []*capture.Event
	for _, ev := range events {
		if ev.EventType == "alert" {
			out = append(out, ev)
		}
	}
	return out
}
