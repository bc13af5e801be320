package detect

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
	"github.com/firebreak-ir/firebreak/appliance/internal/modstore"
	"github.com/firebreak-ir/firebreak/capture"
)

const malicious = "../../../../shared/testdata/pcap/malicious"

// cacheDir is shared by the tests, so the modules compile once.
var cacheDir = filepath.Join(os.TempDir(), "firebreak-detect-test-cache")

func detector(t *testing.T) *Detector {
	d, err := New(Options{CacheDir: cacheDir})
	if errors.Is(err, ErrNoModules) {
		t.Skipf("%v: run make modules first", err)
	}
	require.NoError(t, err)
	return d
}

func analyze(t *testing.T, r *Run, names ...string) {
	t.Helper()
	var paths []string
	for _, n := range names {
		p := filepath.Join(malicious, n)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("test data absent (%v): the labelled captures live in ../shared/testdata", err)
		}
		paths = append(paths, p)
	}
	_, err := capture.Analyze(context.Background(), capture.Options{Workers: 1, Midstream: true}, paths, r.Emit)
	require.NoError(t, err)
}

func discard(*capture.Event) error { return nil }

func TestAlertsFoldIntoFindings(t *testing.T) {
	d := detector(t)
	var alerts []capture.Event
	r, err := d.Start(context.Background(), func(ev *capture.Event) error {
		if ev.EventType == "alert" {
			alerts = append(alerts, *ev)
		}
		return nil
	})
	require.NoError(t, err)
	analyze(t, r, "ndpi-synscan.pcap")
	_, err = r.Finish()
	require.NoError(t, err)

	var names []string
	for _, m := range r.Modules() {
		names = append(names, m.Name)
		assert.Len(t, m.SHA256, 64)
		assert.Equal(t, "first-party", m.Signer)
	}
	assert.Contains(t, names, "portscan")
	assert.NotContains(t, names, "webshell", "host triage modules do not run on traffic")

	fs := r.Findings()
	require.NotEmpty(t, fs, "a SYN scan of ~1000 ports must be found")
	var scan *cases.Finding
	total := 0
	for i := range fs {
		total += fs[i].Count
		if fs[i].Module == "portscan" && fs[i].Src == "172.16.0.8" && fs[i].Dst == "64.13.134.52" {
			scan = &fs[i]
		}
	}
	require.NotNil(t, scan, "findings: %+v", fs)
	assert.Equal(t, len(alerts), total, "every alert is in exactly one finding")
	assert.NotEmpty(t, scan.Techniques)
	assert.False(t, scan.Time.IsZero())
	assert.False(t, scan.LastTime.Before(scan.Time))
}

func TestTakeHandsOutEachOccurrenceOnce(t *testing.T) {
	d := detector(t)
	r, err := d.Start(context.Background(), discard)
	require.NoError(t, err)
	analyze(t, r, "zeek-sshguess.pcap")
	first := r.Take()
	require.NotEmpty(t, first)
	assert.Empty(t, r.Take(), "nothing new since")

	analyze(t, r, "ndpi-synscan.pcap")
	_, err = r.Finish()
	require.NoError(t, err)
	second := r.Take()
	require.NotEmpty(t, second)
	sum := func(fs []cases.Finding) (n int) {
		for _, f := range fs {
			n += f.Count
		}
		return n
	}
	assert.Equal(t, sum(r.Findings()), sum(first)+sum(second))
}

func TestRefusesATamperedModule(t *testing.T) {
	d := detector(t)
	var pkg modhost.Package
	for _, p := range d.opts.Packages {
		if p.Source == "embedded:portscan" {
			pkg = *p
		}
	}
	require.NotNil(t, pkg.Wasm, "portscan is embedded")
	pkg.Wasm = append([]byte(nil), pkg.Wasm...)
	pkg.Wasm[len(pkg.Wasm)-1] ^= 1
	bad, err := New(Options{Packages: []*modhost.Package{&pkg}})
	require.NoError(t, err)
	_, err = bad.Start(context.Background(), discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "signature")
}

// A stop does not wait for every module to compile.
func TestStartStopsWhenCancelled(t *testing.T) {
	d := detector(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := d.Start(ctx, discard)
	assert.ErrorIs(t, err, context.Canceled)
}

// An indicator feed installed while a source runs applies to the traffic
// that follows: the ioc module of the run is given the new config, and
// what it found before is kept.
func TestFeedReloadsARunningSource(t *testing.T) {
	store, err := modstore.Open(t.TempDir())
	require.NoError(t, err)
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, err = store.TrustKey("hq", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	require.NoError(t, err)
	d, err := New(Options{Source: store, Trust: store.Trust(), CacheDir: cacheDir})
	if errors.Is(err, ErrNoModules) || errors.Is(err, firstparty.ErrNotBuilt) {
		t.Skipf("%v: run make modules first", err)
	}
	require.NoError(t, err)
	var iocAlerts []string
	r, err := d.Start(context.Background(), func(ev *capture.Event) error {
		if ev.EventType == "alert" && ev.Alert.Metadata["firebreak_module"][0] == "ioc" {
			iocAlerts = append(iocAlerts, ev.SrcIP+" -> "+ev.DestIP)
		}
		return nil
	})
	if errors.Is(err, firstparty.ErrNotBuilt) {
		t.Skipf("%v: run make modules first", err)
	}
	require.NoError(t, err)
	store.OnFeeds = func() { require.NoError(t, r.Reload("ioc")) }
	pcap := filepath.Join(malicious, "ndpi-malware.pcap")
	if _, err := os.Stat(pcap); err != nil {
		t.Skipf("test data absent (%v): the labelled captures live in ../shared/testdata", err)
	}
	live := func() { // the same traffic again, as a live source would see it go on
		_, err := capture.Analyze(context.Background(), capture.Options{Workers: 1, NoStats: true}, []string{pcap}, r.Emit)
		require.NoError(t, err)
	}
	live()
	assert.Empty(t, iocAlerts, "no feed yet")

	feed := []byte(`{"indicators":[{"type":"ip","value":"67.215.92.210","name":"C2 from the feed"}]}`)
	_, err = store.InstallFeed("hq-feed", feed, modhost.SignFeed(key, "hq-feed", feed), "hq")
	require.NoError(t, err)
	live()
	_, err = r.Finish()
	require.NoError(t, err)
	assert.Contains(t, iocAlerts, "192.168.7.7 -> 67.215.92.210", "the feed applies to the traffic after it")
}
