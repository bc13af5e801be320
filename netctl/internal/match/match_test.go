package match

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

func keysText(ks []netlink.TcU32Key) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%08x/%08x@%d", k.Val, k.Mask, k.Off))
	}
	return strings.Join(parts, " ")
}

func TestU32Keys(t *testing.T) {
	mac := MAC{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}
	for _, tc := range []struct {
		rule Rule
		want string
	}{
		{Rule{Proto: ProtoIPv4, Src: netip.MustParsePrefix("10.1.2.3/32")}, "0a010203/ffffffff@12"},
		{Rule{Proto: ProtoIPv4, Dst: netip.MustParsePrefix("10.1.2.3/20")}, "0a010000/fffff000@16"},
		// iproute2's "match ether src/dst": aligned words at -8/-4 and -16/-12.
		{Rule{Proto: ProtoAll, SrcMAC: mac}, "02aabbcc/ffffffff@-8 ddee0000/ffff0000@-4"},
		{Rule{Proto: ProtoAll, DstMAC: mac}, "000002aa/0000ffff@-16 bbccddee/ffffffff@-12"},
		// The ARP sender address straddles two words.
		{Rule{Proto: ProtoARP, Src: netip.MustParsePrefix("192.168.16.0/20")}, "00000800/0000ffff@0 06040000/ffff0000@4 0000c0a8/0000ffff@12 10000000/f0000000@16"},
		{Rule{Proto: ProtoARP, Dst: netip.MustParsePrefix("192.168.1.7/32")}, "00000800/0000ffff@0 06040000/ffff0000@4 c0a80107/ffffffff@24"},
		{Rule{Proto: ProtoIPv4, Dst: netip.MustParsePrefix("10.0.0.9/32"), L4: TCP, DstPort: 22},
			"05000000/0f000000@0 00000000/00001fff@4 00060000/00ff0000@8 0a000009/ffffffff@16 00000016/0000ffff@20"},
		{Rule{Proto: ProtoIPv6, Src: netip.MustParsePrefix("fd00::/64")}, "fd000000/ffffffff@8 00000000/ffffffff@12"},
		{Rule{Proto: ProtoIPv6, Dst: netip.MustParsePrefix("fd00::1/128"), L4: UDP, SrcPort: 53},
			"00001100/0000ff00@4 fd000000/ffffffff@24 00000000/ffffffff@28 00000000/ffffffff@32 00000001/ffffffff@36 00350000/ffff0000@40"},
	} {
		t.Run(tc.rule.String(), func(t *testing.T) {
			assert.Equal(t, tc.want, keysText(u32Keys(tc.rule)))
		})
	}
}

func TestKeyDistinguishesRules(t *testing.T) {
	// Every rule Firebreak builds must have its own key, or a drift
	// could go unnoticed.
	a := netip.MustParsePrefix("10.0.0.5/32")
	b := netip.MustParsePrefix("10.0.0.9/32")
	mac := MAC{2, 0, 0, 0, 0, 5}
	rules := []Rule{
		{Verdict: Drop, Proto: ProtoIPv4, Src: a},
		{Verdict: Drop, Proto: ProtoIPv4, Dst: a},
		{Verdict: Pass, Proto: ProtoIPv4, Src: a},
		{Verdict: Drop, Proto: ProtoARP, Src: a},
		{Verdict: Drop, Proto: ProtoARP, Dst: a},
		{Verdict: Drop, Proto: ProtoAll, SrcMAC: mac},
		{Verdict: Drop, Proto: ProtoAll, DstMAC: mac},
		{Verdict: Pass, Proto: ProtoIPv4, Src: a, Dst: b, L4: TCP, DstPort: 22},
		{Verdict: Pass, Proto: ProtoIPv4, Src: a, Dst: b, L4: UDP, DstPort: 22},
		{Verdict: Pass, Proto: ProtoIPv4, Src: a, Dst: b, L4: TCP, SrcPort: 22},
		{Verdict: Pass, Proto: ProtoIPv4, Src: a, Dst: b},
	}
	for _, cls := range []Classifier{U32, Flower} {
		for _, drop := range []DropAction{{}, {SinkIndex: 7}} {
			seen := map[string]Rule{}
			for _, r := range rules {
				if cls == Flower && r.Proto == ProtoARP {
					continue
				}
				f, err := Build(r, cls, netlink.FilterAttrs{Priority: 1000}, drop)
				require.NoError(t, err)
				k, ok := Key(f)
				require.True(t, ok, "%s", r)
				if prev, dup := seen[k]; dup {
					t.Errorf("%s and %s share key %s", prev, r, k)
				}
				seen[k] = r
			}
		}
	}
}

