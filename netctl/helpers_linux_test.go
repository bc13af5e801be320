package netctl

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
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// requireRoot skips tests that need to create network namespaces.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to create network namespaces (run the tests as root)")
	}
}

// testNS is a named network namespace, removed when the test ends.
type testNS struct {
	name string
	path string
	ns   netns.NsHandle
	h    *netlink.Handle
}

func nsPrefix(t *testing.T) string {
	b := make([]byte, 3)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "fbnc-" + hex.EncodeToString(b)
}

func newNS(t *testing.T, name string) *testNS {
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
	tn := &testNS{name: name, path: "/var/run/netns/" + name, ns: ns}
	t.Cleanup(func() {
		if tn.h != nil {
			tn.h.Close()
		}
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	tn.h, err = netlink.NewHandleAt(ns)
	require.NoError(t, err)
	lo, err := tn.h.LinkByName("lo")
	require.NoError(t, err)
	require.NoError(t, tn.h.LinkSetUp(lo))
	// No duplicate address detection: link-local addresses are usable at
	// once, so IPv6 needs no settling time.
	tn.sysctl(t, "net.ipv6.conf.all.accept_dad", "0")
	tn.sysctl(t, "net.ipv6.conf.default.accept_dad", "0")
	return tn
}

// do runs fn with the calling OS thread in the namespace; sockets fn
// opens stay in it.
func (n *testNS) do(fn func() error) error {
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

func (n *testNS) sysctl(t *testing.T, key, val string) {
	t.Helper()
	require.NoError(t, n.do(func() error {
		return os.WriteFile("/proc/sys/"+strings.ReplaceAll(key, ".", "/"), []byte(val), 0o644)
	}))
}

// host is a namespace with one interface, eth0, cabled to a link in the
// appliance namespace.
type host struct {
	*testNS
	mac net.HardwareAddr
	v4  netip.Addr
	v6  netip.Addr
}

// cable creates a veth pair: appName in app, eth0 in h, with the given
// MAC and addresses (IPv6 without DAD, so it is usable at once).
func cable(t *testing.T, app *testNS, appName string, h *testNS, mac string, v4, v6 string) *host {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	require.NoError(t, err)
	v := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: appName},
		PeerName:         "eth0",
		PeerNamespace:    netlink.NsFd(int(h.ns)),
		PeerHardwareAddr: hw,
	}
	require.NoError(t, app.h.LinkAdd(v))
	eth, err := h.h.LinkByName("eth0")
	require.NoError(t, err)
	hst := &host{testNS: h, mac: hw}
	for _, a := range []string{v4, v6} {
		if a == "" {
			continue
		}
		addr, err := netlink.ParseAddr(a)
		require.NoError(t, err)
		addr.Flags = unix.IFA_F_NODAD
		require.NoError(t, h.h.AddrAdd(eth, addr))
		p := netip.MustParsePrefix(a)
		if p.Addr().Is4() {
			hst.v4 = p.Addr()
		} else {
			hst.v6 = p.Addr()
		}
	}
	require.NoError(t, h.h.LinkSetUp(eth))
	return hst
}

// listenUDP opens a UDP socket in the namespace.
func (n *testNS) listenUDP(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	require.NoError(t, n.do(func() error {
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

// serveTCP accepts and closes connections on addr in the namespace.
func (n *testNS) serveTCP(t *testing.T, addr string) {
	t.Helper()
	var l net.Listener
	require.NoError(t, n.do(func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	}))
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// dialTCP connects from the namespace and closes at once.
func (n *testNS) dialTCP(addr string, timeout time.Duration) error {
	var c net.Conn
	err := n.do(func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	if c != nil {
		c.Close()
	}
	return err
}

// udpEcho sends one datagram from the namespace to addr and waits up to
// timeout for rc to receive a datagram from that sender.
func udpProbe(from *testNS, to string, rc *net.UDPConn, timeout time.Duration) error {
	var c net.Conn
	if err := from.do(func() error {
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

// stream sends a numbered UDP datagram every interval and records when
// each was sent and which arrived.
type stream struct {
	mu sync.Mutex
	// sent is taken before each write, wrote after it: a datagram left
	// between the two. Leaks are judged by sent (it surely left after),
	// latencies by wrote (it surely left before).
	sent  []time.Time
	wrote []time.Time
	recv  map[int]time.Time
	stop  chan struct{}
	done  sync.WaitGroup
}

func startStream(t *testing.T, from *testNS, rc *net.UDPConn, to string, interval time.Duration) *stream {
	t.Helper()
	var c net.Conn
	require.NoError(t, from.do(func() error {
		var err error
		c, err = net.Dial("udp", to)
		return err
	}))
	s := &stream{recv: map[int]time.Time{}, stop: make(chan struct{})}
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		tk := time.NewTicker(interval)
		defer tk.Stop()
		buf := make([]byte, 8)
		for {
			select {
			case <-s.stop:
				return
			case <-tk.C:
			}
			s.mu.Lock()
			seq := len(s.sent)
			s.sent = append(s.sent, time.Now())
			s.wrote = append(s.wrote, time.Time{})
			s.mu.Unlock()
			binary.BigEndian.PutUint64(buf, uint64(seq))
			c.Write(buf)
			s.mu.Lock()
			s.wrote[seq] = time.Now()
			s.mu.Unlock()
		}
	}()
	go func() {
		defer s.done.Done()
		buf := make([]byte, 64)
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			rc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			n, err := rc.Read(buf)
			if err != nil || n != 8 {
				continue
			}
			now := time.Now()
			s.mu.Lock()
			s.recv[int(binary.BigEndian.Uint64(buf))] = now
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { s.close(); c.Close() })
	return s
}

func (s *stream) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.done.Wait()
}

// waitSent waits until a datagram sent at or after t exists.
func (s *stream) waitSent(t *testing.T, after time.Time) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.sent)
		ok := n > 0 && !s.sent[n-1].Before(after)
		s.mu.Unlock()
		if ok {
			return n - 1
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("stream stalled")
	return 0
}

// waitRecv waits until some datagram sent at or after t has arrived and
// returns the first such sequence number.
func (s *stream) waitRecv(t *testing.T, after time.Time, timeout time.Duration) (int, bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		first := -1
		for seq := range s.recv {
			if !s.sent[seq].Before(after) && (first < 0 || seq < first) {
				first = seq
			}
		}
		s.mu.Unlock()
		if first >= 0 {
			return first, true
		}
		time.Sleep(time.Millisecond)
	}
	return 0, false
}

// lastRecvBefore returns the highest sequence number received among
// those sent before limit seq.
func (s *stream) lastRecvUpTo(limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := -1
	for seq := range s.recv {
		if seq <= limit && seq > last {
			last = seq
		}
	}
	return last
}

func (s *stream) sentAt(seq int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[seq]
}

func (s *stream) wroteBy(seq int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wrote[seq]
}

func (s *stream) received(seq int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.recv[seq]
	return ok
}

// arpFrame is an Ethernet ARP request from mac/ip for target.
func arpFrame(mac net.HardwareAddr, ip, target netip.Addr) []byte {
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

// packetSocket opens an AF_PACKET socket for ARP on eth0 in the namespace.
func (n *testNS) packetSocket(t *testing.T) (fd int, ifindex int) {
	t.Helper()
	eth, err := n.h.LinkByName("eth0")
	require.NoError(t, err)
	require.NoError(t, n.do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ARP)))
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: eth.Attrs().Index})
	}))
	t.Cleanup(func() { unix.Close(fd) })
	return fd, eth.Attrs().Index
}

func sendFrame(t *testing.T, fd, ifindex int, frame []byte) {
	t.Helper()
	require.NoError(t, unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}))
}

// arpSeen reads ARP frames on fd until one with sender MAC want arrives
// (true) or timeout passes, and reports every sender MAC seen.
func arpSeen(fd int, want net.HardwareAddr, timeout time.Duration) (bool, map[string]bool) {
	seen := map[string]bool{}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		tv := unix.NsecToTimeval((10 * time.Millisecond).Nanoseconds())
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		n, _, err := unix.Recvfrom(fd, buf, 0)
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

// tc runs the tc command in the namespace, as an engineer would.
func (n *testNS) tc(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("skipping: needs the tc command (iproute2)")
	}
	out, err := exec.Command("tc", append([]string{"-n", n.name}, args...)...).CombinedOutput()
	require.NoError(t, err, "tc %v: %s", args, out)
	return string(out)
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
