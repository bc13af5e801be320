//go:build !wasip1

package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func query(b *sdk.Builder, name, rrtype string) {
	b.Begin(sdk.Header{Kind: sdk.KindDNS, Proto: 17, Src: netip.MustParseAddr("10.0.0.5"), Dst: netip.MustParseAddr("10.0.0.53"), DstPort: 53})
	b.Str(sdk.FieldDNSType, "request")
	b.Str(sdk.FieldDNSRRName, name)
	b.Str(sdk.FieldDNSRRType, rrtype)
	b.End()
}

func TestDNSTunnel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		build  func(*sdk.Builder)
		alerts []string
	}{
		{"ordinary names", func(b *sdk.Builder) {
			for _, n := range []string{"www.example.com", "mail.google.com", "a1.cdn.akamaiedge.net", "_ldap._tcp.dc._msdcs.corp.example.com"} {
				for i := 0; i < 20; i++ {
					query(b, n, "A")
				}
			}
		}, nil},
		{"one long random label", func(b *sdk.Builder) {
			query(b, "aGVsbG8gd29ybGQgdGhpcyBpcyBzZWNyZXQgZGF0YQo0123.x.evil.org", "A")
		}, []string{"FIREBREAK DNS exfiltration: 47-character random label in a query for evil.org"}},
		{"NULL queries in volume", func(b *sdk.Builder) {
			for i := 0; i < 12; i++ {
				query(b, "p"+strings.Repeat("q", i)+".t.pirate.sea", "NULL")
			}
		}, []string{"FIREBREAK DNS tunnel: 10+ encoded or NULL queries to pirate.sea"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdk.Test.Reset()
			m := &tunnels{}
			if err := m.Init(nil); err != nil {
				t.Fatal(err)
			}
			var b sdk.Builder
			tc.build(&b)
			if err := m.Batch(b.Batch()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range sdk.Test.Alerts {
				got = append(got, a.Signature)
			}
			if strings.Join(got, "\n") != strings.Join(tc.alerts, "\n") {
				t.Errorf("alerts %q, want %q", got, tc.alerts)
			}
		})
	}
}

func TestEntropy(t *testing.T) {
	if e := entropy("aaaaaaaa"); e != 0 {
		t.Errorf("entropy of one symbol: %v", e)
	}
	if e := entropy("0123456789abcdef"); e != 4 {
		t.Errorf("entropy of 16 symbols once each: %v", e)
	}
}

// Names in a batch alias the host's buffer, which the next batch
// overwrites: what the module keeps across batches must be its own copy.
func TestCountsAcrossBatches(t *testing.T) {
	sdk.Test.Reset()
	m := &tunnels{}
	if err := m.Init(nil); err != nil {
		t.Fatal(err)
	}
	var b sdk.Builder
	for i := 0; i < 12; i++ {
		b.Reset()
		if i%2 == 1 { // shift the query: other bytes now lie where the last one was
			query(&b, "www.zzzzzz.org", "A")
		}
		query(&b, "p.t.pirate.sea", "NULL")
		if err := m.Batch(b.Batch()); err != nil {
			t.Fatal(err)
		}
	}
	if len(sdk.Test.Alerts) != 1 || !strings.Contains(sdk.Test.Alerts[0].Signature, "DNS tunnel: 10+ encoded or NULL queries to pirate.sea") {
		t.Errorf("alerts %v, want one tunnel alert for pirate.sea", sdk.Test.Alerts)
	}
	for k := range m.count {
		t.Errorf("a count is left for %q (its key changed under it?)", k.domain)
	}
	for k := range m.done {
		if k.domain != "pirate.sea" {
			t.Errorf("kept domain %q: only pirate.sea was suspicious (a key that aliased the batch?)", k.domain)
		}
	}
}
