package netctl

import (
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/internal/netlab"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

// routerLab: the appliance namespace routes between three subnets, one
// host in each: A 10.8.1.2, B 10.8.2.2, C 10.8.3.2.
type routerLab struct {
	app        *netlab.NS
	a, b, c    *netlab.Host
	opts       Options
	ctl        *Controller
	udp, probe *net.UDPConn
}

func newRouterLab(t *testing.T) *routerLab {
	netlab.RequireRoot(t)
	pfx := netlab.Prefix(t)
	app := netlab.NewNS(t, pfx+"-rtr")
	lab := &routerLab{app: app, opts: Options{Mode: ModeRouter, NetNS: app.Path}}
	hosts := []**netlab.Host{&lab.a, &lab.b, &lab.c}
	for i, name := range []string{"a", "b", "c"} {
		n := byte(i + 1)
		h := netlab.Cable(t, app, "r"+name, netlab.NewNS(t, pfx+"-r"+name), "02:fb:00:00:01:0"+name,
			"10.8."+string('0'+n)+".2/24", "fd08:"+string('0'+n)+"::2/64")
		link, err := app.H.LinkByName("r" + name)
		require.NoError(t, err)
		for _, a := range []string{"10.8." + string('0'+n) + ".1/24", "fd08:" + string('0'+n) + "::1/64"} {
			addr, err := netlink.ParseAddr(a)
			require.NoError(t, err)
			addr.Flags = 0x80 // IFA_F_NODAD
			require.NoError(t, app.H.AddrAdd(link, addr))
		}
		require.NoError(t, app.H.LinkSetUp(link))
		eth, err := h.H.LinkByName("eth0")
		require.NoError(t, err)
		for _, gw := range []string{"10.8." + string('0'+n) + ".1", "fd08:" + string('0'+n) + "::1"} {
			require.NoError(t, h.H.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.ParseIP(gw)}))
		}
		*hosts[i] = h
	}
	app.Sysctl(t, "net.ipv4.ip_forward", "1")
	app.Sysctl(t, "net.ipv6.conf.all.forwarding", "1")
	var err error
	lab.ctl, err = New(lab.opts)
	require.NoError(t, err)
	t.Cleanup(func() { lab.ctl.Close() })
	lab.b.ServeTCP(t, ":2222")
	lab.b.ServeTCP(t, ":8080")
	lab.udp = lab.b.ListenUDP(t, "[::]:9000")
	lab.probe = lab.b.ListenUDP(t, "[::]:9001")
	require.NoError(t, netlab.UDPProbe(lab.a.NS, "10.8.2.2:9001", lab.probe, 5*time.Second), "A->B before isolation")
	require.NoError(t, netlab.UDPProbe(lab.c.NS, "10.8.2.2:9001", lab.probe, 5*time.Second), "C->B before isolation")
	require.NoError(t, netlab.UDPProbe(lab.a.NS, "[fd08:2::2]:9001", lab.probe, 5*time.Second), "A->B IPv6 before isolation")
	return lab
}

func TestRouterIsolateAndRelease(t *testing.T) {
	lab := newRouterLab(t)
	pol := Policy{
		ID:         "iso-a",
		Target:     Target{Prefix: netip.MustParsePrefix("10.8.1.2/32")},
		Exceptions: []Exception{{Peer: netip.MustParsePrefix("10.8.2.2/32"), Port: 2222, Proto: "tcp"}},
	}
	s := netlab.StartStream(t, lab.a.NS, lab.udp, "10.8.2.2:9000", time.Millisecond)
	_, ok := s.WaitRecv(time.Time{}, 5*time.Second)
	require.True(t, ok)

	rep, setTook, cut, firstDropped := measureCut(t, s, func() (Report, error) {
		return lab.ctl.Set(State{Policies: []Policy{pol}})
	})
	t.Logf("TIMING router isolate: Set took %v; first dropped datagram sent %v after Set returned (%v after it was called)", setTook, cut, setTook+cut)
	assert.Less(t, cut, 100*time.Millisecond)
	for _, c := range rep.Changes {
		t.Logf("  %s", c)
	}
	require.Len(t, rep.Changes, 4)

	assert.Error(t, netlab.UDPProbe(lab.a.NS, "10.8.2.2:9001", lab.probe, 300*time.Millisecond), "A->B while isolated")
	assert.Error(t, lab.a.DialTCP("10.8.2.2:8080", 300*time.Millisecond), "A->B:8080 while isolated")
	assert.NoError(t, lab.a.DialTCP("10.8.2.2:2222", 2*time.Second), "A->B:2222 (exception)")
	assert.NoError(t, netlab.UDPProbe(lab.c.NS, "10.8.2.2:9001", lab.probe, 2*time.Second), "C->B while A isolated")
	assert.NoError(t, netlab.UDPProbe(lab.a.NS, "[fd08:2::2]:9001", lab.probe, 2*time.Second), "A's IPv6 is another target")

	// A restarted daemon adopts the rules.
	ctl2, err := New(lab.opts)
	require.NoError(t, err)
	defer ctl2.Close()
	drift, err := ctl2.Verify(State{Policies: []Policy{pol}})
	require.NoError(t, err)
	assert.Empty(t, drift)
	rep2, err := ctl2.Set(State{Policies: []Policy{pol}})
	require.NoError(t, err)
	assert.Empty(t, rep2.Changes)
	assert.Equal(t, 4, rep2.Kept)

	// Drift: the drop rule for traffic from A removed by hand.
	if _, err := exec.LookPath("ip"); err == nil {
		out, err := exec.Command("ip", "-n", lab.app.Name, "rule", "del", "priority", "1050", "from", "10.8.1.2").CombinedOutput()
		require.NoError(t, err, "%s", out)
		drift, err = ctl2.Verify(State{Policies: []Policy{pol}})
		require.NoError(t, err)
		require.Len(t, drift, 1)
		assert.Equal(t, OpMissing, drift[0].Op)
		rep2, err = ctl2.Set(State{Policies: []Policy{pol}})
		require.NoError(t, err)
		require.Len(t, rep2.Changes, 1)
		assert.Equal(t, OpRestored, rep2.Changes[0].Op, "adopted, then lost, then restored")
	}

	// The drift above briefly opened a hole; measure the restore from a
	// datagram sent after the repair.
	firstDropped = s.WaitSent(t, time.Now())
	_, setTook, restore := measureRestore(t, s, firstDropped, func() (Report, error) {
		return lab.ctl.Set(State{})
	})
	t.Logf("TIMING router release: Set took %v; first delivered datagram sent %v after Set returned (%v after it was called)", setTook, restore, setTook+restore)
	assert.Less(t, restore, 100*time.Millisecond)
	assert.NoError(t, lab.a.DialTCP("10.8.2.2:8080", 2*time.Second), "A->B:8080 after release")
	objs, err := lab.ctl.Read()
	require.NoError(t, err)
	assert.Empty(t, objs)
}

