//go:build !wasip1

package main

import (
	"net/netip"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/sdk"
)

func flows(b *sdk.Builder, src string, dst func(i int) (string, uint16), n int, flags uint64, toClient uint64) {
	for i := 0; i < n; i++ {
		d, port := dst(i)
		b.Begin(sdk.Header{Kind: sdk.KindFlow, Proto: 6, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(d), SrcPort: 40000, DstPort: port})
		b.Uint(sdk.FieldPktsToServer, 1)
		b.Uint(sdk.FieldPktsToClient, toClient)
		b.Uint(sdk.FieldBytesToServer, 60)
		b.Uint(sdk.FieldTCPFlags, flags)
		b.End()
	}
}

// arps adds n ARP requests from sender for base+i, one every gap of
// packet time.
func arps(b *sdk.Builder, sender string, base [4]byte, n int, gap time.Duration) {
	for i := 0; i < n; i++ {
		p := []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 9}
		p = append(p, netip.MustParseAddr(sender).AsSlice()...)
		p = append(p, 0, 0, 0, 0, 0, 0)
		p = append(p, base[0], base[1], base[2], base[3]+byte(i))
		b.Begin(sdk.Header{Kind: sdk.KindPacket, Time: int64(i) * int64(gap)})
		b.Raw(sdk.FieldPayload, p)
		b.Uint(sdk.FieldEtherType, 0x0806)
		b.End()
	}
}

func TestPortscan(t *testing.T) {
	for _, tc := range []struct {
		name   string
		build  func(*sdk.Builder)
		alerts []string
	}{
		{"vertical SYN scan, answered by RST", func(b *sdk.Builder) {
			flows(b, "10.0.0.9", func(i int) (string, uint16) { return "10.0.0.1", uint16(20 + i) }, 50, 0x16, 1)
		}, []string{"FIREBREAK port scan: 10.0.0.9 probed 5+ TCP ports of 10.0.0.1"}},
		{"horizontal sweep, unanswered", func(b *sdk.Builder) {
			flows(b, "10.0.0.9", func(i int) (string, uint16) { return netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}).String(), 445 }, 20, 0x02, 0)
		}, []string{"FIREBREAK port sweep: 10.0.0.9 probed TCP port 445 on 5+ hosts"}},
		{"four ports is not a scan", func(b *sdk.Builder) {
			flows(b, "10.0.0.9", func(i int) (string, uint16) { return "10.0.0.1", uint16(20 + i) }, 4, 0x02, 0)
		}, nil},
		{"connections with data are not probes", func(b *sdk.Builder) {
			flows(b, "10.0.0.9", func(i int) (string, uint16) { return "10.0.0.1", uint16(20 + i) }, 50, 0x1b, 5)
		}, nil},
		{"ARP sweep of a /24", func(b *sdk.Builder) {
			arps(b, "10.0.0.9", [4]byte{10, 0, 0, 1}, 254, 5*time.Millisecond)
		}, []string{"FIREBREAK ARP sweep: 10.0.0.9 asked for 32+ addresses within 10 s"}},
		{"a gateway resolving hosts over minutes", func(b *sdk.Builder) {
			arps(b, "10.0.0.1", [4]byte{10, 0, 0, 2}, 100, 2*time.Second)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdk.Test.Reset()
			s := &scanner{}
			if err := s.Init(nil); err != nil {
				t.Fatal(err)
			}
			var b sdk.Builder
			tc.build(&b)
			if err := s.Batch(b.Batch()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range sdk.Test.Alerts {
				got = append(got, a.Signature)
				if a.Techniques[0] != "T1046" || a.Src.String() != "10.0.0.9" {
					t.Errorf("technique %v", a.Techniques)
				}
			}
			if len(got) != len(tc.alerts) || len(got) > 0 && got[0] != tc.alerts[0] {
				t.Errorf("alerts %q, want %q", got, tc.alerts)
			}
		})
	}
}
