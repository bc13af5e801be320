package modhost_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

const (
	hostileDir     = "testdata/guests/hostile"
	badptrDir      = "testdata/guests/badptr"
	conformanceDir = "testdata/guests/conformance"
)

func synscan() string { return testdata + "/pcap/malicious/ndpi-synscan.pcap" }

func TestSignatures(t *testing.T) {
	wasm := wasmOf(t, conformanceDir)
	man := manifest("conf", nil)
	tampered := append([]byte(nil), wasm...)
	tampered[len(tampered)/2] ^= 0xFF
	otherMan := manifest("conf", func(m *modhost.Manifest) { m.Limits.MemoryMB = 128 })
	for _, tc := range []struct {
		name  string
		pkg   *modhost.Package
		allow bool
		err   error
	}{
		{"signed", signed(man, wasm), false, nil},
		{"unsigned", &modhost.Package{Manifest: man, Wasm: wasm, Source: "test"}, false, modhost.ErrUnsigned},
		{"tampered wasm", &modhost.Package{Manifest: man, Wasm: tampered, Signature: signed(man, wasm).Signature, Source: "test"}, false, modhost.ErrBadSignature},
		{"tampered manifest", &modhost.Package{Manifest: otherMan, Wasm: wasm, Signature: signed(man, wasm).Signature, Source: "test"}, false, modhost.ErrBadSignature},
		{"untrusted key", &modhost.Package{Manifest: man, Wasm: wasm, Signature: modhost.Sign(otherKey, man, wasm), Source: "test"}, false, modhost.ErrUntrustedKey},
		{"garbage signature", &modhost.Package{Manifest: man, Wasm: wasm, Signature: []byte("{"), Source: "test"}, false, modhost.ErrBadSignature},
		{"unsigned, allowed", &modhost.Package{Manifest: man, Wasm: wasm, Source: "test"}, true, nil},
		{"tampered, allowed", &modhost.Package{Manifest: man, Wasm: wasm, Signature: modhost.Sign(otherKey, otherMan, wasm), Source: "test"}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, j := newHost(t, modhost.Options{AllowUnsigned: tc.allow})
			m, err := h.Load(context.Background(), tc.pkg, nil)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.True(t, j.has(t, "module.refused", tc.err.Error()), "the refusal is journaled: %v", j.entries(t))
				return
			}
			require.NoError(t, err)
			assert.True(t, j.has(t, "module.loaded", `"module":"conf"`))
			if tc.allow {
				assert.Empty(t, m.Signer)
				assert.True(t, j.has(t, "module.unverified_allowed", "conf"), "loading an unverified module is journaled")
			} else {
				assert.Equal(t, "test", m.Signer)
			}
		})
	}
}

func TestRegistryRefusesDuplicates(t *testing.T) {
	h, _ := newHost(t, modhost.Options{})
	p := signed(manifest("conf", nil), wasmOf(t, conformanceDir))
	m, err := h.Load(context.Background(), p, nil)
	require.NoError(t, err)
	_, err = h.Load(context.Background(), p, nil)
	require.ErrorIs(t, err, modhost.ErrDuplicate)
	require.NoError(t, m.Close(context.Background()))
	require.NoError(t, m.Close(context.Background()), "close twice is safe")
	_, err = h.Load(context.Background(), p, nil)
	require.NoError(t, err, "the name is free again after close")
}

func TestCapabilities(t *testing.T) {
	wasm := wasmOf(t, hostileDir)
	target := t.TempDir()
	for _, tc := range []struct {
		name   string
		caps   []string
		grants []string
		mounts map[string]string
		err    string
	}{
		{"network is never granted", []string{"net"}, []string{"net"}, nil, "capability net: capability not granted: modules never get network access"},
		{"fs_read not granted", []string{"fs_read:/target"}, nil, nil, "capability fs_read:/target: capability not granted"},
		{"fs_read granted without a mount", []string{"fs_read:/target"}, []string{"fs_read:/target"}, nil, "no host directory is mapped to /target"},
		{"fs_read granted and mounted", []string{"fs_read:/target"}, []string{"fs_read:/target"}, map[string]string{"/target": target}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, j := newHost(t, modhost.Options{Grants: map[string][]string{"hostile": tc.grants}, Mounts: tc.mounts})
			_, err := h.Load(context.Background(), signed(manifest("hostile", func(m *modhost.Manifest) { m.Capabilities = tc.caps }), wasm), nil)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, modhost.ErrNotGranted)
			require.ErrorContains(t, err, tc.err)
			assert.True(t, j.has(t, "module.refused", "capability not granted"))
		})
	}
}

