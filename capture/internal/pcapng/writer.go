package pcapng

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Interface describes one capture interface; its index in
// Options.Interfaces is the interface index passed to WritePacket.
type Interface struct {
	Name     string
	Filter   string // the filter expression, recorded in if_filter
	LinkType uint16 // 0 means Ethernet (1)
	Snaplen  uint32 // 0 means 262144
}

// Options configures a Writer. Zero values mean the documented defaults.
type Options struct {
	// Dir receives the segments. Required; it must exist.
	Dir string
	// Prefix starts every segment name; "" means "capture".
	Prefix string
	// MaxBytes rotates before a segment would grow past this size;
	// 0 means 1 GiB.
	MaxBytes int64
	// MaxDuration rotates when packet time is this far past the segment's
	// first packet; 0 means 15 minutes, negative disables.
	MaxDuration time.Duration
	// Interfaces, in the order of the indexes given to WritePacket.
	Interfaces []Interface
	// CaseID and ApplianceID go into every section header comment.
	CaseID, ApplianceID string
	// Hardware, OS and UserAppl fill shb_hardware, shb_os and
	// shb_userappl; "" means the machine architecture, the kernel
	// (uname) and "firebreak".
	Hardware, OS, UserAppl string
	// MinFree is the disk watermark in bytes; 0 means 1 GiB.
	MinFree uint64
	// CheckEvery is how many bytes may be written between statfs checks;
	// 0 means 8 MiB.
	CheckEvery int64
	// Drops, when set, returns cumulative kernel drop counts per
	// interface (same order as Interfaces); each sealed segment carries
	// the drops since the previous seal.
	Drops func() []uint64
	// OnSeal is called, from the goroutine that caused it, after each
	// segment is sealed.
	OnSeal func(Segment)
	// OnWatermark is called once when recording stops at the watermark,
	// after the last segment is sealed.
	OnWatermark func(free uint64)
}

// Segment describes one sealed segment.
type Segment struct {
	Path        string
	SHA256      string // hex, of the bytes written
	Size        int64
	Packets     uint64
	First, Last time.Time // packet times
	// KernelDrops per interface since the previous seal (nil without
	// Options.Drops).
	KernelDrops []uint64
	// Reason the segment ended: "size", "time", "close", "watermark", or
	// "recovered" for a segment found by Recover.
	Reason string
	// Truncated is set by Recover for a file that ends inside a block.
	Truncated bool
}

// Writer records packets into rotating segments. It is safe for
// concurrent use.
type Writer struct {
	mu   sync.Mutex
	opts Options

	seq       int
	cur       *segment
	lastDrops []uint64
	stopped   bool // watermark reached
	closed    bool

	checkedAt int64 // bytes written when free space was last checked
	written   int64 // bytes written by this writer, all segments
	scratch   []byte
}

type segment struct {
	tmp, base   string
	f           *os.File
	bw          *bufio.Writer
	h           hash.Hash
	size        int64
	packets     uint64
	perIface    []uint64
	first, last time.Time
}

const (
	defaultSnaplen = 262144
	bufSize        = 256 << 10
)

