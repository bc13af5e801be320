package bpf

import (
	"errors"
	"fmt"
)

// Errors returned by Compile (match with errors.Is).
var (
	// ErrUnsupported marks a construct outside the supported subset.
	ErrUnsupported = errors.New("filter: not supported")
	// ErrSyntax marks a malformed expression (unbalanced parentheses, a
	// missing value, a bad address).
	ErrSyntax = errors.New("filter: syntax error")
	// ErrRejectsAll marks an expression that can never match, which
	// libpcap also refuses ("expression rejects all packets").
	ErrRejectsAll = errors.New("filter: expression rejects all packets")
	// ErrTooComplex marks an expression whose program would need a jump
	// longer than classic BPF can encode or more instructions than the
	// kernel accepts.
	ErrTooComplex = errors.New("filter: program too large")
)

// Error is a compile error with the position of the offending token.
type Error struct {
	Expr string // the whole expression
	Pos  int    // byte offset of the offending token in Expr
	Msg  string // what is wrong, for a human
	Err  error  // ErrUnsupported, ErrSyntax or ErrTooComplex
}

func (e *Error) Error() string {
	if errors.Is(e.Err, ErrRejectsAll) {
		return fmt.Sprintf("filter: %q rejects all packets", e.Expr)
	}
	if errors.Is(e.Err, ErrUnsupported) {
		return fmt.Sprintf("filter: %s is not supported; supported: %s", e.Msg, Supported)
	}
	return fmt.Sprintf("filter: %s (at offset %d in %q)", e.Msg, e.Pos, e.Expr)
}

func (e *Error) Unwrap() error { return e.Err }

// Supported is the one-line summary of the accepted grammar used in error
// messages.
const Supported = "ip, ip6, arp, tcp, udp, icmp, icmp6, [ip|ip6|arp] [src|dst] host ADDR, " +
	"[ip|ip6|arp] [src|dst] net CIDR, [tcp|udp] [src|dst] port N, [tcp|udp] [src|dst] portrange A-B, " +
	"vlan [N], ether host|src|dst MAC, combined with and/&&, or/||, not/! and parentheses"
