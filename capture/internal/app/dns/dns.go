// Package dns parses DNS messages (over UDP, or one message of a TCP
// stream after its length prefix) into the EVE v3 dns object: queries,
// answers, authorities, rcodes and rdata as Suricata prints them.
//
// Messages are untrusted: the parser must never panic, never follow more
// than a bounded number of compression pointers, and never keep more than
// MaxRecords records per section or MaxName bytes per name.
package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/firebreak-ir/firebreak/capture/internal/eve"
)

// Limits.
const (
	MaxName    = 1025 // longer names are cut and flagged rrname_truncated
	MaxRecords = 256
	maxJumps   = 64
)

// Errors.
var (
	ErrShort   = errors.New("dns: message too short")
	ErrName    = errors.New("dns: bad name")
	ErrRecord  = errors.New("dns: bad record")
	ErrHeader  = errors.New("dns: implausible header")
	errPointer = errors.New("dns: pointer loop")
)

var typeNames = map[uint16]string{
	1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR", 10: "NULL",
	11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB",
	19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAPPTR", 24: "SIG", 25: "KEY", 26: "PX",
	27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX",
	37: "CERT", 38: "A6", 39: "DNAME", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY",
	46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA",
	55: "HIP", 59: "CDS", 60: "CDNSKEY", 64: "SVCB", 65: "HTTPS", 99: "SPF", 249: "TKEY", 250: "TSIG",
	251: "IXFR", 252: "AXFR", 255: "ANY", 256: "URI", 257: "CAA", 32768: "TA", 32769: "DLV",
}

// TypeName returns the mnemonic of an rrtype, or its number.
func TypeName(t uint16) string {
	if int(t) < len(lowTypeNames) {
		if n := lowTypeNames[t]; n != "" {
			return n
		}
	} else if n, ok := typeNames[t]; ok {
		return n
	}
	return strconv.Itoa(int(t))
}

// lowTypeNames indexes the names of the common types (below 256), looked
// up for every record.
var lowTypeNames = func() (names [256]string) {
	for t, n := range typeNames {
		if int(t) < len(names) {
			names[t] = n
		}
	}
	return names
}()

var rcodeNames = []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
	"YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}

// RCodeName returns the mnemonic of an rcode.
func RCodeName(c uint16) string {
	if int(c) < len(rcodeNames) {
		return rcodeNames[c]
	}
	return strconv.Itoa(int(c))
}

// Header returns the ID and flags of a message.
func Header(b []byte) (id, flags uint16, ok bool) {
	if len(b) < 12 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:]), true
}

// Probe reports whether b plausibly starts a DNS message: a sane header and
// a question section that parses.
func Probe(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	flags := binary.BigEndian.Uint16(b[2:])
	qd := binary.BigEndian.Uint16(b[4:])
	if qd == 0 || (flags>>11)&0xf > 6 {
		return false
	}
	// Only the first question: b may be the first segment of a long message.
	n, err := skipName(b, 12)
	return err == nil && n+4 <= len(b)
}