func TestRouterIPv6(t *testing.T) {
	lab := newRouterLab(t)
	pol := Policy{ID: "iso-a6", Target: Target{Prefix: netip.MustParsePrefix("fd08:1::/64")}}
	_, err := lab.ctl.Set(State{Policies: []Policy{pol}})
	require.NoError(t, err)
	assert.Error(t, netlab.UDPProbe(lab.a.NS, "[fd08:2::2]:9001", lab.probe, 300*time.Millisecond), "A->B IPv6")
	assert.NoError(t, netlab.UDPProbe(lab.c.NS, "[fd08:2::2]:9001", lab.probe, 2*time.Second), "C->B IPv6")
	_, err = lab.ctl.Set(State{})
	require.NoError(t, err)
	assert.NoError(t, netlab.UDPProbe(lab.a.NS, "[fd08:2::2]:9001", lab.probe, 2*time.Second), "A->B IPv6 after release")
}

func TestPortDownAndUp(t *testing.T) {
	netlab.RequireRoot(t)
	pfx := netlab.Prefix(t)
	app := netlab.NewNS(t, pfx+"-app")
	a := netlab.Cable(t, app, "pa", netlab.NewNS(t, pfx+"-a"), "02:fb:00:00:02:0a", "10.7.0.2/24", "")
	link, err := app.H.LinkByName("pa")
	require.NoError(t, err)
	addr, _ := netlink.ParseAddr("10.7.0.1/24")
	require.NoError(t, app.H.AddrAdd(link, addr))
	require.NoError(t, app.H.LinkSetAlias(link, "uplink to floor 3"))
	require.NoError(t, app.H.LinkSetUp(link))
	rc := app.ListenUDP(t, "0.0.0.0:9001")
	require.NoError(t, netlab.UDPProbe(a.NS, "10.7.0.1:9001", rc, 5*time.Second))

	opts := Options{Mode: ModePort, NetNS: app.Path, Ports: []string{"pa"}}
	ctl, err := New(opts)
	require.NoError(t, err)
	defer ctl.Close()
	state := State{Policies: []Policy{{ID: "cut-pa", Target: Target{Link: "pa"}}}}
	rep, err := ctl.Set(state)
	require.NoError(t, err)
	require.Len(t, rep.Changes, 1)
	t.Logf("port: %s", rep.Changes[0])
	link, err = app.H.LinkByName("pa")
	require.NoError(t, err)
	assert.Zero(t, link.Attrs().Flags&net.FlagUp)
	assert.Equal(t, AliasMarker+"uplink to floor 3", link.Attrs().Alias)
	assert.Error(t, netlab.UDPProbe(a.NS, "10.7.0.1:9001", rc, 300*time.Millisecond))

	// Adopted by a fresh controller.
	ctl2, err := New(opts)
	require.NoError(t, err)
	defer ctl2.Close()
	rep, err = ctl2.Set(state)
	require.NoError(t, err)
	assert.Empty(t, rep.Changes)
	assert.Equal(t, 1, rep.Kept)

	// Policies may only name configured ports.
	_, err = ctl2.Set(State{Policies: []Policy{{ID: "x", Target: Target{Link: "lo"}}}})
	assert.ErrorIs(t, err, ErrInvalidPolicy)

	rep, err = ctl2.Set(State{})
	require.NoError(t, err)
	require.Len(t, rep.Changes, 1)
	assert.Equal(t, OpRemoved, rep.Changes[0].Op)
	link, err = app.H.LinkByName("pa")
	require.NoError(t, err)
	assert.NotZero(t, link.Attrs().Flags&net.FlagUp)
	assert.Equal(t, "uplink to floor 3", link.Attrs().Alias)
	assert.NoError(t, netlab.UDPProbe(a.NS, "10.7.0.1:9001", rc, 5*time.Second))
}
