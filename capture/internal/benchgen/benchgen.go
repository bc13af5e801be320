// Package benchgen builds the large mixed capture the capture benchmarks
// run on: the Ethernet captures of the test data, replicated many times
// with their IPv4 and IPv6 addresses shifted per replica so that every
// replica's flows are distinct, interleaved as concurrent traffic, with
// timestamps that never go backwards.
//
// It rewrites addresses and timestamps and nothing else: checksums are
// left as they were (none of the measured tools verify them), and damaged
// packets in the sources stay damaged. It is test tooling; the appliance
// must never depend on it.
package benchgen

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/firebreak-ir/firebreak/capture/internal/pcapio"
)

// Replicas is how many rewritten copies of the source traffic run
// concurrently (interleaved packet by packet) in one round.
const Replicas = 64

// maxGap caps the pause between two source packets, so that a capture
// holding hours of idle time does not stretch the benchmark's clock.
const maxGap = time.Second

type frame struct {
	at   time.Duration // from the start of the round
	data []byte
	orig int
}

// Source is the source traffic of one round: every Ethernet capture of a
// directory, one after the other on a common clock.
type Source struct {
	frames []frame
	dur    time.Duration
	Files  int
	Bytes  int64 // captured bytes in one round
}

// Load reads the Ethernet-linktype pcap and pcapng files directly in dir.
func Load(dir string) (*Source, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read test data: %w", err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	s := &Source{}
	for _, n := range names {
		if err := s.add(filepath.Join(dir, n)); err != nil {
			return nil, err
		}
	}
	if len(s.frames) == 0 {
		return nil, errors.New("no Ethernet capture in " + dir)
	}
	return s, nil
}

func (s *Source) add(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	rd, err := pcapio.Open(f)
	if err != nil {
		return nil // not a capture
	}
	defer rd.Close()
	var first, prev time.Time
	start := s.dur
	added := false
	for {
		data, info, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			var perr *pcapio.PacketError
			if errors.As(err, &perr) && !perr.Fatal {
				continue
			}
			break
		}
		if info.LinkType != layers.LinkTypeEthernet {
			return nil
		}
		if first.IsZero() {
			first, prev = info.Timestamp, info.Timestamp
		}
		gap := info.Timestamp.Sub(prev)
		if gap < 0 {
			gap = 0
		}
		if gap > maxGap {
			gap = maxGap
		}
		prev = info.Timestamp
		start += gap
		s.frames = append(s.frames, frame{at: start, data: append([]byte(nil), data...), orig: info.OrigLen})
		s.Bytes += int64(len(data))
		added = true
	}
	if added {
		s.Files++
		s.dur = start + time.Millisecond
	}
	return nil
}

// Packets returns the number of frames in one round.
func (s *Source) Packets() int { return len(s.frames) * Replicas }

// Write writes a nanosecond pcap of n packets (whole rounds, then part of
// the last) to w. Each round is Replicas copies of the source traffic,
// interleaved, each copy with its own addresses.
func (s *Source) Write(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b23c4d) // nanosecond pcap
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 262144)
	binary.LittleEndian.PutUint32(hdr[20:], uint32(layers.LinkTypeEthernet))
	if _, err := bw.Write(hdr[:]); err != nil {
		return err
	}
	base := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	buf := make([]byte, 0, 65536)
	var rec [16]byte
	written := 0
	for round := 0; written < n; round++ {
		roundStart := base.Add(time.Duration(round) * s.dur)
		for _, fr := range s.frames {
			ts := roundStart.Add(fr.at)
			for k := 0; k < Replicas && written < n; k++ {
				replica := uint32(round*Replicas + k)
				buf = append(buf[:0], fr.data...)
				Rewrite(buf, replica)
				binary.LittleEndian.PutUint32(rec[0:], uint32(ts.Unix()))
				binary.LittleEndian.PutUint32(rec[4:], uint32(ts.Nanosecond()))
				binary.LittleEndian.PutUint32(rec[8:], uint32(len(buf)))
				binary.LittleEndian.PutUint32(rec[12:], uint32(fr.orig))
				if _, err := bw.Write(rec[:]); err != nil {
					return err
				}
				if _, err := bw.Write(buf); err != nil {
					return err
				}
				written++
			}
		}
	}
	return bw.Flush()
}

// Rewrite shifts, in place, the IPv4 and IPv6 addresses of an Ethernet
// frame (and of the frames or datagrams it tunnels through GRE, ERSPAN,
// VXLAN, Teredo or IP-in-IP) to those of replica r: the replica number is
// XORed into the second and third bytes of IPv4 addresses and into the
// fifth to eighth bytes of IPv6 ones, a bijection, so a flow stays a flow
// and replicas never share one. Anything it cannot parse is left alone.
func Rewrite(b []byte, r uint32) {
	ether(b, r, 0)
}

