package match

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
)

// Classifier names the tc classifier a rule is encoded for.
type Classifier string

// Classifiers Firebreak can encode for.
const (
	U32    Classifier = "u32"
	Flower Classifier = "flower"
)

// DropAction says how a Drop verdict is carried out. With SinkIndex set,
// dropped frames are redirected (mirred egress redirect) to that link, so
// the capture path can still see what an isolated host tries to send; the
// frame never reaches the bridge. Otherwise a gact "drop" is used.
type DropAction struct {
	SinkIndex int
}

// ClassifierFor returns the classifier a rule is encoded with: flower
// when available and able to express the rule, u32 otherwise. The
// netlink library cannot encode flower ARP keys, so ARP rules are u32.
func ClassifierFor(r Rule, haveFlower bool) Classifier {
	if haveFlower && r.Proto != ProtoARP {
		return Flower
	}
	return U32
}

// Build returns the netlink filter for r. attrs carries link, parent,
// priority; the protocol is taken from r.
func Build(r Rule, cls Classifier, attrs netlink.FilterAttrs, drop DropAction) (netlink.Filter, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	attrs.Protocol = uint16(r.Proto)
	var actions []netlink.Action
	if r.Verdict == Drop {
		if drop.SinkIndex > 0 {
			m := netlink.NewMirredAction(drop.SinkIndex)
			actions = append(actions, m)
		} else {
			actions = append(actions, &netlink.GenericAction{
				ActionAttrs: netlink.ActionAttrs{Action: netlink.TC_ACT_SHOT},
			})
		}
	}
	switch cls {
	case U32:
		return &netlink.U32{
			FilterAttrs: attrs,
			Sel: &netlink.TcU32Sel{
				Flags: nl.TC_U32_TERMINAL,
				Keys:  u32Keys(r),
			},
			Actions: actions,
		}, nil
	case Flower:
		if r.Proto == ProtoARP {
			return nil, fmt.Errorf("rule %s: flower arp keys not supported", r)
		}
		f := &netlink.Flower{FilterAttrs: attrs, Actions: actions}
		if r.Proto != ProtoAll {
			f.EthType = uint16(r.Proto)
		}
		if !r.SrcMAC.IsZero() {
			f.SrcMac = net.HardwareAddr(r.SrcMAC[:])
		}
		if !r.DstMAC.IsZero() {
			f.DestMac = net.HardwareAddr(r.DstMAC[:])
		}
		if r.Src.IsValid() {
			f.SrcIP, f.SrcIPMask = ipNet(r.Src)
		}
		if r.Dst.IsValid() {
			f.DestIP, f.DestIPMask = ipNet(r.Dst)
		}
		if r.L4 != 0 {
			p := nl.IPProto(r.L4)
			f.IPProto = &p
			f.SrcPort = r.SrcPort
			f.DestPort = r.DstPort
		}
		return f, nil
	}
	return nil, fmt.Errorf("unknown classifier %q", cls)
}

func ipNet(p netip.Prefix) (net.IP, net.IPMask) {
	p = p.Masked()
	a := p.Addr()
	return net.IP(a.AsSlice()), net.CIDRMask(p.Bits(), a.BitLen())
}

type byteMatch struct{ val, mask byte }

// Offsets are relative to the network header, as u32 sees them on the
// ingress hook; the Ethernet header lies at negative offsets.
const (
	offEtherDst = -14
	offEtherSrc = -8
)

func u32Keys(r Rule) []netlink.TcU32Key {
	m := map[int]byteMatch{}
	put := func(off int, val, mask []byte) {
		for i := range val {
			if mask[i] == 0 {
				continue
			}
			bm := m[off+i]
			bm.val |= val[i] & mask[i]
			bm.mask |= mask[i]
			m[off+i] = bm
		}
	}
	full := func(n int) []byte { return []byte(strings.Repeat("\xff", n)) }
	if !r.SrcMAC.IsZero() {
		put(offEtherSrc, r.SrcMAC[:], full(6))
	}
	if !r.DstMAC.IsZero() {
		put(offEtherDst, r.DstMAC[:], full(6))
	}
	prefix := func(off int, p netip.Prefix) {
		p = p.Masked()
		a := p.Addr()
		put(off, a.AsSlice(), net.CIDRMask(p.Bits(), a.BitLen()))
	}
	u16 := func(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }
	switch r.Proto {
	case ProtoIPv4:
		if r.Src.IsValid() {
			prefix(12, r.Src)
		}
		if r.Dst.IsValid() {
			prefix(16, r.Dst)
		}
		if r.L4 != 0 {
			put(9, []byte{r.L4}, full(1))
		}
		if r.SrcPort != 0 || r.DstPort != 0 {
			// Ports are only at offset 20 without IP options and in the
			// first fragment; anything else does not match the
			// exception and falls through to the drop.
			put(0, []byte{0x05}, []byte{0x0f})
			put(6, []byte{0, 0}, []byte{0x1f, 0xff})
		}
		if r.SrcPort != 0 {
			put(20, u16(r.SrcPort), full(2))
		}
		if r.DstPort != 0 {
			put(22, u16(r.DstPort), full(2))
		}
	case ProtoIPv6:
		if r.Src.IsValid() {
			prefix(8, r.Src)
		}
		if r.Dst.IsValid() {
			prefix(24, r.Dst)
		}
		if r.L4 != 0 {
			// Only without extension headers; see the IPv4 note.
			put(6, []byte{r.L4}, full(1))
		}
		if r.SrcPort != 0 {
			put(40, u16(r.SrcPort), full(2))
		}
		if r.DstPort != 0 {
			put(42, u16(r.DstPort), full(2))
		}
	case ProtoARP:
		if r.Src.IsValid() || r.Dst.IsValid() {
			// Ethernet/IPv4 ARP only: ptype 0x0800, hlen 6, plen 4.
			put(2, []byte{0x08, 0x00, 6, 4}, full(4))
		}
		if r.Src.IsValid() {
			prefix(14, r.Src)
		}
		if r.Dst.IsValid() {
			prefix(24, r.Dst)
		}
	}
	words := map[int]*netlink.TcU32Key{}
	for off, bm := range m {
		w := off - ((off%4)+4)%4
		shift := uint(8 * (3 - (off - w)))
		k := words[w]
		if k == nil {
			k = &netlink.TcU32Key{Off: int32(w)}
			words[w] = k
		}
		k.Val |= uint32(bm.val) << shift
		k.Mask |= uint32(bm.mask) << shift
	}
	keys := make([]netlink.TcU32Key, 0, len(words))
	for _, k := range words {
		keys = append(keys, *k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Off < keys[j].Off })
	if len(keys) == 0 {
		// Match everything: one key with a zero mask.
		keys = append(keys, netlink.TcU32Key{})
	}
	return keys
}

