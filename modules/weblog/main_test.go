//go:build !wasip1

package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func req(b *sdk.Builder, src, u, ua string, status uint64) {
	b.Begin(sdk.Header{Kind: sdk.KindHTTP, Proto: 6, Src: netip.MustParseAddr(src)})
	b.Str(sdk.FieldHTTPMethod, "GET")
	b.Str(sdk.FieldHTTPURL, u)
	b.Str(sdk.FieldHTTPUserAgent, ua)
	b.Uint(sdk.FieldHTTPStatus, status)
	b.Str(sdk.FieldSource, "/var/log/nginx/access.log")
	b.End()
}

func TestWeblog(t *testing.T) {
	sdk.Test.Reset()
	w := &weblog{}
	if err := w.Init(nil); err != nil {
		t.Fatal(err)
	}
	var b sdk.Builder
	for i := 0; i < 60; i++ { // a prober with a browser's user agent
		req(&b, "192.0.2.1", fmt.Sprintf("/admin%d.php", i), "Mozilla/5.0", 404)
	}
	req(&b, "192.0.2.2", "/", "masscan/1.0", 401) // a scanner's agent: one request is enough
	for i := 0; i < 200; i++ {                    // a busy ordinary visitor
		req(&b, "192.0.2.3", fmt.Sprintf("/blog/%d", i), "Mozilla/5.0", 200)
	}
	if err := w.Batch(b.Batch()); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(sdk.Test.Alerts) != 2 {
		t.Fatalf("alerts %+v, want the prober and the scanner", sdk.Test.Alerts)
	}
	for _, a := range sdk.Test.Alerts {
		t.Log(a.Signature)
	}
}

// Given the webshells the file scan found, the first request that reached
// each is named, whatever the order of the log.
func TestWeblogEntryPoint(t *testing.T) {
	sdk.Test.Reset()
	w := &weblog{}
	if err := w.Init([]byte(`{"webshells":["/var/www/html/up/ice.php"]}`)); err != nil {
		t.Fatal(err)
	}
	var b sdk.Builder
	at := func(src, method, u string, ns int64) {
		b.Begin(sdk.Header{Kind: sdk.KindHTTP, Proto: 6, Time: ns, Src: netip.MustParseAddr(src)})
		b.Str(sdk.FieldHTTPMethod, method)
		b.Str(sdk.FieldHTTPURL, u)
		b.Uint(sdk.FieldHTTPStatus, 200)
		b.Str(sdk.FieldSource, "/var/log/nginx/access.log")
		b.End()
	}
	at("192.0.2.5", "GET", "/index.php", 1e18)
	at("198.51.100.9", "POST", "/up/ice.php", 3e18)
	at("198.51.100.9", "GET", "/up/ice.php?t=1", 2e18)
	at("203.0.113.1", "POST", "/up/ice.php", 4e18)
	if err := w.Batch(b.Batch()); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(sdk.Test.Alerts) != 1 || sdk.Test.Alerts[0].SignatureID != sidEntryPoint {
		t.Fatalf("alerts %+v", sdk.Test.Alerts)
	}
	a := sdk.Test.Alerts[0]
	t.Log(a.Signature)
	if !strings.Contains(a.Signature, "GET /up/ice.php?t=1 from 198.51.100.9") || !strings.Contains(a.Signature, "3 requests from 2 clients") {
		t.Errorf("signature %q", a.Signature)
	}
}
