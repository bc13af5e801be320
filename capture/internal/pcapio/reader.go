package pcapio

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// MaxPacket is the largest record the reader accepts (libpcap's
// MAXIMUM_SNAPLEN). Longer claims are treated as corruption.
const MaxPacket = 262144

// resyncWindow bounds how far the classic pcap reader scans for the next
// plausible record header after a corrupt one.
const resyncWindow = 1 << 20

// Format names the container format of a capture.
type Format int

// Capture formats.
const (
	FormatPcap Format = iota + 1
	FormatPcapNG
)

// Info describes one record.
type Info struct {
	Timestamp time.Time
	CapLen    int
	OrigLen   int
	LinkType  layers.LinkType
}

// Reader reads records from a capture. Data returned by Next is valid until
// the following call.
type Reader struct {
	format     Format
	compressed bool
	br         source
	gz         *gzip.Reader
	mapped     *mapped  // OpenInput of a regular file
	counter    *counter // OpenInput of anything else
	n          uint64   // records returned or attempted

	// classic pcap
	order    binary.ByteOrder
	nsec     bool
	snaplen  uint32
	linkType layers.LinkType
	hdr      [16]byte
	buf      []byte
	lastSec  uint32
	done     bool
	pend     []byte // bytes handed back by resync

	// pcapng
	ng *pcapgo.NgReader
}

// Open detects the format of r and reads its file header.
func Open(r io.Reader) (*Reader, error) {
	return open(bufio.NewReaderSize(r, 1<<20))
}

func open(br source) (*Reader, error) {
	rd := &Reader{br: br}
	magic, err := br.Peek(4)
	if len(magic) < 2 {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, ErrEmpty
		}
		return nil, err
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		rd.gz = gz
		rd.compressed = true
		rd.br = bufio.NewReaderSize(gz, 256<<10)
		magic, err = rd.br.Peek(4)
		if len(magic) < 4 {
			if err == nil || errors.Is(err, io.EOF) {
				return nil, ErrEmpty
			}
			return nil, fmt.Errorf("gzip: %w", err)
		}
	} else if len(magic) < 4 {
		return nil, ErrUnknownFormat
	}
	switch {
	case magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a:
		ng, err := pcapgo.NewNgReader(rd.br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("pcapng header: %w", err)
		}
		rd.ng = ng
		rd.format = FormatPcapNG
		rd.linkType = ng.LinkType()
		return rd, nil
	default:
		if err := rd.readPcapHeader(); err != nil {
			return nil, err
		}
		rd.format = FormatPcap
		return rd, nil
	}
}

func (r *Reader) readPcapHeader() error {
	var h [24]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return fmt.Errorf("pcap header: %w", ErrUnknownFormat)
	}
	switch binary.LittleEndian.Uint32(h[0:4]) {
	case 0xa1b2c3d4:
		r.order = binary.LittleEndian
	case 0xa1b23c4d:
		r.order, r.nsec = binary.LittleEndian, true
	case 0xd4c3b2a1:
		r.order = binary.BigEndian
	case 0x4d3cb2a1:
		r.order, r.nsec = binary.BigEndian, true
	default:
		return ErrUnknownFormat
	}
	r.snaplen = r.order.Uint32(h[16:20])
	if r.snaplen == 0 || r.snaplen > MaxPacket {
		r.snaplen = MaxPacket
	}
	// The upper bits of the link type field carry FCS information.
	r.linkType = layers.LinkType(r.order.Uint32(h[20:24]) & 0x0fffffff)
	return nil
}

// Format returns the detected container format.
func (r *Reader) Format() Format { return r.format }

// Compressed reports whether the input was gzip-compressed.
func (r *Reader) Compressed() bool { return r.compressed }

// LinkType returns the link type of the file (of the first interface for
// pcapng; Info carries the per-record one).
func (r *Reader) LinkType() layers.LinkType { return r.linkType }

// Next returns the next record. At the end of input it returns io.EOF. A
// problem with one record is a *PacketError; if its Fatal field is false the
// caller may call Next again.
func (r *Reader) Next() ([]byte, Info, error) {
	if r.done {
		return nil, Info{}, io.EOF
	}
	if r.ng != nil {
		return r.nextNG()
	}
	return r.nextPcap()
}

