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
	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

func TestCaptures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		frame    int // 0-based frame to check
		views    int
		vlan     []uint16
		proto    uint8
		src, dst string
		dport    uint16
	}{
		{"dns-udp-eve-dig", 0, 1, nil, decode.ProtoUDP, "10.16.1.11", "10.16.1.1", 53},
		{"bug-814", 0, 1, []uint16{1111}, decode.ProtoTCP, "fe80::20c:29ff:fef3:cf38", "fe80::20c:29ff:faf2:ab42", 80},
		{"bug-4810", 0, 1, nil, decode.ProtoTCP, "10.100.0.0", "142.250.179.131", 80}, // PPPoE, compressed PPP protocol
		{"decode-erspan-typeI-01", 0, 1, []uint16{1011}, decode.ProtoICMP, "", "", 0},
		{"vxlan-decoder-03", 0, 2, nil, decode.ProtoUDP, "", "", 0},
		{"http-not09", 0, 1, nil, decode.ProtoTCP, "", "", 0},                                                 // BSD null
		{"tcp-fastopen-10-syn-data-ignore", 0, 1, nil, decode.ProtoTCP, "192.168.0.45", "17.253.144.10", 443}, // raw IP
		{"eve-flow-vlan-02", 2, 1, []uint16{1, 10, 100}, decode.ProtoICMP, "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames := testutil.Frames(t, tc.name, tc.frame+1)
			require.Greater(t, len(frames), tc.frame)
			d := decode.New(decode.Options{})
			var p decode.Packet
			d.Decode(frames[tc.frame].Data, frames[tc.frame].LinkType, time.Unix(0, 0), &p)
			require.Equal(t, tc.views, p.N)
			v := p.Last()
			assert.Equal(t, tc.proto, v.Proto)
			if tc.vlan != nil {
				assert.Equal(t, tc.vlan, v.VLAN[:v.NVLAN])
			}
			if tc.src != "" {
				assert.Equal(t, netip.MustParseAddr(tc.src), v.Src)
				assert.Equal(t, netip.MustParseAddr(tc.dst), v.Dst)
				assert.Equal(t, tc.dport, v.DstPort)
			}
		})
	}
}

func TestTeredoAndGRE(t *testing.T) {
	for _, name := range []string{"decode-teredo-01", "bug-5633-gre-02"} {
		t.Run(name, func(t *testing.T) {
			d := decode.New(decode.Options{})
			var p decode.Packet
			for _, fr := range testutil.Frames(t, name, 1000) {
				d.Decode(fr.Data, fr.LinkType, time.Unix(0, 0), &p)
			}
			if name == "decode-teredo-01" {
				assert.NotZero(t, d.Stats.Teredo)
			} else {
				assert.NotZero(t, d.Stats.GRE)
			}
		})
	}
}

// ipv4Frag builds a raw IPv4 fragment.
func ipv4Frag(id uint16, off int, more bool, payload []byte) []byte {
	b := make([]byte, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], id)
	fo := uint16(off / 8)
	if more {
		fo |= 0x2000
	}
	binary.BigEndian.PutUint16(b[6:], fo)
	b[8] = 64
	b[9] = decode.ProtoUDP
	copy(b[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	copy(b[20:], payload)
	return b
}

func TestDefrag(t *testing.T) {
	udp := make([]byte, 8+40)
	binary.BigEndian.PutUint16(udp[0:], 1234)
	binary.BigEndian.PutUint16(udp[2:], 53)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	for i := 8; i < len(udp); i++ {
		udp[i] = byte(i)
	}
	for _, tc := range []struct {
		name  string
		order []int // fragment indexes: 0 = [0,24), 1 = [24,48)
		gap   time.Duration
		want  bool
	}{
		{"in order", []int{0, 1}, 0, true},
		{"reversed", []int{1, 0}, 0, true},
		{"duplicate first", []int{0, 0, 1}, 0, true},
		{"timed out", []int{0, 1}, 2 * time.Minute, false},
		{"incomplete", []int{1}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decode.New(decode.Options{})
			var p decode.Packet
			frags := [][]byte{ipv4Frag(7, 0, true, udp[:24]), ipv4Frag(7, 24, false, udp[24:])}
			ts := time.Unix(1000, 0)
			got := false
			for i, idx := range tc.order {
				if i > 0 {
					ts = ts.Add(tc.gap)
				}
				d.Decode(frags[idx], layers.LinkTypeRaw, ts, &p)
				if p.N == 1 {
					got = true
					assert.Equal(t, udp[8:], p.Views[0].Payload)
					assert.True(t, p.Views[0].Reassembled)
				}
			}
			assert.Equal(t, tc.want, got)
			assert.LessOrEqual(t, d.Defrag().Held(), 48)
		})
	}
}

func TestDefragBounded(t *testing.T) {
	d := decode.New(decode.Options{Defrag: decode.DefragOptions{MaxDatagrams: 100, MaxBytes: 1 << 16}})
	var p decode.Packet
	for i := range 10000 {
		d.Decode(ipv4Frag(uint16(i), 0, true, make([]byte, 1000)), layers.LinkTypeRaw, time.Unix(1000, 0), &p)
	}
	assert.LessOrEqual(t, d.Defrag().Held(), 1<<16)
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"bug-814", "bug-4810", "decode-erspan-typeI-01", "vxlan-decoder-03",
		"decode-teredo-01", "bug-5633-gre-02", "http-not09", "eve-flow-vlan-02",
		"bug-6887-defrag-ipv4-tcp-syn", "bug-6887-defrag-eth-vlan-ipv6-tcp", "tcp-fastopen-10-syn-data-ignore"} {
		for _, fr := range testutil.Frames(f, name, 3) {
			f.Add(fr.Data, uint16(fr.LinkType))
		}
	}
	d := decode.New(decode.Options{Defrag: decode.DefragOptions{MaxBytes: 1 << 20}})
	var p decode.Packet
	f.Fuzz(func(t *testing.T, data []byte, lt uint16) {
		d.Decode(data, layers.LinkType(lt), time.Unix(1000, 0), &p)
		for i := 0; i < p.N; i++ {
			if p.Views[i].Len < 0 {
				t.Fatal("negative length")
			}
		}
		if d.Defrag().Held() > 1<<20 {
			t.Fatal("defrag over its cap")
		}
	})
}
