package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/contain"
	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
	"github.com/firebreak-ir/firebreak/appliance/internal/datadir"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/internal/netlab"
	"github.com/firebreak-ir/firebreak/netctl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// containLab is a lab with a daemon containing in its appliance namespace
// and a case to isolate under.
type containLab struct {
	*netlab.Lab
	dir, caseID string
	d           *daemon.Daemon
}

func newContainLab(t *testing.T, mode netctl.Mode) *containLab {
	var lab *netlab.Lab
	opts := netctl.Options{Mode: mode}
	switch mode {
	case netctl.ModeRouter:
		lab = netlab.NewRouterLab(t)
	case netctl.ModePort:
		lab = netlab.NewBridgeLab(t)
		lab.Bridge(t, "br0")
		opts.Ports = lab.Ports
	default:
		lab = netlab.NewBridgeLab(t)
		opts.Bridge, opts.Ports = "fbbr0", lab.Ports
	}
	opts.NetNS = lab.App.Path
	cl := &containLab{Lab: lab, dir: t.TempDir()}
	var err error
	cl.d, err = daemon.Start(daemon.Options{DataDir: cl.dir, Version: "test", Logger: discardLogger(), Containment: opts})
	if err != nil && errorsIsUnsupported(err) {
		t.Skipf("skipping: the kernel lacks a feature containment needs: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { cl.d.Close() })
	if mode == netctl.ModeRouter {
		lab.WaitFlowing(t, "10.9.2.1", "fd09:2::1")
	} else {
		lab.WaitFlowing(t, netlab.BV4, netlab.BV6)
	}
	cl.caseID = mustFB(t, cl.dir, "case", "new", "--title", "Beaconing workstation", "--as", "alice")
	return cl
}

func errorsIsUnsupported(err error) bool { return errors.Is(err, netctl.ErrUnsupported) }

// journalOf returns a case's journal entries through the CLI.
func journalOf(t *testing.T, dir, id string) []journal.Entry {
	var es []journal.Entry
	require.NoError(t, json.Unmarshal([]byte(mustFB(t, dir, "case", "log", id, "--json")), &es))
	return es
}

func entriesOf(es []journal.Entry, typ string) []journal.Entry {
	var out []journal.Entry
	for _, e := range es {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// apiPost posts body to the daemon's API on its socket and returns the
// status and the answer.
func apiPost(t *testing.T, dir, path, body string) (int, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", datadir.SocketPath(dir))
	}}}
	resp, err := c.Post("http://firebreak/api/v1"+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw)
}

func addJSON(t *testing.T, dir string, args ...string) contain.Result {
	t.Helper()
	var res contain.Result
	out := mustFB(t, dir, append([]string{"isolate", "add", "--json", "--as", "alice"}, args...)...)
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	return res
}

// TestIsolateBridgeEndToEnd is issue 5's first must-show item at the
// product level: through the CLI and the daemon, A is cut off (IPv4, IPv6,
// ARP), its exception still works, C is unaffected, release restores it,
// and the journal records it all; the gateway and the management address
// are refused without --force.
func TestIsolateBridgeEndToEnd(t *testing.T) {
	lab := newContainLab(t, netctl.ModeBridge)
	dir, id := lab.dir, lab.caseID
	lab.AddBridgeAddress(t, "fbbr0")

	// Safety: the gateway (C, the appliance's default route) and the
	// appliance's own address are refused, with the reason, and journaled.
	code, _, errs := fb(t, dir, "isolate", "add", "--ip", netlab.CV4, "--case", id, "--reason", "suspected", "--as", "alice")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "covers the default gateway "+netlab.CV4)
	assert.Contains(t, errs, "re-run with --force")
	code, _, errs = fb(t, dir, "isolate", "add", "--ip", netlab.BridgeV4, "--case", id, "--reason", "suspected", "--as", "alice")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "covers the appliance's management address "+netlab.BridgeV4)
	code, body := apiPost(t, dir, "/isolations", `{"case":"`+id+`","ip":"`+netlab.CV4+`","reason":"suspected"}`)
	assert.Equal(t, http.StatusConflict, code, "the API answers an unsafe isolation with 409")
	assert.Contains(t, body, "refused without force: target 10.9.0.3 covers the default gateway 10.9.0.3")
	code, body = apiPost(t, dir, "/isolations", `{"case":"`+id+`","ip":"10.9.0.300","reason":"typo"}`)
	assert.Equal(t, http.StatusBadRequest, code, body)
	code, body = apiPost(t, dir, "/isolations", `{"case":"`+id+`","ip":"10.9.0.1","reason":"x","colour":"red"}`)
	assert.Equal(t, http.StatusBadRequest, code, body)
	assert.Contains(t, body, "unknown field")
	assert.Len(t, entriesOf(journalOf(t, dir, id), contain.TypeRefused), 3, "every refusal journaled")
	assert.NoError(t, netlab.UDPProbe(lab.C.NS, netlab.BV4+":9001", lab.Probe, 2*time.Second), "the gateway was not cut")

	// Plan: a dry run, with the safety verdict and what the capture
	// engine cannot tell yet.
	plan := mustFB(t, dir, "isolate", "plan", "--ip", netlab.CV4, "--case", id, "--reason", "suspected")
	assert.Contains(t, plan, "REFUSED without --force: isolation iso-4 refused without force: target 10.9.0.3 covers the default gateway 10.9.0.3")
	plan = mustFB(t, dir, "isolate", "plan", "--ip", netlab.CV4, "--case", id, "--reason", "suspected", "--force")
	assert.Contains(t, plan, "warning: target 10.9.0.3 covers the default gateway 10.9.0.3 (forced)")
	assert.NotContains(t, plan, "REFUSED")
	plan = mustFB(t, dir, "isolate", "plan", "--ip", netlab.AV4, "--mac", netlab.AMAC, "--allow", netlab.BV4+":2222/tcp", "--case", id, "--reason", "beaconing")
	assert.Contains(t, plan, "live flows: capture not running")
	assert.Contains(t, plan, "safety: not the gateway nor a management address")
	assert.Contains(t, plan, "add filter on pa")
	assert.NotContains(t, plan, "REFUSED")
	assert.Equal(t, "no isolations in force", mustFB(t, dir, "isolate", "list"), "plan changed nothing")

	s := netlab.StartStream(t, lab.A.NS, lab.Stream, netlab.BV4+":9000", time.Millisecond)
	_, ok := s.WaitRecv(time.Time{}, 5*time.Second)
	require.True(t, ok)
	var res contain.Result
	took, cut, firstDropped := netlab.Cut(t, s, func() {
		res = addJSON(t, dir, "--ip", netlab.AV4, "--mac", netlab.AMAC, "--allow", netlab.BV4+":2222/tcp",
			"--case", id, "--reason", "beaconing to a known C2", "--ttl", "1h")
	})
	t.Logf("TIMING isolate add (CLI -> API -> netctl -> journal): call took %v; first dropped datagram written %v after it returned", took, cut)
	assert.Less(t, cut, 100*time.Millisecond, "time from the API call returning to the first dropped packet")
	iso := res.Isolation
	assert.Equal(t, "iso-4", iso.ID, "refusals take an ID, plans do not")
	assert.Equal(t, "alice (local:"+currentUser(t)+")", iso.Approver)
	assert.WithinDuration(t, iso.Created.Add(time.Hour), iso.Expires, 0)
	assert.NotEmpty(t, res.Report.Changes)

	// IPv4 and IPv6 from A are cut; C is not.
	assert.Error(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 300*time.Millisecond), "A->B IPv4 while isolated")
	assert.Error(t, netlab.UDPProbe(lab.A.NS, "["+netlab.BV6+"]:9001", lab.Probe, 300*time.Millisecond), "A->B IPv6 while isolated")
	assert.Error(t, lab.A.DialTCP(netlab.BV4+":8080", 300*time.Millisecond), "A->B:8080 while isolated")
	assert.NoError(t, netlab.UDPProbe(lab.C.NS, netlab.BV4+":9001", lab.Probe, 2*time.Second), "C->B IPv4 while A isolated")
	assert.NoError(t, netlab.UDPProbe(lab.C.NS, "["+netlab.BV6+"]:9001", lab.Probe, 2*time.Second), "C->B IPv6 while A isolated")
	// The exception works, even once A has forgotten B's MAC.
	lab.A.ForgetNeighbours(netlab.BV4)
	assert.NoError(t, lab.A.DialTCP(netlab.BV4+":2222", 2*time.Second), "A->B:2222 (the exception) while isolated")

	// ARP: A's requests do not reach B; C's, sent after them, do.
	ba, aa, ca := lab.B.ARPSocket(t), lab.A.ARPSocket(t), lab.C.ARPSocket(t)
	aa.Send(t, netlab.ARPFrame(lab.A.MAC, lab.A.V4, lab.C.V4))
	ca.Send(t, netlab.ARPFrame(lab.C.MAC, lab.C.V4, lab.B.V4))
	got, seen := ba.Seen(lab.C.MAC, 2*time.Second)
	assert.True(t, got, "C's ARP reaches B")
	assert.False(t, seen[lab.A.MAC.String()], "A's ARP reached B")

	list := mustFB(t, dir, "isolate", "list")
	assert.Contains(t, list, iso.ID)
	assert.Contains(t, list, netlab.AV4+" "+netlab.AMAC)
	assert.Contains(t, list, netlab.BV4+":2222/tcp")

	var out string
	took, restore := netlab.Restore(t, s, firstDropped, func() {
		out = mustFB(t, dir, "isolate", "release", iso.ID, "--reason", "host reimaged", "--as", "alice")
	})
	t.Logf("TIMING isolate release: call took %v; first delivered datagram written %v after it returned", took, restore)
	assert.Less(t, restore, 100*time.Millisecond, "time to restore")
	assert.Contains(t, out, iso.ID+" released")
	assert.NoError(t, netlab.UDPProbe(lab.A.NS, "["+netlab.BV6+"]:9001", lab.Probe, 2*time.Second), "A->B IPv6 after release")
	assert.NoError(t, lab.A.DialTCP(netlab.BV4+":8080", 2*time.Second), "A->B:8080 after release")
	assert.Equal(t, "no isolations in force", mustFB(t, dir, "isolate", "list"))
	for _, port := range lab.Ports {
		assert.Empty(t, lab.App.TC(t, "filter", "show", "dev", port, "ingress"), "filters left on %s", port)
	}

	// The journal: applied and released, by alice, with the kernel
	// changes and the drop counts.
	es := journalOf(t, dir, id)
	applied := entriesOf(es, contain.TypeApplied)
	require.Len(t, applied, 1)
	assert.Equal(t, iso.Approver, applied[0].Actor)
	var ap contain.Applied
	require.NoError(t, applied[0].Decode(&ap))
	assert.Equal(t, res.Report.Changes, ap.Report.Changes)
	released := entriesOf(es, contain.TypeReleased)
	require.Len(t, released, 1)
	var rel contain.Ended
	require.NoError(t, released[0].Decode(&rel))
	assert.Equal(t, "host reimaged", rel.Reason)
	assert.Len(t, rel.Report.Changes, len(ap.Report.Changes))
	require.NotNil(t, rel.Dropped)
	assert.Greater(t, rel.Dropped.Packets, uint64(100), "the stream was dropped and counted")
	t.Logf("journal: %s by %s with %d kernel changes; %s with %d packets dropped", applied[0].Type, applied[0].Actor, len(ap.Report.Changes), released[0].Type, rel.Dropped.Packets)
	assert.Contains(t, mustFB(t, dir, "case", "verify", id), "chain verified")
}