func (r *Reader) nextNG() ([]byte, Info, error) {
	r.n++
	data, ci, err := r.ng.ZeroCopyReadPacketData()
	if err != nil {
		r.done = true
		if errors.Is(err, io.EOF) {
			return nil, Info{}, io.EOF
		}
		kind := ErrCorrupt
		if errors.Is(err, io.ErrUnexpectedEOF) {
			kind = ErrTruncated
		}
		return nil, Info{}, &PacketError{Packet: r.n, Fatal: true, Err: fmt.Errorf("%w: %v", kind, err)}
	}
	if len(data) > MaxPacket {
		data = data[:MaxPacket]
	}
	info := Info{Timestamp: ci.Timestamp, CapLen: len(data), OrigLen: ci.Length, LinkType: r.linkType}
	if len(ci.AncillaryData) > 0 {
		if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			info.LinkType = lt
		}
	}
	return data, info, nil
}

func (r *Reader) plausible(h []byte) bool { return r.plausibleAfter(h, r.lastSec) }

// plausibleAfter checks a record header: lengths within the snap length,
// a valid fraction, and (after a record at second last, if any) a time
// no more than a day back or thirty days on.
func (r *Reader) plausibleAfter(h []byte, last uint32) bool {
	capLen := r.order.Uint32(h[8:12])
	origLen := r.order.Uint32(h[12:16])
	usec := r.order.Uint32(h[4:8])
	if capLen > r.snaplen || capLen > origLen || origLen > 1<<24 {
		return false
	}
	if (r.nsec && usec >= 1e9) || (!r.nsec && usec >= 1e6) {
		return false
	}
	if last != 0 {
		sec := r.order.Uint32(h[0:4])
		if sec+86400 < last || sec > last+86400*30 {
			return false
		}
	}
	return true
}

func (r *Reader) nextPcap() ([]byte, Info, error) {
	r.n++
	var n int
	var err error
	if m := r.mapped; m != nil && len(r.pend) == 0 && len(m.data)-m.off >= 16 {
		n = copy(r.hdr[:], m.data[m.off:])
		m.advance(16)
	} else if h, _ := r.br.Peek(16); len(h) == 16 && len(r.pend) == 0 {
		n = copy(r.hdr[:], h)
		_, _ = r.br.Discard(16)
	} else {
		n, err = r.readFull(r.hdr[:])
	}
	if err != nil {
		r.done = true
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, Info{}, io.EOF
		}
		return nil, Info{}, &PacketError{Packet: r.n, Fatal: true, Err: fmt.Errorf("%w: header: %v", ErrTruncated, err)}
	}
	if !r.plausible(r.hdr[:]) && !r.timeJump() {
		perr := &PacketError{Packet: r.n, Err: fmt.Errorf("%w: caplen %d origlen %d", ErrCorrupt,
			r.order.Uint32(r.hdr[8:12]), r.order.Uint32(r.hdr[12:16]))}
		if !r.resync() {
			r.done = true
			perr.Fatal = true
		}
		return nil, Info{}, perr
	}
	capLen := int(r.order.Uint32(r.hdr[8:12]))
	var data []byte
	if m := r.mapped; m != nil && len(r.pend) == 0 && capLen <= len(m.data)-m.off {
		// In place, in the mapped file.
		data = m.data[m.off : m.off+capLen : m.off+capLen]
		m.advance(capLen)
	} else if len(r.pend) == 0 && capLen <= r.br.Size() {
		// Zero copy: the record is returned from the read buffer, valid
		// until the next call.
		b, err := r.br.Peek(capLen)
		if err != nil {
			r.done = true
			return b, Info{}, &PacketError{Packet: r.n, Fatal: true, Err: fmt.Errorf("%w: %d of %d bytes", ErrTruncated, len(b), capLen)}
		}
		_, _ = r.br.Discard(capLen)
		data = b
	} else if d, perr := r.readRecord(capLen); perr != nil {
		return d, Info{}, perr
	} else {
		data = d
	}
	sec := r.order.Uint32(r.hdr[0:4])
	frac := r.order.Uint32(r.hdr[4:8])
	if !r.nsec {
		frac *= 1000
	}
	r.lastSec = sec
	return data, Info{
		Timestamp: time.Unix(int64(sec), int64(frac)).UTC(),
		CapLen:    capLen,
		OrigLen:   int(r.order.Uint32(r.hdr[12:16])),
		LinkType:  r.linkType,
	}, nil
}