// TestHostileModules runs each misbehaving module beside portscan over a
// real scan: each is stopped with a clear error and journaled, and the
// analysis and portscan complete.
func TestHostileModules(t *testing.T) {
	needTestdata(t)
	scan := firstParty(t, "portscan")
	for _, tc := range []struct {
		do     string
		kind   error
		detail string
	}{
		{"loop", modhost.ErrDeadline, "stopped after 200ms"},
		{"membomb", modhost.ErrTrap, "out of memory"},
		{"flood", modhost.ErrFlood, "more than 256 alerts"},
		{"panic", modhost.ErrTrap, "hostile module panics"},
		{"fail", modhost.ErrFailed, "invalid argument"},
	} {
		t.Run(tc.do, func(t *testing.T) {
			h, j := newHost(t, modhost.Options{MaxFaults: 2})
			ctx := context.Background()
			man := manifest("hostile", func(m *modhost.Manifest) {
				if tc.do == "membomb" {
					m.Limits.DeadlineMS = 5000 // the memory limit, not the deadline, must stop it
				}
			})
			bad, err := h.Load(ctx, signed(man, wasmOf(t, hostileDir)), []byte(tc.do))
			require.NoError(t, err)
			ps, err := h.Load(ctx, scan, nil)
			require.NoError(t, err)
			events, p := analyze(t, h, []*modhost.Module{bad, ps}, false, synscan())
			st := p.Stats["hostile"]
			require.GreaterOrEqual(t, st.Faults, 1, "the hostile module faulted")
			require.Contains(t, st.LastFault, tc.detail)
			assert.True(t, j.has(t, "module.fault", `"fault":"`+tc.kind.Error()+`"`), "journal: %v", j.entries(t))
			assert.True(t, j.has(t, "module.fault", tc.detail), "the journal says what happened")
			if st.Faults >= 2 {
				assert.True(t, bad.Disabled())
				assert.True(t, j.has(t, "module.disabled", "hostile"))
			}
			require.NotEmpty(t, alerts(events), "portscan still raised its alert")
			assert.Equal(t, 0, p.Stats["portscan"].Faults)
			t.Logf("%s: %s", tc.do, st.LastFault)
		})
	}
}

func TestRestartThenDisable(t *testing.T) {
	needTestdata(t)
	h, j := newHost(t, modhost.Options{MaxFaults: 3})
	bad, err := h.Load(context.Background(), signed(manifest("hostile", nil), wasmOf(t, hostileDir)), []byte("fail"))
	require.NoError(t, err)
	// Enough flows for the backoff (256, then 512 events) to end twice.
	_, p := analyze(t, h, []*modhost.Module{bad}, false, synscan(), synscan(), synscan())
	require.Equal(t, 3, p.Stats["hostile"].Faults)
	assert.True(t, bad.Disabled())
	assert.True(t, j.has(t, "module.restarted", `"faults":1`))
	assert.True(t, j.has(t, "module.restarted", `"faults":2`))
	assert.True(t, j.has(t, "module.disabled", `"faults":3`))
	assert.Positive(t, p.Stats["hostile"].Dropped, "events during the backoff are not delivered")
}

