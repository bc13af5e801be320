package flow

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/decode"
)

func TestCommunityID(t *testing.T) {
	// Vectors from the community-id-spec baseline (seed 0) and the
	// suricata-verify community-id tests (seed 7).
	for _, tc := range []struct {
		seed     uint16
		proto    uint8
		src, dst string
		sp, dp   uint16
		typ      uint8
		want     string
	}{
		{0, decode.ProtoTCP, "128.232.110.120", "66.35.250.204", 34855, 80, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{0, decode.ProtoTCP, "66.35.250.204", "128.232.110.120", 80, 34855, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{0, decode.ProtoUDP, "192.168.1.52", "8.8.8.8", 54585, 53, 0, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
		{0, decode.ProtoICMP, "192.168.0.89", "192.168.0.1", 8, 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
		{7, decode.ProtoTCP, "172.26.0.39", "172.217.14.206", 35958, 443, 0, "1:IwiTNfuO7aCaamMijl+7/X9uLx0="},
	} {
		f := &Flow{Proto: tc.proto, Src: netip.MustParseAddr(tc.src), Dst: netip.MustParseAddr(tc.dst),
			SrcPort: tc.sp, DstPort: tc.dp, ICMPType: tc.typ}
		assert.Equal(t, tc.want, CommunityID(tc.seed, f), "%+v", tc)
	}
}

func view(src, dst string, sp, dp uint16, flags uint8) *decode.View {
	return &decode.View{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: sp, DstPort: dp,
		Proto: decode.ProtoTCP, TCPFlags: flags}
}

func TestLookupDirectionAndTimeout(t *testing.T) {
	tb := NewTable(Options{})
	var ended []string
	end := func(f *Flow, r string) { ended = append(ended, r) }
	t0 := time.Unix(1000, 0)
	f, dir, isNew := tb.Lookup(view("10.0.0.1", "10.0.0.2", 1234, 80, decode.FlagSYN), t0, 1, end)
	require.True(t, isNew)
	assert.Equal(t, ToServer, dir)
	g, dir, isNew := tb.Lookup(view("10.0.0.2", "10.0.0.1", 80, 1234, decode.FlagSYN|decode.FlagACK), t0, 2, end)
	assert.Same(t, f, g)
	assert.False(t, isNew)
	assert.Equal(t, ToClient, dir)
	// A SYN-only flow is "new": TCP new timeout is 60 s of packet time.
	tb.Expire(t0.Add(59*time.Second), end)
	assert.Empty(t, ended)
	tb.Expire(t0.Add(61*time.Second), end)
	assert.Equal(t, []string{ReasonTimeout}, ended)
	assert.Zero(t, tb.Len())
}

func TestTableCap(t *testing.T) {
	tb := NewTable(Options{MaxFlows: 10})
	forced := 0
	for i := range 100 {
		tb.Lookup(view("10.0.0.1", "10.0.0.2", uint16(1000+i), 80, decode.FlagSYN), time.Unix(int64(i), 0), uint64(i+1),
			func(*Flow, string) { forced++ })
	}
	assert.Equal(t, 10, tb.Len())
	assert.Equal(t, 90, forced)
}

func TestTCPState(t *testing.T) {
	const S, A, F, R = decode.FlagSYN, decode.FlagACK, decode.FlagFIN, decode.FlagRST
	type step struct {
		dir   Direction
		flags uint8
	}
	for _, tc := range []struct {
		name  string
		steps []step
		tcp   TCPState
		state State
	}{
		{"handshake", []step{{ToServer, S}, {ToClient, S | A}, {ToServer, A}}, TCPEstablished, StateEstablished},
		{"client closes", []step{{ToServer, S}, {ToClient, S | A}, {ToServer, A}, {ToServer, F | A}}, TCPCloseWait, StateEstablished},
		{"last ack", []step{{ToServer, S}, {ToClient, S | A}, {ToServer, A}, {ToServer, F | A}, {ToClient, F | A}}, TCPLastAck, StateClosed},
		{"closed", []step{{ToServer, S}, {ToClient, S | A}, {ToServer, A}, {ToServer, F | A}, {ToClient, F | A}, {ToServer, A}}, TCPClosed, StateClosed},
		{"reset", []step{{ToServer, S}, {ToClient, S | A}, {ToServer, A}, {ToClient, R}}, TCPClosed, StateClosed},
		{"syn only", []step{{ToServer, S}}, TCPSynSent, StateNew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Flow{Proto: decode.ProtoTCP}
			for _, s := range tc.steps {
				UpdateTCP(f, s.dir, s.flags, false)
			}
			assert.Equal(t, tc.tcp, f.TCP)
			assert.Equal(t, tc.state, f.State)
		})
	}
	f := &Flow{Proto: decode.ProtoTCP}
	UpdateTCP(f, ToServer, A, false)
	assert.False(t, f.HasSession, "no session without SYN unless midstream")
	UpdateTCP(f, ToServer, A, true)
	assert.True(t, f.HasSession)
}