// timeJump reports whether a header that failed the time check is
// otherwise sound and the record after it is plausible at its new time:
// captures joined from traces weeks apart jump in time, corrupt headers do
// not agree with the next one.
func (r *Reader) timeJump() bool {
	if len(r.pend) > 0 || !r.plausibleAfter(r.hdr[:], 0) {
		return false
	}
	capLen := int(r.order.Uint32(r.hdr[8:12]))
	next, err := r.br.Peek(capLen + 16)
	if err != nil {
		return errors.Is(err, io.EOF) && len(next) == capLen // the last record, whole
	}
	return r.plausibleAfter(next[capLen:], r.order.Uint32(r.hdr[0:4]))
}

func (r *Reader) readRecord(capLen int) ([]byte, *PacketError) {
	if cap(r.buf) < capLen {
		r.buf = make([]byte, capLen, max(capLen, 2048))
	}
	data := r.buf[:capLen]
	if m, err := r.readFull(data); err != nil {
		r.done = true
		return data[:m], &PacketError{Packet: r.n, Fatal: true, Err: fmt.Errorf("%w: %d of %d bytes: %v", ErrTruncated, m, capLen, err)}
	}
	return data, nil
}

// resync scans forward for a header that is plausible and is followed by
// another plausible header (or the end of input). Bytes of the rejected header
// after its first one stay candidates. The scan is bounded by resyncWindow.
func (r *Reader) resync() bool {
	carry := append([]byte(nil), r.hdr[1:]...)
	for scanned := 0; scanned < resyncWindow; {
		peek, perr := r.br.Peek(r.br.Size())
		eof := perr != nil
		win := append(append([]byte(nil), carry...), peek...)
		for i := 0; i+16 <= len(win); i++ {
			if !r.plausible(win[i:i+16]) || r.order.Uint32(win[i+8:i+12]) == 0 {
				continue
			}
			capLen := int(r.order.Uint32(win[i+8 : i+12]))
			next := i + 16 + capLen
			switch {
			case next+16 <= len(win):
				if !r.plausible(win[next : next+16]) {
					continue
				}
			case !eof:
				continue // cannot confirm inside this window; accept only with proof
			}
			// Found: keep win[i:] as the next input.
			if i < len(carry) {
				r.pend = append(r.pend[:0], carry[i:]...)
			} else {
				_, _ = r.br.Discard(i - len(carry))
			}
			return true
		}
		if eof || len(peek) == 0 {
			return false
		}
		keep := min(15, len(win))
		carry = append(carry[:0], win[len(win)-keep:]...)
		_, _ = r.br.Discard(len(peek))
		scanned += len(peek)
	}
	return false
}

// readFull reads len(p) bytes, first from bytes pushed back by resync.
func (r *Reader) readFull(p []byte) (int, error) {
	n := 0
	if len(r.pend) > 0 {
		n = copy(p, r.pend)
		r.pend = r.pend[n:]
		if n == len(p) {
			return n, nil
		}
	}
	m, err := io.ReadFull(r.br, p[n:])
	if err == io.EOF && n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n + m, err
}

// Close releases the gzip reader and the mapping, if any, and reports the
// final progress of OpenInput. It does not close the underlying reader or
// file, which belong to the caller.
func (r *Reader) Close() error {
	if r.mapped != nil {
		r.mapped.close()
		r.mapped = nil
	}
	if r.counter != nil && r.counter.progress != nil {
		r.counter.progress(r.counter.read)
		r.counter = nil
	}
	if r.gz != nil {
		return r.gz.Close()
	}
	return nil
}
