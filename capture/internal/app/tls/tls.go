// Package tls parses the cleartext part of a TLS (or SSLv3) handshake from
// both directions of a TCP stream: SNI, negotiated version, JA3/JA3S (hash
// and string), JA4, and for TLS 1.2 and older the server and client
// certificate (subject, issuer, serial, SHA-1 fingerprint, validity, SANs).
// Records and handshake messages may be split over any number of segments.
// After the handshake it only follows record boundaries, to check
// heartbeat records (Heartbleed, CVE-2014-0160) without buffering them.
//
// It never decrypts anything and must never panic or buffer more than
// MaxHandshake bytes per direction; once a direction stops looking like TLS
// it is ignored.
package tls

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/firebreak-ir/firebreak/capture/internal/eve"
)

// Limits.
const (
	MaxRecord    = 1<<14 + 2048
	MaxHandshake = 64 << 10
)

type dir struct {
	v2     []byte
	v2done bool
	rec    []byte
	hs     []byte
	broken bool
}

// Conn is the TLS state of one connection.
type Conn struct {
	// Certificates adds the DER certificates (base64) to the event, as
	// Suricata's custom "certificate" and "chain" fields.
	Certificates bool
	d            [2]dir // 0 client, 1 server
	Event        eve.TLS
	SawClient    bool
	SawServer    bool
	serverVer    uint16
	Done         bool // handshake reached encrypted data: the event is ready
	logged       bool
	hsComplete   bool
	certReq      bool
	hb           heartbeats
}

// Probe reports whether b starts like a TLS/SSLv3 handshake record.
func Probe(b []byte) bool {
	return len(b) >= 3 && b[0] == 0x16 && b[1] == 3 && b[2] <= 4 || sslv2Hello(b)
}

// sslv2Hello reports whether b starts an SSLv2-format ClientHello (which
// clients still send for compatibility).
func sslv2Hello(b []byte) bool {
	return len(b) >= 5 && b[0]&0x80 != 0 && b[2] == 1 && (b[3] == 0 || b[3] == 3) && b[4] <= 4
}

// Data feeds stream bytes; fromClient selects the direction. It returns true
// when the event became ready with this call.
func (c *Conn) Data(fromClient bool, data []byte, gap int) bool {
	i := 1
	if fromClient {
		i = 0
	}
	d := &c.d[i]
	if gap > 0 {
		d.broken = true
	}
	if d.broken {
		return false
	}
	if c.Done {
		c.follow(i, data) // only heartbeats are of interest now
		return false
	}
	was := c.Done
	if fromClient && !c.SawClient && !d.v2done && len(d.rec) == 0 && (len(d.v2) > 0 || sslv2Hello(data)) {
		// SSLv2-format ClientHello: two-byte length with the high bit set.
		d.v2 = append(d.v2, data...)
		if len(d.v2) < 2 {
			return false
		}
		l := int(d.v2[0]&0x7f)<<8 | int(d.v2[1])
		if len(d.v2) < 2+l {
			if len(d.v2) > MaxRecord {
				d.broken = true
			}
			return false
		}
		c.SawClient = true
		d.v2done = true
		data = d.v2[2+l:]
		d.v2 = nil
	}
	for len(data) > 0 && !d.broken {
		if len(d.rec) == 0 && len(data) >= 5 {
			// A record wholly inside data is handled where it is; only a
			// record split over calls is assembled in d.rec.
			typ, major := data[0], data[1]
			l := int(binary.BigEndian.Uint16(data[3:5]))
			if typ < 20 || typ > 24 || major != 3 || l > MaxRecord {
				d.broken = true
				break
			}
			if len(data) >= 5+l {
				if l > 0 {
					c.record(i, typ, data[5:5+l])
				}
				data = data[5+l:]
				continue
			}
			if cap(d.rec) < 5+l {
				d.rec = make([]byte, 0, 5+l) // size the buffer once for the whole record
			}
		}
		need := 5
		if len(d.rec) >= 5 {
			need = 5 + int(binary.BigEndian.Uint16(d.rec[3:5]))
		}
		take := min(need-len(d.rec), len(data))
		d.rec = append(d.rec, data[:take]...)
		data = data[take:]
		if len(d.rec) == 5 {
			typ, major := d.rec[0], d.rec[1]
			l := int(binary.BigEndian.Uint16(d.rec[3:5]))
			if typ < 20 || typ > 24 || major != 3 || l > MaxRecord {
				d.broken = true
				break
			}
			if l == 0 {
				d.rec = d.rec[:0]
			} else if cap(d.rec) < 5+l {
				// Size the buffer once for the whole record.
				d.rec = append(make([]byte, 0, 5+l), d.rec...)
			}
			continue
		}
		if len(d.rec) == need && need > 5 {
			c.record(i, d.rec[0], d.rec[5:])
			d.rec = d.rec[:0]
		}
	}
	return !was && c.Done
}

