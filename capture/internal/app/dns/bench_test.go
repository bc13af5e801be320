package dns_test

import (
	"testing"

	"github.com/firebreak-ir/firebreak/capture/internal/app/dns"
	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

// BenchmarkParse parses the DNS messages of test captures; one op is one
// message. "lookups" holds ordinary queries and answers (A, AAAA, CNAME,
// SOA), "tunnel" the TXT and NULL records of DNS tunnels.
func BenchmarkParse(b *testing.B) {
	for _, set := range []struct {
		name     string
		captures []string
	}{
		{"lookups", []string{"dns-udp-eve-dig", "dns-udp-eve-txt", "dns-eve-v2-udp-nxdomain-soa", "decode-teredo-01", "bug-5633-gre-02"}},
		{"tunnel", []string{"dns-udp-null", "bug-1158", "malicious/ndpi-dns-tunnel-iodine"}},
	} {
		b.Run(set.name, func(b *testing.B) {
			var msgs [][]byte
			for _, name := range set.captures {
				for _, p := range testutil.Payloads(b, name, 53, 10000) {
					if _, err := dns.Parse(p); err == nil {
						msgs = append(msgs, p)
					}
				}
			}
			if len(msgs) == 0 {
				b.Skip("no DNS messages in the test captures")
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				dns.Parse(msgs[i%len(msgs)])
			}
		})
	}
}
