package bpf

import (
	"encoding/binary"
	"fmt"
)

// Classic BPF opcodes used by the generator.
const (
	opLdW    = 0x20 // ld  [k]
	opLdH    = 0x28 // ldh [k]
	opLdB    = 0x30 // ldb [k]
	opLdIndW = 0x40 // ld  [x + k]
	opLdIndH = 0x48 // ldh [x + k]
	opLdIndB = 0x50 // ldb [x + k]
	opLdxMSH = 0xb1 // ldxb 4*([k]&0xf)
	opAndK   = 0x54 // and #k
	opJeq    = 0x15 // jeq #k
	opJgt    = 0x25 // jgt #k
	opJge    = 0x35 // jge #k
	opJset   = 0x45 // jset #k
	opRet    = 0x06 // ret #k
)

// block is one basic block: an optional load of X (IPv4 header length), a
// load of A (possibly masked), then a conditional jump; or a return.
type block struct {
	ret  bool
	retK uint32

	xOff    uint32 // ldxb 4*([xOff]&0xf) when indexed
	indexed bool
	size    uint32 // 1, 2 or 4
	off     uint32
	mask    uint32 // 0xffffffff: no and
	jop     uint16
	k       uint32
	jt, jf  *block

	// filled in by the optimiser and the emitter
	emitA, emitX bool
	skipLoad     bool // emitA but A already holds the unmasked load: emit only the and
	pos          int
}

// akey identifies the value in A at the jump: two blocks with the same akey
// compare the same quantity.
func (b *block) akey() string {
	if b.indexed {
		return fmt.Sprintf("%d[x=%d+%d]&%x", b.size, b.xOff, b.off, b.mask)
	}
	return fmt.Sprintf("%d[%d]&%x", b.size, b.off, b.mask)
}

// loadKey identifies the value the load alone (before the mask) puts in A.
func (b *block) loadKey() string {
	if b.indexed {
		return fmt.Sprintf("%d[x=%d+%d]&%x", b.size, b.xOff, b.off, uint32(0xffffffff))
	}
	return fmt.Sprintf("%d[%d]&%x", b.size, b.off, uint32(0xffffffff))
}

func (b *block) xkey() string {
	if !b.indexed {
		return ""
	}
	return fmt.Sprintf("msh[%d]", b.xOff)
}

// gen builds code in continuation-passing style: given the blocks to go to
// when the primitive is true and when it is false, it returns the entry.
// and(a,b)(t,f) = a(b(t,f),f), or(a,b)(t,f) = a(t,b(t,f)), not(a)(t,f) =
// a(f,t) reproduce libpcap's gen_and/gen_or/gen_not backpatching.
type gen func(t, f *block) *block

func cmp(size, off, mask uint32, jop uint16, k uint32) gen {
	return func(t, f *block) *block {
		return &block{size: size, off: off, mask: mask, jop: jop, k: k, jt: t, jf: f}
	}
}

func eq(size, off, k uint32) gen { return cmp(size, off, 0xffffffff, opJeq, k) }

func and(a, b gen) gen { return func(t, f *block) *block { return a(b(t, f), f) } }
func or(a, b gen) gen  { return func(t, f *block) *block { return a(t, b(t, f)) } }
func not(a gen) gen    { return func(t, f *block) *block { return a(f, t) } }

// ipv4 transport-layer halfword at ihl-relative offset (libpcap OR_TRAN_IPV4).
func tranV4(pl, off uint32, jop uint16, k uint32) gen {
	return func(t, f *block) *block {
		return &block{indexed: true, xOff: pl, size: 2, off: pl + off, mask: 0xffffffff, jop: jop, k: k, jt: t, jf: f}
	}
}

// Linux ancillary data offsets (linux/filter.h) for loads of packet
// metadata.
const (
	skfAdOff            = 0xfffff000
	skfAdVLANTag        = 44
	skfAdVLANTagPresent = 48
)

const (
	etherIP   = 0x0800
	etherARP  = 0x0806
	etherRARP = 0x8035
	etherIPv6 = 0x86dd

	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoFrag6  = 44
	protoICMPv6 = 58
	protoSCTP   = 132
)

// compiler holds per-primitive offsets.
type offsets struct {
	lt uint32 // ethertype
	pl uint32 // network-layer payload
}

func offs(p prim) offsets { return offsets{lt: 12 + p.shift, pl: 14 + p.shift} }

func linktype(o offsets, t uint32) gen { return eq(2, o.lt, t) }

// protoV4 / protoV6 are libpcap's gen_proto(v, Q_IP) and gen_proto(v, Q_IPV6).
func protoV4(o offsets, v uint32) gen { return and(linktype(o, etherIP), eq(1, o.pl+9, v)) }

func protoV6(o offsets, v uint32) gen {
	return and(linktype(o, etherIPv6),
		or(eq(1, o.pl+6, v), and(eq(1, o.pl+6, protoFrag6), eq(1, o.pl+40, v))))
}

