//go:build linux

package netlab

import (
	"encoding/binary"
	"net"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Blaster sends prebuilt UDP frames from a raw socket in the sender
// namespace with sendmmsg, bypassing the qdisc.
type Blaster struct {
	fd     int
	frames [][]byte
	hdrs   []unix.Mmsghdr
	iovs   []unix.Iovec
	Full   int // sendmmsg calls refused with ENOBUFS
}

const batch = 64

// NewBlaster opens a raw socket on eth0 in namespace ns and prepares 1024
// distinct 60-byte UDP frames (one flow each) addressed to dst.
func NewBlaster(t testing.TB, ns string, dst net.HardwareAddr) *Blaster {
	bl := &Blaster{}
	In(t, ns, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: 0, Ifindex: ifi.Index}); err != nil {
			return err
		}
		unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		bl.fd = fd
		// 1024 distinct flows (source ports) so fanout has something to spread.
		for i := 0; i < 1024; i++ {
			f := make([]byte, 60)
			copy(f[0:6], dst)
			copy(f[6:12], ifi.HardwareAddr)
			binary.BigEndian.PutUint16(f[12:], 0x0800)
			ip := f[14:34]
			ip[0], ip[8], ip[9] = 0x45, 64, 17
			binary.BigEndian.PutUint16(ip[2:], 46)
			copy(ip[12:16], []byte{10, 88, byte(i >> 8), byte(i)})
			copy(ip[16:20], []byte{10, 88, 255, 1})
			var sum uint32
			for j := 0; j < 20; j += 2 {
				sum += uint32(binary.BigEndian.Uint16(ip[j:]))
			}
			for sum > 0xffff {
				sum = sum&0xffff + sum>>16
			}
			binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
			udp := f[34:42]
			binary.BigEndian.PutUint16(udp[0:], uint16(10000+i))
			binary.BigEndian.PutUint16(udp[2:], 9)
			binary.BigEndian.PutUint16(udp[4:], 26)
			bl.frames = append(bl.frames, f)
		}
		return nil
	})
	t.Cleanup(func() { unix.Close(bl.fd) })
	bl.hdrs = make([]unix.Mmsghdr, batch)
	bl.iovs = make([]unix.Iovec, batch)
	return bl
}

// Send sends n frames at rate frames/s (0: as fast as possible) and
// returns how long it took.
func (bl *Blaster) Send(n, rate int) (time.Duration, error) {
	start := time.Now()
	sent := 0
	for sent < n {
		k := min(batch, n-sent)
		for i := 0; i < k; i++ {
			f := bl.frames[(sent+i)%len(bl.frames)]
			bl.iovs[i].Base = &f[0]
			bl.iovs[i].SetLen(len(f))
			bl.hdrs[i].Hdr.Iov = &bl.iovs[i]
			bl.hdrs[i].Hdr.SetIovlen(1)
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(bl.fd), uintptr(unsafe.Pointer(&bl.hdrs[0])), uintptr(k), 0, 0, 0)
		if errno != 0 {
			if errno == unix.ENOBUFS || errno == unix.EAGAIN {
				// The receiving side's backlog is full: the frame never
				// reached the wire. Let the softirq drain it and retry.
				bl.Full++
				runtime.Gosched()
				continue
			}
			return 0, errno
		}
		sent += int(r)
		if rate > 0 {
			if ahead := time.Duration(sent)*time.Second/time.Duration(rate) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	}
	return time.Since(start), nil
}
