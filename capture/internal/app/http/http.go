// Package http parses HTTP/1.x conversations (both directions of one TCP
// stream) into transactions carrying the EVE http fields: method, hostname,
// URL, user agent, referer, status, content type, redirect, protocol and
// response body length, and each message body as a file (name, size after
// gzip/deflate decoding, gaps, state). It accepts requests without a protocol version
// (HTTP/0.9-style request lines) and CONNECT tunnels, after which the rest of
// the stream is handed back to the caller.
//
// Streams are untrusted: it must never panic, never buffer more than
// MaxHeader bytes of headers per message, and never keep more than
// MaxPending unanswered requests.
package http

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/firebreak-ir/firebreak/capture/internal/eve"
)

// Limits.
const (
	MaxHeader  = 32 << 10
	MaxPending = 64
	maxField   = 8 << 10
)

// File is a message body seen as a transferred file (an EVE fileinfo).
type File struct {
	Name string
	// Size counts entity bytes received (after gzip/deflate decoding when
	// the body was compressed and fitted in MaxCompressed).
	Size   int64
	Gaps   bool
	Closed bool // the body ended as announced (length, chunks or close)

	encoding string
	raw      []byte
	overflow bool
}

// MaxCompressed bounds the compressed body kept to measure its decoded
// size; MaxDecoded bounds the decoded size counted (decompression bombs).
const (
	MaxCompressed = 1 << 20
	MaxDecoded    = 64 << 20
)

func (f *File) write(b []byte) {
	f.Size += int64(len(b))
	if f.encoding == "" {
		return
	}
	if len(f.raw)+len(b) > MaxCompressed {
		f.overflow, f.raw = true, nil
		return
	}
	if !f.overflow {
		f.raw = append(f.raw, b...)
	}
}

// State is the EVE file state.
func (f *File) State() string {
	if f.Closed && !f.Gaps {
		return "CLOSED"
	}
	return "TRUNCATED"
}

// finish decodes a compressed body to count its entity size.
func (f *File) finish() {
	if f.encoding == "" || f.overflow || f.Gaps || len(f.raw) == 0 {
		f.raw = nil
		return
	}
	switch f.encoding {
	case "gzip":
		d, _ := gzipPool.Get().(*gzipDecoder)
		if d == nil {
			d = new(gzipDecoder)
		}
		d.src.Reset(f.raw)
		if err := d.z.Reset(&d.src); err == nil {
			f.count(&d.z)
		}
		d.src.Reset(nil)
		gzipPool.Put(d)
	case "deflate":
		d, _ := flatePool.Get().(*flateDecoder)
		if d == nil {
			d = new(flateDecoder)
			d.src.Reset(f.raw)
			d.z = flate.NewReader(&d.src)
		} else {
			d.src.Reset(f.raw)
			d.z.(flate.Resetter).Reset(&d.src, nil)
		}
		f.count(d.z)
		d.src.Reset(nil)
		flatePool.Put(d)
	}
	f.raw = nil
}

func (f *File) count(r io.Reader) {
	n, _ := io.Copy(io.Discard, io.LimitReader(r, MaxDecoded))
	if n > 0 {
		f.Size = n
	}
}

// Decoders are reused across bodies: each holds a 32 KiB window that is
// costly to allocate for every compressed response. They keep no data
// between uses (Reset starts afresh), so the pools only save memory.
var gzipPool, flatePool sync.Pool

type gzipDecoder struct {
	src bytes.Reader
	z   gzip.Reader
}

type flateDecoder struct {
	src bytes.Reader
	z   io.ReadCloser
}

func newFile(url string, encoding []byte) *File {
	name := url
	if i := strings.IndexAny(name, "?#"); i >= 0 {
		name = name[:i]
	}
	f := &File{Name: name}
	// ToLower can only turn a non-ASCII letter into ASCII for the Kelvin
	// sign (k), which none of these names has: ASCII folding is the same.
	switch e := bytes.TrimSpace(encoding); {
	case asciiFold(e, "gzip"), asciiFold(e, "x-gzip"):
		f.encoding = "gzip"
	case asciiFold(e, "deflate"):
		f.encoding = "deflate"
	}
	return f
}

