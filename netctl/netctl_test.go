package netctl

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/netctl/internal/nlk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func fakeBridge(t *testing.T, classifiers ...string) (*nlk.Fake, *Controller) {
	t.Helper()
	k := nlk.NewFake()
	if classifiers != nil {
		k.Classifiers = classifiers
	}
	k.AddDevice("eth1", "02:00:00:00:00:01")
	k.AddDevice("eth2", "02:00:00:00:00:02")
	return k, newController(Options{Mode: ModeBridge, Ports: []string{"eth1", "eth2"}}, k)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test -run %s -update", t.Name())
	assert.Equal(t, string(want), got, "golden %s differs; if intended, rerun with -update", path)
}

func renderReport(r Report) string {
	var b strings.Builder
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "%s\n", c)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	fmt.Fprintf(&b, "kept %d\n", r.Kept)
	return b.String()
}

var (
	polHost = Policy{
		ID:     "p1",
		Target: Target{Prefix: netip.MustParsePrefix("10.0.0.5/32"), MAC: mustMAC("02:aa:bb:cc:dd:05")},
		Exceptions: []Exception{
			{Peer: netip.MustParsePrefix("10.0.0.9/32"), Port: 22, Proto: "tcp"},
			{Peer: netip.MustParsePrefix("10.0.0.53/32"), Port: 53},
		},
	}
	polV6 = Policy{
		ID:         "p2",
		Target:     Target{Prefix: netip.MustParsePrefix("fd00::7/128")},
		Exceptions: []Exception{{Peer: netip.MustParsePrefix("fd00::9/128"), Port: 443, Proto: "tcp"}},
	}
	polMAC = Policy{ID: "p3", Target: Target{MAC: mustMAC("02:aa:bb:cc:dd:07")}}
)

func TestBridgeGolden(t *testing.T) {
	for _, tc := range []struct {
		name        string
		classifiers []string
		actions     []string
		policies    []Policy
	}{
		{name: "bridge-empty"},
		{name: "bridge-u32-host", policies: []Policy{polHost}},
		{name: "bridge-u32-v6-mac", policies: []Policy{polV6, polMAC}},
		{name: "bridge-flower-host", classifiers: []string{"u32", "flower"}, policies: []Policy{polHost}},
		{name: "bridge-gact-host", actions: []string{"gact"}, policies: []Policy{polHost}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, ctl := fakeBridge(t, tc.classifiers...)
			if tc.actions != nil {
				k.Actions = tc.actions
			}
			rep, err := ctl.Set(State{Policies: tc.policies})
			require.NoError(t, err)
			golden(t, tc.name, "# report\n"+renderReport(rep)+"# kernel\n"+k.Render())

			// Idempotent: the same state again changes nothing.
			calls := k.Calls
			rep, err = ctl.Set(State{Policies: tc.policies})
			require.NoError(t, err)
			assert.Empty(t, rep.Changes)
			assert.Equal(t, calls, k.Calls, "no kernel writes")
		})
	}
}

func TestBridgeReleaseLeavesNothing(t *testing.T) {
	k, ctl := fakeBridge(t)
	_, err := ctl.Set(State{})
	require.NoError(t, err)
	before := k.Render()
	rep, err := ctl.Set(State{Policies: []Policy{polHost, polV6, polMAC}})
	require.NoError(t, err)
	added := len(rep.Changes)
	rep, err = ctl.Set(State{})
	require.NoError(t, err)
	assert.Len(t, rep.Changes, added)
	for _, c := range rep.Changes {
		assert.Equal(t, OpRemoved, c.Op)
	}
	assert.Equal(t, before, k.Render())
}

func TestBridgeOrder(t *testing.T) {
	// Passes are added before drops and removed after them.
	_, ctl := fakeBridge(t)
	rep, err := ctl.Set(State{Policies: []Policy{polHost}})
	require.NoError(t, err)
	seenDrop := false
	for _, c := range rep.Changes {
		if c.Kind != "filter" {
			continue
		}
		if strings.HasPrefix(c.Object, "drop") {
			seenDrop = true
		} else {
			assert.False(t, seenDrop, "pass added after a drop: %s", c)
		}
	}
	rep, err = ctl.Set(State{})
	require.NoError(t, err)
	seenPass := false
	for _, c := range rep.Changes {
		if strings.HasPrefix(c.Object, "pass") {
			seenPass = true
		} else {
			assert.False(t, seenPass, "drop removed after a pass: %s", c)
		}
	}
}