// TestIsolateCommitConfirm: unconfirmed, an isolation rolls back by itself
// at its deadline (journaled); confirmed, it stays.
func TestIsolateCommitConfirm(t *testing.T) {
	lab := newContainLab(t, netctl.ModeBridge)
	dir, id := lab.dir, lab.caseID

	res := addJSON(t, dir, "--ip", netlab.AV4, "--mac", netlab.AMAC, "--case", id, "--reason", "test the rail", "--confirm-within", "2s")
	deadline := res.Isolation.ConfirmBy
	require.False(t, deadline.IsZero())
	assert.Error(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 300*time.Millisecond), "cut before the deadline")
	require.NoError(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 6*time.Second), "back by itself after the deadline")
	back := time.Now()
	assert.True(t, back.After(deadline), "not back before the deadline")
	t.Logf("TIMING commit-confirm rollback: traffic back %v after the deadline (probes every 50ms)", back.Sub(deadline))
	// The kernel is put back first, then the entry is written (fsynced).
	var rb []journal.Entry
	require.Eventually(t, func() bool {
		rb = entriesOf(journalOf(t, dir, id), contain.TypeRolledBack)
		return len(rb) == 1
	}, 2*time.Second, 10*time.Millisecond, "rollback journaled")
	assert.Equal(t, contain.Actor, rb[0].Actor)
	var e contain.Ended
	require.NoError(t, rb[0].Decode(&e))
	assert.True(t, e.At.Equal(deadline), "journaled at the deadline: %v vs %v", e.At, deadline)
	assert.NotEmpty(t, e.Report.Changes)
	code, _, errs := fb(t, dir, "isolate", "confirm", res.Isolation.ID)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "no such isolation in force")

	res = addJSON(t, dir, "--ip", netlab.AV4, "--mac", netlab.AMAC, "--case", id, "--reason", "test the rail", "--confirm-within", "2s")
	out := mustFB(t, dir, "isolate", "confirm", res.Isolation.ID, "--as", "bob")
	assert.Contains(t, out, "confirmed")
	time.Sleep(time.Until(res.Isolation.ConfirmBy) + time.Second)
	assert.Error(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 500*time.Millisecond), "still cut after the deadline")
	assert.Contains(t, mustFB(t, dir, "isolate", "list"), "confirmed")
	code, _, errs = fb(t, dir, "isolate", "confirm", res.Isolation.ID)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "already confirmed")
	conf := entriesOf(journalOf(t, dir, id), contain.TypeConfirmed)
	require.Len(t, conf, 1)
	assert.Contains(t, conf[0].Actor, "bob")
	mustFB(t, dir, "isolate", "release", "--all")
}