func genPrim(p prim) gen {
	o := offs(p)
	switch p.kind {
	case pProto:
		switch p.proto {
		case "ip":
			return linktype(o, etherIP)
		case "ip6":
			return linktype(o, etherIPv6)
		case "arp":
			return linktype(o, etherARP)
		case "tcp":
			return or(protoV4(o, protoTCP), protoV6(o, protoTCP))
		case "udp":
			return or(protoV4(o, protoUDP), protoV6(o, protoUDP))
		case "icmp":
			return protoV4(o, protoICMP)
		case "icmp6":
			return protoV6(o, protoICMPv6)
		}
	case pVLAN:
		if p.meta {
			// The kernel's ancillary data: tag present, then the TCI.
			g := eq(1, skfAdOff+skfAdVLANTagPresent, 1)
			if p.hasVID {
				g = and(g, cmp(1, skfAdOff+skfAdVLANTag, 0x0fff, opJeq, p.lo)) // libpcap's "ldb [vlan_tci]": the kernel loads all 16 bits whatever the size
			}
			return g
		}
		g := or(or(linktype(o, 0x8100), linktype(o, 0x88a8)), linktype(o, 0x9100))
		if p.hasVID {
			g = and(g, cmp(2, o.pl, 0x0fff, opJeq, p.lo))
		}
		return g
	case pEther:
		src, dst := bcmp6(6, p.mac), bcmp6(0, p.mac)
		switch p.dir {
		case dirSrc:
			return src
		case dirDst:
			return dst
		}
		return or(src, dst)
	case pHost, pNet:
		if p.prefix.Addr().Is4() {
			return hostV4(p, o)
		}
		return hostV6(p, o)
	case pPort, pPortRange:
		return or(port6(p, o), port4(p, o))
	}
	panic(fmt.Sprintf("bpf: no generator for %+v", p))
}

// bcmp6 is libpcap's gen_bcmp for a 6-byte MAC: the last four bytes, then
// the first two.
func bcmp6(off uint32, mac []byte) gen {
	return and(eq(4, off+2, binary.BigEndian.Uint32(mac[2:])), eq(2, off, uint32(binary.BigEndian.Uint16(mac))))
}

func dirOr(d dir, src, dst gen) gen {
	switch d {
	case dirSrc:
		return src
	case dirDst:
		return dst
	}
	return or(src, dst)
}

func hostV4(p prim, o offsets) gen {
	a := p.prefix.Addr().As4()
	addr := binary.BigEndian.Uint32(a[:])
	mask := uint32(0)
	if p.prefix.Bits() > 0 {
		mask = ^uint32(0) << (32 - p.prefix.Bits())
	}
	hostop := func(lt, srcOff, dstOff uint32) gen {
		one := func(off uint32) gen {
			return and(linktype(o, lt), cmp(4, o.pl+off, mask, opJeq, addr))
		}
		return dirOr(p.dir, one(srcOff), one(dstOff))
	}
	ip := hostop(etherIP, 12, 16)
	arp := hostop(etherARP, 14, 24)
	switch p.proto {
	case "ip":
		return ip
	case "arp":
		return arp
	}
	return or(or(ip, arp), hostop(etherRARP, 14, 24))
}

func hostV6(p prim, o offsets) gen {
	a := p.prefix.Addr().As16()
	bits := p.prefix.Bits()
	one := func(off uint32) gen {
		// libpcap compares word 0 first, then 1, 2, 3; words the mask
		// leaves out are dropped by its optimiser, so never generated here.
		var g gen
		for i := 3; i >= 0; i-- {
			m := uint32(0)
			switch n := bits - 32*i; {
			case n >= 32:
				m = 0xffffffff
			case n > 0:
				m = ^uint32(0) << (32 - n)
			}
			if m == 0 {
				continue
			}
			w := cmp(4, o.pl+off+uint32(4*i), m, opJeq, binary.BigEndian.Uint32(a[4*i:]))
			if g == nil {
				g = w
			} else {
				g = and(w, g)
			}
		}
		if g == nil {
			return linktype(o, etherIPv6)
		}
		return and(linktype(o, etherIPv6), g)
	}
	return dirOr(p.dir, one(8), one(24))
}

func protos(p prim) []uint32 {
	switch p.proto {
	case "tcp":
		return []uint32{protoTCP}
	case "udp":
		return []uint32{protoUDP}
	}
	return []uint32{protoSCTP, protoTCP, protoUDP}
}

// orList is or(p0, or(p1, p2)), libpcap's order for sctp, tcp, udp.
func orList(gs []gen) gen {
	g := gs[len(gs)-1]
	for i := len(gs) - 2; i >= 0; i-- {
		g = or(gs[i], g)
	}
	return g
}

func portAtoms(p prim, atom func(off uint32, jop uint16, k uint32) gen) gen {
	one := func(off uint32) gen {
		if p.kind == pPort {
			return atom(off, opJeq, p.lo)
		}
		return and(atom(off, opJge, p.lo), not(atom(off, opJgt, p.hi)))
	}
	return dirOr(p.dir, one(0), one(2))
}

func port4(p prim, o offsets) gen {
	var gs []gen
	for _, proto := range protos(p) {
		frag := not(func(t, f *block) *block {
			return &block{size: 2, off: o.pl + 6, mask: 0xffffffff, jop: opJset, k: 0x1fff, jt: t, jf: f}
		})
		ports := portAtoms(p, func(off uint32, jop uint16, k uint32) gen { return tranV4(o.pl, off, jop, k) })
		gs = append(gs, and(and(eq(1, o.pl+9, proto), frag), ports))
	}
	return and(linktype(o, etherIP), orList(gs))
}

func port6(p prim, o offsets) gen {
	var gs []gen
	for _, proto := range protos(p) {
		ports := portAtoms(p, func(off uint32, jop uint16, k uint32) gen {
			return cmp(2, o.pl+40+off, 0xffffffff, jop, k)
		})
		gs = append(gs, and(eq(1, o.pl+6, proto), ports))
	}
	return and(linktype(o, etherIPv6), orList(gs))
}

func genNode(n *node) gen {
	switch n.kind {
	case nAnd:
		return and(genNode(n.l), genNode(n.r))
	case nOr:
		return or(genNode(n.l), genNode(n.r))
	case nNot:
		return not(genNode(n.l))
	}
	return genPrim(n.p)
}
