package netctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/internal/netlab"

	"github.com/firebreak-ir/firebreak/netctl/internal/match"
	"github.com/firebreak-ir/firebreak/netctl/internal/nlk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// bridgeLab: an appliance namespace with bridge fbbr0 over ports pa, pb,
// pc, cabled to hosts A, B and C in their own namespaces.
type bridgeLab struct {
	app     *netlab.NS
	a, b, c *netlab.Host
	opts    Options
	ctl     *Controller
	// udp receives the stream on B:9000, probe probes on B:9001.
	udp, probe *net.UDPConn
}

func newBridgeLab(t *testing.T) *bridgeLab {
	netlab.RequireRoot(t)
	pfx := netlab.Prefix(t)
	app := netlab.NewNS(t, pfx+"-app")
	lab := &bridgeLab{
		app:  app,
		a:    netlab.Cable(t, app, "pa", netlab.NewNS(t, pfx+"-a"), "02:fb:00:00:00:0a", "10.9.0.1/24", "fd09::1/64"),
		b:    netlab.Cable(t, app, "pb", netlab.NewNS(t, pfx+"-b"), "02:fb:00:00:00:0b", "10.9.0.2/24", "fd09::2/64"),
		c:    netlab.Cable(t, app, "pc", netlab.NewNS(t, pfx+"-c"), "02:fb:00:00:00:0c", "10.9.0.3/24", "fd09::3/64"),
		opts: Options{Mode: ModeBridge, NetNS: app.Path, Bridge: "fbbr0", Ports: []string{"pa", "pb", "pc"}},
	}
	var err error
	lab.ctl, err = New(lab.opts)
	require.NoError(t, err)
	t.Cleanup(func() { lab.ctl.Close() })
	rep, err := lab.ctl.Set(State{})
	if err != nil && isUnsupported(err) {
		t.Skipf("skipping: kernel lacks a feature bridge mode needs: %v", err)
	}
	require.NoError(t, err)
	t.Logf("bridge set up: %d changes, features %s", len(rep.Changes), lab.features(t))
	lab.b.ServeTCP(t, ":2222")
	lab.b.ServeTCP(t, ":8080")
	lab.udp = lab.b.ListenUDP(t, "[::]:9000")
	lab.probe = lab.b.ListenUDP(t, "[::]:9001")
	// The bridge forwards as soon as its ports are up (no STP); poll
	// rather than assume.
	require.NoError(t, netlab.UDPProbe(lab.a.NS, "10.9.0.2:9001", lab.probe, 5*time.Second), "A->B before isolation")
	require.NoError(t, netlab.UDPProbe(lab.a.NS, "[fd09::2]:9001", lab.probe, 5*time.Second), "A->B IPv6 before isolation")
	require.NoError(t, netlab.UDPProbe(lab.c.NS, "10.9.0.2:9001", lab.probe, 5*time.Second), "C->B before isolation")
	require.NoError(t, lab.a.DialTCP("10.9.0.2:8080", 2*time.Second), "A->B tcp before isolation")
	return lab
}

func (l *bridgeLab) features(t *testing.T) Features {
	f, err := l.ctl.Features()
	require.NoError(t, err)
	return f
}

func isUnsupported(err error) bool { return err != nil && errors.Is(err, ErrUnsupported) }

func (l *bridgeLab) isolateA() Policy {
	return Policy{
		ID:         "iso-a",
		Target:     Target{Prefix: netip.MustParsePrefix("10.9.0.1/32"), MAC: l.a.MAC},
		Exceptions: []Exception{{Peer: netip.MustParsePrefix("10.9.0.2/32"), Port: 2222, Proto: "tcp"}},
		Reason:     "beaconing to known C2",
		CaseID:     "case-1",
		Approver:   "alice",
	}
}

// measureCut applies state while a stream A->B runs and returns how long
// Set took and by when, relative to Set returning, the first dropped
// datagram had been written (an upper bound on the time to cut;
// negative: dropped before Set returned).
func measureCut(t *testing.T, s *netlab.Stream, apply func() (Report, error)) (Report, time.Duration, time.Duration, int) {
	t.Helper()
	start := time.Now()
	rep, err := apply()
	t0 := time.Now()
	require.NoError(t, err)
	end := s.WaitSent(t, t0.Add(150*time.Millisecond))
	last := s.LastRecvUpTo(end)
	require.GreaterOrEqual(t, last, 0, "stream never delivered")
	require.Less(t, last, end, "traffic still flowing 150ms after isolation")
	// Nothing written after Set returned may get through.
	assert.False(t, s.SentAt(last).After(t0), "datagram sent %v after Set returned was delivered", s.SentAt(last).Sub(t0))
	for seq := last + 1; seq <= end; seq++ {
		assert.False(t, s.Received(seq), "datagram %d delivered after the cut", seq)
	}
	return rep, t0.Sub(start), s.WroteBy(last + 1).Sub(t0), last + 1
}