// TestIsolateDriftRepaired: a drop filter deleted by hand with tc is found
// and restored within a few seconds, and the case journal says so.
func TestIsolateDriftRepaired(t *testing.T) {
	lab := newContainLab(t, netctl.ModeBridge)
	dir, id := lab.dir, lab.caseID
	// By address only, so that deleting the IPv4 drops opens a real hole.
	res := addJSON(t, dir, "--ip", netlab.AV4, "--case", id, "--reason", "beaconing")
	assert.NotEmpty(t, res.Hints, "without --mac the engineer is told what stays open")
	assert.Error(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 300*time.Millisecond))

	lab.App.TC(t, "filter", "del", "dev", "pa", "ingress", "prio", "1050")
	removed := time.Now()
	var restored []journal.Entry
	require.Eventually(t, func() bool {
		restored = entriesOf(journalOf(t, dir, id), contain.TypeRestored)
		return len(restored) > 0
	}, 10*time.Second, 50*time.Millisecond, "drift not repaired")
	t.Logf("TIMING drift: filter deleted by hand, repaired and journaled %v later", restored[0].Time.Sub(removed))
	var r contain.Restored
	require.NoError(t, restored[0].Decode(&r))
	t.Logf("journal: %s %s", restored[0].Type, restored[0].Payload)
	assert.Equal(t, []string{res.Isolation.ID}, r.IDs)
	require.NotEmpty(t, r.Drift)
	assert.Contains(t, r.Drift[0], "missing filter on pa")
	require.NotEmpty(t, r.Changes)
	assert.Contains(t, r.Changes[0], "restored filter on pa")
	assert.Equal(t, contain.Actor, restored[0].Actor)
	assert.Error(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 300*time.Millisecond), "the hole is closed")
}

