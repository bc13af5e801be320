package match

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Decode recovers the Rule a filter implements, for filters Build made:
// it reads the match back and accepts it only if encoding that Rule gives
// the same Key, so a decoded rule is never a guess.
func Decode(f netlink.Filter) (Rule, bool) {
	key, ok := Key(f)
	if !ok {
		return Rule{}, false
	}
	r := Rule{Proto: Proto(f.Attrs().Protocol)}
	var acts []netlink.Action
	var cls Classifier
	switch f := f.(type) {
	case *netlink.U32:
		cls, acts = U32, f.Actions
		decodeU32(&r, f.Sel.Keys)
	case *netlink.Flower:
		cls, acts = Flower, f.Actions
		copy(r.SrcMAC[:], f.SrcMac)
		copy(r.DstMAC[:], f.DestMac)
		r.Src = prefixOf(f.SrcIP, f.SrcIPMask)
		r.Dst = prefixOf(f.DestIP, f.DestIPMask)
		if f.IPProto != nil {
			r.L4 = uint8(*f.IPProto)
		}
		r.SrcPort, r.DstPort = f.SrcPort, f.DestPort
	default:
		return Rule{}, false
	}
	drop := DropAction{}
	r.Verdict = Pass
	if len(acts) > 0 {
		r.Verdict = Drop
		if m, ok := acts[0].(*netlink.MirredAction); ok {
			drop.SinkIndex = m.Ifindex
		}
	}
	g, err := Build(r, cls, *f.Attrs(), drop)
	if err != nil {
		return Rule{}, false
	}
	if k, _ := Key(g); k != key {
		return Rule{}, false
	}
	return r, true
}

func prefixOf(ip net.IP, mask net.IPMask) netip.Prefix {
	if ip == nil {
		return netip.Prefix{}
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Prefix{}
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	ones, bits := mask.Size()
	if bits == 0 {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(a, ones)
}

func decodeU32(r *Rule, keys []netlink.TcU32Key) {
	val := map[int]byte{}
	mask := map[int]byte{}
	for _, k := range keys {
		for i := range 4 {
			shift := uint(8 * (3 - i))
			if m := byte(k.Mask >> shift); m != 0 {
				off := int(k.Off) + i
				val[off], mask[off] = byte(k.Val>>shift), m
			}
		}
	}
	bytesAt := func(off, n int) ([]byte, []byte) {
		v, m := make([]byte, n), make([]byte, n)
		for i := range n {
			v[i], m[i] = val[off+i], mask[off+i]
		}
		return v, m
	}
	prefixAt := func(off, n int) netip.Prefix {
		v, m := bytesAt(off, n)
		if net.IPMask(m).String() == net.IPMask(make([]byte, n)).String() {
			return netip.Prefix{}
		}
		return prefixOf(net.IP(v), net.IPMask(m))
	}
	macAt := func(off int) (out MAC) {
		v, m := bytesAt(off, 6)
		for _, b := range m {
			if b != 0xff {
				return MAC{}
			}
		}
		copy(out[:], v)
		return out
	}
	port := func(off int) uint16 {
		v, _ := bytesAt(off, 2)
		return uint16(v[0])<<8 | uint16(v[1])
	}
	r.SrcMAC, r.DstMAC = macAt(offEtherSrc), macAt(offEtherDst)
	switch r.Proto {
	case ProtoIPv4:
		r.Src, r.Dst = prefixAt(12, 4), prefixAt(16, 4)
		r.L4 = val[9]
		r.SrcPort, r.DstPort = port(20), port(22)
	case ProtoIPv6:
		r.Src, r.Dst = prefixAt(8, 16), prefixAt(24, 16)
		r.L4 = val[6]
		r.SrcPort, r.DstPort = port(40), port(42)
	case ProtoARP:
		r.Src, r.Dst = prefixAt(14, 4), prefixAt(24, 4)
	}
}