func measureRestore(t *testing.T, s *netlab.Stream, firstDropped int, apply func() (Report, error)) (Report, time.Duration, time.Duration) {
	t.Helper()
	start := time.Now()
	rep, err := apply()
	t1 := time.Now()
	require.NoError(t, err)
	first, ok := s.WaitRecv(s.SentAt(firstDropped), 3*time.Second)
	require.True(t, ok, "traffic did not come back after release")
	// Everything sent from then on arrives.
	end := s.WaitSent(t, t1.Add(100*time.Millisecond))
	_, ok = s.WaitRecv(s.SentAt(end), 2*time.Second)
	require.True(t, ok)
	for seq := first; seq <= end; seq++ {
		if s.SentAt(seq).After(t1) {
			assert.True(t, s.Received(seq), "datagram %d lost after release", seq)
		}
	}
	return rep, t1.Sub(start), s.WroteBy(first).Sub(t1)
}

func TestBridgeIsolateAndRelease(t *testing.T) {
	lab := newBridgeLab(t)
	feats := lab.features(t)
	s := netlab.StartStream(t, lab.a.NS, lab.udp, "10.9.0.2:9000", time.Millisecond)
	_, ok := s.WaitRecv(time.Time{}, 5*time.Second)
	require.True(t, ok)

	var sinkFD int
	if feats.Mirred {
		sinkFD = openSinkCapture(t, lab.app, lab.ctl.opts.Sink+"c")
	}

	pol := lab.isolateA()
	rep, setTook, cut, firstDropped := measureCut(t, s, func() (Report, error) {
		return lab.ctl.Set(State{Policies: []Policy{pol}})
	})
	t.Logf("TIMING bridge isolate: Set took %v; first dropped datagram sent %v after Set returned (%v after it was called)", setTook, cut, setTook+cut)
	assert.Less(t, cut, 100*time.Millisecond, "time to first drop")
	for _, c := range rep.Changes {
		assert.Equal(t, OpAdded, c.Op, c.String())
	}
	assert.NotEmpty(t, rep.Changes)

	// IPv4 and IPv6 from A are cut; C is not.
	assert.Error(t, netlab.UDPProbe(lab.a.NS, "10.9.0.2:9001", lab.probe, 300*time.Millisecond), "A->B IPv4 while isolated")
	assert.Error(t, netlab.UDPProbe(lab.a.NS, "[fd09::2]:9001", lab.probe, 300*time.Millisecond), "A->B IPv6 while isolated")
	assert.NoError(t, netlab.UDPProbe(lab.c.NS, "10.9.0.2:9001", lab.probe, 2*time.Second), "C->B IPv4 while A isolated")
	assert.NoError(t, netlab.UDPProbe(lab.c.NS, "[fd09::2]:9001", lab.probe, 2*time.Second), "C->B IPv6 while A isolated")
	assert.Error(t, lab.a.DialTCP("10.9.0.2:8080", 300*time.Millisecond), "A->B:8080 while isolated")

	// The exception works even after A forgot B's MAC: ARP between A and
	// B is allowed too.
	eth, err := lab.a.H.LinkByName("eth0")
	require.NoError(t, err)
	lab.a.H.NeighDel(&netlink.Neigh{LinkIndex: eth.Attrs().Index, IP: net.ParseIP("10.9.0.2")})
	assert.NoError(t, lab.a.DialTCP("10.9.0.2:2222", 2*time.Second), "A->B:2222 (exception) while isolated")

	// ARP: A's requests do not reach B, B's requests for A do not reach
	// A; C's requests, sent after them, do.
	bs, as, cs := lab.b.ARPSocket(t), lab.a.ARPSocket(t), lab.c.ARPSocket(t)
	as.Send(t, netlab.ARPFrame(lab.a.MAC, lab.a.V4, netip.MustParseAddr("10.9.0.3")))
	cs.Send(t, netlab.ARPFrame(lab.c.MAC, lab.c.V4, netip.MustParseAddr("10.9.0.99")))
	got, seen := bs.Seen(lab.c.MAC, 2*time.Second)
	assert.True(t, got, "C's ARP reaches B")
	assert.False(t, seen[lab.a.MAC.String()], "A's ARP reached B")
	bs.Send(t, netlab.ARPFrame(lab.b.MAC, lab.b.V4, lab.a.V4))
	cs.Send(t, netlab.ARPFrame(lab.c.MAC, lab.c.V4, netip.MustParseAddr("10.9.0.98")))
	got, seen = as.Seen(lab.c.MAC, 2*time.Second)
	assert.True(t, got, "C's broadcast ARP reaches A")
	assert.False(t, seen[lab.b.MAC.String()], "B's ARP for A reached A")

	if feats.Mirred {
		assert.True(t, sinkSaw(sinkFD, lab.a.MAC, 2*time.Second), "dropped frames from A show up on the sink")
	}

	counts, err := lab.ctl.Dropped(State{Policies: []Policy{pol}})
	require.NoError(t, err)
	t.Logf("dropped for %s: %+v", pol.ID, counts[pol.ID])
	assert.Greater(t, counts[pol.ID].Packets, uint64(100), "the stream and probes were counted")

	// Verify agrees, and a second Set changes nothing.
	drift, err := lab.ctl.Verify(State{Policies: []Policy{pol}})
	require.NoError(t, err)
	assert.Empty(t, drift)
	rep2, err := lab.ctl.Set(State{Policies: []Policy{pol}})
	require.NoError(t, err)
	assert.Empty(t, rep2.Changes)
	assert.Equal(t, len(rep.Changes), rep2.Kept)

	rep3, setTook, restore := measureRestore(t, s, firstDropped, func() (Report, error) {
		return lab.ctl.Set(State{})
	})
	t.Logf("TIMING bridge release: Set took %v; first delivered datagram sent %v after Set returned (%v after it was called)", setTook, restore, setTook+restore)
	assert.Less(t, restore, 100*time.Millisecond, "time to restore")
	for _, c := range rep3.Changes {
		assert.Equal(t, OpRemoved, c.Op, c.String())
	}
	assert.Len(t, rep3.Changes, len(rep.Changes))
	assert.NoError(t, netlab.UDPProbe(lab.a.NS, "[fd09::2]:9001", lab.probe, 2*time.Second), "A->B IPv6 after release")
	assert.NoError(t, lab.a.DialTCP("10.9.0.2:8080", 2*time.Second), "A->B:8080 after release")
	objs, err := lab.ctl.Read()
	require.NoError(t, err)
	assert.Empty(t, objs, "nothing of Firebreak's left after release")
	for _, port := range lab.opts.Ports {
		out := lab.app.TC(t, "filter", "show", "dev", port, "ingress")
		assert.Empty(t, out, "tc filters left on %s", port)
	}
}

