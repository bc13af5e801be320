package detect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
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
