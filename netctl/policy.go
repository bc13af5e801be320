package netctl

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Policy is one isolation: what to cut off, what still to let through,
// and why. Times are absolute so that a restarted daemon continues the
// same TTL and confirm deadline.
type Policy struct {
	ID         string
	Target     Target
	Exceptions []Exception

	Reason   string
	CaseID   string
	Approver string
	// Force records that the engineer overrode Check's concerns.
	Force bool

	Created time.Time
	// Expires ends the isolation (TTL); zero means no TTL.
	Expires time.Time
	// ConfirmBy is the commit-confirm deadline: unless Confirmed is set
	// by then, the isolation is rolled back. Zero means no confirmation
	// is needed.
	ConfirmBy time.Time
	Confirmed bool
}

// Target is what a policy isolates. In bridge and router mode, Prefix
// and/or MAC; in port mode, Link. When both Prefix and MAC are set (the
// host's address and the MAC it was seen with), bridge mode drops the
// address's IPv4/IPv6 and ARP and every frame from or to the MAC, which
// also stops its IPv6 link-local traffic and NDP. With an address alone,
// the host keeps whatever it can do from other addresses (IPv6
// link-local above all), so the caller should add the MAC it knows from
// the capture path; Set warns when it is missing.
type Target struct {
	Prefix netip.Prefix
	MAC    net.HardwareAddr
	Link   string
}

// IsZero reports whether t names nothing.
func (t Target) IsZero() bool { return !t.Prefix.IsValid() && len(t.MAC) == 0 && t.Link == "" }

func (t Target) String() string {
	var parts []string
	if t.Prefix.IsValid() {
		parts = append(parts, prefixString(t.Prefix))
	}
	if len(t.MAC) > 0 {
		parts = append(parts, t.MAC.String())
	}
	if t.Link != "" {
		parts = append(parts, "link "+t.Link)
	}
	return strings.Join(parts, " ")
}

func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// ParseTarget parses an IPv4 or IPv6 address, a CIDR, a MAC address, or
// "link:NAME" for port mode.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if name, ok := strings.CutPrefix(s, "link:"); ok && name != "" {
		return Target{Link: name}, nil
	}
	if p, err := parsePrefix(s); err == nil {
		return Target{Prefix: p}, nil
	}
	if hw, err := net.ParseMAC(s); err == nil && len(hw) == 6 {
		return Target{MAC: hw}, nil
	}
	return Target{}, fmt.Errorf("target %q: want an IP address, CIDR, MAC or link:NAME: %w", s, ErrInvalidTarget)
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("zone not allowed")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("zone not allowed")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Exception is traffic a policy still allows between its target and Peer:
// everything when Port is zero, otherwise the target's connections to
// Peer's Port (and their replies) over Proto, or over both TCP and UDP
// when Proto is empty. ARP between the target and Peer is allowed too, so
// the exception keeps working once neighbour caches expire.
type Exception struct {
	Peer  netip.Prefix
	Port  uint16
	Proto string // "tcp", "udp" or "" for both
}

func (e Exception) String() string {
	var s string
	if e.Port == 0 {
		s = prefixString(e.Peer)
	} else if e.Peer.Addr().Is6() {
		s = "[" + prefixString(e.Peer) + "]:" + strconv.Itoa(int(e.Port))
	} else {
		s = prefixString(e.Peer) + ":" + strconv.Itoa(int(e.Port))
	}
	if e.Proto != "" {
		s += "/" + e.Proto
	}
	return s
}

// ParseException parses ADDR, CIDR, ADDR:PORT, [V6ADDR]:PORT, each
// optionally followed by /tcp or /udp when a port is given.
func ParseException(s string) (Exception, error) {
	bad := func(why string) (Exception, error) {
		return Exception{}, fmt.Errorf("exception %q: %s: %w", s, why, ErrInvalidTarget)
	}
	rest := strings.TrimSpace(s)
	var e Exception
	if base, proto, ok := strings.Cut(rest, "/"); ok && (proto == "tcp" || proto == "udp") {
		e.Proto, rest = proto, base
	}
	if p, err := parsePrefix(rest); err == nil {
		if e.Proto != "" {
			return bad("a protocol needs a port")
		}
		e.Peer = p
		return e, nil
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return bad("want ADDR, CIDR or ADDR:PORT")
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return bad("bad address")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return bad("bad port")
	}
	a = a.Unmap()
	e.Peer, e.Port = netip.PrefixFrom(a, a.BitLen()), uint16(n)
	return e, nil
}

// Validate checks a policy on its own, without regard to a mode.
func (p Policy) Validate() error {
	if p.ID == "" {
		return fmt.Errorf("policy without ID: %w", ErrInvalidPolicy)
	}
	if p.Target.IsZero() {
		return fmt.Errorf("policy %s: no target: %w", p.ID, ErrInvalidPolicy)
	}
	if p.Target.Link != "" && (p.Target.Prefix.IsValid() || len(p.Target.MAC) > 0) {
		return fmt.Errorf("policy %s: a link target cannot also name an address: %w", p.ID, ErrInvalidPolicy)
	}
	if len(p.Target.MAC) != 0 && len(p.Target.MAC) != 6 {
		return fmt.Errorf("policy %s: MAC %s is not Ethernet: %w", p.ID, p.Target.MAC, ErrInvalidPolicy)
	}
	if p.Target.Prefix.IsValid() && p.Target.Prefix.Bits() == 0 {
		return fmt.Errorf("policy %s: target %s would isolate everything: %w", p.ID, p.Target.Prefix, ErrInvalidPolicy)
	}
	for _, e := range p.Exceptions {
		if !e.Peer.IsValid() {
			return fmt.Errorf("policy %s: exception without address: %w", p.ID, ErrInvalidPolicy)
		}
		if e.Proto != "" && e.Proto != "tcp" && e.Proto != "udp" {
			return fmt.Errorf("policy %s: exception %s: protocol %q: %w", p.ID, e, e.Proto, ErrInvalidPolicy)
		}
		if e.Proto != "" && e.Port == 0 {
			return fmt.Errorf("policy %s: exception %s: a protocol needs a port: %w", p.ID, e, ErrInvalidPolicy)
		}
		if p.Target.Link != "" {
			return fmt.Errorf("policy %s: a link target cannot have exceptions: %w", p.ID, ErrInvalidPolicy)
		}
	}
	return nil
}