const maxDepth = 4

func ether(b []byte, r uint32, depth int) {
	if len(b) < 14 || depth > maxDepth {
		return
	}
	et := binary.BigEndian.Uint16(b[12:])
	off := 14
	for (et == 0x8100 || et == 0x88a8 || et == 0x9100) && len(b) >= off+4 {
		et = binary.BigEndian.Uint16(b[off+2:])
		off += 4
	}
	ethertype(b[off:], et, r, depth)
}

func ethertype(b []byte, et uint16, r uint32, depth int) {
	switch et {
	case 0x0800:
		ipv4(b, r, depth)
	case 0x86dd:
		ipv6(b, r, depth)
	case 0x8847: // MPLS: skip the label stack, guess the payload by version
		for len(b) >= 4 {
			bos := b[2]&1 != 0
			b = b[4:]
			if bos {
				break
			}
		}
		if len(b) > 0 {
			switch b[0] >> 4 {
			case 4:
				ipv4(b, r, depth)
			case 6:
				ipv6(b, r, depth)
			}
		}
	case 0x8864: // PPPoE session
		if len(b) >= 8 {
			switch binary.BigEndian.Uint16(b[6:]) {
			case 0x0021:
				ipv4(b[8:], r, depth)
			case 0x0057:
				ipv6(b[8:], r, depth)
			}
		}
	}
}

func shift4(a []byte, r uint32) {
	a[1] ^= byte(r >> 8)
	a[2] ^= byte(r)
}

func shift6(a []byte, r uint32) {
	a[4] ^= byte(r >> 24)
	a[5] ^= byte(r >> 16)
	a[6] ^= byte(r >> 8)
	a[7] ^= byte(r)
}

func ipv4(b []byte, r uint32, depth int) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return
	}
	ihl := int(b[0]&15) * 4
	if ihl < 20 || len(b) < ihl {
		return
	}
	shift4(b[12:16], r)
	shift4(b[16:20], r)
	if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
		return // a later fragment: no transport header here
	}
	l4(b[ihl:], b[9], r, depth)
}

func ipv6(b []byte, r uint32, depth int) {
	if len(b) < 40 || b[0]>>4 != 6 {
		return
	}
	shift6(b[8:24], r)
	shift6(b[24:40], r)
	next, p := b[6], b[40:]
	for {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(p) < 8 {
				return
			}
			n := (int(p[1]) + 1) * 8
			if len(p) < n {
				return
			}
			next, p = p[0], p[n:]
			continue
		case 44: // fragment
			if len(p) < 8 || binary.BigEndian.Uint16(p[2:])&0xfff8 != 0 {
				return
			}
			next, p = p[0], p[8:]
			continue
		}
		break
	}
	l4(p, next, r, depth)
}

func l4(b []byte, proto byte, r uint32, depth int) {
	depth++
	switch proto {
	case 4:
		ipv4(b, r, depth)
	case 41:
		ipv6(b, r, depth)
	case 47:
		gre(b, r, depth)
	case 17:
		if len(b) < 8 {
			return
		}
		sp, dp := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
		switch {
		case dp == 4789 || sp == 4789: // VXLAN
			if len(b) >= 16 {
				ether(b[16:], r, depth)
			}
		case dp == 3544 || sp == 3544: // Teredo
			p := b[8:]
			for len(p) >= 2 && p[0] == 0 && (p[1] == 0 || p[1] == 1) { // origin / auth indicators
				if p[1] == 0 {
					if len(p) < 8 {
						return
					}
					p = p[8:]
					continue
				}
				if len(p) < 4 {
					return
				}
				n := 4 + int(p[2]) + int(p[3]) + 9
				if len(p) < n {
					return
				}
				p = p[n:]
			}
			ipv6(p, r, depth)
		}
	}
}

func gre(b []byte, r uint32, depth int) {
	if len(b) < 4 {
		return
	}
	flags := binary.BigEndian.Uint16(b)
	proto := binary.BigEndian.Uint16(b[2:])
	off := 4
	if flags&0x8000 != 0 {
		off += 4
	}
	if flags&0x2000 != 0 {
		off += 4
	}
	if flags&0x1000 != 0 {
		off += 4
	}
	if len(b) < off {
		return
	}
	p := b[off:]
	switch proto {
	case 0x6558:
		ether(p, r, depth)
	case 0x88be: // ERSPAN: type II carries a sequence number and an 8-byte header
		if flags&0x1000 != 0 && len(p) >= 8 {
			ether(p[8:], r, depth)
		} else {
			ether(p, r, depth)
		}
	case 0x22eb: // ERSPAN type III
		if len(p) >= 12 {
			ether(p[12:], r, depth)
		}
	default:
		ethertype(p, proto, r, depth)
	}
}