func TestBridgeMACTarget(t *testing.T) {
	lab := newBridgeLab(t)
	pol := Policy{ID: "iso-mac", Target: Target{MAC: lab.a.MAC}}
	_, err := lab.ctl.Set(State{Policies: []Policy{pol}})
	require.NoError(t, err)
	assert.Error(t, netlab.UDPProbe(lab.a.NS, "10.9.0.2:9001", lab.probe, 300*time.Millisecond), "A->B IPv4")
	assert.Error(t, netlab.UDPProbe(lab.a.NS, "[fd09::2]:9001", lab.probe, 300*time.Millisecond), "A->B IPv6")
	assert.NoError(t, netlab.UDPProbe(lab.c.NS, "[fd09::2]:9001", lab.probe, 2*time.Second), "C->B IPv6")
	_, err = lab.ctl.Set(State{})
	require.NoError(t, err)
	assert.NoError(t, netlab.UDPProbe(lab.a.NS, "[fd09::2]:9001", lab.probe, 2*time.Second), "A->B IPv6 after release")
}

func TestBridgeDriftRepair(t *testing.T) {
	lab := newBridgeLab(t)
	// By address only, so that removing the IPv4 drops opens a hole.
	pol := lab.isolateA()
	pol.Target.MAC = nil
	state := State{Policies: []Policy{pol}}
	_, err := lab.ctl.Set(state)
	require.NoError(t, err)

	// An engineer removes the IPv4 drops on A's port by hand.
	lab.app.TC(t, "filter", "del", "dev", "pa", "ingress", "prio", "1050")
	require.NoError(t, netlab.UDPProbe(lab.a.NS, "10.9.0.2:9001", lab.probe, 2*time.Second), "the hole is real")

	drift, err := lab.ctl.Verify(state)
	require.NoError(t, err)
	require.Len(t, drift, 2, "%v", drift)
	for _, d := range drift {
		assert.Equal(t, OpMissing, d.Op)
		assert.Equal(t, "pa", d.Link)
		assert.Equal(t, []string{"iso-a"}, d.Policies)
		t.Logf("drift: %s", d)
	}

	rep, err := lab.ctl.Set(state)
	require.NoError(t, err)
	require.Len(t, rep.Changes, 2)
	for _, c := range rep.Changes {
		assert.Equal(t, OpRestored, c.Op)
		t.Logf("repair: %s", c)
	}
	drift, err = lab.ctl.Verify(state)
	require.NoError(t, err)
	assert.Empty(t, drift)
	assert.Error(t, netlab.UDPProbe(lab.a.NS, "10.9.0.2:9001", lab.probe, 300*time.Millisecond), "hole closed")

	// The sink deleted by hand: drops fail closed (mirred without its
	// device drops), Verify notices, Set recreates it and re-points
	// the filters.
	if lab.features(t).Mirred {
		sink, err := lab.app.H.LinkByName(lab.ctl.opts.Sink)
		require.NoError(t, err)
		require.NoError(t, lab.app.H.LinkDel(sink))
		assert.Error(t, netlab.UDPProbe(lab.a.NS, "10.9.0.2:9001", lab.probe, 300*time.Millisecond), "still cut without the sink")
		drift, err = lab.ctl.Verify(state)
		require.NoError(t, err)
		assert.NotEmpty(t, drift)
		rep, err = lab.ctl.Set(state)
		require.NoError(t, err)
		t.Logf("sink repair: %d changes", len(rep.Changes))
		drift, err = lab.ctl.Verify(state)
		require.NoError(t, err)
		assert.Empty(t, drift)
		assert.Error(t, netlab.UDPProbe(lab.a.NS, "10.9.0.2:9001", lab.probe, 300*time.Millisecond), "cut after repair")
	}

	// A foreign filter inside Firebreak's range is stale and goes.
	lab.app.TC(t, "filter", "add", "dev", "pb", "ingress", "prio", "1001", "protocol", "ipv6", "u32", "match", "u32", "0", "0")
	drift, err = lab.ctl.Verify(state)
	require.NoError(t, err)
	require.Len(t, drift, 1)
	assert.Equal(t, OpExtra, drift[0].Op)
	rep, err = lab.ctl.Set(state)
	require.NoError(t, err)
	require.Len(t, rep.Changes, 1)
	assert.Equal(t, OpRemoved, rep.Changes[0].Op)

	// A port taken out of the bridge by hand is put back.
	pb, err := lab.app.H.LinkByName("pb")
	require.NoError(t, err)
	require.NoError(t, lab.app.H.LinkSetNoMaster(pb))
	drift, err = lab.ctl.Verify(state)
	require.NoError(t, err)
	require.Len(t, drift, 1)
	assert.Equal(t, Change{Op: OpMissing, Kind: "port", Link: "pb", Object: "port pb in bridge fbbr0"}, drift[0])
	rep, err = lab.ctl.Set(state)
	require.NoError(t, err)
	require.Len(t, rep.Changes, 1)
	assert.Equal(t, OpRestored, rep.Changes[0].Op)
	require.NoError(t, netlab.UDPProbe(lab.c.NS, "10.9.0.2:9001", lab.probe, 5*time.Second), "C->B through the bridge again")
}

