package bpf

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

type token struct {
	s   string
	pos int
}

// lex splits an expression into words and the operators ( ) ! && ||.
func lex(expr string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '!':
			toks = append(toks, token{expr[i : i+1], i})
			i++
		case c == '&' || c == '|':
			if i+1 >= len(expr) || expr[i+1] != c {
				return nil, &Error{Expr: expr, Pos: i, Msg: fmt.Sprintf("'%c' (arithmetic and byte-offset expressions)", c), Err: ErrUnsupported}
			}
			toks = append(toks, token{expr[i : i+2], i})
			i += 2
		default:
			j := i
			for j < len(expr) && !strings.ContainsRune(" \t\n\r()!&|", rune(expr[j])) {
				j++
			}
			toks = append(toks, token{expr[i:j], i})
			i = j
		}
	}
	return toks, nil
}

type nodeKind int

const (
	nAnd nodeKind = iota
	nOr
	nNot
	nPrim
)

type node struct {
	kind nodeKind
	l, r *node // nAnd, nOr; l for nNot
	p    prim  // nPrim
}

type primKind int

const (
	pProto primKind = iota // ip, ip6, arp, tcp, udp, icmp, icmp6
	pHost
	pNet
	pPort
	pPortRange
	pVLAN
	pEther
)

type dir int

const (
	dirDefault dir = iota
	dirSrc
	dirDst
)

// prim is one primitive with everything code generation needs, including
// the link-layer offset shift that preceding "vlan" primitives caused.
type prim struct {
	kind   primKind
	proto  string // "", ip, ip6, arp, tcp, udp, icmp, icmp6
	dir    dir
	prefix netip.Prefix // pHost, pNet
	lo, hi uint32       // pPort (lo), pPortRange, pVLAN (lo, hasVID)
	hasVID bool
	mac    net.HardwareAddr
	shift  uint32 // bytes added to the link-layer type and payload offsets by earlier vlan
	meta   bool   // pVLAN: test the tag the Linux kernel moved into packet metadata
}

// qual remembers the qualifiers of the last primitive with a value, for
// libpcap's "port 80 or 443" shorthand.
type qual struct {
	kind  primKind
	proto string
	dir   dir
}

type parser struct {
	expr  string
	toks  []token
	i     int
	shift uint32
	last  *qual
	// linux: the first vlan primitive reads the outer tag from packet
	// metadata (where the kernel put it) and shifts nothing.
	linux, sawVLAN bool
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].s
	}
	return ""
}

func (p *parser) pos() int {
	if p.i < len(p.toks) {
		return p.toks[p.i].pos
	}
	return len(p.expr)
}

func (p *parser) errf(err error, format string, args ...any) error {
	return &Error{Expr: p.expr, Pos: p.pos(), Msg: fmt.Sprintf(format, args...), Err: err}
}

func (p *parser) unsupported(what string) error {
	return &Error{Expr: p.expr, Pos: p.pos(), Msg: fmt.Sprintf("'%s'", what), Err: ErrUnsupported}
}

func parse(expr string, linux bool) (*node, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, nil
	}
	p := &parser{expr: expr, toks: toks, linux: linux}
	n, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		if p.peek() == ")" {
			return nil, p.errf(ErrSyntax, "unbalanced ')'")
		}
		return nil, p.unsupported(p.peek())
	}
	return n, nil
}

func isAnd(s string) bool { return s == "and" || s == "&&" }
func isOr(s string) bool  { return s == "or" || s == "||" }
func isNot(s string) bool { return s == "not" || s == "!" }

func (p *parser) parseExpr() (*node, error) {
	l, err := p.parseUnary(false)
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		var k nodeKind
		switch {
		case isAnd(op):
			k = nAnd
		case isOr(op):
			k = nOr
		default:
			return l, nil
		}
		p.i++
		r, err := p.parseUnary(true)
		if err != nil {
			return nil, err
		}
		l = &node{kind: k, l: l, r: r}
	}
}

// parseUnary parses a negation, a parenthesised expression or a primitive.
// afterOp allows libpcap's bare-value shorthand.
func (p *parser) parseUnary(afterOp bool) (*node, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, p.errf(ErrSyntax, "expression ends early")
	case isNot(t):
		p.i++
		x, err := p.parseUnary(afterOp)
		if err != nil {
			return nil, err
		}
		return &node{kind: nNot, l: x}, nil
	case t == "(":
		p.i++
		x, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, p.errf(ErrSyntax, "missing ')'")
		}
		p.i++
		return x, nil
	case t == ")":
		return nil, p.errf(ErrSyntax, "unexpected ')'")
	case isAnd(t) || isOr(t):
		return nil, p.errf(ErrSyntax, "unexpected %q", t)
	}
	pr, err := p.parsePrim(afterOp)
	if err != nil {
		return nil, err
	}
	return &node{kind: nPrim, p: pr}, nil
}

func (p *parser) next() string {
	t := p.peek()
	if t != "" {
		p.i++
	}
	return t
}

// isValueStart reports whether a word can only be a value, not a keyword.
func isValueStart(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	return (c >= '0' && c <= '9') || strings.Contains(s, ":") || strings.Contains(s, ".")
}

