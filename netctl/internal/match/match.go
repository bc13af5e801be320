// Package match is the classifier-neutral model of one tc match Firebreak
// installs on a bridge port, and its encodings as u32 and flower filters.
//
// It only builds and describes netlink filter objects; it must never talk
// to the kernel itself, so that the same encoding is used by the real
// kernel path and by the fake in unit tests.
package match

import (
	"fmt"
	"net/netip"
	"strings"
)

// Proto is the filter protocol (EtherType) a rule is attached to.
type Proto uint16

// Filter protocols, the EtherType values tc uses (ETH_P_*).
const (
	ProtoIPv4 Proto = 0x0800
	ProtoARP  Proto = 0x0806
	ProtoIPv6 Proto = 0x86DD
	ProtoAll  Proto = 0x0003
)

func (p Proto) String() string {
	switch p {
	case ProtoIPv4:
		return "ip"
	case ProtoARP:
		return "arp"
	case ProtoIPv6:
		return "ipv6"
	case ProtoAll:
		return "all"
	}
	return fmt.Sprintf("0x%04x", uint16(p))
}

// Verdict is what happens to a frame that matches.
type Verdict uint8

// Verdicts. Pass ends classification with TC_ACT_OK (the frame is
// forwarded normally); Drop discards it.
const (
	Pass Verdict = iota + 1
	Drop
)

func (v Verdict) String() string {
	switch v {
	case Pass:
		return "pass"
	case Drop:
		return "drop"
	}
	return "?"
}

// MAC is an Ethernet address; the zero value means "any".
type MAC [6]byte

// IsZero reports whether m is unset.
func (m MAC) IsZero() bool { return m == MAC{} }

func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// L4 protocol numbers a rule may match.
const (
	TCP uint8 = 6
	UDP uint8 = 17
)

// Rule is one match and its verdict. Zero fields match anything. For
// ProtoARP, Src and Dst are the ARP sender and target protocol addresses.
// Rule is comparable and is used as a map key.
type Rule struct {
	Verdict Verdict
	Proto   Proto
	SrcMAC  MAC
	DstMAC  MAC
	Src     netip.Prefix
	Dst     netip.Prefix
	L4      uint8
	SrcPort uint16
	DstPort uint16
}

// String renders r in a tc-like notation used in reports and keys.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.Verdict.String())
	b.WriteString(" ")
	b.WriteString(r.Proto.String())
	if !r.SrcMAC.IsZero() {
		fmt.Fprintf(&b, " ether-src %s", r.SrcMAC)
	}
	if !r.DstMAC.IsZero() {
		fmt.Fprintf(&b, " ether-dst %s", r.DstMAC)
	}
	src, dst := "src", "dst"
	if r.Proto == ProtoARP {
		src, dst = "arp-sip", "arp-tip"
	}
	if r.Src.IsValid() {
		fmt.Fprintf(&b, " %s %s", src, r.Src)
	}
	if r.Dst.IsValid() {
		fmt.Fprintf(&b, " %s %s", dst, r.Dst)
	}
	switch r.L4 {
	case 0:
	case TCP:
		b.WriteString(" tcp")
	case UDP:
		b.WriteString(" udp")
	default:
		fmt.Fprintf(&b, " ipproto %d", r.L4)
	}
	if r.SrcPort != 0 {
		fmt.Fprintf(&b, " sport %d", r.SrcPort)
	}
	if r.DstPort != 0 {
		fmt.Fprintf(&b, " dport %d", r.DstPort)
	}
	return b.String()
}

// Validate reports whether r can be encoded.
func (r Rule) Validate() error {
	if r.Verdict != Pass && r.Verdict != Drop {
		return fmt.Errorf("rule %s: no verdict", r)
	}
	switch r.Proto {
	case ProtoIPv4, ProtoIPv6, ProtoARP, ProtoAll:
	default:
		return fmt.Errorf("rule %s: unsupported protocol", r)
	}
	for _, p := range []netip.Prefix{r.Src, r.Dst} {
		if !p.IsValid() {
			continue
		}
		want4 := r.Proto == ProtoIPv4 || r.Proto == ProtoARP
		if p.Addr().Is4() != want4 || r.Proto == ProtoAll {
			return fmt.Errorf("rule %s: address family does not fit protocol", r)
		}
	}
	if (r.SrcPort != 0 || r.DstPort != 0) && r.L4 != TCP && r.L4 != UDP {
		return fmt.Errorf("rule %s: ports need tcp or udp", r)
	}
	if r.L4 != 0 && r.Proto != ProtoIPv4 && r.Proto != ProtoIPv6 {
		return fmt.Errorf("rule %s: transport match needs ip or ipv6", r)
	}
	return nil
}