func TestBridgeAdoptAfterRestart(t *testing.T) {
	lab := newBridgeLab(t)
	state := State{Policies: []Policy{lab.isolateA()}}
	rep, err := lab.ctl.Set(state)
	require.NoError(t, err)
	handles := lab.filterHandles(t)
	lab.ctl.Close()

	s := netlab.StartStream(t, lab.a.NS, lab.udp, "10.9.0.2:9000", time.Millisecond)
	startSeq := s.WaitSent(t, time.Now())

	// A restarted daemon: a fresh Controller with the stored state.
	ctl2, err := New(lab.opts)
	require.NoError(t, err)
	t.Cleanup(func() { ctl2.Close() })
	objs, err := ctl2.Read()
	require.NoError(t, err)
	assert.Len(t, objs, len(rep.Changes), "Firebreak's filters found by their marker")
	drift, err := ctl2.Verify(state)
	require.NoError(t, err)
	assert.Empty(t, drift, "the isolation is reported as present")
	rep2, err := ctl2.Set(state)
	require.NoError(t, err)
	assert.Empty(t, rep2.Changes, "adopted, not re-added")
	assert.Equal(t, len(rep.Changes), rep2.Kept)
	assert.Equal(t, handles, lab.filterHandles(t), "no filter was replaced")

	end := s.WaitSent(t, time.Now().Add(50*time.Millisecond))
	for seq := startSeq; seq <= end; seq++ {
		assert.False(t, s.Received(seq), "datagram %d leaked during adoption", seq)
	}
}

