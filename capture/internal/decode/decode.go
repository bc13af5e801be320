// Package decode turns one captured frame into the flow-level views the
// analyser needs: for each tracked layer the addresses, ports, TCP header
// fields, VLAN path and payload. It walks link layers (Ethernet, 802.1Q/QinQ,
// MPLS, PPPoE, Linux SLL/SLL2, BSD null/loop, raw IP), tunnels (GRE incl.
// ERSPAN I/II, VXLAN on UDP 4789, Teredo on UDP 3544) and IPv4/IPv6 with
// fragment reassembly, using gopacket's DecodingLayer structs, reused from
// packet to packet, for the layers gopacket decodes without allocating.
//
// Tunnelled traffic is returned as an extra, inner view so that it is analysed
// as the inner flow; the outer UDP view is kept because Suricata tracks it too.
//
// It must never panic on any input, never keep a reference to the caller's
// buffer after Decode returns (except in the returned Packet, valid until the
// next call), and never let fragment state grow beyond its caps.
package decode

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// IP protocol numbers the analyser cares about.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoGRE    = 47
	ProtoICMPv6 = 58
)

// TCP flag bits as in the header.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
	FlagURG = 0x20
	FlagECE = 0x40
	FlagCWR = 0x80
)

// MaxViews bounds tunnel nesting.
const MaxViews = 4

// View is one IP/transport layer of a packet.
type View struct {
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16
	ICMPType         uint8
	ICMPCode         uint8
	TCPFlags         uint8
	Seq, Ack         uint32
	Window           uint16
	Payload          []byte
	// Len is the number of bytes this view accounts for: the whole frame for
	// the outermost view, the tunnelled frame for inner ones.
	Len int
	// VLAN holds the VLAN IDs seen on the path to this view, outermost first.
	VLAN  [3]uint16
	NVLAN uint8
	// Tunnel marks an outer view whose payload was decoded as a tunnel.
	Tunnel bool
	// Reassembled marks a view built from IP fragments.
	Reassembled bool
}

// Packet is the result of Decode.
type Packet struct {
	Views [MaxViews]View
	N     int
	// Truncated is set when a header was cut short by the snap length.
	Truncated bool
	// Fragment is set when the frame was an IP fragment that did not (yet)
	// complete a datagram.
	Fragment bool
	IPv4     bool
	IPv6     bool
}

// Last returns the innermost view, or nil.
func (p *Packet) Last() *View {
	if p.N == 0 {
		return nil
	}
	return &p.Views[p.N-1]
}

// Stats counts what the decoder saw.
type Stats struct {
	Ethernet, VLAN, MPLS, PPPoE, GRE, ERSPAN, VXLAN, Teredo uint64
	IPv4, IPv6, TCP, UDP, ICMPv4, ICMPv6                    uint64
	Fragments, Reassembled, FragDropped                     uint64
	Truncated, Invalid, UnknownLink                         uint64
}

// Options configures a Decoder.
type Options struct {
	// VXLANPorts and TeredoPorts select the UDP tunnels; nil means 4789 and
	// 3544.
	VXLANPorts, TeredoPorts []uint16
	// Defrag configures fragment reassembly.
	Defrag DefragOptions
}

// Decoder decodes frames. It is not safe for concurrent use.
type Decoder struct {
	ip4    layers.IPv4
	ip6    layers.IPv6
	tcp    layers.TCP
	udp    layers.UDP
	icmp4  layers.ICMPv4
	icmp6  layers.ICMPv6
	eth    layers.Ethernet
	dot1q  layers.Dot1Q
	gre    layers.GRE
	erspan layers.ERSPANII
	vxlan  layers.VXLAN
	sll    layers.LinuxSLL
	sll2   layers.LinuxSLL2

	defrag  *Defragmenter
	vxPorts []uint16
	tePorts []uint16
	Stats   Stats

	// per call
	pkt     *Packet
	ts      time.Time
	vlan    [3]uint16
	nvlan   uint8
	viewLen int
	depth   int
}

// New returns a Decoder.
func New(opts Options) *Decoder {
	d := &Decoder{defrag: NewDefragmenter(opts.Defrag), vxPorts: opts.VXLANPorts, tePorts: opts.TeredoPorts}
	if d.vxPorts == nil {
		d.vxPorts = []uint16{4789}
	}
	if d.tePorts == nil {
		d.tePorts = []uint16{3544}
	}
	return d
}

// Defrag returns the decoder's fragment reassembler.
func (d *Decoder) Defrag() *Defragmenter { return d.defrag }

// Link types beyond what gopacket names.
const (
	linkNull     = 0
	linkRawAlt12 = 12
	linkRawAlt14 = 14
	linkLoop     = 108
	linkRaw      = 101
	linkIPv4     = 228
	linkIPv6     = 229
	linkSLL      = 113
	linkSLL2     = 276
	linkEthernet = 1
)