func (c *Conn) record(side int, typ byte, body []byte) {
	d := &c.d[side]
	switch typ {
	case 22: // handshake
		if c.hsComplete && side == 0 && c.SawServer && c.serverVer == 0x0304 {
			return // encrypted handshake in TLS 1.3 is disguised as app data anyway
		}
		if len(d.hs)+len(body) > MaxHandshake {
			d.broken = true
			return
		}
		// Messages wholly inside body are handled where they are; only a
		// message split over records is assembled in d.hs.
		hs := body
		if len(d.hs) > 0 {
			d.hs = append(d.hs, body...)
			hs = d.hs
		}
		for len(hs) >= 4 {
			l := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
			if 4+l > len(hs) {
				if 4+l > MaxHandshake {
					d.broken = true
				}
				break
			}
			c.handshake(side, hs[0], hs[4:4+l])
			hs = hs[4+l:]
		}
		switch {
		case len(hs) == 0:
			d.hs = nil
		case len(d.hs) == 0:
			d.hs = append([]byte(nil), hs...)
		default:
			d.hs = hs
		}
	case 24:
		c.heartbeat(side, len(body), body[:min(3, len(body))], c.hb.w[side].enc)
	case 20, 23: // change cipher spec, application data: cleartext is over
		c.hb.w[side].enc = c.hb.w[side].enc || typ == 20
		if c.SawServer && c.SawClient {
			c.Done = true
		}
	}
}

func versionName(v uint16) string {
	switch {
	case v == 0x0200:
		return "SSLv2"
	case v == 0x0300:
		return "SSLv3"
	case v == 0x0301:
		return "TLSv1"
	case v == 0x0302:
		return "TLS 1.1"
	case v == 0x0303:
		return "TLS 1.2"
	case v == 0x0304:
		return "TLS 1.3"
	case v&0xff00 == 0x7f00:
		return "TLS 1.3 draft-" + strconv.Itoa(int(v&0xff))
	}
	return "UNDETERMINED"
}