func (l *bridgeLab) filterHandles(t *testing.T) map[string]bool {
	out := map[string]bool{}
	for _, p := range l.opts.Ports {
		link, err := l.app.H.LinkByName(p)
		require.NoError(t, err)
		fs, err := l.app.H.FilterList(link, netlink.HANDLE_MIN_INGRESS)
		require.NoError(t, err)
		for _, f := range fs {
			out[p+" "+netlink.HandleStr(f.Attrs().Handle)] = true
		}
	}
	return out
}

func openSinkCapture(t *testing.T, app *netlab.NS, name string) int {
	t.Helper()
	link, err := app.H.LinkByName(name)
	require.NoError(t, err)
	var fd int
	require.NoError(t, app.Do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: link.Attrs().Index})
	}))
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func sinkSaw(fd int, src net.HardwareAddr, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 2048)
	for time.Now().Before(deadline) {
		tv := unix.NsecToTimeval((10 * time.Millisecond).Nanoseconds())
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == nil && n >= 14 && net.HardwareAddr(buf[6:12]).String() == src.String() {
			return true
		}
	}
	return false
}

// TestBridgeSurvivesKill: a daemon process applies an isolation and is
// killed with SIGKILL; the kernel keeps dropping, and a new process adopts
// the state without a gap, keeping the policy's absolute TTL.
func TestBridgeSurvivesKill(t *testing.T) {
	lab := newBridgeLab(t)
	pol := lab.isolateA()
	pol.Created = time.Now().UTC()
	pol.Expires = pol.Created.Add(time.Hour)
	state := State{Policies: []Policy{pol}}
	in, err := json.Marshal(helperInput{Options: lab.opts, State: state})
	require.NoError(t, err)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(in))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var changes int
	_, err = fmt.Fscanf(out, "ready %d\n", &changes)
	require.NoError(t, err, "helper did not apply the state")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()

	s := netlab.StartStream(t, lab.a.NS, lab.udp, "10.9.0.2:9000", time.Millisecond)
	from := s.WaitSent(t, time.Now())

	ctl, err := New(lab.opts)
	require.NoError(t, err)
	defer ctl.Close()
	now := time.Now().UTC()
	rep, ended, err := ctl.Reconcile(state.Policies, now)
	require.NoError(t, err)
	assert.Empty(t, ended)
	assert.Empty(t, rep.Changes, "adopted without re-adding")
	assert.Greater(t, rep.Kept, 0)
	assert.Equal(t, pol.Expires, NextDeadline(state.Policies, now), "the TTL continues from the stored expiry")

	end := s.WaitSent(t, time.Now().Add(50*time.Millisecond))
	for seq := from; seq <= end; seq++ {
		assert.False(t, s.Received(seq), "datagram %d got through after the kill", seq)
	}

	// At the stored expiry the isolation ends by itself.
	rep, ended, err = ctl.Reconcile(state.Policies, pol.Expires)
	require.NoError(t, err)
	require.Len(t, ended, 1)
	assert.Equal(t, Expired, ended[0].Reason)
	assert.Len(t, rep.Changes, changes, "every filter removed")
	_, ok := s.WaitRecv(time.Now(), 2*time.Second)
	assert.True(t, ok, "traffic flows after expiry")
}