// Create validates options and returns a Writer; no file is created until
// the first packet.
func Create(opts Options) (*Writer, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("pcapng: no directory")
	}
	if st, err := os.Stat(opts.Dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("pcapng: %s is not a directory: %v", opts.Dir, err)
	}
	if len(opts.Interfaces) == 0 {
		return nil, fmt.Errorf("pcapng: no interfaces")
	}
	if opts.Prefix == "" {
		opts.Prefix = "capture"
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 30
	}
	if opts.MaxDuration == 0 {
		opts.MaxDuration = 15 * time.Minute
	}
	if opts.MinFree == 0 {
		opts.MinFree = 1 << 30
	}
	if opts.CheckEvery <= 0 {
		opts.CheckEvery = 8 << 20
	}
	if opts.Hardware == "" {
		opts.Hardware = runtime.GOARCH
	}
	if opts.OS == "" {
		var u unix.Utsname
		opts.OS = runtime.GOOS
		if unix.Uname(&u) == nil {
			opts.OS = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
		}
	}
	if opts.UserAppl == "" {
		opts.UserAppl = "firebreak"
	}
	for i := range opts.Interfaces {
		if opts.Interfaces[i].LinkType == 0 {
			opts.Interfaces[i].LinkType = 1
		}
		if opts.Interfaces[i].Snaplen == 0 {
			opts.Interfaces[i].Snaplen = defaultSnaplen
		}
	}
	w := &Writer{opts: opts, checkedAt: -1}
	// Continue numbering after whatever an earlier run left in Dir
	// (sealed, partial or recovered), so a restart never reuses a name.
	ents, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pcapng: %w", err)
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), opts.Prefix+"-")
		if !ok || len(rest) < 6 {
			continue
		}
		if n, err := strconv.Atoi(rest[:6]); err == nil && n > w.seq {
			w.seq = n
		}
	}
	if opts.Drops != nil {
		w.lastDrops = opts.Drops()
	}
	return w, nil
}

// WritePacket appends one packet captured on interface iface at ts, of
// origLen bytes on the wire. data is not retained.
func (w *Writer) WritePacket(ts time.Time, iface int, data []byte, origLen int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closed:
		return ErrClosed
	case w.stopped:
		return ErrWatermark
	case iface < 0 || iface >= len(w.opts.Interfaces):
		return fmt.Errorf("%w: %d", ErrInterface, iface)
	case uint32(len(data)) > w.opts.Interfaces[iface].Snaplen:
		return fmt.Errorf("%w: %d > %d", ErrTooLarge, len(data), w.opts.Interfaces[iface].Snaplen)
	}
	blockLen := 32 + pad4(len(data))
	if c := w.cur; c != nil && c.packets > 0 {
		switch {
		case c.size+int64(blockLen) > w.opts.MaxBytes:
			if err := w.seal("size"); err != nil {
				return err
			}
		case w.opts.MaxDuration > 0 && !ts.Before(c.first.Add(w.opts.MaxDuration)):
			if err := w.seal("time"); err != nil {
				return err
			}
		}
	}
	if err := w.checkSpace(int64(blockLen) + 4096); err != nil {
		return err
	}
	if w.cur == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	c := w.cur
	b := w.scratch[:0]
	b = le32(b, 6)
	b = le32(b, uint32(blockLen))
	b = le32(b, uint32(iface))
	ns := uint64(ts.UnixNano())
	b = le32(b, uint32(ns>>32))
	b = le32(b, uint32(ns))
	b = le32(b, uint32(len(data)))
	b = le32(b, uint32(max(origLen, len(data))))
	b = append(b, data...)
	b = append(b, make([]byte, pad4(len(data))-len(data))...)
	b = le32(b, uint32(blockLen))
	w.scratch = b
	if err := c.write(b); err != nil {
		return err
	}
	w.written += int64(len(b))
	if c.packets == 0 || ts.Before(c.first) {
		c.first = ts
	}
	if ts.After(c.last) {
		c.last = ts
	}
	c.packets++
	c.perIface[iface]++
	return nil
}

func (c *segment) write(b []byte) error {
	c.h.Write(b)
	if _, err := c.bw.Write(b); err != nil {
		return fmt.Errorf("pcapng: write %s: %w", c.tmp, err)
	}
	c.size += int64(len(b))
	return nil
}