func TestBadPointers(t *testing.T) {
	needTestdata(t)
	wasm := wasmOf(t, badptrDir)
	for _, fn := range []string{"emit", "log", "kv_get", "kv_set", "kv_delete", "match_compile", "match"} {
		t.Run(fn, func(t *testing.T) {
			h, j := newHost(t, modhost.Options{MaxFaults: 1})
			m, err := h.Load(context.Background(), signed(manifest("badptr", nil), wasm), []byte(fn))
			require.NoError(t, err)
			_, p := analyze(t, h, []*modhost.Module{m}, false, testdata+"/pcap/malicious/ndpi-tcp_scan.pcapng")
			st := p.Stats["badptr"]
			require.Equal(t, 1, st.Faults)
			require.Contains(t, st.LastFault, "module passed a pointer outside its memory")
			require.Contains(t, st.LastFault, fn+"(ptr=")
			assert.True(t, m.Disabled())
			assert.True(t, j.has(t, "module.fault", modhost.ErrBadPointer.Error()))
		})
	}
}

// TestMountConfinement grants a read-only mount holding a symlink that
// points out of it: the module reads inside, and neither ".." nor the
// symlinks lead out.
func TestMountConfinement(t *testing.T) {
	needTestdata(t)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("SECRET"), 0o600))
	target := filepath.Join(t.TempDir(), "target")
	require.NoError(t, os.Mkdir(target, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(target, "ok.txt"), []byte("inside"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(target), "secret.txt"), []byte("SECRET"), 0o600))
	require.NoError(t, os.Symlink(outside, filepath.Join(target, "link")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(target, "filelink")))

	h, _ := newHost(t, modhost.Options{Grants: map[string][]string{"hostile": {"fs_read:/target"}},
		Mounts: map[string]string{"/target": target}})
	m, err := h.Load(context.Background(), signed(manifest("hostile", func(m *modhost.Manifest) {
		m.Capabilities = []string{"fs_read:/target"}
	}), wasmOf(t, hostileDir)), []byte("escape"))
	require.NoError(t, err)
	events, p := analyze(t, h, []*modhost.Module{m}, false, testdata+"/pcap/malicious/ndpi-tcp_scan.pcapng")
	require.Zero(t, p.Stats["hostile"].Faults)
	got := map[string]string{}
	for _, a := range alerts(events) {
		got[a.Alert.Signature] = a.Alert.Metadata["result"][0]
	}
	require.Equal(t, "read inside", got["/target/ok.txt"], "a file inside the mount is readable")
	for _, p := range []string{"/target/../secret.txt", "/target/link/secret.txt", "/target/filelink", "/secret.txt", "/etc/passwd"} {
		require.Contains(t, got, p)
		assert.True(t, strings.HasPrefix(got[p], "error "), "%s must not be readable, got %q", p, got[p])
		assert.NotContains(t, got[p], "SECRET")
	}
}

func TestTrustStoreKeys(t *testing.T) {
	ts := modhost.NewTrustStore()
	require.NoError(t, ts.Add("first-party", testKey.Public().(ed25519.PublicKey)))
	require.Error(t, ts.Add("bad", ed25519.PublicKey{1, 2}))
	require.Len(t, ts.Keys(), 1)
	require.True(t, strings.HasPrefix(ts.Keys()[0], "first-party "))
}

// TestUninterruptibleTier: only modules signed by a key the engineer named
// run without interruption checks; an unverified module never does.
func TestUninterruptibleTier(t *testing.T) {
	needTestdata(t)
	wasm := wasmOf(t, conformanceDir)
	h, _ := newHost(t, modhost.Options{Uninterruptible: []string{"test"}, AllowUnsigned: true})
	trusted, err := h.Load(context.Background(), signed(manifest("trusted", func(m *modhost.Manifest) { m.Limits.AlertsPerBatch = 1000 }), wasm), nil)
	require.NoError(t, err)
	unsigned, err := h.Load(context.Background(), &modhost.Package{Manifest: manifest("unsigned", nil), Wasm: wasm, Source: "test"}, nil)
	require.NoError(t, err)
	assert.False(t, trusted.Interruptible())
	assert.True(t, unsigned.Interruptible())
	events, p := analyze(t, h, []*modhost.Module{trusted}, false, testdata+"/pcap/malicious/ndpi-tcp_scan.pcapng")
	require.Zero(t, p.Stats["trusted"].Faults)
	require.Len(t, alerts(events), 8)
}
