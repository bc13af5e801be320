// Package netlab builds network namespaces for the containment tests of
// netctl and of the appliance: an appliance namespace cabled to hosts A, B
// and C, with helpers to send and watch traffic (UDP streams, TCP dials,
// raw ARP).
//
// It is imported by tests only and never by the daemon: it creates and
// deletes namespaces (prefix fbct-), which needs root, and it never touches
// a namespace it did not create.
package netlab

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RequireRoot skips tests that need to create network namespaces.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to create network namespaces (run the tests as root)")
	}
}

// Prefix returns a fresh namespace name prefix, fbct-<random>.
func Prefix(t testing.TB) string {
	b := make([]byte, 3)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "fbct-" + hex.EncodeToString(b)
}

// NS is a named network namespace, removed when the test ends.
type NS struct {
	Name string
	Path string
	ns   netns.NsHandle
	H    *netlink.Handle
}

// NewNS creates a named namespace with lo up and no IPv6 DAD.
func NewNS(t testing.TB, name string) *NS {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	require.NoError(t, err)
	ns, err := netns.NewNamed(name)
	if serr := netns.Set(orig); serr != nil {
		// This thread is stuck in the wrong namespace: leave it locked
		// so the runtime discards it with the goroutine.
		t.Fatalf("restore netns: %v", serr)
	}
	runtime.UnlockOSThread()
	orig.Close()
	require.NoError(t, err, "create netns %s", name)
	n := &NS{Name: name, Path: "/var/run/netns/" + name, ns: ns}
	t.Cleanup(func() {
		if n.H != nil {
			n.H.Close()
		}
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	n.H, err = netlink.NewHandleAt(ns)
	require.NoError(t, err)
	lo, err := n.H.LinkByName("lo")
	require.NoError(t, err)
	require.NoError(t, n.H.LinkSetUp(lo))
	n.Sysctl(t, "net.ipv6.conf.all.accept_dad", "0")
	n.Sysctl(t, "net.ipv6.conf.default.accept_dad", "0")
	return n
}

// Do runs fn with the calling OS thread in the namespace; sockets fn
// opens stay in it.
func (n *NS) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(n.ns); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("restore netns: %w", err) // thread stays locked and dies
	}
	runtime.UnlockOSThread()
	return ferr
}

// Sysctl sets a sysctl in the namespace.
func (n *NS) Sysctl(t testing.TB, key, val string) {
	t.Helper()
	require.NoError(t, n.Do(func() error {
		return os.WriteFile("/proc/sys/"+strings.ReplaceAll(key, ".", "/"), []byte(val), 0o644)
	}))
}

// Addr adds an address (CIDR) to a link, without DAD.
func (n *NS) Addr(t testing.TB, link, cidr string) {
	t.Helper()
	l, err := n.H.LinkByName(link)
	require.NoError(t, err)
	a, err := netlink.ParseAddr(cidr)
	require.NoError(t, err)
	a.Flags = unix.IFA_F_NODAD
	require.NoError(t, n.H.AddrAdd(l, a))
}

// DefaultVia adds a default route via gw.
func (n *NS) DefaultVia(t testing.TB, gw string) {
	t.Helper()
	require.NoError(t, n.H.RouteAdd(&netlink.Route{Gw: net.ParseIP(gw)}))
}

// TC runs the tc command in the namespace, as an engineer would.
func (n *NS) TC(t testing.TB, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("skipping: needs the tc command (iproute2)")
	}
	out, err := exec.Command("tc", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	require.NoError(t, err, "tc %v: %s", args, out)
	return string(out)
}

// Host is a namespace with one interface, eth0, cabled to a link of the
// appliance namespace.
type Host struct {
	*NS
	MAC net.HardwareAddr
	V4  netip.Addr
	V6  netip.Addr
}

// Cable creates a veth pair: appName in app, eth0 in h, with the given MAC
// and addresses (CIDRs; IPv6 without DAD so it is usable at once).
func Cable(t testing.TB, app *NS, appName string, h *NS, mac string, v4, v6 string) *Host {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	require.NoError(t, err)
	v := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: appName},
		PeerName:         "eth0",
		PeerNamespace:    netlink.NsFd(int(h.ns)),
		PeerHardwareAddr: hw,
	}
	require.NoError(t, app.H.LinkAdd(v))
	eth, err := h.H.LinkByName("eth0")
	require.NoError(t, err)
	hst := &Host{NS: h, MAC: hw}
	for _, a := range []string{v4, v6} {
		if a == "" {
			continue
		}
		h.Addr(t, "eth0", a)
		p := netip.MustParsePrefix(a)
		if p.Addr().Is4() {
			hst.V4 = p.Addr()
		} else {
			hst.V6 = p.Addr()
		}
	}
	require.NoError(t, h.H.LinkSetUp(eth))
	return hst
}