func TestBridgeTwoPolicies(t *testing.T) {
	lab := newBridgeLab(t)
	pa := Policy{ID: "a", Target: Target{Prefix: netip.MustParsePrefix("10.9.0.1/32")}}
	pc := Policy{ID: "c", Target: Target{Prefix: netip.MustParsePrefix("10.9.0.3/32"), MAC: lab.c.MAC}}
	rep, err := lab.ctl.Set(State{Policies: []Policy{pa, pc}})
	require.NoError(t, err)
	assert.Error(t, netlab.UDPProbe(lab.a.NS, "10.9.0.2:9001", lab.probe, 300*time.Millisecond), "A cut")
	assert.Error(t, netlab.UDPProbe(lab.c.NS, "10.9.0.2:9001", lab.probe, 300*time.Millisecond), "C cut")

	rep, err = lab.ctl.Set(State{Policies: []Policy{pc}})
	require.NoError(t, err)
	for _, c := range rep.Changes {
		assert.Equal(t, OpRemoved, c.Op)
		assert.Contains(t, c.Object, "10.9.0.1", "only A's filters go: %s", c)
	}
	assert.NoError(t, netlab.UDPProbe(lab.a.NS, "10.9.0.2:9001", lab.probe, 2*time.Second), "A released")
	assert.Error(t, netlab.UDPProbe(lab.c.NS, "10.9.0.2:9001", lab.probe, 300*time.Millisecond), "C still cut")
}

func TestBridgeIPv6Exception(t *testing.T) {
	lab := newBridgeLab(t)
	require.NoError(t, lab.a.DialTCP("[fd09::2]:8080", 2*time.Second))
	pol := Policy{
		ID:         "a6",
		Target:     Target{Prefix: netip.MustParsePrefix("fd09::1/128"), MAC: lab.a.MAC},
		Exceptions: []Exception{{Peer: netip.MustParsePrefix("fd09::2/128"), Port: 2222, Proto: "tcp"}},
	}
	_, err := lab.ctl.Set(State{Policies: []Policy{pol}})
	require.NoError(t, err)
	// Both forget each other, so the exception needs NDP to work.
	for _, h := range []*netlab.Host{lab.a, lab.b} {
		eth, err := h.H.LinkByName("eth0")
		require.NoError(t, err)
		for _, ip := range []string{"fd09::1", "fd09::2"} {
			h.H.NeighDel(&netlink.Neigh{LinkIndex: eth.Attrs().Index, IP: net.ParseIP(ip)})
		}
	}
	assert.NoError(t, lab.a.DialTCP("[fd09::2]:2222", 3*time.Second), "exception over IPv6 with NDP")
	assert.Error(t, lab.a.DialTCP("[fd09::2]:8080", 300*time.Millisecond), "other ports cut")
	assert.Error(t, netlab.UDPProbe(lab.a.NS, "10.9.0.2:9001", lab.probe, 300*time.Millisecond), "IPv4 cut by MAC")
	assert.NoError(t, netlab.UDPProbe(lab.c.NS, "[fd09::2]:9001", lab.probe, 2*time.Second), "C unaffected")
}

// TestFakeMatchesKernel: the same state applied to the fake and to a real
// kernel leaves the same filters (by their keys), so the golden files
// describe what the kernel really holds.
func TestFakeMatchesKernel(t *testing.T) {
	lab := newBridgeLab(t)
	k := nlk.NewFake()
	k.Actions = []string{"mirred"}
	for _, p := range lab.opts.Ports {
		k.AddDevice(p, "")
	}
	fake := newController(lab.opts, k)
	state := State{Policies: []Policy{lab.isolateA(), {
		ID:         "v6",
		Target:     Target{Prefix: netip.MustParsePrefix("fd09::3/128")},
		Exceptions: []Exception{{Peer: netip.MustParsePrefix("fd09::2/128"), Port: 53}},
	}}}
	_, err := fake.Set(state)
	require.NoError(t, err)
	_, err = lab.ctl.Set(state)
	require.NoError(t, err)

	keys := func(kern interface {
		LinkByName(string) (netlink.Link, error)
		LinkByIndex(int) (netlink.Link, error)
		FilterList(netlink.Link, uint32) ([]netlink.Filter, error)
	}) []string {
		var out []string
		for _, p := range lab.opts.Ports {
			l, err := kern.LinkByName(p)
			require.NoError(t, err)
			fs, err := kern.FilterList(l, netlink.HANDLE_MIN_INGRESS)
			require.NoError(t, err)
			for _, f := range fs {
				key, ok := match.Key(f)
				require.True(t, ok)
				if u, ok := f.(*netlink.U32); ok && len(u.Actions) > 0 {
					sink, err := kern.LinkByIndex(u.Actions[0].(*netlink.MirredAction).Ifindex)
					require.NoError(t, err)
					key = strings.Replace(key, fmt.Sprintf("ifindex %d", sink.Attrs().Index), sink.Attrs().Name, 1)
				}
				out = append(out, p+" "+netlink.HandleStr(f.Attrs().Handle)+" "+key)
			}
		}
		sort.Strings(out)
		return out
	}
	assert.Equal(t, keys(k), keys(lab.app.H))
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
