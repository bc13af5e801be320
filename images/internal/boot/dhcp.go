package boot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// DHCP message types (RFC 2132 option 53).
const (
	dhcpDiscover = 1
	dhcpOffer    = 2
	dhcpRequest  = 3
	dhcpAck      = 5
	dhcpNak      = 6
)

var dhcpMagic = []byte{99, 130, 83, 99}

// lease is what a DHCP server granted the management port.
type lease struct {
	Addr     netip.Prefix
	Router   netip.Addr
	Server   netip.Addr
	Duration time.Duration
}

// dhcpPacket builds a client message. It asks the server to broadcast its
// answer, since the port has no address to receive a unicast one yet.
func dhcpPacket(typ byte, xid uint32, mac net.HardwareAddr, requested, server netip.Addr) []byte {
	b := make([]byte, 240, 300)
	b[0], b[1], b[2] = 1, 1, 6
	binary.BigEndian.PutUint32(b[4:], xid)
	binary.BigEndian.PutUint16(b[10:], 0x8000)
	copy(b[28:], mac)
	copy(b[236:], dhcpMagic)
	b = append(b, 53, 1, typ)
	b = append(b, 61, 7, 1)
	b = append(b, mac...)
	if requested.Is4() {
		a := requested.As4()
		b = append(b, 50, 4, a[0], a[1], a[2], a[3])
	}
	if server.Is4() {
		a := server.As4()
		b = append(b, 54, 4, a[0], a[1], a[2], a[3])
	}
	b = append(b, 12, 9)
	b = append(b, "firebreak"...)
	b = append(b, 55, 3, 1, 3, 51, 255)
	for len(b) < 300 {
		b = append(b, 0)
	}
	return b
}

// parseDHCPReply reads a server's answer to transaction xid: its message
// type and the lease it offers.
func parseDHCPReply(b []byte, xid uint32) (byte, lease, error) {
	var l lease
	if len(b) < 240 || b[0] != 2 || string(b[236:240]) != string(dhcpMagic) {
		return 0, l, errors.New("not a DHCP reply")
	}
	if binary.BigEndian.Uint32(b[4:]) != xid {
		return 0, l, errors.New("another transaction")
	}
	yi, _ := netip.AddrFromSlice(b[16:20])
	var typ byte
	bits := -1
	opts := b[240:]
	for len(opts) > 0 {
		code := opts[0]
		if code == 255 {
			break
		}
		if code == 0 {
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || len(opts) < 2+int(opts[1]) {
			return 0, l, errors.New("truncated DHCP option")
		}
		val := opts[2 : 2+int(opts[1])]
		opts = opts[2+len(val):]
		switch {
		case code == 53 && len(val) == 1:
			typ = val[0]
		case code == 1 && len(val) == 4:
			ones, total := net.IPMask(val).Size()
			if total == 32 {
				bits = ones
			}
		case code == 3 && len(val) >= 4:
			l.Router, _ = netip.AddrFromSlice(val[:4])
		case code == 51 && len(val) == 4:
			l.Duration = time.Duration(binary.BigEndian.Uint32(val)) * time.Second
		case code == 54 && len(val) == 4:
			l.Server, _ = netip.AddrFromSlice(val)
		}
	}
	if typ == 0 {
		return 0, l, errors.New("DHCP reply without a message type")
	}
	if typ == dhcpOffer || typ == dhcpAck {
		if !yi.Is4() || yi.IsUnspecified() || bits < 0 {
			return 0, l, errors.New("DHCP offer without an address and a netmask")
		}
		l.Addr = netip.PrefixFrom(yi, bits)
	}
	return typ, l, nil
}

// dhcpClient asks for a lease on one link: DISCOVER, OFFER, REQUEST, ACK.
type dhcpClient struct {
	link string
	mac  net.HardwareAddr
	fd   int
}

func newDHCPClient(link string, mac net.HardwareAddr) (*dhcpClient, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("dhcp socket: %w", err)
	}
	for _, o := range []int{unix.SO_REUSEADDR, unix.SO_BROADCAST} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o, 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("dhcp socket: %w", err)
		}
	}
	if err := unix.BindToDevice(fd, link); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dhcp socket on %s: %w", link, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: 68}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dhcp bind: %w", err)
	}
	return &dhcpClient{link: link, mac: mac, fd: fd}, nil
}

func (c *dhcpClient) Close() error { return unix.Close(c.fd) }

func (c *dhcpClient) exchange(msg []byte, xid uint32, want byte, timeout time.Duration) (lease, error) {
	dst := &unix.SockaddrInet4{Port: 67, Addr: [4]byte{255, 255, 255, 255}}
	if err := unix.Sendto(c.fd, msg, 0, dst); err != nil {
		return lease{}, fmt.Errorf("dhcp send: %w", err)
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return lease{}, os.ErrDeadlineExceeded
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return lease{}, err
		}
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return lease{}, fmt.Errorf("dhcp receive: %w", err)
		}
		typ, l, err := parseDHCPReply(buf[:n], xid)
		if err != nil {
			continue
		}
		if typ == dhcpNak {
			return lease{}, errors.New("the DHCP server refused the request (NAK)")
		}
		if typ == want {
			return l, nil
		}
	}
}

// obtain runs one DHCP transaction, retrying for up to total.
func (c *dhcpClient) obtain(total time.Duration) (lease, error) {
	deadline := time.Now().Add(total)
	var last error
	for try := 0; time.Now().Before(deadline); try++ {
		xid := uint32(time.Now().UnixNano()) ^ binary.BigEndian.Uint32(append([]byte{0, 0}, c.mac[4:6]...))
		offer, err := c.exchange(dhcpPacket(dhcpDiscover, xid, c.mac, netip.Addr{}, netip.Addr{}), xid, dhcpOffer, time.Duration(1+try)*time.Second)
		if err != nil {
			last = err
			continue
		}
		ack, err := c.exchange(dhcpPacket(dhcpRequest, xid, c.mac, offer.Addr.Addr(), offer.Server), xid, dhcpAck, 3*time.Second)
		if err != nil {
			last = err
			continue
		}
		if !ack.Server.IsValid() {
			ack.Server = offer.Server
		}
		return ack, nil
	}
	return lease{}, fmt.Errorf("no DHCP lease on %s: %w", c.link, last)
}