// Key renders the parts of a filter that Firebreak sets, in a canonical
// form, so that a filter read back from the kernel and one built from a
// Rule compare equal exactly when they behave the same. Handles,
// statistics and action indexes are left out. ok is false for filters
// Firebreak never builds.
func Key(f netlink.Filter) (key string, ok bool) {
	a := f.Attrs()
	var b strings.Builder
	fmt.Fprintf(&b, "prio %d protocol %s ", a.Priority, Proto(a.Protocol))
	switch f := f.(type) {
	case *netlink.U32:
		// Hash is left out: the kernel reports each node's hash
		// table and bucket there.
		if f.Sel == nil || f.ClassId != 0 || f.Link != 0 || f.Divisor != 0 || f.Police != nil {
			return "", false
		}
		if f.Sel.Flags != nl.TC_U32_TERMINAL || f.Sel.Offmask != 0 || f.Sel.Hmask != 0 || f.Sel.Off != 0 || f.Sel.Offoff != 0 || f.Sel.Hoff != 0 {
			return "", false
		}
		b.WriteString("u32")
		keys := append([]netlink.TcU32Key(nil), f.Sel.Keys...)
		sort.Slice(keys, func(i, j int) bool { return keys[i].Off < keys[j].Off })
		for _, k := range keys {
			if k.OffMask != 0 {
				return "", false
			}
			fmt.Fprintf(&b, " %08x/%08x@%d", k.Val, k.Mask, k.Off)
		}
		act, ok := actionKey(f.Actions)
		if !ok {
			return "", false
		}
		b.WriteString(" -> " + act)
	case *netlink.Flower:
		if f.ClassId != 0 || f.EncSrcIP != nil || f.EncDestIP != nil || f.EncKeyId != 0 || f.VlanId != 0 || f.SkipSw {
			return "", false
		}
		if f.SrcPortRangeMin != 0 || f.SrcPortRangeMax != 0 || f.DstPortRangeMin != 0 || f.DstPortRangeMax != 0 {
			return "", false
		}
		fmt.Fprintf(&b, "flower eth_type %04x", f.EthType)
		if f.SrcMac != nil {
			fmt.Fprintf(&b, " src_mac %s", f.SrcMac)
		}
		if f.DestMac != nil {
			fmt.Fprintf(&b, " dst_mac %s", f.DestMac)
		}
		if f.SrcIP != nil {
			fmt.Fprintf(&b, " src_ip %s/%s", hexIP(f.SrcIP), hex.EncodeToString(f.SrcIPMask))
		}
		if f.DestIP != nil {
			fmt.Fprintf(&b, " dst_ip %s/%s", hexIP(f.DestIP), hex.EncodeToString(f.DestIPMask))
		}
		if f.IPProto != nil {
			fmt.Fprintf(&b, " ip_proto %d", uint8(*f.IPProto))
		}
		if f.SrcPort != 0 {
			fmt.Fprintf(&b, " src_port %d", f.SrcPort)
		}
		if f.DestPort != 0 {
			fmt.Fprintf(&b, " dst_port %d", f.DestPort)
		}
		act, ok := actionKey(f.Actions)
		if !ok {
			return "", false
		}
		b.WriteString(" -> " + act)
	default:
		return "", false
	}
	return b.String(), true
}

func hexIP(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return hex.EncodeToString(ip)
}

func actionKey(actions []netlink.Action) (string, bool) {
	switch len(actions) {
	case 0:
		return "pass", true
	case 1:
	default:
		return "", false
	}
	switch a := actions[0].(type) {
	case *netlink.MirredAction:
		if a.MirredAction == netlink.TCA_EGRESS_REDIR && a.Attrs().Action == netlink.TC_ACT_STOLEN {
			return fmt.Sprintf("drop(redirect ifindex %d)", a.Ifindex), true
		}
	case *netlink.GenericAction:
		if a.Attrs().Action == netlink.TC_ACT_SHOT {
			return "drop(gact)", true
		}
	}
	return "", false
}