func TestBridgeDriftAndAdopt(t *testing.T) {
	k, ctl := fakeBridge(t)
	state := State{Policies: []Policy{polHost}}
	first, err := ctl.Set(state)
	require.NoError(t, err)

	k.DeleteFilters("eth2", prioDrop) // IPv4 drops on eth2, by hand
	drift, err := ctl.Verify(state)
	require.NoError(t, err)
	require.Len(t, drift, 2)
	for _, d := range drift {
		assert.Equal(t, OpMissing, d.Op)
		assert.Equal(t, "eth2", d.Link)
		assert.Equal(t, []string{"p1"}, d.Policies)
	}
	rep, err := ctl.Set(state)
	require.NoError(t, err)
	require.Len(t, rep.Changes, 2)
	for _, c := range rep.Changes {
		assert.Equal(t, OpRestored, c.Op)
	}

	// A restarted daemon: a new Controller on the same kernel adopts
	// everything without a single write.
	ctl2 := newController(Options{Mode: ModeBridge, Ports: []string{"eth1", "eth2"}}, k)
	objs, err := ctl2.Read()
	require.NoError(t, err)
	filters := 0
	for _, c := range first.Changes {
		if c.Kind == "filter" {
			filters++
		}
	}
	assert.Len(t, objs, filters)
	drift, err = ctl2.Verify(state)
	require.NoError(t, err)
	assert.Empty(t, drift)
	calls := k.Calls
	rep, err = ctl2.Set(state)
	require.NoError(t, err)
	assert.Empty(t, rep.Changes)
	assert.Equal(t, filters, rep.Kept)
	assert.Equal(t, calls, k.Calls)
}

func TestBridgeVerifyMissingInfra(t *testing.T) {
	_, ctl := fakeBridge(t)
	drift, err := ctl.Verify(State{Policies: []Policy{polHost}})
	require.NoError(t, err)
	var kinds []string
	for _, d := range drift {
		kinds = append(kinds, d.Kind+":"+d.Link)
	}
	assert.Contains(t, kinds, "bridge:fbbr0")
}

func TestBridgeExceptionTowardsIsolatedPeer(t *testing.T) {
	_, ctl := fakeBridge(t)
	jump := Policy{ID: "p9", Target: Target{Prefix: netip.MustParsePrefix("10.0.0.9/32")}}
	rep, err := ctl.Set(State{Policies: []Policy{polHost, jump}})
	require.NoError(t, err)
	assert.Contains(t, rep.Warnings, "exception 10.0.0.9:22/tcp of p1 not applied: 10.0.0.9 is isolated by p9")
}

func TestBridgeUnsupportedKernel(t *testing.T) {
	k, ctl := fakeBridge(t, "flower")
	_, err := ctl.Set(State{})
	assert.ErrorIs(t, err, ErrUnsupported)
	k.Classifiers = []string{"u32"}
	k.Actions = nil
	_, err = newController(Options{Mode: ModeBridge, Ports: []string{"eth1", "eth2"}}, k).Set(State{})
	assert.ErrorIs(t, err, ErrUnsupported)
}

func TestModeFit(t *testing.T) {
	k := nlk.NewFake()
	k.AddDevice("eth1", "02:00:00:00:00:01")
	router := newController(Options{Mode: ModeRouter}, k)
	_, err := router.Set(State{Policies: []Policy{polMAC}})
	assert.ErrorIs(t, err, ErrUnsupported)
	_, err = router.Set(State{Policies: []Policy{{ID: "l", Target: Target{Link: "eth1"}}}})
	assert.ErrorIs(t, err, ErrUnsupported)
	port := newController(Options{Mode: ModePort, Ports: []string{"eth1"}}, k)
	_, err = port.Set(State{Policies: []Policy{polHost}})
	assert.ErrorIs(t, err, ErrUnsupported)
	lp := Policy{ID: "l", Target: Target{Link: "eth1"}}
	_, err = port.Set(State{Policies: []Policy{lp, lp}})
	assert.ErrorIs(t, err, ErrInvalidPolicy)
	mixed := Policy{ID: "m", Target: Target{Prefix: netip.MustParsePrefix("10.0.0.1/32")}, Exceptions: []Exception{{Peer: netip.MustParsePrefix("fd00::1/128")}}}
	_, err = router.Set(State{Policies: []Policy{mixed}})
	assert.ErrorIs(t, err, ErrInvalidPolicy)
}