// TestIsolateRouter: router mode, the appliance as the segments' gateway.
func TestIsolateRouter(t *testing.T) {
	lab := newContainLab(t, netctl.ModeRouter)
	dir, id := lab.dir, lab.caseID
	b4 := "10.9.2.1"
	s := netlab.StartStream(t, lab.A.NS, lab.Stream, b4+":9000", time.Millisecond)
	_, ok := s.WaitRecv(time.Time{}, 5*time.Second)
	require.True(t, ok)
	var res contain.Result
	took, cut, firstDropped := netlab.Cut(t, s, func() {
		res = addJSON(t, dir, "--ip", "10.9.1.1", "--allow", b4+":2222/tcp", "--case", id, "--reason", "lateral movement")
	})
	t.Logf("TIMING router isolate add: call took %v; first dropped datagram written %v after it returned", took, cut)
	assert.Less(t, cut, 100*time.Millisecond)
	assert.Error(t, lab.A.DialTCP(b4+":8080", 300*time.Millisecond), "A->B:8080 while isolated")
	assert.NoError(t, lab.A.DialTCP(b4+":2222", 2*time.Second), "A->B:2222 (the exception)")
	assert.NoError(t, netlab.UDPProbe(lab.C.NS, b4+":9001", lab.Probe, 2*time.Second), "C->B while A isolated")
	// The appliance's own address on A's segment is the hosts' gateway.
	code, _, errs := fb(t, dir, "isolate", "add", "--ip", "10.9.3.254", "--case", id, "--reason", "x")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "management address")
	took, restore := netlab.Restore(t, s, firstDropped, func() {
		mustFB(t, dir, "isolate", "release", res.Isolation.ID)
	})
	t.Logf("TIMING router isolate release: call took %v; first delivered datagram written %v after it returned", took, restore)
	assert.Less(t, restore, 100*time.Millisecond)
	assert.Len(t, entriesOf(journalOf(t, dir, id), contain.TypeReleased), 1)
}

