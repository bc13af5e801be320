package ssh_test

import (
	"testing"

	"github.com/firebreak-ir/firebreak/capture/internal/app/ssh"
	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

// BenchmarkConn feeds the SSH streams of test captures in segments of a
// typical size; one op is one connection.
func BenchmarkConn(b *testing.B) {
	type conv struct{ ts, tc []byte }
	var convs []conv
	for _, name := range []string{"ssh-hassh", "ssh-banner-only"} {
		ts, tc := testutil.Streams(b, name, 22)
		convs = append(convs, conv{ts, tc})
	}
	const seg = 1448
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, cv := range convs {
			c := &ssh.Conn{}
			testutil.Feed(cv.ts, cv.tc, seg, func(toServer bool, b []byte) { c.Data(toServer, b, 0) })
			c.Finish()
		}
	}
}