// Decode decodes one frame of the given link type into p. ts is the packet
// time, which drives fragment timeouts.
func (d *Decoder) Decode(data []byte, lt layers.LinkType, ts time.Time, p *Packet) {
	// Views are overwritten whole when used; only the header needs a reset.
	p.N, p.Truncated, p.Fragment, p.IPv4, p.IPv6 = 0, false, false, false, false
	d.pkt, d.ts, d.nvlan, d.viewLen, d.depth = p, ts, 0, len(data), 0
	defer func() {
		// A bug in a layer decoder must cost one packet, not the analysis.
		if r := recover(); r != nil {
			d.Stats.Invalid++
			p.N = 0
		}
	}()
	switch lt {
	case linkEthernet:
		d.ethernet(data)
	case linkRaw, linkRawAlt12, linkRawAlt14, linkIPv4, linkIPv6:
		d.rawIP(data)
	case linkNull, linkLoop:
		if len(data) < 4 {
			d.truncated()
			return
		}
		fam := binary.LittleEndian.Uint32(data[:4])
		if lt == linkLoop || fam > 0xffff {
			fam = binary.BigEndian.Uint32(data[:4])
		}
		switch fam {
		case 2:
			d.ipv4(data[4:])
		case 10, 24, 28, 30:
			d.ipv6(data[4:])
		default:
			d.rawIP(data[4:])
		}
	case linkSLL:
		if d.sll.DecodeFromBytes(data, d) != nil {
			d.truncated()
			return
		}
		d.etherType(d.sll.EthernetType, d.sll.Payload)
	case linkSLL2:
		if d.sll2.DecodeFromBytes(data, d) != nil {
			d.truncated()
			return
		}
		d.etherType(d.sll2.ProtocolType, d.sll2.Payload)
	default:
		d.Stats.UnknownLink++
	}
}

// SetTruncated implements gopacket.DecodeFeedback.
func (d *Decoder) SetTruncated() { d.pkt.Truncated = true }

var _ gopacket.DecodeFeedback = (*Decoder)(nil)

func (d *Decoder) truncated() {
	d.pkt.Truncated = true
	d.Stats.Truncated++
}

func (d *Decoder) rawIP(data []byte) {
	if len(data) == 0 {
		d.truncated()
		return
	}
	switch data[0] >> 4 {
	case 4:
		d.ipv4(data)
	case 6:
		d.ipv6(data)
	default:
		d.Stats.Invalid++
	}
}

func (d *Decoder) ethernet(data []byte) {
	if d.eth.DecodeFromBytes(data, d) != nil {
		d.truncated()
		return
	}
	d.Stats.Ethernet++
	d.etherType(d.eth.EthernetType, d.eth.Payload)
}

func (d *Decoder) etherType(et layers.EthernetType, data []byte) {
	for range 8 { // bounded: VLAN / MPLS stacks
		switch et {
		case layers.EthernetTypeIPv4:
			d.ipv4(data)
			return
		case layers.EthernetTypeIPv6:
			d.ipv6(data)
			return
		case layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ, 0x9100:
			if len(data) < 4 {
				d.truncated()
				return
			}
			d.Stats.VLAN++
			if d.nvlan < 3 {
				d.vlan[d.nvlan] = binary.BigEndian.Uint16(data[:2]) & 0x0fff
				d.nvlan++
			}
			et = layers.EthernetType(binary.BigEndian.Uint16(data[2:4]))
			data = data[4:]
		case layers.EthernetTypeMPLSUnicast, layers.EthernetTypeMPLSMulticast:
			d.Stats.MPLS++
			for {
				if len(data) < 4 {
					d.truncated()
					return
				}
				bottom := data[2]&1 == 1
				data = data[4:]
				if bottom {
					break
				}
			}
			if len(data) == 0 {
				return
			}
			switch data[0] >> 4 {
			case 4:
				d.ipv4(data)
			case 6:
				d.ipv6(data)
			case 0: // pseudowire control word, then Ethernet
				if len(data) > 4 {
					d.ethernet(data[4:])
				}
			default:
				d.ethernet(data)
			}
			return
		case layers.EthernetTypePPPoESession:
			d.Stats.PPPoE++
			if len(data) < 8 {
				d.truncated()
				return
			}
			proto := binary.BigEndian.Uint16(data[6:8])
			if data[6]&1 == 1 { // protocol field compressed to one byte (RFC 1661)
				proto = uint16(data[6])
				data = data[7:]
			} else {
				data = data[8:]
			}
			switch proto {
			case 0x0021:
				d.ipv4(data)
			case 0x0057:
				d.ipv6(data)
			}
			return
		case layers.EthernetTypeTransparentEthernetBridging:
			d.ethernet(data)
			return
		default:
			return
		}
	}
}

