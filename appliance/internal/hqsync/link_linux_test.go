package hqsync

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync/s3test"
	"github.com/firebreak-ir/firebreak/internal/netlab"
)

// nsLink is a real link: the box reaches HQ over a veth pair into HQ's
// network namespace. Cutting it takes HQ's end down: the box's end keeps
// its address, route and neighbour entry, and every frame it sends is
// dropped by the kernel — as a dead uplink does, with no reset and no
// error, only silence.
type nsLink struct {
	t   *testing.T
	h   *netlink.Handle
	eth netlink.Link
}

func (k *nsLink) Cut()     { require.NoError(k.t, k.h.LinkSetDown(k.eth)) }
func (k *nsLink) Restore() { require.NoError(k.t, k.h.LinkSetUp(k.eth)) }

func TestLinkCutInANamespace(t *testing.T) {
	netlab.RequireRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) to run HQ's server in its namespace")
	}
	prefix := netlab.Prefix(t)
	ns := netlab.NewNS(t, prefix+"-hq")
	h, err := netns.GetFromPath(ns.Path)
	require.NoError(t, err)
	defer h.Close()

	// 10.<a>.<b>.1 is the box's end, .2 HQ's, in a /30 no test shares.
	var a, b byte
	fmt.Sscanf(prefix[len(prefix)-4:], "%02x%02x", &a, &b)
	boxIP, hqIP := fmt.Sprintf("10.%d.%d.1", 200+a%50, b), fmt.Sprintf("10.%d.%d.2", 200+a%50, b)
	dev := prefix[:min(len(prefix), 11)] + "h"
	require.NoError(t, netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: dev}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(h))}))
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(dev); err == nil {
			netlink.LinkDel(l)
		}
	})
	l, err := netlink.LinkByName(dev)
	require.NoError(t, err)
	addr, _ := netlink.ParseAddr(boxIP + "/30")
	require.NoError(t, netlink.AddrAdd(l, addr))
	require.NoError(t, netlink.LinkSetUp(l))
	ns.Addr(t, "eth0", hqIP+"/30")
	eth, err := ns.H.LinkByName("eth0")
	require.NoError(t, err)
	require.NoError(t, ns.H.LinkSetUp(eth))
	g := &gateway{s3test.StartIn(t, ns.Name, net.JoinHostPort(hqIP, "9000"))}
	linkCut(t, g, &nsLink{t: t, h: ns.H, eth: eth})
}

// linkCut syncs a case with a large blob to HQ at endpoint and cuts the
// link for five seconds in the middle of the blob: the sync notices,
// backs off, probes, and once the link is back finishes with at most one
// chunk sent again, and the bucket equals the box.
func linkCut(t *testing.T, g *gateway, k *nsLink) {
	b := newBox(t)
	b.note(t, caseID, 3)
	b.collect(t, caseID, bigBlob, 1)
	b.note(t, caseID, 3)
	o := b.options(g)
	o.MaxRate = 96 << 20
	o.StallTimeout = 1500 * time.Millisecond // loose enough for a loaded CI machine's fsync of a part
	o.MinBackoff, o.MaxBackoff = 100*time.Millisecond, 400*time.Millisecond
	o.Interval = time.Hour
	s := b.syncer(t, o)
	chunk := s.opts.ChunkSize

	cut := make(chan time.Time, 1)
	stop := progressAt(s, 3*chunk, func() {
		time.Sleep(60 * time.Millisecond)
		k.Cut()
		cut <- time.Now()
	})
	s.Start()
	var cutAt time.Time
	select {
	case cutAt = <-cut:
	case <-time.After(20 * time.Second):
		t.Fatal("the upload did not reach the fourth part")
	}
	stop()
	// The link stays down for five seconds; the loop notices the stall,
	// backs off and probes again.
	require.Eventually(t, func() bool { return s.Status().Failures >= 2 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(time.Until(cutAt.Add(5 * time.Second)))
	st := s.Status()
	t.Logf("link down 5 s: %d failed runs, last: %s", st.Failures, st.LastError)
	assert.Contains(t, st.LastError, "unreachable")
	acked, _ := s.out.acked(caseID)
	assert.Zero(t, acked)
	k.Restore()
	restored := time.Now()

	require.Eventually(t, func() bool { a, _ := s.out.acked(caseID); return a == 7 }, 30*time.Second, 10*time.Millisecond)
	t.Logf("synced %v after the link came back", time.Since(restored).Round(time.Millisecond))
	require.NoError(t, s.Close())
	resent := s.stats.blobBytes.Load() - bigBlob
	t.Logf("blob bytes sent %d for a %d-byte blob: %d re-sent (chunk %d)", s.stats.blobBytes.Load(), int64(bigBlob), resent, chunk)
	assert.LessOrEqual(t, resent, chunk)
	requireBucketEqualsBox(t, g, b)
}
