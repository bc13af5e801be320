package decode

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// DefragOptions bounds fragment reassembly. Zero values mean the defaults.
type DefragOptions struct {
	// Timeout drops a datagram whose fragments did not all arrive within
	// this much packet time. Default 60 s (Suricata's defrag timeout).
	Timeout time.Duration
	// MaxDatagrams caps datagrams under reassembly. Default 4096.
	MaxDatagrams int
	// MaxBytes caps the bytes held across all datagrams. Default 16 MiB.
	MaxBytes int
}

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
	vlan     [3]uint16
}

type frag struct {
	off  int
	data []byte
}

type datagram struct {
	first   time.Time
	frags   []frag
	total   int // length once the last fragment is seen, else -1
	held    int
	proto   uint8
	started bool
}

// Defragmenter reassembles IPv4 and IPv6 fragments. Overlapping data keeps
// the first copy received.
type Defragmenter struct {
	opts  DefragOptions
	m     map[fragKey]*datagram
	held  int
	out   []byte
	Drops uint64
}

// NewDefragmenter returns a Defragmenter with opts applied over defaults.
func NewDefragmenter(opts DefragOptions) *Defragmenter {
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.MaxDatagrams <= 0 {
		opts.MaxDatagrams = 4096
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 16 << 20
	}
	return &Defragmenter{opts: opts, m: make(map[fragKey]*datagram)}
}

// Held returns the number of bytes currently buffered.
func (f *Defragmenter) Held() int { return f.held }

// Add4 adds an IPv4 fragment. It returns the reassembled transport payload
// when the datagram is complete; the slice is valid until the next call.
func (f *Defragmenter) Add4(ip *layers.IPv4, vlan [3]uint16, nvlan uint8, ts time.Time) ([]byte, bool) {
	src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
	dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
	more := ip.Flags&layers.IPv4MoreFragments != 0
	return f.add(fragKey{src: src, dst: dst, id: uint32(ip.Id), proto: uint8(ip.Protocol), vlan: vlan},
		int(ip.FragOffset)*8, more, ip.Payload, ts)
}

// Add6 adds an IPv6 fragment (payload after the fragment header).
func (f *Defragmenter) Add6(src, dst netip.Addr, id uint32, proto uint8, off int, more bool, payload []byte,
	vlan [3]uint16, nvlan uint8, ts time.Time) ([]byte, bool) {
	return f.add(fragKey{src: src, dst: dst, id: id, proto: proto, vlan: vlan}, off, more, payload, ts)
}

// Expire drops datagrams older than the timeout at packet time now.
func (f *Defragmenter) Expire(now time.Time) {
	for k, d := range f.m {
		if now.Sub(d.first) > f.opts.Timeout {
			f.drop(k, d)
		}
	}
}

func (f *Defragmenter) drop(k fragKey, d *datagram) {
	f.held -= d.held
	delete(f.m, k)
	f.Drops++
}

func (f *Defragmenter) add(k fragKey, off int, more bool, payload []byte, ts time.Time) ([]byte, bool) {
	const maxDatagram = 65535
	if off+len(payload) > maxDatagram || (more && len(payload) == 0) {
		f.Drops++
		return nil, false
	}
	d := f.m[k]
	if d != nil && ts.Sub(d.first) > f.opts.Timeout {
		f.drop(k, d)
		d = nil
	}
	if d == nil {
		if len(f.m) >= f.opts.MaxDatagrams {
			f.evictOldest()
		}
		d = &datagram{first: ts, total: -1, proto: k.proto}
		f.m[k] = d
	}
	for f.held+len(payload) > f.opts.MaxBytes && len(f.m) > 1 {
		f.evictOldestExcept(k)
	}
	if f.held+len(payload) > f.opts.MaxBytes || len(d.frags) >= 1024 {
		f.drop(k, d)
		return nil, false
	}
	if !more {
		d.total = off + len(payload)
	}
	d.frags = append(d.frags, frag{off: off, data: append([]byte(nil), payload...)})
	d.held += len(payload)
	f.held += len(payload)
	if d.total < 0 {
		return nil, false
	}
	// Check coverage of [0,total) and build it, first copy wins.
	if cap(f.out) < d.total {
		f.out = make([]byte, d.total)
	}
	out := f.out[:d.total]
	filled := 0
	// Sort-free coverage: mark filled ranges with a small bitmap of 8-byte blocks.
	blocks := (d.total + 7) / 8
	seen := make([]byte, (blocks+7)/8)
	for _, fr := range d.frags {
		end := min(fr.off+len(fr.data), d.total)
		for b := fr.off / 8; b*8 < end; b++ {
			if seen[b/8]&(1<<(b%8)) != 0 {
				continue
			}
			lo, hi := b*8, min(b*8+8, end)
			if lo < fr.off {
				continue
			}
			copy(out[lo:hi], fr.data[lo-fr.off:hi-fr.off])
			if hi == b*8+8 || hi == d.total {
				seen[b/8] |= 1 << (b % 8)
				filled++
			}
		}
	}
	if filled < blocks {
		return nil, false
	}
	f.held -= d.held
	delete(f.m, k)
	return out, true
}

func (f *Defragmenter) evictOldest() { f.evictOldestExcept(fragKey{}) }

func (f *Defragmenter) evictOldestExcept(skip fragKey) {
	var ok bool
	var oldK fragKey
	var old *datagram
	for k, d := range f.m {
		if k == skip {
			continue
		}
		if !ok || d.first.Before(old.first) {
			oldK, old, ok = k, d, true
		}
	}
	if ok {
		f.drop(oldK, old)
	}
}