func (p *parser) parsePrim(afterOp bool) (prim, error) {
	t := p.peek()
	if afterOp && p.last != nil && isValueStart(t) {
		return p.parseValue(*p.last)
	}
	switch t {
	case "ether":
		p.i++
		q := qual{kind: pEther}
		switch p.next() {
		case "host":
		case "src":
			q.dir = dirSrc
			if p.peek() == "host" {
				p.i++
			}
		case "dst":
			q.dir = dirDst
			if p.peek() == "host" {
				p.i++
			}
		default:
			p.i--
			return prim{}, p.unsupported("ether " + p.peek())
		}
		return p.parseValue(q)
	case "vlan":
		p.i++
		pr := prim{kind: pVLAN, shift: p.shift}
		if v := p.peek(); v != "" && v[0] >= '0' && v[0] <= '9' {
			n, err := strconv.ParseUint(v, 0, 32)
			if err != nil || n > 4095 {
				return prim{}, p.errf(ErrSyntax, "VLAN ID %q out of range 0-4095", v)
			}
			p.i++
			pr.lo, pr.hasVID = uint32(n), true
		}
		if p.linux && !p.sawVLAN {
			pr.meta = true
		} else {
			p.shift += 4
		}
		p.sawVLAN = true
		return pr, nil
	}
	q := qual{kind: -1}
	switch t {
	case "ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6":
		q.proto = t
		p.i++
	}
	switch p.peek() {
	case "src", "dst":
		if p.peek() == "src" {
			q.dir = dirSrc
		} else {
			q.dir = dirDst
		}
		p.i++
		if isAnd(p.peek()) || isOr(p.peek()) {
			if n := p.i + 1; n < len(p.toks) && (p.toks[n].s == "src" || p.toks[n].s == "dst") {
				return prim{}, p.unsupported("src or dst / src and dst")
			}
		}
	}
	switch p.peek() {
	case "host":
		q.kind = pHost
	case "net":
		q.kind = pNet
	case "port":
		q.kind = pPort
	case "portrange":
		q.kind = pPortRange
	}
	if q.kind >= 0 {
		p.i++
	} else if q.dir != dirDefault {
		q.kind = pHost // "src 10.0.0.1" means "src host 10.0.0.1"
	}
	if q.kind < 0 {
		if q.proto != "" {
			return prim{kind: pProto, proto: q.proto, shift: p.shift}, nil
		}
		if t == "" {
			return prim{}, p.errf(ErrSyntax, "expression ends early")
		}
		return prim{}, p.unsupported(t)
	}
	switch q.kind {
	case pHost, pNet:
		if q.proto != "" && q.proto != "ip" && q.proto != "ip6" && q.proto != "arp" {
			return prim{}, p.unsupported(q.proto + " " + kindName(q.kind))
		}
	case pPort, pPortRange:
		if q.proto != "" && q.proto != "tcp" && q.proto != "udp" {
			return prim{}, p.unsupported(q.proto + " " + kindName(q.kind))
		}
	}
	return p.parseValue(q)
}

func kindName(k primKind) string {
	return map[primKind]string{pHost: "host", pNet: "net", pPort: "port", pPortRange: "portrange", pEther: "ether"}[k]
}

func (p *parser) parseValue(q qual) (prim, error) {
	v := p.peek()
	if v == "" || v == "(" || v == ")" || isNot(v) || isAnd(v) || isOr(v) {
		return prim{}, p.errf(ErrSyntax, "%s needs a value", kindName(q.kind))
	}
	pr := prim{kind: q.kind, proto: q.proto, dir: q.dir, shift: p.shift}
	switch q.kind {
	case pEther:
		mac, err := net.ParseMAC(v)
		if err != nil || len(mac) != 6 {
			return prim{}, p.unsupported("ether address " + v)
		}
		pr.mac = mac
	case pHost:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return prim{}, p.unsupported("host " + v + " (only IPv4 and IPv6 literals, no names)")
		}
		pr.prefix = netip.PrefixFrom(a, a.BitLen())
	case pNet:
		var pf netip.Prefix
		var err error
		if strings.Contains(v, "/") {
			pf, err = netip.ParsePrefix(v)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(v); err == nil {
				pf = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || pf.Addr().Zone() != "" {
			return prim{}, p.unsupported("net " + v + " (only a.b.c.d/n and IPv6/n)")
		}
		if pf.Masked() != pf {
			return prim{}, p.errf(ErrSyntax, "non-network bits set in %q", v)
		}
		pr.prefix = pf
	case pPort:
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return prim{}, p.unsupported("port " + v + " (only numbers 0-65535, no service names)")
		}
		pr.lo = uint32(n)
	case pPortRange:
		a, b, ok := strings.Cut(v, "-")
		lo, err1 := strconv.ParseUint(a, 10, 16)
		hi, err2 := strconv.ParseUint(b, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			return prim{}, p.unsupported("portrange " + v + " (only N-M with numbers 0-65535)")
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		pr.lo, pr.hi = uint32(lo), uint32(hi)
	}
	if q.kind == pHost || q.kind == pNet {
		is4 := pr.prefix.Addr().Is4()
		if (q.proto == "ip" || q.proto == "arp") && !is4 {
			return prim{}, p.errf(ErrSyntax, "%s %s needs an IPv4 address, got %q", q.proto, kindName(q.kind), v)
		}
		if q.proto == "ip6" && is4 {
			return prim{}, p.errf(ErrSyntax, "ip6 %s needs an IPv6 address, got %q", kindName(q.kind), v)
		}
	}
	p.i++
	p.last = &q
	return pr, nil
}
