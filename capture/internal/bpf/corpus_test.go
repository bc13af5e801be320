package bpf

import (
	"math/rand/v2"
	"net"
	"os"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"
)

type corpusPacket struct {
	name string
	data []byte
}

// packetCorpus is every Ethernet frame of the shared captures plus
// synthesised frames built to hit each branch of the supported primitives:
// IPv4 (with and without options, fragments), IPv6 (with a fragment
// header), ARP, RARP, 802.1Q/802.1ad/0x9100 tags, TCP/UDP/SCTP/ICMP/ICMPv6,
// the addresses, ports and MACs the expression table uses, and every frame
// again truncated at a few lengths (out-of-bounds loads reject).
func packetCorpus(t *testing.T) []corpusPacket {
	t.Helper()
	var c []corpusPacket
	for _, f := range corpusFiles(t) {
		fh, err := os.Open(f)
		require.NoError(t, err)
		r, err := pcapgo.NewReader(fh)
		if err != nil || r.LinkType() != layers.LinkTypeEthernet {
			fh.Close()
			continue
		}
		for {
			data, _, err := r.ReadPacketData()
			if err != nil {
				break
			}
			c = append(c, corpusPacket{f, data})
		}
		fh.Close()
	}
	c = append(c, synthesise(t)...)
	rng := rand.New(rand.NewPCG(1, 2))
	n := len(c)
	for i := 0; i < n; i++ {
		d := c[i].data
		for _, cut := range []int{13, 20, 24, 34, 37, 54, 57, rng.IntN(len(d) + 1)} {
			if cut < len(d) {
				c = append(c, corpusPacket{c[i].name + " truncated", d[:cut]})
			}
		}
	}
	return c
}

var (
	corpusV4    = []string{"10.0.0.1", "10.0.0.2", "10.1.2.3", "10.200.0.9", "192.168.1.1", "192.168.7.7", "1.2.3.4", "172.16.5.5", "8.8.8.8"}
	corpusV6    = []string{"::1", "fe80::1", "fe80::2", "2001:db8::5", "2001:db8:0:1::5", "2001:db8:1::1", "2001:db9::1"}
	corpusPorts = []uint16{0, 22, 53, 80, 443, 999, 1000, 1023, 1500, 2000, 2001, 6000, 6063, 6064, 65535}
	corpusMACs  = []string{"01:02:03:04:05:06", "ff:ff:ff:ff:ff:ff", "00:11:22:33:44:55", "02:00:00:00:00:01", "01:02:03:04:05:07"}
)

