package tls

import (
	"testing"

	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

// BenchmarkConn feeds the handshakes of test captures in segments of a
// typical size; one op is one connection's handshake.
func BenchmarkConn(b *testing.B) {
	type conv struct{ ts, tc []byte }
	var convs []conv
	for _, c := range []struct {
		name string
		port uint16
	}{{"bug-2646-01", 443}, {"tls-glupteba", 443}, {"tls13-draft28", 4433}, {"tls-client-hello-frag-01", 443}, {"tls-eve-custom-fields", 443}} {
		ts, tc := testutil.Streams(b, c.name, c.port)
		if len(ts) > 0 {
			convs = append(convs, conv{ts, tc})
		}
	}
	const seg = 1448
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, cv := range convs {
			c := &Conn{}
			testutil.Feed(cv.ts, cv.tc, seg, func(toServer bool, b []byte) { c.Data(toServer, b, 0) })
			c.Finish()
		}
	}
}
