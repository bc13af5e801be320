package http_test

import (
	"testing"

	"github.com/firebreak-ir/firebreak/capture/internal/app/http"
	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

// BenchmarkConn feeds the HTTP streams of test captures in segments of a
// typical size; one op is one pass over all of them.
func BenchmarkConn(b *testing.B) {
	type conv struct{ ts, tc []byte }
	var convs []conv
	for _, name := range []string{"bug-4810", "http-not09", "tcp-fastopen-01", "decode-teredo-01", "http-gap-simple",
		"malicious/ndpi-WebattackSQLinj", "malicious/ndpi-WebattackRCE"} {
		ts, tc := testutil.Streams(b, name, 80)
		if len(ts) > 0 || len(tc) > 0 {
			convs = append(convs, conv{ts, tc})
		}
	}
	const seg = 1448
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, cv := range convs {
			c := &http.Conn{}
			testutil.Feed(cv.ts, cv.tc, seg, func(toServer bool, b []byte) { c.Data(toServer, b, 0) })
			c.Close()
		}
	}
}
