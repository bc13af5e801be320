package pcapio

import (
	"io"
	"os"
)

// source is what the reader reads records from: a bufio.Reader over the
// input, or a mapped file.
type source interface {
	io.Reader
	// Peek returns the next n bytes without consuming them; fewer, with
	// an error, at the end of input.
	Peek(n int) ([]byte, error)
	// Discard consumes n bytes.
	Discard(n int) (int, error)
	// Size bounds what Peek is asked for in one call.
	Size() int
}

// progressEvery is how often (in bytes read) OpenInput's progress is called.
const progressEvery = 1 << 20

// OpenInput is Open for the inputs of an analysis. A regular file is mapped
// into memory and its records are returned in place, without the copy a
// read makes; anything else (a pipe, stdin, a device) is read as Open reads
// it. progress, if not nil, is called with the bytes of r read so far, every
// MiB or so and at Close.
//
// A mapped file that another program truncates while it is read makes the
// next access to the lost pages fault: the goroutine reading the records,
// and any that touches their bytes, must run with debug.SetPanicOnFault so
// that the fault is a panic it can recover from, never a crash.
func OpenInput(r io.Reader, progress func(read int64)) (*Reader, error) {
	if f, ok := r.(*os.File); ok {
		if m := mapFile(f); m != nil {
			m.progress = progress
			rd, err := open(m)
			if err != nil {
				m.close()
				return nil, err
			}
			rd.mapped = m
			return rd, nil
		}
	}
	c := &counter{r: r, progress: progress}
	rd, err := Open(c)
	if err != nil {
		return nil, err
	}
	rd.counter = c
	return rd, nil
}

// counter reports the bytes read from an input that is not mapped.
type counter struct {
	r          io.Reader
	read, last int64
	progress   func(int64)
}

func (c *counter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.read += int64(n)
	if c.progress != nil && c.read-c.last >= progressEvery {
		c.last = c.read
		c.progress(c.read)
	}
	return n, err
}

// mapped is a file mapped into memory, read as a source.
type mapped struct {
	data     []byte
	off      int
	dropped  int // pages before this offset were returned to the kernel
	last     int // offset of the last progress report
	progress func(int64)
	unmap    func([]byte)
	release  func([]byte) // gives pages back
}

// window is the most Peek is asked for at once, as the buffer of the
// unmapped reader.
const window = 1 << 20

func (m *mapped) Size() int { return window }

func (m *mapped) Peek(n int) ([]byte, error) {
	rest := m.data[m.off:]
	if n > len(rest) {
		return rest, io.EOF
	}
	return rest[:n:n], nil
}

func (m *mapped) Discard(n int) (int, error) {
	var err error
	if n > len(m.data)-m.off {
		n, err = len(m.data)-m.off, io.EOF
	}
	m.advance(n)
	return n, err
}

func (m *mapped) Read(b []byte) (int, error) {
	if m.off >= len(m.data) {
		return 0, io.EOF
	}
	n := copy(b, m.data[m.off:])
	m.advance(n)
	return n, nil
}

// advance consumes n bytes, reports progress, and gives the pages read
// long ago back to the kernel, 16 MiB at a time, so that the file's pages
// resident in the process stay under 18 MiB whatever its size.
func (m *mapped) advance(n int) {
	m.off += n
	if m.progress != nil && m.off-m.last >= progressEvery {
		m.last = m.off
		m.progress(int64(m.off))
	}
	// Records are valid until the next call: anything a window behind the
	// offset is no longer referenced.
	if done := (m.off - window) &^ (window - 1); done-m.dropped >= 16*window {
		m.release(m.data[m.dropped:done])
		m.dropped = done
	}
}

func (m *mapped) close() {
	if m.progress != nil {
		m.progress(int64(m.off))
	}
	m.unmap(m.data)
	m.data = nil
}