func (d *Decoder) newView(src, dst netip.Addr, proto uint8) *View {
	p := d.pkt
	if p.N >= MaxViews {
		return nil
	}
	v := &p.Views[p.N]
	p.N++
	*v = View{Src: src, Dst: dst, Proto: proto, Len: d.viewLen, VLAN: d.vlan, NVLAN: d.nvlan}
	return v
}

func (d *Decoder) ipv4(data []byte) {
	if d.depth >= MaxViews {
		return
	}
	if err := d.ip4.DecodeFromBytes(data, d); err != nil {
		if len(data) < 20 || int(data[0]&0x0f)*4 > len(data) {
			d.truncated()
		} else {
			d.Stats.Invalid++
		}
		return
	}
	d.Stats.IPv4++
	d.pkt.IPv4 = true
	ip := &d.ip4
	src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
	dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
	payload := ip.Payload
	if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
		d.Stats.Fragments++
		full, ok := d.defrag.Add4(ip, d.vlan, d.nvlan, d.ts)
		if !ok {
			d.pkt.Fragment = true
			return
		}
		d.Stats.Reassembled++
		d.transport(src, dst, uint8(ip.Protocol), full, true)
		return
	}
	d.transport(src, dst, uint8(ip.Protocol), payload, false)
}

func (d *Decoder) ipv6(data []byte) {
	if d.depth >= MaxViews {
		return
	}
	if len(data) < 40 {
		d.truncated()
		return
	}
	if data[0]>>4 != 6 {
		d.Stats.Invalid++
		return
	}
	d.Stats.IPv6++
	d.pkt.IPv6 = true
	src := netip.AddrFrom16([16]byte(data[8:24]))
	dst := netip.AddrFrom16([16]byte(data[24:40]))
	plen := int(binary.BigEndian.Uint16(data[4:6]))
	payload := data[40:]
	if plen != 0 && plen < len(payload) {
		payload = payload[:plen] // drop Ethernet padding
	}
	next := data[6]
	for range 8 {
		switch next {
		case 0, 43, 60, 135, 139, 140, 51: // hop-by-hop, routing, dest opts, mobility, HIP, shim6, AH
			if len(payload) < 8 {
				d.truncated()
				return
			}
			l := (int(payload[1]) + 1) * 8 // in 8-octet units after the first
			if next == 51 {
				l = (int(payload[1]) + 2) * 4 // AH counts 4-octet units after the first two
			}
			if l > len(payload) {
				d.truncated()
				return
			}
			next = payload[0]
			payload = payload[l:]
		case 44: // fragment
			if len(payload) < 8 {
				d.truncated()
				return
			}
			d.Stats.Fragments++
			nh := payload[0]
			off := binary.BigEndian.Uint16(payload[2:4])
			id := binary.BigEndian.Uint32(payload[4:8])
			more := off&1 == 1
			off &^= 7
			if !more && off == 0 { // atomic fragment
				next = nh
				payload = payload[8:]
				continue
			}
			full, ok := d.defrag.Add6(src, dst, id, nh, int(off), more, payload[8:], d.vlan, d.nvlan, d.ts)
			if !ok {
				d.pkt.Fragment = true
				return
			}
			d.Stats.Reassembled++
			d.transport(src, dst, nh, full, true)
			return
		default:
			d.transport(src, dst, next, payload, false)
			return
		}
	}
}

func (d *Decoder) transport(src, dst netip.Addr, proto uint8, data []byte, reassembled bool) {
	d.depth++
	switch proto {
	case ProtoTCP:
		if err := d.tcp.DecodeFromBytes(data, d); err != nil {
			d.truncated()
			return
		}
		d.Stats.TCP++
		v := d.newView(src, dst, proto)
		if v == nil {
			return
		}
		t := &d.tcp
		v.SrcPort, v.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
		v.Seq, v.Ack, v.Window = t.Seq, t.Ack, t.Window
		v.TCPFlags = data[13]
		v.Payload = t.Payload
		v.Reassembled = reassembled
	case ProtoUDP:
		if len(data) < 8 {
			d.truncated()
			return
		}
		d.Stats.UDP++
		v := d.newView(src, dst, proto)
		if v == nil {
			return
		}
		v.SrcPort = binary.BigEndian.Uint16(data[0:2])
		v.DstPort = binary.BigEndian.Uint16(data[2:4])
		ulen := int(binary.BigEndian.Uint16(data[4:6]))
		payload := data[8:]
		if ulen >= 8 && ulen-8 < len(payload) {
			payload = payload[:ulen-8]
		}
		v.Payload = payload
		v.Reassembled = reassembled
		d.udpTunnel(v, payload)
	case ProtoICMP:
		if len(data) < 4 {
			d.truncated()
			return
		}
		d.Stats.ICMPv4++
		v := d.newView(src, dst, proto)
		if v == nil {
			return
		}
		v.ICMPType, v.ICMPCode = data[0], data[1]
		v.Payload = data[4:]
		v.Reassembled = reassembled
	case ProtoICMPv6:
		if len(data) < 4 {
			d.truncated()
			return
		}
		d.Stats.ICMPv6++
		v := d.newView(src, dst, proto)
		if v == nil {
			return
		}
		v.ICMPType, v.ICMPCode = data[0], data[1]
		v.Payload = data[4:]
		v.Reassembled = reassembled
	case ProtoGRE:
		d.greTunnel(data)
	case 4: // IP in IP
		d.viewLen = len(data)
		d.ipv4(data)
	case 41: // IPv6 in IP
		d.viewLen = len(data)
		d.ipv6(data)
	default:
		v := d.newView(src, dst, proto)
		if v != nil {
			v.Payload = data
			v.Reassembled = reassembled
		}
	}
}