// asciiFold reports whether b equals the lower-case ASCII string s when
// ASCII letters of b are lowered.
func asciiFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// Tx is one request/response transaction.
type Tx struct {
	ID   uint64
	HTTP eve.HTTP
	// ReqFile and RespFile are the request and response bodies, if any.
	ReqFile, RespFile *File
	// MissingProtocol is set when the request line had no version.
	MissingProtocol bool
	hasResponse     bool
	head            bool
	connect         bool
}

type bodyMode uint8

const (
	bodyNone bodyMode = iota
	bodyLength
	bodyChunked
	bodyClose
)

type dirState struct {
	hdr       []byte
	inBody    bool
	mode      bodyMode
	remaining int64
	chunkHdr  []byte
	inChunk   bool // reading chunk data (remaining counts it)
	chunkCRLF int  // bytes of CRLF after chunk data still to skip
	trailer   bool
	broken    bool
	lastBody  int
	sink      func([]byte) // receives entity bytes of the current body
}

// Conn is the HTTP state of one TCP connection.
type Conn struct {
	req, resp dirState
	pending   []*Tx // requests waiting for their response
	cur       *Tx   // response being read (body)
	reqFile   *File // request body being read
	last      *Tx   // response completed in this call (for trailing bytes)
	nextID    uint64
	tunnel    bool
	done      []*Tx
}

// Buffered returns the bytes the parser holds (partial headers, compressed
// bodies kept for decoding), for the caller's memory accounting.
func (c *Conn) Buffered() int {
	n := cap(c.req.hdr) + cap(c.resp.hdr) + cap(c.req.chunkHdr) + cap(c.resp.chunkHdr)
	if c.reqFile != nil {
		n += cap(c.reqFile.raw)
	}
	if c.cur != nil && c.cur.RespFile != nil {
		n += cap(c.cur.RespFile.raw)
	}
	return n
}

// Tunnel reports whether a CONNECT was accepted: later bytes are not HTTP.
func (c *Conn) Tunnel() bool { return c.tunnel }

// Data feeds stream bytes of one direction (toServer true for requests). gap
// reports bytes lost before data. It returns completed transactions and, once
// a CONNECT tunnel is up, the bytes of data that belong to the tunnel.
func (c *Conn) Data(toServer bool, data []byte, gap int) (done []*Tx, rest []byte) {
	c.done = c.done[:0]
	c.last = nil
	if c.tunnel {
		return nil, data
	}
	if toServer {
		rest = c.requests(data, gap)
	} else {
		rest = c.responses(data, gap)
	}
	return c.done, rest
}

// Close returns the transactions still open at the end of the flow.
func (c *Conn) Close() []*Tx {
	var out []*Tx
	if c.cur != nil {
		if f := c.cur.RespFile; f != nil {
			f.Closed = c.resp.inBody && c.resp.mode == bodyClose
			f.finish()
		}
		out = append(out, c.cur)
		c.cur = nil
	}
	out = append(out, c.pending...)
	c.pending = nil
	return out
}

var methods = [][]byte{[]byte("GET"), []byte("POST"), []byte("HEAD"), []byte("PUT"), []byte("DELETE"),
	[]byte("OPTIONS"), []byte("CONNECT"), []byte("TRACE"), []byte("PATCH"), []byte("PROPFIND"),
	[]byte("PROPPATCH"), []byte("MKCOL"), []byte("COPY"), []byte("MOVE"), []byte("LOCK"), []byte("UNLOCK"),
	[]byte("SEARCH"), []byte("REPORT"), []byte("SUBSCRIBE"), []byte("NOTIFY")}

// ProbeRequest reports whether b starts like an HTTP request.
func ProbeRequest(b []byte) bool {
	for _, m := range methods {
		if len(b) > len(m) && bytes.HasPrefix(b, m) && (b[len(m)] == ' ' || b[len(m)] == '\t') {
			return true
		}
	}
	return false
}