func TestRouterGolden(t *testing.T) {
	k := nlk.NewFake()
	ctl := newController(Options{Mode: ModeRouter}, k)
	pol := polHost
	pol.Target.MAC = nil
	rep, err := ctl.Set(State{Policies: []Policy{pol, polV6}})
	require.NoError(t, err)
	golden(t, "router", "# report\n"+renderReport(rep)+"# kernel\n"+k.Render())

	k.DeleteRulesAt(prioDrop)
	drift, err := ctl.Verify(State{Policies: []Policy{pol, polV6}})
	require.NoError(t, err)
	assert.Len(t, drift, 4)
	rep, err = ctl.Set(State{Policies: []Policy{pol, polV6}})
	require.NoError(t, err)
	assert.Len(t, rep.Changes, 4)

	rep, err = ctl.Set(State{})
	require.NoError(t, err)
	assert.Empty(t, k.Render())
}

func TestPortFake(t *testing.T) {
	k := nlk.NewFake()
	k.AddDevice("eth1", "02:00:00:00:00:01")
	k.AddDevice("eth2", "02:00:00:00:00:02")
	ctl := newController(Options{Mode: ModePort, Ports: []string{"eth1", "eth2"}}, k)
	l, _ := k.LinkByName("eth1")
	require.NoError(t, k.LinkSetUp(l))
	require.NoError(t, k.LinkSetAlias(l, "to switch"))
	state := State{Policies: []Policy{{ID: "p", Target: Target{Link: "eth1"}}}}
	_, err := ctl.Set(state)
	require.NoError(t, err)
	golden(t, "port", k.Render())

	// Brought up by hand: drift, and Set takes it down again.
	require.NoError(t, k.LinkSetUp(l))
	drift, err := ctl.Verify(state)
	require.NoError(t, err)
	require.Len(t, drift, 1)
	rep, err := ctl.Set(state)
	require.NoError(t, err)
	require.Len(t, rep.Changes, 1)
	assert.Equal(t, OpRestored, rep.Changes[0].Op)

	_, err = ctl.Set(State{})
	require.NoError(t, err)
	assert.Contains(t, k.Render(), `link eth1 device up alias "to switch"`)
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"no mode":         {},
		"unknown mode":    {Mode: "tap"},
		"one port":        {Mode: ModeBridge, Ports: []string{"eth1"}},
		"port mode empty": {Mode: ModePort},
		"bridge as port":  {Mode: ModeBridge, Bridge: "br0", Ports: []string{"eth1", "br0"}},
		"sink as port":    {Mode: ModeBridge, Ports: []string{"eth1", "fbsink0c"}},
		"long sink":       {Mode: ModeBridge, Sink: "averyverylongname", Ports: []string{"eth1", "eth2"}},
	} {
		_, err := New(o)
		assert.ErrorIs(t, err, ErrConfig, name)
	}
	_, err := New(Options{Mode: ModeRouter, NetNS: "/nonexistent/netns"})
	assert.Error(t, err)
}

func TestDroppedFake(t *testing.T) {
	_, ctl := fakeBridge(t)
	_, err := ctl.Set(State{Policies: []Policy{polHost}})
	require.NoError(t, err)
	counts, err := ctl.Dropped(State{Policies: []Policy{polHost}})
	require.NoError(t, err)
	assert.Equal(t, map[string]Counter{"p1": {}}, counts, "the fake keeps no statistics")
	k := nlk.NewFake()
	_, err = newController(Options{Mode: ModeRouter}, k).Dropped(State{})
	assert.ErrorIs(t, err, ErrUnsupported)
}