// checkSpace stops recording when writing up to CheckEvery more bytes
// (plus what is buffered and about to be written) could take free space
// below MinFree.
func (w *Writer) checkSpace(next int64) error {
	if w.checkedAt >= 0 && w.written-w.checkedAt+next < w.opts.CheckEvery {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(w.opts.Dir, &st); err != nil {
		return fmt.Errorf("pcapng: statfs %s: %w", w.opts.Dir, err)
	}
	free := st.Bavail * uint64(st.Bsize)
	buffered := int64(0)
	if w.cur != nil {
		buffered = int64(w.cur.bw.Buffered())
	}
	// Room needed until the next check: CheckEvery bytes, the buffer not
	// yet on disk, a section header for a new segment, and a filesystem
	// block of slack per file for rounding.
	need := w.opts.MinFree + uint64(w.opts.CheckEvery+buffered+next) + 2*uint64(st.Bsize) + 4096
	w.checkedAt = w.written
	if free >= need {
		return nil
	}
	if w.cur != nil {
		if err := w.seal("watermark"); err != nil {
			return err
		}
	}
	w.stopped = true
	if w.opts.OnWatermark != nil {
		w.opts.OnWatermark(free)
	}
	return ErrWatermark
}

func (w *Writer) open() error {
	w.seq++
	base := fmt.Sprintf("%s-%06d", w.opts.Prefix, w.seq)
	tmp := filepath.Join(w.opts.Dir, base+".pcapng.partial")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("pcapng: create segment: %w", err)
	}
	c := &segment{tmp: tmp, base: base, f: f, bw: bufio.NewWriterSize(f, bufSize), h: sha256.New(),
		perIface: make([]uint64, len(w.opts.Interfaces))}
	if err := c.write(w.headers()); err != nil {
		f.Close()
		return err
	}
	w.written += c.size
	w.cur = c
	return nil
}

// headers renders the Section Header Block and one Interface Description
// Block per interface.
func (w *Writer) headers() []byte {
	var names, filters []string
	for _, in := range w.opts.Interfaces {
		names = append(names, in.Name)
		filters = append(filters, in.Filter)
	}
	comment := fmt.Sprintf("Firebreak evidence segment %d\ninterfaces: %s\nfilter: %s\ncase: %s\nappliance: %s",
		w.seq, strings.Join(names, ", "), strings.Join(uniq(filters), " | "), w.opts.CaseID, w.opts.ApplianceID)
	var opt []byte
	opt = option(opt, 1, comment)
	opt = option(opt, 2, w.opts.Hardware)
	opt = option(opt, 3, w.opts.OS)
	opt = option(opt, 4, w.opts.UserAppl)
	opt = le32(opt, 0) // opt_endofopt
	body := le32(nil, 0x1A2B3C4D)
	body = binary.LittleEndian.AppendUint16(body, 1)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint64(body, ^uint64(0)) // section length unknown
	out := block(nil, 0x0A0D0D0A, append(body, opt...))
	for _, in := range w.opts.Interfaces {
		var o []byte
		o = option(o, 2, in.Name)
		if in.Filter != "" {
			o = option(o, 11, "\x00"+in.Filter) // first byte 0: a libpcap filter string
		}
		o = option(o, 9, "\x09") // if_tsresol: 10^-9
		o = le32(o, 0)
		b := binary.LittleEndian.AppendUint16(nil, in.LinkType)
		b = binary.LittleEndian.AppendUint16(b, 0)
		b = le32(b, in.Snaplen)
		out = block(out, 1, append(b, o...))
	}
	return out
}

func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if v != "" && (len(out) == 0 || out[len(out)-1] != v) {
			out = append(out, v)
		}
	}
	return out
}

func block(dst []byte, typ uint32, body []byte) []byte {
	n := uint32(12 + len(body))
	dst = le32(dst, typ)
	dst = le32(dst, n)
	dst = append(dst, body...)
	return le32(dst, n)
}

func option(dst []byte, code uint16, v string) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, code)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v)))
	dst = append(dst, v...)
	return append(dst, make([]byte, pad4(len(v))-len(v))...)
}

func le32(dst []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(dst, v) }
func pad4(n int) int                   { return (n + 3) &^ 3 }