// ProbeResponse reports whether b starts like an HTTP response.
func ProbeResponse(b []byte) bool { return bytes.HasPrefix(b, []byte("HTTP/")) }

// headerEnd finds the blank line ending a header block, scanning from
// from (bytes before it were scanned by an earlier call).
func headerEnd(b []byte, from int) (int, int) {
	for i := max(from-3, 0); i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2, i
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3, i
		}
	}
	return -1, -1
}

func trimCR(b []byte) []byte {
	b = bytes.TrimRight(b, "\r")
	return bytes.TrimSpace(b)
}

func clip(b []byte) string {
	if len(b) > maxField {
		b = b[:maxField]
	}
	return eve.SafeString(b)
}

// requests consumes request bytes. Request bodies are skipped by length.
func (c *Conn) requests(data []byte, gap int) []byte {
	s := &c.req
	if gap > 0 {
		if c.reqFile != nil && s.inBody {
			c.reqFile.Gaps = true
			c.reqFile.Size += int64(gap)
		}
		if s.inBody && s.mode == bodyLength && int64(gap) <= s.remaining {
			s.remaining -= int64(gap)
		} else {
			*s = dirState{} // resynchronise on the next request line
			c.reqFile = nil
		}
	}
	for len(data) > 0 {
		if s.inBody {
			data = s.skipBody(data)
			if !s.inBody && c.reqFile != nil {
				c.reqFile.Closed = !s.broken
				c.reqFile.finish()
				c.reqFile, s.sink = nil, nil
			}
			continue
		}
		if len(s.hdr) == 0 {
			// Skip leading blank lines and junk until something that parses.
			data = bytes.TrimLeft(data, "\r\n")
			if len(data) == 0 {
				return nil
			}
		}
		scanned, b := s.header(data)
		end, _ := headerEnd(b, scanned)
		if end < 0 {
			// A bare request line without headers (HTTP/0.9) ends at one newline.
			if nl := bytes.IndexByte(b, '\n'); nl >= 0 && !bytes.Contains(b[:nl], []byte(" HTTP/")) && looks09(b, nl) {
				end = nl + 1
			}
		}
		if end < 0 {
			s.hold(data)
			return nil
		}
		// What follows the message (possibly including bytes buffered by
		// an earlier call) is parsed next.
		rest := s.after(b, data, scanned, end)
		c.request(b[:end])
		s.hdr = s.hdr[:0]
		data = rest
	}
	return nil
}

// header returns the header bytes so far: data itself when nothing is held
// (the usual case of a whole header in one segment, parsed in place), else
// the held bytes with data appended. scanned is how many were held.
func (s *dirState) header(data []byte) (scanned int, b []byte) {
	scanned = len(s.hdr)
	if scanned == 0 {
		return 0, data
	}
	s.hdr = append(s.hdr, data...)
	return scanned, s.hdr
}

// hold keeps data of an incomplete header (header already appended it if
// bytes were held), dropping the lot past MaxHeader.
func (s *dirState) hold(data []byte) {
	if len(s.hdr) == 0 {
		s.hdr = append(s.hdr, data...)
	}
	if len(s.hdr) > MaxHeader {
		s.hdr = s.hdr[:0]
	}
}

// after returns what follows a header ending at end of b (from header):
// part of data when the header ended in it, else a copy, as the held
// bytes are about to be reused.
func (s *dirState) after(b, data []byte, scanned, end int) []byte {
	if end >= scanned {
		return data[end-scanned:]
	}
	return append([]byte(nil), b[end:]...)
}

// looks09 reports whether a request line without a version is followed by
// something that is not a header line, i.e. the request is complete.
func looks09(b []byte, nl int) bool {
	rest := b[nl+1:]
	if len(rest) == 0 {
		return false // wait: headers may still come
	}
	line := rest
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		line = rest[:i]
	} else {
		return false
	}
	return bytes.IndexByte(line, ':') < 0
}

