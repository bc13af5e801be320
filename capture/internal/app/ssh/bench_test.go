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
			ts, tc := cv.ts, cv.tc
			for len(ts) > 0 || len(tc) > 0 {
				x, y := min(seg, len(ts)), min(seg, len(tc))
				c.Data(true, ts[:x], 0)
				c.Data(false, tc[:y], 0)
				ts, tc = ts[x:], tc[y:]
			}
			c.Finish()
		}
	}
}
