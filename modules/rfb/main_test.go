//go:build !wasip1

package main

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/sdk"
)

var (
	client = netip.MustParseAddr("192.168.0.11")
	server = netip.MustParseAddr("10.0.0.149")
)

// pkt adds one packet of flow 7, from the server when fromServer.
func pkt(b *sdk.Builder, fromServer bool, payload []byte) {
	h := sdk.Header{Kind: sdk.KindPacket, Proto: 6, FlowID: 7, Src: client, Dst: server, SrcPort: 46381, DstPort: 5900}
	if fromServer {
		h.Src, h.Dst, h.SrcPort, h.DstPort = server, client, 5900, 46381
	}
	b.Begin(h)
	b.Raw(sdk.FieldPayload, payload)
	b.End()
}

func be32(v ...uint32) []byte {
	var out []byte
	for _, x := range v {
		out = binary.BigEndian.AppendUint32(out, x)
	}
	return out
}

// handshake is an RFB 3.8 session up to the security result, in packets.
func handshake(b *sdk.Builder, result ...[]byte) {
	pkt(b, true, []byte("RFB 003.008\n"))
	pkt(b, false, []byte("RFB 003.008\n"))
	pkt(b, true, []byte{1, 2})                // one security type: VNC authentication
	pkt(b, false, []byte{2})                  // chosen
	pkt(b, true, make([]byte, 16))            // challenge
	pkt(b, false, []byte("0123456789abcdef")) // response
	for _, r := range result {
		pkt(b, true, r)
	}
}

func run(t *testing.T, build func(*sdk.Builder)) []sdk.Alert {
	t.Helper()
	sdk.Test.Reset()
	m := &rfb{}
	require.NoError(t, m.Init(nil))
	var b sdk.Builder
	build(&b)
	require.NoError(t, m.Batch(b.Batch()))
	require.NoError(t, m.Flush())
	return sdk.Test.Alerts
}

func TestFailedAuthentication(t *testing.T) {
	msg := []byte("Authentication failed")
	alerts := run(t, func(b *sdk.Builder) {
		handshake(b, append(be32(1, uint32(len(msg))), msg...))
	})
	require.Len(t, alerts, 1)
	a := alerts[0]
	require.Equal(t, "FIREBREAK VNC authentication failed: 192.168.0.11 tried the password of 10.0.0.149:5900", a.Signature)
	require.Equal(t, client, a.Src, "the client is the source")
	require.Equal(t, server, a.Dst)
	require.Equal(t, uint16(5900), a.DstPort)
	require.Contains(t, a.Metadata, "rfb_version=003.008")
	require.Contains(t, a.Metadata, "reason=Authentication failed")
}

func TestResultWithTheServersFIN(t *testing.T) {
	alerts := run(t, func(b *sdk.Builder) {
		handshake(b)
		b.Begin(sdk.Header{Kind: sdk.KindPacket, Proto: 6, FlowID: 7, Src: server, Dst: client, SrcPort: 5900, DstPort: 46381})
		b.Raw(sdk.FieldPayload, be32(1))
		b.Uint(sdk.FieldTCPFlags, 0x19) // FIN, PSH, ACK
		b.End()
	})
	require.Len(t, alerts, 1)
}

func TestResultInSeparatePackets(t *testing.T) {
	// The result, the reason's length and the reason, each in its own
	// segment, as some servers send them.
	alerts := run(t, func(b *sdk.Builder) { handshake(b, be32(1), be32(21), []byte("Authentication failed")) })
	require.Len(t, alerts, 1)
}

func TestNotAlerted(t *testing.T) {
	for name, build := range map[string]func(*sdk.Builder){
		"authenticated": func(b *sdk.Builder) { handshake(b, be32(0)) },
		"picked up mid-session": func(b *sdk.Builder) {
			pkt(b, false, []byte("0123456789abcdef"))
			pkt(b, true, be32(1))
		},
		"no response yet": func(b *sdk.Builder) {
			pkt(b, true, []byte("RFB 003.008\n"))
			pkt(b, true, be32(1))
		},
		"not RFB": func(b *sdk.Builder) {
			pkt(b, true, []byte("SSH-2.0-x\r\n"))
			pkt(b, false, []byte("0123456789abcdef"))
			pkt(b, true, be32(1))
		},
	} {
		require.Empty(t, run(t, build), name)
	}
}

func TestOneAlertPerPair(t *testing.T) {
	alerts := run(t, func(b *sdk.Builder) {
		for i := 0; i < 5; i++ {
			handshake(b, be32(1))
			b.Begin(sdk.Header{Kind: sdk.KindPacket, Proto: 6, FlowID: 7, Src: client, Dst: server, SrcPort: 46381, DstPort: 5900})
			b.Uint(sdk.FieldTCPFlags, 0x11) // FIN, ACK: the session ends
			b.End()
		}
	})
	require.Len(t, alerts, 1)
}