// skipName returns the offset after the name at off, checking it as name
// does but without building it.
func skipName(b []byte, off int) (int, error) {
	end := -1
	for jumps := 0; ; {
		if off >= len(b) {
			return 0, ErrName
		}
		l := int(b[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			return end, nil
		case l&0xc0 == 0xc0:
			if off+1 >= len(b) {
				return 0, ErrName
			}
			if end < 0 {
				end = off + 2
			}
			jumps++
			if jumps > maxJumps {
				return 0, errPointer
			}
			off = int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
		case l&0xc0 != 0:
			return 0, ErrName
		default:
			if off+1+l > len(b) {
				return 0, ErrName
			}
			off += 1 + l
		}
	}
}

// parser holds one message and the scratch space its names are built in,
// so that a name costs one allocation (its string) or none when it repeats
// a recent one, as answer names usually repeat the question.
type parser struct {
	b      []byte
	buf    [MaxName + 64]byte
	recent [4]string // names built from valid UTF-8, most recent first
}

// name reads a possibly compressed name at off. It returns the name, whether
// it was truncated, and the offset after it in the original position.
func (p *parser) name(off int) (string, bool, int, error) {
	out := p.buf[:0]
	truncated := false
	end := -1
	jumps := 0
	for {
		if off >= len(p.b) {
			return "", false, 0, ErrName
		}
		l := int(p.b[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			if len(out) == 0 {
				return "<root>", truncated, end, nil
			}
			return p.intern(out), truncated, end, nil
		case l&0xc0 == 0xc0:
			if off+1 >= len(p.b) {
				return "", false, 0, ErrName
			}
			if end < 0 {
				end = off + 2
			}
			jumps++
			if jumps > maxJumps {
				return "", false, 0, errPointer
			}
			off = int(binary.BigEndian.Uint16(p.b[off:]) & 0x3fff)
		case l&0xc0 != 0:
			return "", false, 0, ErrName
		default:
			if off+1+l > len(p.b) {
				return "", false, 0, ErrName
			}
			if !truncated {
				if len(out) > 0 {
					out = append(out, '.')
				}
				out = append(out, p.b[off+1:off+1+l]...)
				if len(out) > MaxName {
					out = out[:MaxName]
					truncated = true
				}
			}
			off += 1 + l
		}
	}
}

// intern returns the string of a built name, reusing a recent equal one.
// Only strings of valid UTF-8 are remembered: for them the bytes and the
// string are the same, so equal bytes give the same string.
func (p *parser) intern(b []byte) string {
	for _, s := range p.recent {
		if s != "" && string(b) == s {
			return s
		}
	}
	s := eve.SafeString(b)
	if len(s) == len(b) {
		copy(p.recent[1:], p.recent[:])
		p.recent[0] = s
	}
	return s
}

// flagStrings holds the hexadecimal flags of ordinary messages (opcode and
// Z clear), indexed by flagIndex, so that formatting them costs nothing.
var flagStrings = func() []string {
	out := make([]string, 1<<11)
	for i := range out {
		out[i] = strconv.FormatUint(uint64(flagValue(i)), 16)
	}
	return out
}()

const flagMask = 0x8000 | 0x07b0 | 0xf // QR, AA TC RD RA AD CD, rcode

func flagIndex(f uint16) int {
	return int(f>>15)<<10 | int(f>>7&0xf)<<6 | int(f>>4&3)<<4 | int(f&0xf)
}

func flagValue(i int) uint16 {
	return uint16(i>>10)<<15 | uint16(i>>6&0xf)<<7 | uint16(i>>4&3)<<4 | uint16(i&0xf)
}

func flagString(f uint16) string {
	if f&^flagMask == 0 {
		return flagStrings[flagIndex(f)]
	}
	return strconv.FormatUint(uint64(f), 16)
}

// Parse decodes a whole message into the EVE dns object.
func Parse(b []byte) (*eve.DNS, error) {
	if len(b) < 12 {
		return nil, ErrShort
	}
	p := parser{b: b}
	id := binary.BigEndian.Uint16(b)
	flags := binary.BigEndian.Uint16(b[2:])
	counts := [4]int{}
	for i := range counts {
		counts[i] = int(binary.BigEndian.Uint16(b[4+2*i:]))
	}
	d := &eve.DNS{
		Version: 3,
		ID:      id,
		Flags:   flagString(flags),
		QR:      flags&0x8000 != 0,
		AA:      flags&0x0400 != 0,
		TC:      flags&0x0200 != 0,
		RD:      flags&0x0100 != 0,
		RA:      flags&0x0080 != 0,
		Z:       flags&0x0040 != 0,
		AD:      flags&0x0020 != 0,
		CD:      flags&0x0010 != 0,
		Opcode:  uint8(flags>>11) & 0xf,
	}
	if d.QR {
		d.Type = "response"
		d.RCode = RCodeName(flags & 0xf)
	} else {
		d.Type = "request"
	}
	off := 12
	if counts[0] > 0 {
		// A question takes at least 5 bytes: the count cannot claim more.
		d.Queries = make([]eve.DNSQuery, 0, min(counts[0], MaxRecords, (len(b)-off)/5))
	}
	for i := range counts[0] {
		name, trunc, n, err := p.name(off)
		if err != nil || n+4 > len(b) {
			return nil, fmt.Errorf("question %d: %w", i, ErrName)
		}
		if len(d.Queries) < MaxRecords {
			d.Queries = append(d.Queries, eve.DNSQuery{RRName: name, RRType: TypeName(binary.BigEndian.Uint16(b[n:])), RRNameTruncated: trunc})
		}
		off = n + 4
	}
	if !d.QR {
		return d, nil
	}
	var err error
	if d.Answers, off, err = p.records(off, counts[1]); err != nil {
		return d, nil // keep what parsed, as Suricata logs partial responses
	}
	d.Grouped = group(d.Answers)
	if counts[2] > 0 {
		d.Authorities, _, _ = p.records(off, counts[2])
	}
	return d, nil
}

// group returns the rdata of the answers by rrtype, in answer order, or nil
// if none has rdata. All lists share one backing array, each capped at its
// length so that appending to one never writes into the next.
func group(answers []eve.DNSAnswer) map[string][]string {
	var types [8]string
	var counts [8]int
	nt, total := 0, 0
	for _, a := range answers {
		if a.RData == nil {
			continue
		}
		total++
		j := 0
		for j < nt && types[j] != a.RRType {
			j++
		}
		if j == len(types) {
			return groupMap(answers) // unusually many types: the plain way
		}
		if j == nt {
			types[j] = a.RRType
			nt++
		}
		counts[j]++
	}
	if total == 0 {
		return nil
	}
	all := make([]string, total)
	var lists [8][]string
	at := 0
	for j := range nt {
		lists[j] = all[at : at : at+counts[j]]
		at += counts[j]
	}
	for _, a := range answers {
		if a.RData == nil {
			continue
		}
		j := 0
		for types[j] != a.RRType {
			j++
		}
		lists[j] = append(lists[j], *a.RData)
	}
	m := make(map[string][]string, nt)
	for j := range nt {
		m[types[j]] = lists[j]
	}
	return m
}

func groupMap(answers []eve.DNSAnswer) map[string][]string {
	m := make(map[string][]string)
	for _, a := range answers {
		if a.RData != nil {
			m[a.RRType] = append(m[a.RRType], *a.RData)
		}
	}
	return m
}

func (p *parser) records(off, n int) ([]eve.DNSAnswer, int, error) {
	var out []eve.DNSAnswer
	// The rdata strings the answers point to, allocated together. A record
	// takes at least 11 bytes: the count cannot claim more than that. TXT
	// records may add answers, which then grow both slices.
	var rdata []string
	if n > 0 {
		est := min(n, MaxRecords, (len(p.b)-off)/11)
		out = make([]eve.DNSAnswer, 0, est)
		rdata = make([]string, 0, est)
	}
	str := func(s string) *string {
		rdata = append(rdata, s)
		return &rdata[len(rdata)-1]
	}
	for i := 0; i < n; i++ {
		name, trunc, m, err := p.name(off)
		if err != nil || m+10 > len(p.b) {
			return out, off, ErrRecord
		}
		typ := binary.BigEndian.Uint16(p.b[m:])
		ttl := binary.BigEndian.Uint32(p.b[m+4:])
		rdlen := int(binary.BigEndian.Uint16(p.b[m+8:]))
		rstart := m + 10
		if rstart+rdlen > len(p.b) {
			return out, off, ErrRecord
		}
		off = rstart + rdlen
		if typ == 41 { // OPT pseudo-record
			continue
		}
		if len(out) >= MaxRecords {
			continue
		}
		base := eve.DNSAnswer{RRName: name, RRType: TypeName(typ), TTL: ttl, RRNameTruncated: trunc}
		rd := p.b[rstart : rstart+rdlen]
		switch typ {
		case 1:
			if len(rd) == 4 {
				base.RData = str(netip.AddrFrom4([4]byte(rd)).String())
			}
		case 28:
			if len(rd) == 16 {
				base.RData = str(eve.IP(netip.AddrFrom16([16]byte(rd))))
			}
		case 2, 3, 4, 5, 7, 8, 9, 12, 39:
			if s, _, _, err := p.name(rstart); err == nil {
				base.RData = str(s)
			}
		case 15:
			if len(rd) > 2 {
				if s, _, _, err := p.name(rstart + 2); err == nil {
					base.RData = str(s)
				}
			}
		case 6:
			mname, _, n1, err1 := p.name(rstart)
			if err1 == nil {
				rname, _, n2, err2 := p.name(n1)
				if err2 == nil && n2+20 <= len(p.b) {
					u := func(i int) uint32 { return binary.BigEndian.Uint32(p.b[n2+4*i:]) }
					base.SOA = &eve.SOA{MName: mname, RName: rname, Serial: u(0), Refresh: u(1), Retry: u(2), Expire: u(3), Minimum: u(4)}
				}
			}
		case 33:
			if len(rd) > 6 {
				if s, _, _, err := p.name(rstart + 6); err == nil {
					base.SRV = &eve.SRV{Priority: binary.BigEndian.Uint16(rd), Weight: binary.BigEndian.Uint16(rd[2:]),
						Port: binary.BigEndian.Uint16(rd[4:]), Name: s}
				}
			}
		case 44:
			if len(rd) >= 2 {
				const hx = "0123456789abcdef"
				fp := make([]byte, 0, 3*len(rd))
				for j, c := range rd[2:] {
					if j > 0 {
						fp = append(fp, ':')
					}
					fp = append(fp, hx[c>>4], hx[c&15])
				}
				base.SSHFP = &eve.SSHFP{Algo: rd[0], Type: rd[1], Fingerprint: string(fp)}
			}
		case 16, 99: // one answer per character-string
			for len(rd) > 0 {
				l := int(rd[0])
				if 1+l > len(rd) {
					break
				}
				a := base
				a.RData = str(eve.SafeString(rd[1 : 1+l]))
				out = append(out, a)
				rd = rd[1+l:]
			}
			continue
		default:
			base.RData = str(eve.SafeString(rd))
		}
		out = append(out, base)
	}
	return out, off, nil
}
