//go:build !wasip1

package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func TestIOC(t *testing.T) {
	sdk.Test.Reset()
	m := &matcher{}
	err := m.Init([]byte(`{"indicators":[{"type":"domain","value":"Evil.Example"},{"type":"ip","value":"203.0.113.9","name":"C2"},
		{"type":"ja3","value":"72A589DA586844D7F0818CE684948EEA"},{"type":"url","value":"http://203.0.113.9/c2sock"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var b sdk.Builder
	h := sdk.Header{Kind: sdk.KindDNS, Proto: 17, Src: netip.MustParseAddr("10.0.0.5"), Dst: netip.MustParseAddr("10.0.0.53")}
	b.Begin(h)
	b.Str(sdk.FieldDNSRRName, "cdn.evil.example")
	b.End()
	b.Begin(h)
	b.Str(sdk.FieldDNSRRName, "notevil.example") // not a subdomain
	b.End()
	h.Kind, h.Dst = sdk.KindTLS, netip.MustParseAddr("203.0.113.10")
	b.Begin(h)
	b.Str(sdk.FieldTLSJA3, "72a589da586844d7f0818ce684948eea")
	b.End()
	h.Kind, h.Dst = sdk.KindHTTP, netip.MustParseAddr("203.0.113.9")
	b.Begin(h)
	b.Str(sdk.FieldHTTPHost, "203.0.113.9")
	b.Str(sdk.FieldHTTPURL, "/c2sock")
	b.End()
	h.Kind = sdk.KindFlow
	b.Begin(h)
	b.End()
	if err := m.Batch(b.Batch()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range sdk.Test.Alerts {
		got = append(got, a.Signature)
	}
	want := []string{
		"FIREBREAK IOC indicator: domain Evil.Example in a DNS query",
		"FIREBREAK IOC indicator: ja3 72A589DA586844D7F0818CE684948EEA in a TLS fingerprint",
		"FIREBREAK IOC indicator: url http://203.0.113.9/c2sock in an HTTP request",
		"FIREBREAK IOC C2: ip 203.0.113.9 in a flow",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := (&matcher{}).Init([]byte(`{"indicators":[{"type":"hash","value":"x"}]}`)); err == nil {
		t.Error("an unknown indicator type must be refused")
	}
}