func grease(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

type hello struct {
	version   uint16
	ciphers   []uint16
	exts      []uint16
	groups    []uint16
	points    []uint8
	sigalgs   []uint16
	alpn      []string
	versions  []uint16
	sni       string
	selected  uint16 // server: supported_versions
	cipherSel uint16
}

type reader struct {
	b   []byte
	bad bool
}

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.bad = true
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func parseHello(msg []byte, client bool) (*hello, bool) {
	r := &reader{b: msg}
	h := &hello{version: r.u16()}
	r.bytes(32)
	r.bytes(int(r.u8())) // session id
	if client {
		cs := &reader{b: r.bytes(int(r.u16()))}
		h.ciphers = make([]uint16, 0, len(cs.b)/2)
		for len(cs.b) >= 2 {
			h.ciphers = append(h.ciphers, cs.u16())
		}
		r.bytes(int(r.u8())) // compression
	} else {
		h.cipherSel = r.u16()
		r.u8()
	}
	if r.bad {
		return nil, false
	}
	if len(r.b) < 2 {
		return h, true
	}
	ext := &reader{b: r.bytes(int(r.u16()))}
	h.exts = make([]uint16, 0, len(ext.b)/4)
	for len(ext.b) >= 4 && !ext.bad {
		typ := ext.u16()
		body := &reader{b: ext.bytes(int(ext.u16()))}
		h.exts = append(h.exts, typ)
		switch typ {
		case 0:
			if client {
				list := &reader{b: body.bytes(int(body.u16()))}
				for len(list.b) >= 3 && !list.bad {
					kind := list.u8()
					name := list.bytes(int(list.u16()))
					if kind == 0 && h.sni == "" {
						h.sni = eve.SafeString(name)
					}
				}
			}
		case 10:
			list := &reader{b: body.bytes(int(body.u16()))}
			h.groups = slices.Grow(h.groups, len(list.b)/2)
			for len(list.b) >= 2 {
				h.groups = append(h.groups, list.u16())
			}
		case 11:
			h.points = append(h.points, body.bytes(int(body.u8()))...)
		case 13:
			list := &reader{b: body.bytes(int(body.u16()))}
			h.sigalgs = slices.Grow(h.sigalgs, len(list.b)/2)
			for len(list.b) >= 2 {
				h.sigalgs = append(h.sigalgs, list.u16())
			}
		case 16:
			list := &reader{b: body.bytes(int(body.u16()))}
			for len(list.b) >= 1 && !list.bad {
				p := list.bytes(int(list.u8()))
				if p != nil && len(h.alpn) == 0 { // JA4 only uses the first
					h.alpn = append(h.alpn, string(p))
				}
			}
		case 43:
			if client {
				list := &reader{b: body.bytes(int(body.u8()))}
				for len(list.b) >= 2 {
					h.versions = append(h.versions, list.u16())
				}
			} else {
				h.selected = body.u16()
			}
		}
	}
	return h, true
}

// appendJoin appends v as decimal numbers joined by '-', as JA3 lists them.
func appendJoin(b []byte, v []uint16, skipGrease bool) []byte {
	first := true
	for _, x := range v {
		if skipGrease && grease(x) {
			continue
		}
		if !first {
			b = append(b, '-')
		}
		first = false
		b = strconv.AppendUint(b, uint64(x), 10)
	}
	return b
}

// ja3 returns the fingerprint of a JA3 or JA3S string.
func ja3(s []byte) *eve.JA3 {
	sum := md5.Sum(s)
	return &eve.JA3{Hash: hex.EncodeToString(sum[:]), String: string(s)}
}

func (c *Conn) handshake(side int, typ byte, msg []byte) {
	switch {
	case typ == 1 && side == 0 && !c.SawClient:
		h, ok := parseHello(msg, true)
		if !ok {
			return
		}
		c.SawClient = true
		c.Event.SNI = h.sni
		var buf [512]byte
		s := strconv.AppendUint(buf[:0], uint64(h.version), 10)
		s = append(s, ',')
		s = appendJoin(s, h.ciphers, true)
		s = append(s, ',')
		s = appendJoin(s, h.exts, true)
		s = append(s, ',')
		s = appendJoin(s, h.groups, true)
		s = append(s, ',')
		for i, p := range h.points {
			if i > 0 {
				s = append(s, '-')
			}
			s = strconv.AppendUint(s, uint64(p), 10)
		}
		c.Event.JA3 = ja3(s)
		c.Event.JA4 = ja4(h)
	case typ == 2 && side == 1 && !c.SawServer:
		h, ok := parseHello(msg, false)
		if !ok {
			return
		}
		c.SawServer = true
		c.serverVer = h.version
		if h.selected != 0 {
			c.serverVer = h.selected
		}
		var buf [256]byte
		s := strconv.AppendUint(buf[:0], uint64(h.version), 10)
		s = append(s, ',')
		s = strconv.AppendUint(s, uint64(h.cipherSel), 10)
		s = append(s, ',')
		s = appendJoin(s, h.exts, false)
		c.Event.JA3S = ja3(s)
		if c.serverVer == 0x0304 || c.serverVer&0xff00 == 0x7f00 {
			c.hsComplete = true
		}
	case typ == 13 && side == 1: // certificate request: wait for the client's certificate
		c.certReq = true
	case typ == 14 && side == 1: // server hello done: the cleartext handshake is complete
		if !c.certReq && c.SawClient {
			c.Done = true
		}
	case typ == 11: // certificate (cleartext only before TLS 1.3)
		cert, ok := parseCertificates(msg, c.Certificates)
		if !ok {
			return
		}
		if side == 1 && c.Event.Subject == "" {
			c.Event.TLSCert = cert
		} else if side == 0 && c.Event.Client == nil {
			c.Event.Client = &cert
			c.Done = true
		}
	}
}

// Finish returns the EVE tls object, or nil if there was no handshake.
func (c *Conn) Finish() *eve.TLS {
	if c.logged || !c.SawClient && !c.SawServer {
		return nil
	}
	c.logged = true
	ev := c.Event
	ev.Version = versionName(c.serverVer)
	if !c.SawServer {
		ev.Version = "UNDETERMINED"
	}
	return &ev
}

// Buffered returns the bytes the parser holds, for memory accounting.
func (c *Conn) Buffered() int {
	n := 0
	for i := range c.d {
		n += cap(c.d[i].v2) + cap(c.d[i].rec) + cap(c.d[i].hs)
	}
	return n
}

// Logged reports whether Finish already returned the event.
func (c *Conn) Logged() bool { return c.logged }

func ja4(h *hello) string {
	ver := h.version
	if len(h.versions) > 0 {
		ver = 0
		for _, v := range h.versions {
			if !grease(v) && v > ver {
				ver = v
			}
		}
	}
	vs := "00"
	switch ver {
	case 0x0304:
		vs = "13"
	case 0x0303:
		vs = "12"
	case 0x0302:
		vs = "11"
	case 0x0301:
		vs = "10"
	case 0x0300:
		vs = "s3"
	case 0x0200:
		vs = "s2"
	case 0xfeff:
		vs = "d1"
	case 0xfefd:
		vs = "d2"
	case 0xfefc:
		vs = "d3"
	}
	sni := "i"
	if h.sni != "" {
		sni = "d"
	}
	// Fixed-width hex sorts like the numbers, so sort numbers and format once.
	var cb, eb, sb [128]uint16
	ciphers, exts, sig := cb[:0], eb[:0], sb[:0]
	for _, x := range h.ciphers {
		if !grease(x) {
			ciphers = append(ciphers, x)
		}
	}
	nExt := 0
	for _, x := range h.exts {
		if grease(x) {
			continue
		}
		nExt++
		if x != 0 && x != 16 {
			exts = append(exts, x)
		}
	}
	for _, x := range h.sigalgs {
		if !grease(x) {
			sig = append(sig, x)
		}
	}
	alpn := "00"
	if len(h.alpn) > 0 && len(h.alpn[0]) > 0 {
		a := h.alpn[0]
		f, l := a[0], a[len(a)-1]
		if isAlnum(f) && isAlnum(l) {
			alpn = string([]byte{f, l})
		} else {
			hx := hex.EncodeToString([]byte(a))
			alpn = string([]byte{hx[0], hx[len(hx)-1]})
		}
	}
	var hb [1024]byte // the lists to hash
	var out [36]byte
	b := out[:0]
	b = append(b, 't')
	b = append(b, vs...)
	b = append(b, sni...)
	b = append2d(b, min(len(ciphers), 99))
	b = append2d(b, min(nExt, 99))
	b = append(b, alpn...)
	slices.Sort(ciphers)
	slices.Sort(exts)
	b = append(b, '_')
	b = appendHash12(b, appendHexList(hb[:0], ciphers))
	b = append(b, '_')
	if len(exts) == 0 {
		b = append(b, "000000000000"...)
	} else {
		cs := appendHexList(hb[:0], exts)
		if len(sig) > 0 {
			cs = append(cs, '_')
			cs = appendHexList(cs, sig)
		}
		b = appendHash12(b, cs)
	}
	return string(b)
}

func append2d(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

func appendHexList(b []byte, v []uint16) []byte {
	const hx = "0123456789abcdef"
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, hx[x>>12], hx[x>>8&15], hx[x>>4&15], hx[x&15])
	}
	return b
}

