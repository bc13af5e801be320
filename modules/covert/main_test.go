//go:build !wasip1

package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

const sec = int64(1e9)

// icmp adds an ICMP flow record of pkts packets each way, each of size
// bytes, lasting secs seconds.
func icmp(b *sdk.Builder, proto uint8, src, dst string, up, down, size uint64, secs int64) {
	start := int64(1_700_000_000) * sec
	b.Begin(sdk.Header{Kind: sdk.KindFlow, Proto: proto, Time: start + secs*sec, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst)})
	b.Uint(sdk.FieldPktsToServer, up)
	b.Uint(sdk.FieldPktsToClient, down)
	b.Uint(sdk.FieldBytesToServer, up*size)
	b.Uint(sdk.FieldBytesToClient, down*size)
	b.Uint(sdk.FieldFlowStart, uint64(start))
	b.End()
}

func TestCovert(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string
		build  func(*sdk.Builder)
		alerts []string
	}{
		{"tunnel with large payloads", "", func(b *sdk.Builder) {
			icmp(b, 1, "10.0.0.5", "203.0.113.9", 400, 400, 220, 1100)
			icmp(b, 1, "10.0.0.5", "203.0.113.9", 400, 400, 220, 1100) // once per pair
		}, []string{"10.0.0.5 -> 203.0.113.9 FIREBREAK ICMP tunnel: 800 packets averaging 220 bytes over 1100 s, unlike ping"}},
		{"over IPv6", "", func(b *sdk.Builder) {
			icmp(b, 58, "2001:db8::5", "2001:db8::9", 100, 100, 600, 60)
		}, []string{"2001:db8::5 -> 2001:db8::9 FIREBREAK ICMP tunnel: 200 packets averaging 600 bytes over 60 s, unlike ping"}},
		{"tunnel with small packets at a high rate", "", func(b *sdk.Builder) {
			icmp(b, 1, "10.0.0.5", "203.0.113.9", 3000, 3000, 98, 120)
		}, []string{"10.0.0.5 -> 203.0.113.9 FIREBREAK ICMP tunnel: 6000 packets at 50 a second over 120 s, unlike ping"}},
		{"ping for an hour", "", func(b *sdk.Builder) {
			icmp(b, 1, "10.0.0.5", "10.0.0.1", 3600, 3600, 98, 3600)
		}, nil},
		{"Windows ping", "", func(b *sdk.Builder) { icmp(b, 1, "10.0.0.5", "10.0.0.1", 100, 100, 74, 100) }, nil},
		{"path MTU test: a few large pings", "", func(b *sdk.Builder) {
			icmp(b, 1, "10.0.0.5", "10.0.0.1", 10, 10, 1500, 10)
		}, nil},
		{"one-way ICMP errors", "", func(b *sdk.Builder) {
			icmp(b, 1, "10.0.0.1", "10.0.0.5", 500, 0, 590, 300)
		}, nil},
		{"TCP is not ICMP", "", func(b *sdk.Builder) {
			icmp(b, 6, "10.0.0.5", "203.0.113.9", 400, 400, 220, 1100)
		}, nil},
		{"a stricter config", `{"mean_bytes": 90}`, func(b *sdk.Builder) {
			icmp(b, 1, "10.0.0.5", "10.0.0.1", 100, 100, 98, 100)
		}, []string{"10.0.0.5 -> 10.0.0.1 FIREBREAK ICMP tunnel: 200 packets averaging 98 bytes over 100 s, unlike ping"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdk.Test.Reset()
			c := &covert{}
			if err := c.Init([]byte(tc.config)); err != nil {
				t.Fatal(err)
			}
			var b sdk.Builder
			tc.build(&b)
			if err := c.Batch(b.Batch()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range sdk.Test.Alerts {
				got = append(got, a.Src.String()+" -> "+a.Dst.String()+" "+a.Signature)
			}
			if strings.Join(got, "\n") != strings.Join(tc.alerts, "\n") {
				t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.alerts, "\n"))
			}
		})
	}
	if err := (&covert{}).Init([]byte(`{"mean_bytes": "big"}`)); err == nil {
		t.Error("a malformed config must be refused")
	}
}