func synthesise(t testing.TB) []corpusPacket {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	port := func() uint16 { return corpusPorts[rng.IntN(len(corpusPorts))] }
	var out []corpusPacket
	add := func(name string, ls ...gopacket.SerializableLayer) {
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true}
		require.NoError(t, gopacket.SerializeLayers(buf, opts, ls...), name)
		out = append(out, corpusPacket{name, append([]byte(nil), buf.Bytes()...)})
	}
	for i := 0; i < 4000; i++ {
		src, _ := net.ParseMAC(pick(corpusMACs))
		dst, _ := net.ParseMAC(pick(corpusMACs))
		eth := &layers.Ethernet{SrcMAC: src, DstMAC: dst}
		var head []gopacket.SerializableLayer
		// 0, 1 or 2 VLAN tags with each of the three TPIDs.
		nTags := []int{0, 0, 0, 1, 2}[rng.IntN(5)]
		tpids := []layers.EthernetType{layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ, 0x9100}
		var tags []*layers.Dot1Q
		cur := &eth.EthernetType
		for j := 0; j < nTags; j++ {
			*cur = tpids[rng.IntN(3)]
			d := &layers.Dot1Q{VLANIdentifier: []uint16{5, 100, 3, 4095}[rng.IntN(4)], Priority: uint8(rng.IntN(8))}
			tags = append(tags, d)
			cur = &d.Type
		}
		head = append(head, eth)
		for _, d := range tags {
			head = append(head, d)
		}
		payload := gopacket.Payload([]byte("firebreak"))
		switch rng.IntN(9) {
		case 0, 1, 2: // IPv4
			*cur = layers.EthernetTypeIPv4
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, SrcIP: net.ParseIP(pick(corpusV4)), DstIP: net.ParseIP(pick(corpusV4))}
			if rng.IntN(4) == 0 {
				ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
			}
			if rng.IntN(5) == 0 {
				ip.FragOffset = uint16(rng.IntN(3) * 185)
				ip.Flags = layers.IPv4MoreFragments
			}
			ls := append(head, ip)
			switch rng.IntN(5) {
			case 0:
				ip.Protocol = layers.IPProtocolTCP
				ls = append(ls, &layers.TCP{SrcPort: layers.TCPPort(port()), DstPort: layers.TCPPort(port()), DataOffset: 5})
			case 1:
				ip.Protocol = layers.IPProtocolUDP
				ls = append(ls, &layers.UDP{SrcPort: layers.UDPPort(port()), DstPort: layers.UDPPort(port())})
			case 2:
				ip.Protocol = layers.IPProtocolSCTP
				ls = append(ls, &layers.UDP{SrcPort: layers.UDPPort(port()), DstPort: layers.UDPPort(port())}) // same port layout
			case 3:
				ip.Protocol = layers.IPProtocolICMPv4
				ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)})
			default:
				ip.Protocol = layers.IPProtocol(47)
			}
			add("synth ipv4", append(ls, payload)...)
		case 3, 4, 5: // IPv6
			*cur = layers.EthernetTypeIPv6
			ip := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: net.ParseIP(pick(corpusV6)), DstIP: net.ParseIP(pick(corpusV6))}
			ls := append(head, ip)
			next := &ip.NextHeader
			if rng.IntN(4) == 0 {
				// A fragment header: next header, reserved, offset, id.
				*next = layers.IPProtocolIPv6Fragment
				var nh layers.IPProtocol
				frag := &rawHeader{next: &nh}
				ls = append(ls, frag)
				next = &nh
			}
			switch rng.IntN(5) {
			case 0:
				*next = layers.IPProtocolTCP
				ls = append(ls, &layers.TCP{SrcPort: layers.TCPPort(port()), DstPort: layers.TCPPort(port()), DataOffset: 5})
			case 1:
				*next = layers.IPProtocolUDP
				ls = append(ls, &layers.UDP{SrcPort: layers.UDPPort(port()), DstPort: layers.UDPPort(port())})
			case 2:
				*next = layers.IPProtocolSCTP
				ls = append(ls, &layers.UDP{SrcPort: layers.UDPPort(port()), DstPort: layers.UDPPort(port())})
			case 3:
				*next = layers.IPProtocolICMPv6
				ls = append(ls, &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)})
			default:
				*next = layers.IPProtocolNoNextHeader
			}
			add("synth ipv6", append(ls, payload)...)
		case 6, 7: // ARP / RARP
			*cur = layers.EthernetTypeARP
			if rng.IntN(2) == 0 {
				*cur = 0x8035
			}
			add("synth arp", append(head, &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
				HwAddressSize: 6, ProtAddressSize: 4, Operation: 1, SourceHwAddress: src, DstHwAddress: dst,
				SourceProtAddress: net.ParseIP(pick(corpusV4)).To4(), DstProtAddress: net.ParseIP(pick(corpusV4)).To4()})...)
		default: // something else entirely
			*cur = layers.EthernetType(0x88cc)
			add("synth lldp-ish", append(head, payload)...)
		}
	}
	return out
}

// rawHeader is an IPv6 fragment header whose next-header byte is filled in
// after the layer after it is chosen.
type rawHeader struct{ next *layers.IPProtocol }

func (h *rawHeader) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	p, err := b.PrependBytes(8)
	if err != nil {
		return err
	}
	copy(p, []byte{byte(*h.next), 0, 0, 0, 0, 0, 0, 1})
	return nil
}

func (h *rawHeader) LayerType() gopacket.LayerType { return gopacket.LayerTypePayload }
