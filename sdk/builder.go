package sdk

import (
	"encoding/binary"
	"net/netip"
)

// Header is the fixed part of a record.
type Header struct {
	Kind    Kind
	Proto   uint8
	Time    int64 // Unix nanoseconds
	FlowID  uint64
	Src     netip.Addr
	Dst     netip.Addr
	SrcPort uint16
	DstPort uint16
}

// Builder appends records in the ABI layout. The host uses it to write
// batches and the guest to write what it emits; tests use it to make
// batches. The zero value is ready; Reset reuses its memory.
type Builder struct {
	buf   []byte
	start int // offset of the open record, -1 if none
	n     int
}

// Reset empties the builder, keeping its memory.
func (b *Builder) Reset() { b.buf, b.n = b.buf[:0], 0 }

// Bytes is what was built: whole records only.
func (b *Builder) Bytes() []byte { return b.buf }

// Batch is Bytes as a Batch.
func (b *Builder) Batch() Batch { return Batch(b.buf) }

// Len is the number of records begun.
func (b *Builder) Len() int { return b.n }

// Size is the number of bytes built.
func (b *Builder) Size() int { return len(b.buf) }

// Truncate drops everything after size bytes (a record that did not fit).
func (b *Builder) Truncate(size, records int) { b.buf, b.n = b.buf[:size], records }

// Begin starts a record with header h; add its fields with Str, Uint and
// Raw, then call End.
func (b *Builder) Begin(h Header) {
	b.start = len(b.buf)
	b.n++
	var hd [HeaderSize]byte
	binary.LittleEndian.PutUint16(hd[offKind:], uint16(h.Kind))
	hd[offProto] = h.Proto
	binary.LittleEndian.PutUint64(hd[offTime:], uint64(h.Time))
	binary.LittleEndian.PutUint64(hd[offFlowID:], h.FlowID)
	if h.Src.Is6() && !h.Src.Is4In6() || h.Dst.Is6() && !h.Dst.Is4In6() {
		hd[offFlags] |= FlagIPv6
		if h.Src.IsValid() {
			a := h.Src.As16()
			copy(hd[offSrc:], a[:])
		}
		if h.Dst.IsValid() {
			a := h.Dst.As16()
			copy(hd[offDst:], a[:])
		}
	} else {
		if h.Src.IsValid() {
			a := h.Src.Unmap().As4()
			copy(hd[offSrc:], a[:])
		}
		if h.Dst.IsValid() {
			a := h.Dst.Unmap().As4()
			copy(hd[offDst:], a[:])
		}
	}
	binary.LittleEndian.PutUint16(hd[offSrcPort:], h.SrcPort)
	binary.LittleEndian.PutUint16(hd[offDstPort:], h.DstPort)
	b.buf = append(b.buf, hd[:]...)
}

// Raw adds field f with value v, cut to MaxFieldLen bytes.
func (b *Builder) Raw(f Field, v []byte) {
	if len(v) > MaxFieldLen {
		v = v[:MaxFieldLen]
	}
	b.buf = binary.LittleEndian.AppendUint16(b.buf, uint16(f))
	b.buf = binary.LittleEndian.AppendUint16(b.buf, uint16(len(v)))
	b.buf = append(b.buf, v...)
	for len(b.buf)%4 != 0 {
		b.buf = append(b.buf, 0)
	}
}

// Str adds string field f; an empty value is left out.
func (b *Builder) Str(f Field, v string) {
	if v == "" {
		return
	}
	if len(v) > MaxFieldLen {
		v = v[:MaxFieldLen]
	}
	b.buf = binary.LittleEndian.AppendUint16(b.buf, uint16(f))
	b.buf = binary.LittleEndian.AppendUint16(b.buf, uint16(len(v)))
	b.buf = append(b.buf, v...)
	for len(b.buf)%4 != 0 {
		b.buf = append(b.buf, 0)
	}
}

// Uint adds numeric field f.
func (b *Builder) Uint(f Field, v uint64) {
	b.buf = binary.LittleEndian.AppendUint16(b.buf, uint16(f))
	b.buf = binary.LittleEndian.AppendUint16(b.buf, 8)
	b.buf = binary.LittleEndian.AppendUint64(b.buf, v)
}

// End closes the record begun last, writing its size.
func (b *Builder) End() {
	binary.LittleEndian.PutUint32(b.buf[b.start+offSize:], uint32(len(b.buf)-b.start))
}
