// Package ssh parses the cleartext start of an SSH connection: the
// identification banners of both sides (protocol and software version) and
// the KEXINIT messages, from which it computes HASSH and HASSH-server.
//
// It never looks past NEWKEYS (everything after is encrypted), must never
// panic, and never buffers more than MaxBuffer bytes per direction.
package ssh

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"

	"github.com/firebreak-ir/firebreak/capture/internal/eve"
)

// MaxBuffer caps the bytes held per direction while waiting for a complete
// banner or packet.
const MaxBuffer = 64 << 10

type side struct {
	buf     []byte
	banner  *eve.SSHSide
	kex     bool
	newkeys bool
	broken  bool
}

// Conn is the SSH state of one connection.
type Conn struct {
	s      [2]side // 0 client, 1 server
	logged bool
}

// Probe reports whether b starts like an SSH identification string.
func Probe(b []byte) bool { return bytes.HasPrefix(b, []byte("SSH-")) }

// Data feeds stream bytes of one direction. It returns true when both sides
// finished their key exchange init, i.e. the event is complete.
func (c *Conn) Data(fromClient bool, data []byte, gap int) bool {
	i := 1
	if fromClient {
		i = 0
	}
	s := &c.s[i]
	if gap > 0 {
		s.broken = true
	}
	if s.broken || s.newkeys {
		return false
	}
	// Parse data where it is unless a banner or packet split over calls is
	// held: only the incomplete tail is kept.
	b := data
	if len(s.buf) > 0 {
		s.buf = append(s.buf, data...)
		b = s.buf
	}
	for !s.broken && !s.newkeys {
		if s.banner == nil {
			nl := bytes.IndexByte(b, '\n')
			if nl < 0 {
				if len(b) > 255*4 {
					s.broken = true
				}
				break
			}
			line := bytes.TrimRight(b[:nl], "\r")
			b = b[nl+1:]
			if !bytes.HasPrefix(line, []byte("SSH-")) {
				continue // servers may send other lines first
			}
			s.banner = parseBanner(line)
			continue
		}
		if len(b) < 6 {
			break
		}
		plen := int(binary.BigEndian.Uint32(b))
		if plen < 2 || plen > MaxBuffer {
			s.broken = true
			break
		}
		if len(b) < 4+plen {
			break
		}
		pad := int(b[4])
		payload := b[5 : 4+plen]
		if pad < len(payload) {
			payload = payload[:len(payload)-pad]
		}
		if len(payload) > 0 {
			switch payload[0] {
			case 20:
				if !s.kex {
					s.kex = true
					s.banner.Hassh = hassh(payload[1:], i == 0)
				}
			case 21:
				s.newkeys = true
			}
		}
		b = b[4+plen:]
	}
	if len(b) > MaxBuffer {
		s.broken = true
	}
	switch {
	case s.broken || s.newkeys || len(b) == 0:
		s.buf = nil
	case len(s.buf) == 0: // b is part of data, which is not ours to keep
		s.buf = append([]byte(nil), b...)
	default:
		s.buf = b
	}
	return c.s[0].kex && c.s[1].kex && !c.logged
}

func parseBanner(line []byte) *eve.SSHSide {
	proto, soft, _ := bytes.Cut(line[4:], []byte("-"))
	if i := bytes.IndexByte(soft, ' '); i >= 0 {
		soft = soft[:i]
	}
	return &eve.SSHSide{ProtoVersion: eve.SafeString(proto), SoftwareVersion: eve.SafeString(soft)}
}

func hassh(b []byte, client bool) *eve.Hassh {
	if len(b) < 16 {
		return nil
	}
	b = b[16:]
	var lists [10][]byte
	for i := range lists {
		if len(b) < 4 {
			return nil
		}
		l := int(binary.BigEndian.Uint32(b))
		if l > len(b)-4 {
			return nil
		}
		lists[i] = b[4 : 4+l]
		b = b[4+l:]
	}
	pick := [4]int{0, 2, 4, 6}
	if !client {
		pick = [4]int{0, 3, 5, 7}
	}
	var buf [1024]byte
	s := buf[:0]
	for j, i := range pick {
		if j > 0 {
			s = append(s, ';')
		}
		s = append(s, lists[i]...)
	}
	sum := md5.Sum(s)
	return &eve.Hassh{Hash: hex.EncodeToString(sum[:]), String: string(s)}
}

// Buffered returns the bytes the parser holds, for memory accounting.
func (c *Conn) Buffered() int { return cap(c.s[0].buf) + cap(c.s[1].buf) }

// Finished reports whether nothing more can be learnt: the event was
// returned, or both directions are encrypted or unparseable.
func (c *Conn) Finished() bool {
	return c.logged || (c.s[0].newkeys || c.s[0].broken) && (c.s[1].newkeys || c.s[1].broken)
}

// Finish returns the EVE ssh object once, or nil if no banner was seen.
func (c *Conn) Finish() *eve.SSH {
	if c.logged || (c.s[0].banner == nil && c.s[1].banner == nil) {
		return nil
	}
	c.logged = true
	return &eve.SSH{Client: c.s[0].banner, Server: c.s[1].banner}
}
