package sdk

import (
	"encoding/binary"
	"net/netip"
	"unsafe"
)

var le = binary.LittleEndian

// Batch is the bytes of one batch of records, as the host wrote them into
// the module's buffer. It is only valid during the call that delivered it.
type Batch []byte

// Event is one record of a batch: a view, not a copy.
type Event []byte

// Next returns the first record of b and the rest of the batch. ok is false
// at the end of the batch or if the next record is malformed (the host never
// writes one; a malformed batch ends the iteration rather than panicking).
func (b Batch) Next() (ev Event, rest Batch, ok bool) {
	if len(b) < HeaderSize {
		return nil, nil, false
	}
	n := int(le.Uint32(b[offSize:]))
	if n < HeaderSize || n > len(b) {
		return nil, nil, false
	}
	return Event(b[:n]), b[n:], true
}

// Each calls fn for every record of the batch, in order, and stops at the
// first error, which it returns.
func (b Batch) Each(fn func(Event) error) error {
	for {
		ev, rest, ok := b.Next()
		if !ok {
			return nil
		}
		if err := fn(ev); err != nil {
			return err
		}
		b = rest
	}
}

// Len counts the records of the batch.
func (b Batch) Len() int {
	n := 0
	for {
		_, rest, ok := b.Next()
		if !ok {
			return n
		}
		n++
		b = rest
	}
}

// Kind is the record's kind.
func (e Event) Kind() Kind { return Kind(le.Uint16(e[offKind:])) }

// Proto is the IANA protocol number (6 TCP, 17 UDP, 1 ICMP), 0 if none.
func (e Event) Proto() uint8 { return e[offProto] }

// Time is the packet time of the record, Unix nanoseconds.
func (e Event) Time() int64 { return int64(le.Uint64(e[offTime:])) }

// FlowID is the EVE flow_id of the record's flow, 0 if none.
func (e Event) FlowID() uint64 { return le.Uint64(e[offFlowID:]) }

// Src is the source (client) address; invalid if the record has none.
func (e Event) Src() netip.Addr { return e.addr(offSrc) }

// Dst is the destination (server) address; invalid if the record has none.
func (e Event) Dst() netip.Addr { return e.addr(offDst) }

// SrcPort is the source port, 0 if none.
func (e Event) SrcPort() uint16 { return le.Uint16(e[offSrcPort:]) }

// DstPort is the destination port, 0 if none.
func (e Event) DstPort() uint16 { return le.Uint16(e[offDstPort:]) }

func (e Event) addr(off int) netip.Addr {
	if e[offFlags]&FlagIPv6 != 0 {
		a := netip.AddrFrom16([16]byte(e[off : off+16]))
		if a == netip.IPv6Unspecified() {
			return netip.Addr{}
		}
		return a.Unmap() // an IPv4 address beside an IPv6 one is IPv4-mapped
	}
	a := netip.AddrFrom4([4]byte(e[off : off+4]))
	if a == netip.IPv4Unspecified() {
		return netip.Addr{}
	}
	return a
}

// Bytes is the first value of field f, nil if absent. It aliases the batch.
func (e Event) Bytes(f Field) []byte {
	v, _ := e.next(f, HeaderSize)
	return v
}

// Str is the first value of field f as a string, "" if absent. It aliases
// the batch (no copy): copy it (strings.Clone) to keep it past the call.
func (e Event) Str(f Field) string {
	v := e.Bytes(f)
	if len(v) == 0 {
		return ""
	}
	return unsafe.String(&v[0], len(v))
}

// Uint is the first value of numeric field f, 0 if absent.
func (e Event) Uint(f Field) uint64 {
	v := e.Bytes(f)
	if len(v) != 8 {
		return 0
	}
	return le.Uint64(v)
}

// Has reports whether the record carries field f.
func (e Event) Has(f Field) bool {
	_, off := e.next(f, HeaderSize)
	return off >= 0
}

// All calls fn with every value of field f, in order (repeated fields).
func (e Event) All(f Field, fn func(v []byte)) {
	off := HeaderSize
	for {
		v, next := e.next(f, off)
		if next < 0 {
			return
		}
		fn(v)
		off = next
	}
}

// next finds field f at or after off; it returns the value and the offset
// of the field after it, or -1 if there is none.
func (e Event) next(f Field, off int) ([]byte, int) {
	for off+4 <= len(e) {
		tag := Field(le.Uint16(e[off:]))
		n := int(le.Uint16(e[off+2:]))
		end := off + 4 + n
		if end > len(e) {
			return nil, -1
		}
		pad := (4 - n%4) % 4
		if tag == f {
			return e[off+4 : end : end], end + pad
		}
		off = end + pad
	}
	return nil, -1
}