func has(ports []uint16, p uint16) bool {
	for _, x := range ports {
		if x == p {
			return true
		}
	}
	return false
}

func (d *Decoder) udpTunnel(v *View, payload []byte) {
	switch {
	case has(d.vxPorts, v.DstPort):
		if len(payload) < 8+14 || payload[0]&0x08 == 0 {
			return
		}
		d.Stats.VXLAN++
		v.Tunnel = true
		d.viewLen = len(payload) - 8
		d.ethernet(payload[8:])
	case has(d.tePorts, v.DstPort) || has(d.tePorts, v.SrcPort):
		inner := teredoInner(payload)
		if inner == nil {
			return
		}
		d.Stats.Teredo++
		v.Tunnel = true
		d.viewLen = len(inner)
		n := d.pkt.N
		d.ipv6(inner)
		if d.pkt.N == n { // not IPv6 after all
			v.Tunnel = false
		}
	}
}

// teredoInner skips the optional Teredo authentication and origin indication
// headers and returns the IPv6 packet if the rest looks like one (RFC 4380).
func teredoInner(b []byte) []byte {
	for range 2 {
		if len(b) < 2 || b[0] != 0 {
			break
		}
		switch b[1] {
		case 1: // authentication
			if len(b) < 4 {
				return nil
			}
			l := 4 + int(b[2]) + int(b[3]) + 8 + 1
			if len(b) < l {
				return nil
			}
			b = b[l:]
		case 0: // origin indication
			if len(b) < 8 {
				return nil
			}
			b = b[8:]
		default:
			return nil
		}
	}
	if len(b) < 40 || b[0]>>4 != 6 {
		return nil
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if plen+40 != len(b) {
		return nil
	}
	switch b[6] {
	case 0, 6, 17, 43, 44, 58, 59, 60:
		return b
	}
	return nil
}

func (d *Decoder) greTunnel(data []byte) {
	if len(data) < 4 {
		d.truncated()
		return
	}
	// ERSPAN type I: GRE with protocol 0x88be and no sequence number; the
	// mirrored frame follows the GRE header directly.
	if d.gre.DecodeFromBytes(data, d) != nil {
		d.truncated()
		return
	}
	d.Stats.GRE++
	payload := d.gre.Payload
	switch d.gre.Protocol {
	case layers.EthernetTypeERSPAN:
		d.Stats.ERSPAN++
		if !d.gre.SeqPresent { // type I
			d.viewLen = len(payload)
			d.ethernet(payload)
			return
		}
		if d.erspan.DecodeFromBytes(payload, d) != nil {
			d.truncated()
			return
		}
		d.viewLen = len(d.erspan.Payload)
		d.ethernet(d.erspan.Payload)
	case 0x22eb: // ERSPAN type III
		d.Stats.ERSPAN++
		if len(payload) < 12 {
			d.truncated()
			return
		}
		off := 12
		if payload[11]&1 == 1 { // optional platform subheader
			off += 8
		}
		if len(payload) < off {
			d.truncated()
			return
		}
		d.viewLen = len(payload) - off
		d.ethernet(payload[off:])
	case layers.EthernetTypeTransparentEthernetBridging:
		d.viewLen = len(payload)
		d.ethernet(payload)
	case layers.EthernetTypeIPv4:
		d.viewLen = len(payload)
		d.ipv4(payload)
	case layers.EthernetTypeIPv6:
		d.viewLen = len(payload)
		d.ipv6(payload)
	case 0x880b: // PPP (PPTP)
		if len(payload) >= 4 && payload[0] == 0xff && payload[1] == 0x03 {
			payload = payload[2:]
		}
		if len(payload) >= 2 {
			switch binary.BigEndian.Uint16(payload[:2]) {
			case 0x0021:
				d.ipv4(payload[2:])
			case 0x0057:
				d.ipv6(payload[2:])
			}
		}
	default:
		d.etherType(d.gre.Protocol, payload)
	}
}