// ForgetNeighbours clears the host's neighbour entries for ips, so the next
// packet needs ARP or NDP.
func (h *Host) ForgetNeighbours(ips ...string) {
	eth, err := h.H.LinkByName("eth0")
	if err != nil {
		return
	}
	for _, ip := range ips {
		h.H.NeighDel(&netlink.Neigh{LinkIndex: eth.Attrs().Index, IP: net.ParseIP(ip)})
	}
}

// ListenUDP opens a UDP socket in the namespace.
func (n *NS) ListenUDP(t testing.TB, addr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	require.NoError(t, n.Do(func() error {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return err
		}
		c, err = net.ListenUDP("udp", ua)
		return err
	}))
	t.Cleanup(func() { c.Close() })
	return c
}

// ServeTCP accepts and closes connections on addr in the namespace.
func (n *NS) ServeTCP(t testing.TB, addr string) {
	t.Helper()
	var l net.Listener
	require.NoError(t, n.Do(func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	}))
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// DialTCP connects from the namespace and closes at once.
func (n *NS) DialTCP(addr string, timeout time.Duration) error {
	var c net.Conn
	err := n.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	if c != nil {
		c.Close()
	}
	return err
}

// UDPProbe sends datagrams from the namespace to addr every 50 ms and waits
// up to timeout for rc to receive one from that sender.
func UDPProbe(from *NS, to string, rc *net.UDPConn, timeout time.Duration) error {
	var c net.Conn
	if err := from.Do(func() error {
		var err error
		c, err = net.Dial("udp", to)
		return err
	}); err != nil {
		return err
	}
	defer c.Close()
	local := c.LocalAddr().(*net.UDPAddr)
	token := make([]byte, 8)
	rand.Read(token)
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 64)
	for next := time.Now(); time.Now().Before(deadline); {
		if !time.Now().Before(next) {
			c.Write(token)
			next = time.Now().Add(50 * time.Millisecond)
		}
		rc.SetReadDeadline(next)
		n, src, err := rc.ReadFromUDP(buf)
		if err != nil {
			continue
		}
		if src.Port == local.Port && string(buf[:n]) == string(token) {
			return nil
		}
	}
	return errors.New("no datagram arrived")
}

// ARPFrame is an Ethernet broadcast ARP request from mac/ip for target.
func ARPFrame(mac net.HardwareAddr, ip, target netip.Addr) []byte {
	f := make([]byte, 42)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], unix.ETH_P_ARP)
	binary.BigEndian.PutUint16(f[14:], 1)      // Ethernet
	binary.BigEndian.PutUint16(f[16:], 0x0800) // IPv4
	f[18], f[19] = 6, 4
	binary.BigEndian.PutUint16(f[20:], 1) // request
	copy(f[22:28], mac)
	copy(f[28:32], ip.AsSlice())
	tb := target.As4()
	copy(f[38:42], tb[:])
	return f
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ARPSocket opens an AF_PACKET socket for ARP on eth0 of the host.
func (h *Host) ARPSocket(t testing.TB) *ARPSock {
	t.Helper()
	eth, err := h.H.LinkByName("eth0")
	require.NoError(t, err)
	s := &ARPSock{ifindex: eth.Attrs().Index}
	require.NoError(t, h.Do(func() error {
		var err error
		s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ARP)))
		if err != nil {
			return err
		}
		return unix.Bind(s.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: s.ifindex})
	}))
	t.Cleanup(func() { unix.Close(s.fd) })
	return s
}

// ARPSock sends and receives raw ARP frames.
type ARPSock struct{ fd, ifindex int }

// Send sends a frame.
func (s *ARPSock) Send(t testing.TB, frame []byte) {
	t.Helper()
	require.NoError(t, unix.Sendto(s.fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: s.ifindex, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}))
}

// Seen reads ARP frames until one with sender MAC want arrives (true) or
// timeout passes, and reports every sender MAC seen.
func (s *ARPSock) Seen(want net.HardwareAddr, timeout time.Duration) (bool, map[string]bool) {
	seen := map[string]bool{}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		tv := unix.NsecToTimeval((10 * time.Millisecond).Nanoseconds())
		unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil || n < 42 {
			continue
		}
		sender := net.HardwareAddr(buf[22:28]).String()
		seen[sender] = true
		if sender == want.String() {
			return true, seen
		}
	}
	return false, seen
}
