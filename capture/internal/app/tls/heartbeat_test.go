package tls

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rec builds a TLS 1.2 record.
func rec(typ byte, body []byte) []byte {
	b := []byte{typ, 3, 3, 0, 0}
	binary.BigEndian.PutUint16(b[3:], uint16(len(body)))
	return append(b, body...)
}

// hb builds a heartbeat message: type, declared payload length, then
// size bytes (payload and padding).
func hb(typ byte, declared, size int) []byte {
	b := []byte{typ, byte(declared >> 8), byte(declared)}
	return append(b, make([]byte, size)...)
}

func names(as []Anomaly) []string {
	var out []string
	for _, a := range as {
		side := "server"
		if a.FromClient {
			side = "client"
		}
		out = append(out, side+" "+a.Event)
	}
	return out
}

// TestHeartbleedCapture reads a successful Heartbleed exploitation (Zeek's
// heartbleed-success trace): a cleartext heartbeat request whose payload
// length leaves no room for the padding, answered by a larger record.
func TestHeartbleedCapture(t *testing.T) {
	for _, chunk := range []int{1, 7, 1460, 1 << 20} {
		c := run(t, "malicious/zeek-heartbleed-success", 443, chunk)
		require.NotNil(t, c.Finish(), "chunk %d", chunk)
		assert.Equal(t, []string{"client " + AnomalyHeartbeatInvalid, "server " + AnomalyHeartbeatLeak},
			names(c.Anomalies()), "chunk %d", chunk)
		assert.Empty(t, c.Anomalies(), "anomalies are returned once")
	}
}

// TestHeartbeatHandshakeNone checks that ordinary handshakes raise nothing.
func TestHeartbeatHandshakeNone(t *testing.T) {
	for _, name := range []string{"bug-2646-01", "tls-glupteba"} {
		c := run(t, name, 443, 1<<20)
		assert.Empty(t, c.Anomalies(), name)
	}
}

func TestHeartbeatRecords(t *testing.T) {
	ccs := rec(20, []byte{1})
	for _, tc := range []struct {
		name     string
		cl, sv   []byte // after the handshake
		want     []string
		watching bool
		svFirst  bool
	}{
		{name: "legitimate", cl: rec(24, hb(1, 16, 32)), sv: rec(24, hb(2, 16, 32)), watching: true},
		{name: "overflow", cl: rec(24, hb(1, 0x4000, 0)), sv: rec(24, hb(2, 0x4000, 0x4000)),
			want: []string{"client " + AnomalyHeartbeatOverflow, "server " + AnomalyHeartbeatLeak}, watching: true},
		{name: "short padding", cl: rec(24, hb(1, 100, 100)), want: []string{"client " + AnomalyHeartbeatInvalid}, watching: true},
		{name: "unknown type", cl: rec(24, hb(9, 1, 20)), want: []string{"client " + AnomalyHeartbeatInvalid}, watching: true},
		{name: "two in flight", cl: append(rec(24, hb(1, 1, 20)), rec(24, hb(1, 1, 20))...),
			want: []string{"client " + AnomalyHeartbeatInvalid}, watching: true},
		{name: "encrypted, same size", cl: append(append([]byte{}, ccs...), rec(24, make([]byte, 40))...),
			sv: append(append([]byte{}, ccs...), rec(24, make([]byte, 40))...), watching: true},
		{name: "encrypted, larger answer", cl: append(append([]byte{}, ccs...), rec(24, make([]byte, 40))...),
			sv:   append(append([]byte{}, ccs...), rec(24, make([]byte, 16000))...),
			want: []string{"server " + AnomalyHeartbeatLeak}, watching: true},
		{name: "server-initiated", sv: rec(24, hb(1, 0x4000, 0)), cl: rec(24, hb(2, 0x4000, 0x4000)),
			want: []string{"server " + AnomalyHeartbeatOverflow, "client " + AnomalyHeartbeatLeak}, watching: true, svFirst: true},
		{name: "not TLS any more", cl: []byte("GET / HTTP/1.1\r\n\r\n"), sv: []byte("HTTP/1.1 200 OK\r\n\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{1, 5, 1 << 20} {
				c := &Conn{Done: true, logged: true, SawClient: true, SawServer: true}
				sides := []bool{true, false}
				if tc.svFirst {
					sides = []bool{false, true}
				}
				for _, client := range sides {
					b := tc.sv
					if client {
						b = tc.cl
					}
					for ; len(b) > 0; b = b[min(chunk, len(b)):] {
						c.Data(client, b[:min(chunk, len(b))], 0)
					}
				}
				assert.Equal(t, tc.want, names(c.Anomalies()), "chunk %d", chunk)
				assert.Equal(t, tc.watching, c.Watching(), "chunk %d", chunk)
				assert.Zero(t, c.Buffered(), "after the handshake nothing is buffered")
			}
		})
	}
}

// TestHeartbeatAfterGap checks a gap ends the watch of that direction.
func TestHeartbeatAfterGap(t *testing.T) {
	c := &Conn{Done: true, logged: true}
	c.Data(true, rec(23, make([]byte, 10)), 0)
	c.Data(true, rec(24, hb(1, 0x4000, 0)), 100)
	c.Data(false, nil, 100)
	assert.Empty(t, c.Anomalies())
	assert.False(t, c.Watching())
}

func FuzzHeartbeat(f *testing.F) {
	f.Add(rec(24, hb(1, 0x4000, 0)), rec(24, hb(2, 0x4000, 100)), uint8(3))
	f.Add(append(rec(20, []byte{1}), rec(24, make([]byte, 40))...), rec(24, make([]byte, 400)), uint8(0))
	f.Fuzz(func(t *testing.T, cl, sv []byte, chunk uint8) {
		c := &Conn{Done: true, logged: true}
		n := int(chunk) + 1
		for len(cl) > 0 || len(sv) > 0 {
			a, b := min(n, len(cl)), min(n, len(sv))
			c.Data(true, cl[:a], 0)
			c.Data(false, sv[:b], 0)
			cl, sv = cl[a:], sv[b:]
		}
		as := c.Anomalies()
		if len(as) > 6 || c.Buffered() != 0 {
			t.Fatalf("%d anomalies, %d bytes buffered", len(as), c.Buffered())
		}
		for _, a := range as {
			switch a.Event {
			case AnomalyHeartbeatOverflow, AnomalyHeartbeatInvalid, AnomalyHeartbeatLeak:
			default:
				t.Fatalf("unknown anomaly %q", a.Event)
			}
		}
	})
}

// BenchmarkFollow measures the cost of watching encrypted application
// data for heartbeats: 16 KiB records in 1448-byte segments.
func BenchmarkFollow(b *testing.B) {
	var stream []byte
	for len(stream) < 1<<20 {
		stream = append(stream, rec(23, make([]byte, 16384))...)
	}
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		c := &Conn{Done: true, logged: true}
		for s := stream; len(s) > 0; s = s[min(1448, len(s)):] {
			c.Data(true, s[:min(1448, len(s))], 0)
		}
	}
}
