//go:build !wasip1

package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

const sec = int64(1e9)

func hdr(kind sdk.Kind, src, dst string, dport uint16) sdk.Header {
	return sdk.Header{Kind: kind, Proto: 6, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: 50000, DstPort: dport}
}

func httpTx(b *sdk.Builder, src, dst string, port uint16, host, method, url, ctype, referer string) {
	b.Begin(hdr(sdk.KindHTTP, src, dst, port))
	b.Str(sdk.FieldHTTPHost, host)
	b.Str(sdk.FieldHTTPMethod, method)
	b.Str(sdk.FieldHTTPURL, url)
	b.Str(sdk.FieldHTTPContentType, ctype)
	b.Str(sdk.FieldHTTPReferer, referer)
	b.Uint(sdk.FieldHTTPStatus, 200)
	b.End()
}

func tlsHello(b *sdk.Builder, src, dst, sni, subject, issuer, ja3 string) {
	b.Begin(hdr(sdk.KindTLS, src, dst, 443))
	b.Str(sdk.FieldTLSSNI, sni)
	b.Str(sdk.FieldTLSSubject, subject)
	b.Str(sdk.FieldTLSIssuer, issuer)
	b.Str(sdk.FieldTLSJA3, ja3)
	b.End()
}

// flows adds n flows from src to dst:port starting every period seconds,
// each shifted by jitter(i) seconds, in reverse order (as they may end).
func flows(b *sdk.Builder, src, dst string, port uint16, n int, period float64, jitter func(int) float64) {
	base := int64(1_700_000_000) * sec
	for i := n - 1; i >= 0; i-- {
		start := base + int64((float64(i)*period+jitter(i))*1e9)
		h := hdr(sdk.KindFlow, src, dst, port)
		h.Time = start + 2*sec
		b.Begin(h)
		b.Uint(sdk.FieldFlowStart, uint64(start))
		b.End()
	}
}

