package netlab

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

// Addresses of the lab hosts.
const (
	AV4, BV4, CV4 = "10.9.0.1", "10.9.0.2", "10.9.0.3"
	AV6, BV6, CV6 = "fd09::1", "fd09::2", "fd09::3"
	AMAC, BMAC    = "02:fb:00:00:00:0a", "02:fb:00:00:00:0b"
	CMAC          = "02:fb:00:00:00:0c"
	// BridgeV4 is the appliance's own address on the bridge, once
	// AddBridgeAddress gives it one.
	BridgeV4 = "10.9.0.254"
)

// Lab is an appliance namespace cabled to hosts A, B and C. B serves TCP
// on 2222 and 8080 and receives UDP on 9000 (Stream) and 9001 (Probe).
type Lab struct {
	Name    string // the prefix of its namespaces
	App     *NS
	A, B, C *Host
	Ports   []string // the appliance ends of the cables
	// Stream and Probe are B's UDP sockets.
	Stream, Probe *net.UDPConn
}

// NewBridgeLab builds the hosts and cables of bridge mode: ports pa, pb, pc
// in the appliance namespace, not yet in a bridge (the daemon's netctl
// makes it), all on 10.9.0.0/24 and fd09::/64.
func NewBridgeLab(t testing.TB) *Lab {
	t.Helper()
	RequireRoot(t)
	pfx := Prefix(t)
	app := NewNS(t, pfx+"-app")
	l := &Lab{
		Name:  pfx,
		App:   app,
		A:     Cable(t, app, "pa", NewNS(t, pfx+"-a"), AMAC, AV4+"/24", AV6+"/64"),
		B:     Cable(t, app, "pb", NewNS(t, pfx+"-b"), BMAC, BV4+"/24", BV6+"/64"),
		C:     Cable(t, app, "pc", NewNS(t, pfx+"-c"), CMAC, CV4+"/24", CV6+"/64"),
		Ports: []string{"pa", "pb", "pc"},
	}
	l.serve(t)
	return l
}

// NewRouterLab builds router mode: the appliance namespace routes between
// ra (10.9.1.0/24, A at .1), rb (10.9.2.0/24, B) and rc (10.9.3.0/24, C),
// at .254 on each, with IPv6 fd09:N::/64 alike.
func NewRouterLab(t testing.TB) *Lab {
	t.Helper()
	RequireRoot(t)
	pfx := Prefix(t)
	app := NewNS(t, pfx+"-app")
	l := &Lab{Name: pfx, App: app, Ports: []string{"ra", "rb", "rc"}}
	hosts := []**Host{&l.A, &l.B, &l.C}
	for i, name := range []string{"a", "b", "c"} {
		n := string(rune('1' + i))
		h := Cable(t, app, "r"+name, NewNS(t, pfx+"-"+name), "02:fb:00:00:01:0"+n, "10.9."+n+".1/24", "fd09:"+n+"::1/64")
		app.Addr(t, "r"+name, "10.9."+n+".254/24")
		app.Addr(t, "r"+name, "fd09:"+n+"::254/64")
		link, err := app.H.LinkByName("r" + name)
		require.NoError(t, err)
		require.NoError(t, app.H.LinkSetUp(link))
		h.DefaultVia(t, "10.9."+n+".254")
		h.DefaultVia(t, "fd09:"+n+"::254")
		*hosts[i] = h
	}
	app.Sysctl(t, "net.ipv4.ip_forward", "1")
	app.Sysctl(t, "net.ipv6.conf.all.forwarding", "1")
	l.serve(t)
	return l
}

func (l *Lab) serve(t testing.TB) {
	l.B.ServeTCP(t, ":2222")
	l.B.ServeTCP(t, ":8080")
	l.Stream = l.B.ListenUDP(t, "[::]:9000")
	l.Probe = l.B.ListenUDP(t, "[::]:9001")
}

// AddBridgeAddress gives the appliance an address on the bridge and a
// default route via C, as a box plugged into the segment would have: C is
// then the segment's gateway and BridgeV4 a management address.
func (l *Lab) AddBridgeAddress(t testing.TB, bridge string) {
	t.Helper()
	l.App.Addr(t, bridge, BridgeV4+"/24")
	l.App.DefaultVia(t, CV4)
}

// WaitFlowing waits until A and C reach B over IPv4 and IPv6 and A's TCP to
// B works: the segment works before anything is isolated.
func (l *Lab) WaitFlowing(t testing.TB, b4, b6 string) {
	t.Helper()
	require.NoError(t, UDPProbe(l.A.NS, b4+":9001", l.Probe, 10*time.Second), "A->B before isolation")
	require.NoError(t, UDPProbe(l.A.NS, "["+b6+"]:9001", l.Probe, 10*time.Second), "A->B IPv6 before isolation")
	require.NoError(t, UDPProbe(l.C.NS, b4+":9001", l.Probe, 10*time.Second), "C->B before isolation")
	require.NoError(t, l.A.DialTCP(b4+":8080", 5*time.Second), "A->B tcp before isolation")
}

// Cut measures how a stream runs across a change that should stop it:
// apply is called, and once it returns (at t0) the stream must stop. It
// returns how long apply took and by when, relative to t0, the first
// dropped datagram had been written (negative: before apply returned), and
// that datagram's sequence number.
func Cut(t testing.TB, s *Stream, apply func()) (took, cut time.Duration, firstDropped int) {
	t.Helper()
	start := time.Now()
	apply()
	t0 := time.Now()
	end := s.WaitSent(t, t0.Add(150*time.Millisecond))
	last := s.LastRecvUpTo(end)
	require.GreaterOrEqual(t, last, 0, "stream never delivered")
	require.Less(t, last, end, "traffic still flowing 150ms after the isolation returned")
	require.False(t, s.SentAt(last).After(t0), "datagram sent %v after the call returned was delivered", s.SentAt(last).Sub(t0))
	for seq := last + 1; seq <= end; seq++ {
		require.False(t, s.Received(seq), "datagram %d delivered after the cut", seq)
	}
	return t0.Sub(start), s.WroteBy(last + 1).Sub(t0), last + 1
}

// Restore measures the other way: after apply returns (t1), how long until
// the first datagram written then or later was delivered, relative to t1.
func Restore(t testing.TB, s *Stream, firstDropped int, apply func()) (took, restore time.Duration) {
	t.Helper()
	start := time.Now()
	apply()
	t1 := time.Now()
	first, ok := s.WaitRecv(s.SentAt(firstDropped), 3*time.Second)
	require.True(t, ok, "traffic did not come back")
	end := s.WaitSent(t, t1.Add(100*time.Millisecond))
	_, ok = s.WaitRecv(s.SentAt(end), 2*time.Second)
	require.True(t, ok)
	for seq := first; seq <= end; seq++ {
		if s.SentAt(seq).After(t1) {
			require.True(t, s.Received(seq), "datagram %d lost after the release", seq)
		}
	}
	return t1.Sub(start), s.WroteBy(first).Sub(t1)
}

// Bridge puts the lab's ports in a bridge of its own (for port mode, where
// netctl manages no bridge) and brings everything up.
func (l *Lab) Bridge(t testing.TB, name string) {
	t.Helper()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	require.NoError(t, l.App.H.LinkAdd(br))
	for _, p := range l.Ports {
		link, err := l.App.H.LinkByName(p)
		require.NoError(t, err)
		require.NoError(t, l.App.H.LinkSetMaster(link, br))
		require.NoError(t, l.App.H.LinkSetUp(link))
	}
	require.NoError(t, l.App.H.LinkSetUp(br))
}
