//go:build !wasip1

package main

import (
	"net/netip"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func session(b *sdk.Builder, start int64, port uint16, bytes uint64, ageS int64) {
	b.Begin(sdk.Header{Kind: sdk.KindFlow, Proto: 6, Time: start + ageS*1e9, Src: netip.MustParseAddr("10.0.0.66"),
		Dst: netip.MustParseAddr("10.0.0.22"), SrcPort: 50000, DstPort: port})
	b.Uint(sdk.FieldFlowStart, uint64(start))
	b.Uint(sdk.FieldPktsToServer, 20)
	b.Uint(sdk.FieldPktsToClient, 15)
	b.Uint(sdk.FieldBytesToServer, bytes)
	b.End()
}

func TestBruteforce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(*sdk.Builder)
		want  int
	}{
		{"12 short SSH sessions in a minute", func(b *sdk.Builder) {
			for i := int64(0); i < 12; i++ {
				session(b, i*5e9, 22, 4000, 4)
			}
		}, 1},
		{"12 sessions spread over a day", func(b *sdk.Builder) {
			for i := int64(0); i < 12; i++ {
				session(b, i*3600e9, 22, 4000, 4)
			}
		}, 0},
		{"long interactive sessions", func(b *sdk.Builder) {
			for i := int64(0); i < 12; i++ {
				session(b, i*5e9, 22, 4000, 600)
			}
		}, 0},
		{"not a login service", func(b *sdk.Builder) {
			for i := int64(0); i < 12; i++ {
				session(b, i*5e9, 8080, 4000, 4)
			}
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdk.Test.Reset()
			g := &guesses{}
			if err := g.Init(nil); err != nil {
				t.Fatal(err)
			}
			var b sdk.Builder
			tc.build(&b)
			if err := g.Batch(b.Batch()); err != nil {
				t.Fatal(err)
			}
			if len(sdk.Test.Alerts) != tc.want {
				t.Errorf("%d alerts, want %d: %v", len(sdk.Test.Alerts), tc.want, sdk.Test.Alerts)
			}
		})
	}
}
