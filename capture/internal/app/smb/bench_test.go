package smb_test

import (
	"testing"

	"github.com/firebreak-ir/firebreak/capture/internal/app/smb"
	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

// BenchmarkConn feeds the SMB streams of test captures in segments of a
// typical size; one op is one whole conversation.
func BenchmarkConn(b *testing.B) {
	type conv struct{ ts, tc []byte }
	var convs []conv
	for _, name := range []string{"smb3-01", "smb1-02", "smb2-ntlmssp-order"} {
		ts, tc := testutil.Streams(b, name, 445)
		convs = append(convs, conv{ts, tc})
	}
	const seg = 1448
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, cv := range convs {
			c := &smb.Conn{}
			testutil.Feed(cv.ts, cv.tc, seg, func(toServer bool, b []byte) { c.Data(toServer, b, 0) })
			c.Close()
		}
	}
}
