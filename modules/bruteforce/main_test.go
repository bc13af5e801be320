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

func request(b *sdk.Builder, t int64, method, url string, status uint64) {
	b.Begin(sdk.Header{Kind: sdk.KindHTTP, Proto: 6, Time: t, Src: netip.MustParseAddr("10.0.0.66"),
		Dst: netip.MustParseAddr("10.0.0.80"), SrcPort: 50000, DstPort: 8080})
	b.Str(sdk.FieldHTTPMethod, method)
	b.Str(sdk.FieldHTTPURL, url)
	b.Uint(sdk.FieldHTTPStatus, status)
	b.End()
}

func TestHTTP(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(*sdk.Builder)
		want  string
	}{
		{"12 refused basic authentications", func(b *sdk.Builder) {
			for i := int64(0); i < 12; i++ {
				request(b, i*1e9, "GET", "/admin/", 401)
			}
		}, "FIREBREAK brute force: 10+ HTTP authentications refused (401) from 10.0.0.66 to 10.0.0.80:8080 within 300s"},
		{"12 POSTs to a login form", func(b *sdk.Builder) {
			for i := int64(0); i < 12; i++ {
				request(b, i*1e9, "POST", "/wp-login.php?redirect_to=x", 200)
			}
		}, "FIREBREAK brute force: 10+ POSTs to the login form from 10.0.0.66 to 10.0.0.80:8080 within 300s"},
		{"a user who mistypes twice, then logs in", func(b *sdk.Builder) {
			request(b, 0, "GET", "/admin/", 401)
			request(b, 5e9, "GET", "/admin/", 401)
			request(b, 9e9, "POST", "/Login", 302)
		}, ""},
		{"refusals spread over hours", func(b *sdk.Builder) {
			for i := int64(0); i < 20; i++ {
				request(b, i*600e9, "GET", "/admin/", 401)
			}
		}, ""},
		{"many POSTs that are not logins", func(b *sdk.Builder) {
			for i := int64(0); i < 50; i++ {
				request(b, i*1e9, "POST", "/api/v1/events", 200)
			}
		}, ""},
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
			var got string
			for _, a := range sdk.Test.Alerts {
				got += a.Signature
			}
			if got != tc.want {
				t.Errorf("alerts %q, want %q", got, tc.want)
			}
		})
	}
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
