package decode_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/decode"
)

// udp4 is an IPv4/UDP datagram 10.0.0.1:1234 -> 10.0.0.2:53 with payload.
func udp4(payload string) []byte {
	b := make([]byte, 28+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8], b[9] = 64, decode.ProtoUDP
	copy(b[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(b[20:], 1234)
	binary.BigEndian.PutUint16(b[22:], 53)
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	copy(b[28:], payload)
	return b
}

func eth(etype uint16, rest ...[]byte) []byte {
	b := make([]byte, 12, 64)
	b = binary.BigEndian.AppendUint16(b, etype)
	for _, r := range rest {
		b = append(b, r...)
	}
	return b
}

func tag(id, next uint16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, id), next)
}

func TestLinkLayers(t *testing.T) {
	ip := udp4("hello")
	sll := make([]byte, 16)
	binary.BigEndian.PutUint16(sll[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(sll[4:], 6)
	binary.BigEndian.PutUint16(sll[14:], 0x0800)
	sll2 := make([]byte, 20)
	binary.BigEndian.PutUint16(sll2[0:], 0x0800)
	binary.BigEndian.PutUint16(sll2[8:], 1)
	sll2[11] = 6
	mpls := []byte{0x00, 0x01, 0x01, 0x40} // label 16, bottom of stack
	pppoe := []byte{0x11, 0x00, 0x00, 0x01, 0x00, byte(len(ip) + 2), 0x00, 0x21}
	for _, tc := range []struct {
		name  string
		lt    layers.LinkType
		frame []byte
		vlan  []uint16
	}{
		{"ethernet", 1, eth(0x0800, ip), nil},
		{"802.1Q", 1, eth(0x8100, tag(100, 0x0800), ip), []uint16{100}},
		{"QinQ", 1, eth(0x88a8, tag(10, 0x8100), tag(20, 0x0800), ip), []uint16{10, 20}},
		{"MPLS", 1, eth(0x8847, mpls, ip), nil},
		{"PPPoE", 1, eth(0x8864, pppoe, ip), nil},
		{"raw 101", 101, ip, nil},
		{"raw 12", 12, ip, nil},
		{"raw 14", 14, ip, nil},
		{"ipv4 228", 228, ip, nil},
		{"null little endian", 0, append([]byte{2, 0, 0, 0}, ip...), nil},
		{"loop big endian", 108, append([]byte{0, 0, 0, 2}, ip...), nil},
		{"linux sll", 113, append(sll, ip...), nil},
		{"linux sll2", 276, append(sll2, ip...), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decode.New(decode.Options{})
			var p decode.Packet
			d.Decode(tc.frame, tc.lt, time.Unix(0, 0), &p)
			require.Equal(t, 1, p.N)
			v := p.Views[0]
			assert.Equal(t, netip.MustParseAddr("10.0.0.2"), v.Dst)
			assert.Equal(t, uint16(53), v.DstPort)
			assert.Equal(t, "hello", string(v.Payload))
			assert.Equal(t, tc.vlan, append([]uint16(nil), v.VLAN[:v.NVLAN]...))
		})
	}
}

func TestTruncatedHeaders(t *testing.T) {
	d := decode.New(decode.Options{})
	var p decode.Packet
	full := eth(0x0800, udp4("hello"))
	for n := 0; n < len(full); n++ {
		d.Decode(full[:n], 1, time.Unix(0, 0), &p)
		if n < 14+28 {
			assert.Zero(t, p.N, "prefix of %d bytes", n)
		}
	}
	assert.NotZero(t, d.Stats.Truncated)
}