func TestKeyRejectsForeign(t *testing.T) {
	f, err := Build(Rule{Verdict: Drop, Proto: ProtoIPv4, Src: netip.MustParsePrefix("10.0.0.5/32")}, U32, netlink.FilterAttrs{}, DropAction{})
	require.NoError(t, err)
	u := f.(*netlink.U32)
	u.ClassId = 0x10001
	_, ok := Key(u)
	assert.False(t, ok)
	u.ClassId = 0
	u.Actions = append(u.Actions, &netlink.MirredAction{MirredAction: netlink.TCA_EGRESS_MIRROR})
	_, ok = Key(u)
	assert.False(t, ok)
}

func TestValidate(t *testing.T) {
	bad := []Rule{
		{Proto: ProtoIPv4},
		{Verdict: Drop, Proto: 0x1234},
		{Verdict: Drop, Proto: ProtoIPv4, Src: netip.MustParsePrefix("fd00::/8")},
		{Verdict: Drop, Proto: ProtoIPv6, Src: netip.MustParsePrefix("10.0.0.0/8")},
		{Verdict: Drop, Proto: ProtoIPv4, DstPort: 22},
		{Verdict: Drop, Proto: ProtoARP, L4: TCP},
	}
	for _, r := range bad {
		assert.Error(t, r.Validate(), "%s", r)
	}
	_, err := Build(Rule{Verdict: Drop, Proto: ProtoARP, Src: netip.MustParsePrefix("10.0.0.1/32")}, Flower, netlink.FilterAttrs{}, DropAction{})
	assert.Error(t, err)
}

func TestDecodeRoundTrip(t *testing.T) {
	mac := MAC{2, 0xaa, 0, 0, 0, 5}
	for _, r := range []Rule{
		{Verdict: Drop, Proto: ProtoIPv4, Src: netip.MustParsePrefix("10.0.0.0/20")},
		{Verdict: Drop, Proto: ProtoARP, Src: netip.MustParsePrefix("192.168.16.0/20")},
		{Verdict: Drop, Proto: ProtoARP, Dst: netip.MustParsePrefix("192.168.1.7/32")},
		{Verdict: Drop, Proto: ProtoAll, SrcMAC: mac},
		{Verdict: Drop, Proto: ProtoAll, DstMAC: mac},
		{Verdict: Pass, Proto: ProtoIPv4, SrcMAC: mac, Src: netip.MustParsePrefix("10.0.0.5/32"), Dst: netip.MustParsePrefix("10.0.0.9/32"), L4: TCP, DstPort: 22},
		{Verdict: Pass, Proto: ProtoIPv6, DstMAC: mac, Src: netip.MustParsePrefix("fd00::9/128"), L4: UDP, SrcPort: 53},
		{Verdict: Pass, Proto: ProtoIPv6, Src: netip.MustParsePrefix("fd00::9/128"), Dst: netip.MustParsePrefix("ff02::1:ff00:7/128"), L4: 58},
		{Verdict: Pass, Proto: ProtoARP, DstMAC: mac, Src: netip.MustParsePrefix("10.0.0.9/32")},
	} {
		for _, cls := range []Classifier{U32, Flower} {
			if cls == Flower && r.Proto == ProtoARP {
				continue
			}
			for _, drop := range []DropAction{{}, {SinkIndex: 9}} {
				f, err := Build(r, cls, netlink.FilterAttrs{Priority: 1050}, drop)
				require.NoError(t, err)
				got, ok := Decode(f)
				require.True(t, ok, "%s %s", cls, r)
				assert.Equal(t, r, got, "%s", cls)
			}
		}
	}
}