func (c *Conn) request(msg []byte) {
	line0, lines, _ := bytes.Cut(msg, []byte("\n"))
	first := trimCR(line0)
	parts := bytes.Fields(first)
	tx := &Tx{ID: c.nextID}
	c.nextID++
	if len(parts) >= 1 {
		tx.HTTP.HTTPMethod = clip(parts[0])
	}
	if len(parts) >= 2 {
		tx.HTTP.URL = clip(parts[1])
	}
	if len(parts) >= 3 {
		tx.HTTP.Protocol = clip(parts[len(parts)-1])
	} else {
		tx.MissingProtocol = true
	}
	tx.head = tx.HTTP.HTTPMethod == "HEAD"
	tx.connect = tx.HTTP.HTTPMethod == "CONNECT"
	var clen int64 = -1
	chunked := false
	var encoding []byte
	for len(lines) > 0 {
		var l []byte
		l, lines, _ = bytes.Cut(lines, []byte("\n"))
		l = trimCR(l)
		i := bytes.IndexByte(l, ':')
		if i <= 0 {
			continue
		}
		name, val := bytes.TrimSpace(l[:i]), bytes.TrimSpace(l[i+1:])
		switch {
		case bytes.EqualFold(name, []byte("content-encoding")):
			encoding = val
		case bytes.EqualFold(name, []byte("host")):
			if tx.HTTP.Hostname == "" {
				host, port := splitHost(val)
				tx.HTTP.Hostname = clip(host)
				tx.HTTP.HTTPPort = port
			}
		case bytes.EqualFold(name, []byte("user-agent")):
			tx.HTTP.HTTPUserAgent = clip(val)
		case bytes.EqualFold(name, []byte("referer")):
			tx.HTTP.HTTPRefer = clip(val)
		case bytes.EqualFold(name, []byte("x-forwarded-for")):
			tx.HTTP.XFF = clip(val)
		case bytes.EqualFold(name, []byte("content-length")):
			if n, err := strconv.ParseInt(string(val), 10, 64); err == nil && n >= 0 {
				clen = n
			}
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			chunked = bytes.Contains(bytes.ToLower(val), []byte("chunked"))
		}
	}
	// An absolute URI names the host when no Host header does.
	if u := tx.HTTP.URL; tx.HTTP.Hostname == "" {
		if i := indexScheme(u); i > 0 {
			rest := u[i:]
			if j := bytes.IndexAny([]byte(rest), "/?#"); j >= 0 {
				rest = rest[:j]
			}
			host, port := splitHost([]byte(rest))
			tx.HTTP.Hostname, tx.HTTP.HTTPPort = string(host), port
		} else if tx.connect {
			host, port := splitHost([]byte(u))
			tx.HTTP.Hostname, tx.HTTP.HTTPPort = string(host), port
		}
	}
	s := &c.req
	switch {
	case chunked:
		s.inBody, s.mode = true, bodyChunked
	case clen > 0:
		s.inBody, s.mode, s.remaining = true, bodyLength, clen
	}
	if s.inBody {
		tx.ReqFile = newFile(tx.HTTP.URL, encoding)
		s.sink = tx.ReqFile.write
		c.reqFile = tx.ReqFile
	}
	if len(c.pending) >= MaxPending {
		c.done = append(c.done, c.pending[0])
		c.pending = c.pending[1:]
	}
	c.pending = append(c.pending, tx)
}

func indexScheme(u string) int {
	for _, p := range []string{"http://", "https://"} {
		if len(u) > len(p) && (u[:len(p)] == p || bytes.EqualFold([]byte(u[:len(p)]), []byte(p))) {
			return len(p)
		}
	}
	return -1
}

func splitHost(v []byte) ([]byte, uint16) {
	if len(v) > 0 && v[0] == '[' {
		if i := bytes.IndexByte(v, ']'); i > 0 {
			host := v[1:i]
			if i+1 < len(v) && v[i+1] == ':' {
				if p, err := strconv.ParseUint(string(v[i+2:]), 10, 16); err == nil {
					return host, uint16(p)
				}
			}
			return host, 0
		}
	}
	if i := bytes.LastIndexByte(v, ':'); i > 0 && bytes.IndexByte(v[:i], ':') < 0 {
		if p, err := strconv.ParseUint(string(v[i+1:]), 10, 16); err == nil {
			return v[:i], uint16(p)
		}
		return v[:i], 0
	}
	return v, 0
}