// TestIsolatePortMode: port mode takes A's port down and brings it back.
func TestIsolatePortMode(t *testing.T) {
	lab := newContainLab(t, netctl.ModePort)
	dir, id := lab.dir, lab.caseID
	s := netlab.StartStream(t, lab.A.NS, lab.Stream, netlab.BV4+":9000", time.Millisecond)
	_, ok := s.WaitRecv(time.Time{}, 5*time.Second)
	require.True(t, ok)
	var res contain.Result
	took, cut, firstDropped := netlab.Cut(t, s, func() {
		res = addJSON(t, dir, "--link", "pa", "--case", id, "--reason", "ransomware spreading from A's port")
	})
	t.Logf("TIMING port isolate add: call took %v; first dropped datagram written %v after it returned", took, cut)
	assert.Less(t, cut, 100*time.Millisecond)
	assert.NoError(t, netlab.UDPProbe(lab.C.NS, netlab.BV4+":9001", lab.Probe, 2*time.Second), "C->B while A's port is down")
	code, _, errs := fb(t, dir, "isolate", "add", "--link", "pz", "--case", id, "--reason", "x")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "not one of the configured ports")
	if env := lab.d.Contain.Environment(); len(env.ManagementLinks) > 0 {
		// The link of the daemon's default route is its management link.
		mgmt := env.ManagementLinks[0]
		code, _, errs = fb(t, dir, "isolate", "add", "--link", mgmt, "--case", id, "--reason", "x")
		assert.Equal(t, ExitFail, code)
		assert.Contains(t, errs, "link "+mgmt+" is the appliance's management link")
	}
	took, restore := netlab.Restore(t, s, firstDropped, func() {
		mustFB(t, dir, "isolate", "release", res.Isolation.ID)
	})
	t.Logf("TIMING port isolate release: call took %v; first delivered datagram written %v after it returned", took, restore)
	assert.Less(t, restore, 100*time.Millisecond)
	assert.Len(t, entriesOf(journalOf(t, dir, id), contain.TypeReleased), 1)
}

// A port that does not exist stops the daemon at start, saying which.
func TestServeContainmentMisconfigured(t *testing.T) {
	lab := netlab.NewBridgeLab(t)
	dir := t.TempDir()
	_, err := daemon.Start(daemon.Options{DataDir: dir, Logger: discardLogger(),
		Containment: netctl.Options{Mode: netctl.ModeBridge, NetNS: lab.App.Path, Ports: []string{"pa", "eth7"}}})
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.Contains(t, err.Error(), "containment")
	assert.Contains(t, err.Error(), "eth7")
	// The data directory is free again for a daemon that is set up right.
	d, err := daemon.Start(daemon.Options{DataDir: dir, Logger: discardLogger(),
		Containment: netctl.Options{Mode: netctl.ModeBridge, NetNS: lab.App.Path, Ports: lab.Ports}})
	require.NoError(t, err)
	require.NoError(t, d.Close())
}
