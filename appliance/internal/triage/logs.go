package triage

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/sdk"
)

// AccessRequest is one line of a web server's access log (Apache or nginx
// combined or common format).
type AccessRequest struct {
	Client    netip.Addr
	Time      time.Time
	Method    string
	URL       string
	Protocol  string
	Status    int
	Bytes     int64
	Referer   string
	UserAgent string
}

// ParseAccessLine reads one access-log line. A line wrapped in an extra
// pair of double quotes (as some exports do) is read too. ok is false for
// a line it does not understand.
func ParseAccessLine(line string) (r AccessRequest, ok bool) {
	line = strings.TrimSpace(line)
	if len(line) > 2 && line[0] == '"' && line[len(line)-1] == '"' && !strings.HasPrefix(line, `"-`) {
		if sp := strings.IndexByte(line, ' '); sp > 1 {
			if _, err := netip.ParseAddr(line[1:sp]); err == nil {
				line = line[1 : len(line)-1]
			}
		}
	}
	sp := strings.IndexByte(line, ' ')
	if sp <= 0 {
		return r, false
	}
	addr, err := netip.ParseAddr(line[:sp])
	if err != nil {
		return r, false
	}
	r.Client = addr.Unmap()
	lb := strings.IndexByte(line, '[')
	rb := strings.IndexByte(line, ']')
	if lb < 0 || rb < lb {
		return r, false
	}
	if t, err := time.Parse("02/Jan/2006:15:04:05 -0700", line[lb+1:rb]); err == nil {
		r.Time = t.UTC()
	}
	rest := line[rb+1:]
	req, rest, ok := quoted(rest)
	if !ok {
		return r, false
	}
	f := strings.Fields(req)
	switch len(f) {
	case 0:
		return r, false
	case 1:
		r.URL = f[0]
	case 2:
		r.Method, r.URL = f[0], f[1]
	default:
		r.Method, r.URL, r.Protocol = f[0], strings.Join(f[1:len(f)-1], " "), f[len(f)-1]
	}
	nums := strings.Fields(rest)
	if len(nums) >= 1 {
		if n, err := strconv.Atoi(nums[0]); err == nil && n >= 100 && n <= 999 {
			r.Status = n // an HTTP status has three digits; anything else is not one
		}
	}
	if len(nums) >= 2 {
		if n, err := strconv.ParseInt(nums[1], 10, 64); err == nil && n >= 0 {
			r.Bytes = n
		}
	}
	// referer and user agent follow, quoted
	if i := strings.IndexByte(rest, '"'); i >= 0 {
		var ref, ua string
		ref, rest, ok = quoted(rest[i:])
		if ok {
			r.Referer = ref
			if j := strings.IndexByte(rest, '"'); j >= 0 {
				ua, _, _ = quoted(rest[j:])
				r.UserAgent = ua
			}
		}
	}
	if r.Referer == "-" {
		r.Referer = ""
	}
	if r.UserAgent == "-" {
		r.UserAgent = ""
	}
	return r, true
}

// quoted reads a double-quoted string (backslash escapes kept as they
// are) at the start of s, after spaces; it returns the string and what
// follows it.
func quoted(s string) (string, string, bool) {
	s = strings.TrimLeft(s, " ")
	if s == "" || s[0] != '"' {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return s[1:i], s[i+1:], true
		}
	}
	return "", s, false
}

// appendHTTP adds a request as an ABI http record, as a web server saw
// it, with the log it came from.
func appendHTTP(b *sdk.Builder, r AccessRequest, source string) {
	b.Begin(sdk.Header{Kind: sdk.KindHTTP, Proto: 6, Time: r.Time.UnixNano(), Src: r.Client})
	b.Str(sdk.FieldHTTPMethod, r.Method)
	b.Str(sdk.FieldHTTPURL, r.URL)
	b.Str(sdk.FieldHTTPProtocol, r.Protocol)
	b.Str(sdk.FieldHTTPUserAgent, r.UserAgent)
	b.Str(sdk.FieldHTTPReferer, r.Referer)
	if r.Status > 0 {
		b.Uint(sdk.FieldHTTPStatus, uint64(r.Status))
	}
	b.Uint(sdk.FieldHTTPLength, uint64(max(r.Bytes, 0)))
	b.Str(sdk.FieldSource, source)
	b.End()
}

// utmpSize is a Linux utmp/wtmp record (struct utmp, glibc, 64-bit).
const utmpSize = 384

// utmp record types.
const (
	utUserProcess = 7
	utDeadProcess = 8
)

// Login is one wtmp or btmp record of a login.
type Login struct {
	Type int32
	User string
	Line string
	Host string
	Addr netip.Addr
	Time time.Time
}

// ParseWtmp reads wtmp/btmp records. A trailing partial record is
// ignored; records that are not logins are skipped.
func ParseWtmp(b []byte) []Login {
	var out []Login
	for len(b) >= utmpSize {
		rec := b[:utmpSize]
		b = b[utmpSize:]
		typ := int32(binary.LittleEndian.Uint32(rec[0:]))
		if typ != utUserProcess && typ != utDeadProcess {
			continue
		}
		l := Login{Type: typ, Line: cstr(rec[8:40]), User: cstr(rec[44:76]), Host: cstr(rec[76:332])}
		sec := int64(int32(binary.LittleEndian.Uint32(rec[340:])))
		usec := int64(int32(binary.LittleEndian.Uint32(rec[344:])))
		l.Time = time.Unix(sec, usec*1000).UTC()
		a := rec[348:364]
		if binary.LittleEndian.Uint32(a[4:]) == 0 && binary.LittleEndian.Uint64(a[8:]) == 0 {
			l.Addr = netip.AddrFrom4([4]byte(a[:4]))
		} else {
			l.Addr = netip.AddrFrom16([16]byte(a))
		}
		if typ == utUserProcess && l.User != "" {
			out = append(out, l)
		}
	}
	return out
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.ToValidUTF8(string(b), "?")
}

// appendLogin adds a login record as an auth_log line the authlog module
// reads: "wtmp login USER LINE HOST" (btmp: "btmp failed ...").
func appendLogin(b *sdk.Builder, kind, source string, l Login) {
	// ut_host is the client's name or address, or for a local terminal
	// multiplexer something like ":pts/9:S.0"; then the address field.
	host := l.Host
	if _, err := netip.ParseAddr(host); err != nil {
		host = "-"
		if l.Addr.IsValid() && !l.Addr.IsUnspecified() {
			host = l.Addr.String()
		}
	}
	verb := "login"
	if kind == "btmp" {
		verb = "failed"
	}
	b.Begin(sdk.Header{Kind: sdk.KindAuthLog, Time: l.Time.UnixNano()})
	b.Str(sdk.FieldLine, fmt.Sprintf("%s %s %s %s %s", kind, verb, field(l.User), field(l.Line), field(host)))
	b.Str(sdk.FieldSource, source)
	b.End()
}

// field makes a login field one word.
func field(s string) string {
	s = strings.Join(strings.Fields(s), "_")
	if s == "" {
		return "-"
	}
	return s
}

// maxLogBytes bounds how much of one log is read (decompressed).
const maxLogBytes = 256 << 20

// logBytes reads a log, gunzipping a rotated .gz one.
func logBytes(name string, r io.Reader) ([]byte, error) {
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	return io.ReadAll(io.LimitReader(r, maxLogBytes))
}