func (c *Conn) responses(data []byte, gap int) []byte {
	s := &c.resp
	if gap > 0 {
		if c.cur != nil && c.cur.RespFile != nil && s.inBody {
			// As libhtp, the file size counts the missing bytes too.
			c.cur.RespFile.Gaps = true
			c.cur.RespFile.Size += int64(gap)
		}
		switch {
		case s.inBody && (s.mode == bodyClose || (s.mode == bodyLength && int64(gap) <= s.remaining)):
			if s.mode == bodyLength {
				s.remaining -= int64(gap)
			}
		case s.inBody && s.mode == bodyChunked && s.inChunk && int64(gap) <= s.remaining:
			s.remaining -= int64(gap)
		default:
			if c.cur != nil {
				c.done = append(c.done, c.cur)
				c.cur = nil
			}
			*s = dirState{}
		}
	}
	for len(data) > 0 {
		if s.inBody {
			data = s.skipBody(data)
			if c.cur != nil {
				c.cur.HTTP.Length += int64(s.lastBody)
			}
			if !s.inBody {
				c.finish()
			}
			continue
		}
		if len(s.hdr) == 0 {
			trimmed := bytes.TrimLeft(data, "\r\n")
			if n := len(data) - len(trimmed); n > 0 && c.last != nil && c.last.RespFile != nil {
				// libhtp counts line ends trailing a body (beyond its
				// Content-Length) as body data.
				c.last.RespFile.Size += int64(n)
			}
			data = trimmed
			if len(data) == 0 {
				return nil
			}
			if !ProbeResponse(data) && len(data) >= 5 {
				// Not a response line: drop the segment rather than misparse.
				return nil
			}
		}
		scanned, b := s.header(data)
		end, _ := headerEnd(b, scanned)
		if end < 0 {
			s.hold(data)
			return nil
		}
		rest := s.after(b, data, scanned, end)
		c.response(b[:end])
		s.hdr = s.hdr[:0]
		data = rest
		if c.tunnel {
			return append([]byte(nil), data...) // the caller's to keep
		}
		if !s.inBody {
			c.finish()
		}
	}
	return nil
}

func (c *Conn) finish() {
	if c.cur != nil {
		if f := c.cur.RespFile; f != nil {
			f.Closed = !c.resp.broken
			f.finish()
		}
		c.resp.sink = nil
		c.done = append(c.done, c.cur)
		c.last = c.cur
		c.cur = nil
	}
}