// seal flushes, fsyncs, closes and renames the open segment, fsyncs the
// directory and reports the segment.
func (w *Writer) seal(reason string) error {
	c := w.cur
	w.cur = nil
	var drops []uint64
	if w.opts.Drops != nil {
		now := w.opts.Drops()
		drops = make([]uint64, len(now))
		for i := range now {
			if i < len(w.lastDrops) {
				drops[i] = now[i] - w.lastDrops[i]
			} else {
				drops[i] = now[i]
			}
		}
		w.lastDrops = now
	}
	// Interface Statistics Blocks close the section, so the drop counts
	// travel inside the evidence file itself.
	if err := c.write(w.statistics(c, drops)); err != nil {
		c.f.Close()
		return err
	}
	if err := c.bw.Flush(); err != nil {
		c.f.Close()
		return fmt.Errorf("pcapng: seal %s: %w", c.tmp, err)
	}
	if err := c.f.Sync(); err != nil {
		c.f.Close()
		return fmt.Errorf("pcapng: seal %s: %w", c.tmp, err)
	}
	if err := c.f.Close(); err != nil {
		return fmt.Errorf("pcapng: seal %s: %w", c.tmp, err)
	}
	final := filepath.Join(w.opts.Dir, c.base+".pcapng")
	// Never replace an existing file: sealed evidence is immutable.
	if err := renameNoReplace(c.tmp, final); err != nil {
		return fmt.Errorf("pcapng: seal %s: %w", c.tmp, err)
	}
	if d, err := os.Open(w.opts.Dir); err == nil {
		d.Sync()
		d.Close()
	}
	seg := Segment{Path: final, SHA256: hex.EncodeToString(c.h.Sum(nil)), Size: c.size, Packets: c.packets,
		First: c.first, Last: c.last, Reason: reason, KernelDrops: drops}
	if w.opts.OnSeal != nil {
		w.opts.OnSeal(seg)
	}
	return nil
}

// statistics renders one Interface Statistics Block per interface, stamped
// with the segment's last packet time: isb_starttime and isb_endtime (the
// segment's first and last packet), isb_ifdrop (kernel drops since the
// previous segment, when known, as dumpcap records pcap_stats drops) and isb_usrdeliv (packets of that
// interface in the segment).
func (w *Writer) statistics(c *segment, drops []uint64) []byte {
	var out []byte
	ts := func(dst []byte, t time.Time) []byte {
		ns := uint64(t.UnixNano())
		return le32(le32(dst, uint32(ns>>32)), uint32(ns))
	}
	u64 := func(dst []byte, code uint16, v uint64) []byte {
		dst = binary.LittleEndian.AppendUint16(dst, code)
		dst = binary.LittleEndian.AppendUint16(dst, 8)
		return binary.LittleEndian.AppendUint64(dst, v)
	}
	for i := range w.opts.Interfaces {
		b := le32(nil, uint32(i))
		b = ts(b, c.last)
		b = binary.LittleEndian.AppendUint16(b, 2) // isb_starttime
		b = binary.LittleEndian.AppendUint16(b, 8)
		b = ts(b, c.first)
		b = binary.LittleEndian.AppendUint16(b, 3) // isb_endtime
		b = binary.LittleEndian.AppendUint16(b, 8)
		b = ts(b, c.last)
		if i < len(drops) {
			b = u64(b, 5, drops[i]) // isb_ifdrop, where dumpcap puts the kernel's drops
		}
		b = u64(b, 8, c.perIface[i]) // isb_usrdeliv
		b = le32(b, 0)
		out = block(out, 5, b)
	}
	return out
}

// Close seals the open segment, if any. It is safe to call twice.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.cur != nil {
		return w.seal("close")
	}
	return nil
}

// Stopped reports whether recording stopped at the disk watermark.
func (w *Writer) Stopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped
}

// renameNoReplace renames old to new and fails if new exists. Filesystems
// without RENAME_NOREPLACE get a hard link and an unlink instead, which
// fails the same way.
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS || err == unix.ENOTSUP {
		if err = os.Link(old, new); err == nil {
			err = os.Remove(old)
		}
	}
	return err
}