func TestC2(t *testing.T) {
	none := func(int) float64 { return 0 }
	for _, tc := range []struct {
		name   string
		config string
		build  func(*sdk.Builder)
		alerts []string
	}{
		{"HTTP C2 to a bare address on an unusual port", "", func(b *sdk.Builder) {
			httpTx(b, "10.0.0.5", "198.51.100.20", 7080, "198.51.100.20", "POST", "/a1b2", "text/html", "")
			httpTx(b, "10.0.0.5", "198.51.100.20", 7080, "198.51.100.20:7080", "POST", "/a1b2", "text/html", "") // once
		}, []string{
			"10.0.0.5 -> 198.51.100.20 FIREBREAK C2: HTTP to a bare IP address on unusual port 7080",
			"10.0.0.5 -> 198.51.100.20 FIREBREAK C2: HTTP POST to a bare IP address, no referer from a named site",
		}},
		{"POST without referer to a bare address on port 80", "", func(b *sdk.Builder) {
			httpTx(b, "10.0.0.5", "203.0.113.78", 80, "203.0.113.78", "POST", "/c2sock", "text/html", "")
		}, []string{"10.0.0.5 -> 203.0.113.78 FIREBREAK C2: HTTP POST to a bare IP address, no referer from a named site"}},
		{"POST whose referer is its own bare address", "", func(b *sdk.Builder) {
			httpTx(b, "10.0.0.6", "203.0.113.78", 80, "203.0.113.78", "POST", "/gate", "text/html", "http://203.0.113.78/gate")
			httpTx(b, "10.0.0.7", "203.0.113.78", 80, "203.0.113.78", "POST", "/gate", "text/html", "http://u@[2001:db8::1]:80/")
		}, []string{
			"10.0.0.6 -> 203.0.113.78 FIREBREAK C2: HTTP POST to a bare IP address, no referer from a named site",
			"10.0.0.7 -> 203.0.113.78 FIREBREAK C2: HTTP POST to a bare IP address, no referer from a named site",
		}},
		{"ordinary web use", "", func(b *sdk.Builder) {
			httpTx(b, "10.0.0.5", "203.0.113.78", 80, "www.example.com", "POST", "/login", "text/html", "")
			httpTx(b, "10.0.0.5", "203.0.113.78", 80, "203.0.113.78", "GET", "/", "text/html", "")
			httpTx(b, "10.0.0.5", "203.0.113.78", 80, "203.0.113.78", "POST", "/form", "text/html", "https://portal.example.com/login")
			httpTx(b, "10.0.0.5", "203.0.113.78", 8080, "203.0.113.78", "GET", "/", "text/html", "")
			httpTx(b, "10.0.0.5", "10.0.0.1", 7080, "10.0.0.1", "POST", "/cgi-bin/admin", "text/html", "") // a private server
		}, nil},
		{"executable downloads", "", func(b *sdk.Builder) {
			httpTx(b, "10.0.0.5", "203.0.113.9", 80, "files.example.net", "GET", "/wp-content/x/", "application/x-dosexec", "")
			httpTx(b, "10.0.0.6", "203.0.113.9", 80, "203.0.113.9", "GET", "/load/Update.EXE?id=3", "application/octet-stream", "")
			httpTx(b, "10.0.0.7", "203.0.113.9", 80, "www.example.net", "GET", "/report.pdf", "application/pdf", "")
		}, []string{
			"10.0.0.5 -> 203.0.113.9 FIREBREAK payload download: executable (application/x-dosexec) over HTTP",
			"10.0.0.6 -> 203.0.113.9 FIREBREAK payload download: executable (.exe) over HTTP",
		}},
		{"TLS without SNI to a self-signed certificate", "", func(b *sdk.Builder) {
			tlsHello(b, "10.0.0.5", "198.51.100.101", "", "C=GB, ST=London, O=Global Security, CN=example.com", "C=GB, ST=London, O=Global Security, CN=example.com", "")
			tlsHello(b, "10.0.0.5", "198.51.100.102", "example.com", "CN=example.com", "CN=example.com", "") // has a name
			tlsHello(b, "10.0.0.5", "198.51.100.103", "", "CN=host.example", "CN=Some CA", "")               // CA-issued
			tlsHello(b, "10.0.0.5", "192.168.1.1", "", "CN=router", "CN=router", "")                         // private
			tlsHello(b, "10.0.0.5", "198.51.100.104", "", "", "", "")                                        // no certificate seen
		}, []string{"10.0.0.5 -> 198.51.100.101 FIREBREAK C2: TLS without server name to a self-signed certificate"}},
		{"blocklisted JA3", `{"ja3": {"72A589DA586844D7F0818CE684948EEA": "a banking trojan"}}`, func(b *sdk.Builder) {
			tlsHello(b, "10.0.0.5", "198.51.100.9", "cdn.example", "CN=cdn.example", "CN=CA", "72a589da586844d7f0818ce684948eea")
			tlsHello(b, "10.0.0.5", "198.51.100.9", "cdn.example", "CN=cdn.example", "CN=CA", "00000000000000000000000000000000")
		}, []string{"10.0.0.5 -> 198.51.100.9 FIREBREAK C2: blocklisted JA3 fingerprint of a banking trojan"}},
		{"beacon every minute, low jitter", "", func(b *sdk.Builder) {
			flows(b, "10.0.0.5", "198.51.100.7", 443, 10, 60, func(i int) float64 { return float64(i%3) - 1 })
		}, []string{"10.0.0.5 -> 198.51.100.7 FIREBREAK C2 beacon: 8 connections to port 443 every 60 s (jitter 2%)"}},
		{"irregular browsing is not a beacon", "", func(b *sdk.Builder) {
			flows(b, "10.0.0.5", "198.51.100.7", 443, 20, 60, func(i int) float64 { return float64(i*i%7) * 20 })
		}, nil},
		{"too fast, too few, or DNS", "", func(b *sdk.Builder) {
			flows(b, "10.0.0.5", "198.51.100.7", 443, 20, 1, none)
			flows(b, "10.0.0.5", "198.51.100.8", 443, 7, 60, none)
			flows(b, "10.0.0.5", "198.51.100.53", 53, 20, 60, none)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdk.Test.Reset()
			c := &c2{}
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
				if len(a.Techniques) == 0 {
					t.Errorf("%s: no ATT&CK technique", a.Signature)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.alerts, "\n") {
				t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.alerts, "\n"))
			}
		})
	}
	for _, bad := range []string{`{"ja3": {"nothex": "x"}}`, `{"beacon_count": 2}`, `{"web_ports": "80"}`} {
		if err := (&c2{}).Init([]byte(bad)); err == nil {
			t.Errorf("config %s must be refused", bad)
		}
	}
}