func appendHash12(b, s []byte) []byte {
	if len(s) == 0 {
		return append(b, "000000000000"...)
	}
	sum := sha256.Sum256(s)
	return hex.AppendEncode(b, sum[:6])
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

var oidNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
	"2.5.4.5": "serialNumber", "2.5.4.9": "street", "2.5.4.17": "postalCode", "2.5.4.4": "SN",
	"2.5.4.42": "GN", "2.5.4.12": "title", "2.5.4.43": "initials", "2.5.4.46": "dnQualifier",
	"1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1": "UID", "2.5.4.15": "businessCategory",
	"1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC", "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
	"1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL",
}

// DN formats a distinguished name the way Suricata does: attributes in
// certificate order, "C=US, O=Example, CN=host".
func DN(rdn []byte) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(rdn, &seq); err != nil || len(rest) > 0 {
		return ""
	}
	var parts []string
	for _, set := range seq {
		for _, atv := range set {
			k := oidNames[atv.Type.String()]
			if k == "" {
				k = atv.Type.String()
			}
			parts = append(parts, k+"="+fmt.Sprint(atv.Value))
		}
	}
	return strings.Join(parts, ", ")
}

func colonHex(b []byte, upper bool) string {
	const lo, up = "0123456789abcdef", "0123456789ABCDEF"
	digits := lo
	if upper {
		digits = up
	}
	out := make([]byte, 0, len(b)*3)
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func parseCertificates(msg []byte, withDER bool) (eve.TLSCert, bool) {
	r := &reader{b: msg}
	total := int(r.u8())<<16 | int(r.u16())
	list := &reader{b: r.bytes(total)}
	if r.bad {
		return eve.TLSCert{}, false
	}
	var out eve.TLSCert
	first := true
	for len(list.b) >= 3 && !list.bad {
		l := int(list.u8())<<16 | int(list.u16())
		der := list.bytes(l)
		if der == nil {
			break
		}
		if withDER {
			out.Chain = append(out.Chain, base64.StdEncoding.EncodeToString(der))
		}
		if !first {
			continue
		}
		if withDER {
			out.Certificate = out.Chain[0]
		}
		first = false
		fp := sha1.Sum(der)
		if c, ok := certCache.get(fp); ok {
			c.Certificate, c.Chain = out.Certificate, out.Chain
			out = c
			continue
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return eve.TLSCert{}, false
		}
		defer certCache.put(fp, &out)
		out.Subject = DN(cert.RawSubject)
		out.IssuerDN = DN(cert.RawIssuer)
		serial := cert.SerialNumber.Bytes()
		if len(serial) == 0 || serial[0]&0x80 != 0 {
			serial = append([]byte{0}, serial...)
		}
		out.SerialNumber = colonHex(serial, true)
		out.Fingerprint = colonHex(fp[:], false)
		out.NotBefore = cert.NotBefore.UTC().Format("2006-01-02T15:04:05")
		out.NotAfter = cert.NotAfter.UTC().Format("2006-01-02T15:04:05")
		out.SubjectAltName = cert.DNSNames
	}
	return out, !first
}

// certCache remembers the parsed fields of recently seen certificates by
// SHA-1: the same server certificates come back in session after session.
var certCache = &lru{m: make(map[[20]byte]eve.TLSCert)}

type lru struct {
	mu sync.Mutex
	m  map[[20]byte]eve.TLSCert
}

const certCacheMax = 1024

func (l *lru) get(k [20]byte) (eve.TLSCert, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.m[k]
	if ok {
		c.SubjectAltName = append([]string(nil), c.SubjectAltName...)
	}
	return c, ok
}

func (l *lru) put(k [20]byte, c *eve.TLSCert) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= certCacheMax {
		clear(l.m) // crude, bounded; a full miss costs one parse per certificate
	}
	v := *c
	v.Certificate, v.Chain = "", nil
	v.SubjectAltName = append([]string(nil), c.SubjectAltName...)
	l.m[k] = v
}