func (c *Conn) response(msg []byte) {
	line0, lines, _ := bytes.Cut(msg, []byte("\n"))
	first := trimCR(line0)
	// The first two of the line's parts split at spaces (at most three).
	proto, after, twoParts := bytes.Cut(first, []byte(" "))
	status := 0
	if twoParts {
		code, _, _ := bytes.Cut(after, []byte(" "))
		status, _ = strconv.Atoi(string(code))
	}
	if status >= 100 && status < 200 && status != 101 {
		return // interim response; the real one follows
	}
	var tx *Tx
	if len(c.pending) > 0 {
		tx = c.pending[0]
		c.pending = c.pending[1:]
	} else {
		tx = &Tx{ID: c.nextID} // response without a request seen
		c.nextID++
	}
	tx.hasResponse = true
	tx.HTTP.Status = status
	if tx.HTTP.Protocol == "" && !tx.MissingProtocol {
		tx.HTTP.Protocol = clip(proto)
	}
	var clen int64 = -1
	chunked := false
	var encoding []byte
	for len(lines) > 0 {
		var l []byte
		l, lines, _ = bytes.Cut(lines, []byte("\n"))
		l = trimCR(l)
		i := bytes.IndexByte(l, ':')
		if i <= 0 {
			continue
		}
		name, val := bytes.TrimSpace(l[:i]), bytes.TrimSpace(l[i+1:])
		switch {
		case bytes.EqualFold(name, []byte("content-encoding")):
			encoding = val
		case bytes.EqualFold(name, []byte("content-type")):
			ct := val
			if j := bytes.IndexByte(ct, ';'); j >= 0 {
				ct = bytes.TrimSpace(ct[:j])
			}
			tx.HTTP.HTTPContentType = clip(ct)
		case bytes.EqualFold(name, []byte("location")):
			tx.HTTP.Redirect = clip(val)
		case bytes.EqualFold(name, []byte("content-length")):
			if n, err := strconv.ParseInt(string(val), 10, 64); err == nil && n >= 0 {
				clen = n
			}
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			chunked = bytes.Contains(bytes.ToLower(val), []byte("chunked"))
		}
	}
	c.cur = tx
	s := &c.resp
	switch {
	case tx.connect && status >= 200 && status < 300:
		c.tunnel = true
		c.finish()
		return
	case tx.head || status == 204 || status == 304 || status == 101:
	case chunked:
		s.inBody, s.mode = true, bodyChunked
	case clen > 0:
		s.inBody, s.mode, s.remaining = true, bodyLength, clen
	case clen == 0:
	default:
		s.inBody, s.mode = true, bodyClose
	}
	if s.inBody {
		tx.RespFile = newFile(tx.HTTP.URL, encoding)
		s.sink = tx.RespFile.write
	}
}

func (s *dirState) feed(b []byte) {
	if s.sink != nil && len(b) > 0 {
		s.sink(b)
	}
}

// skipBody consumes body bytes and returns what follows the body. The number
// of body (entity) bytes consumed is left in lastBody.
func (s *dirState) skipBody(data []byte) []byte {
	s.lastBody = 0
	switch s.mode {
	case bodyLength:
		n := int64(len(data))
		if n > s.remaining {
			n = s.remaining
		}
		s.remaining -= n
		s.lastBody = int(n)
		s.feed(data[:n])
		if s.remaining == 0 {
			s.inBody = false
		}
		return data[n:]
	case bodyClose:
		s.lastBody = len(data)
		s.feed(data)
		return nil
	case bodyChunked:
		for len(data) > 0 {
			switch {
			case s.chunkCRLF > 0:
				if data[0] == '\r' || data[0] == '\n' {
					if data[0] == '\n' {
						s.chunkCRLF = 0
					}
					data = data[1:]
					continue
				}
				s.chunkCRLF = 0
			case s.inChunk:
				n := int64(len(data))
				if n > s.remaining {
					n = s.remaining
				}
				s.remaining -= n
				s.lastBody += int(n)
				s.feed(data[:n])
				data = data[n:]
				if s.remaining == 0 {
					s.inChunk = false
					s.chunkCRLF = 1
				}
			case s.trailer:
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					s.chunkHdr = append(s.chunkHdr, data...)
					if len(s.chunkHdr) > MaxHeader {
						s.broken = true
						s.inBody = false
					}
					return nil
				}
				line := trimCR(append(s.chunkHdr, data[:i]...))
				s.chunkHdr = s.chunkHdr[:0]
				data = data[i+1:]
				if len(line) == 0 {
					s.trailer, s.inBody = false, false
					return data
				}
			default:
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					s.chunkHdr = append(s.chunkHdr, data...)
					if len(s.chunkHdr) > 1024 {
						s.inBody, s.broken = false, true
					}
					return nil
				}
				line := trimCR(append(s.chunkHdr, data[:i]...))
				s.chunkHdr = s.chunkHdr[:0]
				data = data[i+1:]
				if j := bytes.IndexByte(line, ';'); j >= 0 {
					line = line[:j]
				}
				if len(line) == 0 {
					continue
				}
				n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
				if err != nil || n < 0 {
					s.inBody, s.broken = false, true
					return data
				}
				if n == 0 {
					s.trailer = true
					continue
				}
				s.inChunk, s.remaining = true, n
			}
		}
		return nil
	}
	s.inBody = false
	return data
}
