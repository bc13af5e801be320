package engine

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/decode"
	"github.com/firebreak-ir/firebreak/capture/internal/eve"
	"github.com/firebreak-ir/firebreak/capture/internal/flow"
)

// tcp4 builds a raw IPv4/TCP packet.
func tcp4(src, dst byte, sport, dport uint16, seq, ack uint32, flags uint8, payload string) []byte {
	b := make([]byte, 40+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8], b[9] = 64, decode.ProtoTCP
	copy(b[12:], []byte{10, 0, 0, src, 10, 0, 0, dst})
	t := b[20:]
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = 5 << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], 65535)
	copy(t[20:], payload)
	return b
}

const (
	syn = decode.FlagSYN
	ack = decode.FlagACK
	psh = decode.FlagPSH | decode.FlagACK
	fin = decode.FlagFIN | decode.FlagACK
)

type rec struct{ events []*eve.Event }

func (r *rec) emit(ev *eve.Event) error { r.events = append(r.events, ev); return nil }

func (r *rec) types() map[string]int {
	m := map[string]int{}
	for _, ev := range r.events {
		m[ev.EventType]++
	}
	return m
}

func run(t *testing.T, cfg Config, pkts ...[]byte) *rec {
	r := &rec{}
	e := New(cfg, r.emit)
	ts := time.Unix(1700000000, 0)
	for i, p := range pkts {
		require.NoError(t, e.Packet(p, 101, ts.Add(time.Duration(i)*time.Millisecond), uint64(i+1)))
	}
	require.NoError(t, e.Finish())
	return r
}

const req = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
const resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

func TestHTTPSession(t *testing.T) {
	handshake := [][]byte{
		tcp4(1, 2, 1000, 80, 100, 0, syn, ""),
		tcp4(2, 1, 80, 1000, 500, 101, syn|ack, ""),
		tcp4(1, 2, 1000, 80, 101, 501, ack, ""),
	}
	data := [][]byte{
		tcp4(1, 2, 1000, 80, 101, 501, psh, req),
		tcp4(2, 1, 80, 1000, 501, 101+uint32(len(req)), psh, resp),
		tcp4(1, 2, 1000, 80, 101+uint32(len(req)), 501+uint32(len(resp)), fin, ""),
	}
	for _, tc := range []struct {
		name      string
		cfg       Config
		pkts      [][]byte
		http      int
		wantState string
	}{
		{"full handshake", Config{}, append(append([][]byte{}, handshake...), data...), 1, "established"},
		{"midstream off", Config{}, data, 0, "new"},
		{"midstream on", Config{Midstream: true}, data, 1, "established"},
		{"fast open", Config{}, [][]byte{
			tcp4(1, 2, 1000, 80, 100, 0, syn, req), // data on SYN
			tcp4(2, 1, 80, 1000, 500, 101+uint32(len(req)), syn|ack, ""),
			tcp4(1, 2, 1000, 80, 101+uint32(len(req)), 501, ack, ""),
			tcp4(2, 1, 80, 1000, 501, 101+uint32(len(req)), psh, resp),
			tcp4(1, 2, 1000, 80, 101+uint32(len(req)), 501+uint32(len(resp)), ack, ""),
		}, 1, "established"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.cfg, tc.pkts...)
			assert.Equal(t, tc.http, r.types()["http"])
			var fl *eve.Event
			for _, ev := range r.events {
				if ev.EventType == "flow" {
					fl = ev
				}
			}
			require.NotNil(t, fl)
			assert.Equal(t, tc.wantState, fl.Flow.State)
			if tc.http > 0 {
				assert.Equal(t, "http", fl.AppProto)
			}
		})
	}
}

func TestFlowTimeoutByPacketTime(t *testing.T) {
	r := &rec{}
	e := New(Config{}, r.emit)
	udp := func(sport uint16) []byte {
		b := make([]byte, 28)
		b[0] = 0x45
		binary.BigEndian.PutUint16(b[2:], 28)
		b[8], b[9] = 64, decode.ProtoUDP
		copy(b[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
		binary.BigEndian.PutUint16(b[20:], sport)
		binary.BigEndian.PutUint16(b[22:], 9999)
		binary.BigEndian.PutUint16(b[24:], 8)
		return b
	}
	t0 := time.Unix(1700000000, 0)
	require.NoError(t, e.Packet(udp(1), 101, t0, 1))
	require.NoError(t, e.Packet(udp(2), 101, t0.Add(29*time.Second), 2))
	assert.Empty(t, r.types()["flow"], "UDP new timeout is 30 s")
	require.NoError(t, e.Packet(udp(3), 101, t0.Add(31*time.Second), 3))
	require.Equal(t, 1, r.types()["flow"])
	assert.Equal(t, flow.ReasonTimeout, r.events[0].Flow.Reason)
	require.NoError(t, e.Finish())
	assert.Equal(t, 3, r.types()["flow"])
}

func TestMemCap(t *testing.T) {
	const memcap = 1 << 20
	e := New(Config{MemCap: memcap, Midstream: true}, func(*eve.Event) error { return nil })
	ts := time.Unix(1700000000, 0)
	payload := string(make([]byte, 1400))
	n := uint64(0)
	// 2000 one-sided flows, each sending out-of-order data that is never
	// acknowledged nor completed.
	for f := range 2000 {
		for s := range 20 {
			n++
			p := tcp4(1, 2, uint16(1024+f), 80, uint32(1000+s*3000), 0, psh&^decode.FlagACK, payload)
			require.NoError(t, e.Packet(p, 101, ts, n))
			assert.LessOrEqual(t, e.Held(), memcap+(4<<20), "reassembly held bytes are capped")
		}
	}
	require.NoError(t, e.Finish())
	assert.Zero(t, e.Held())
}

func TestAppMemCap(t *testing.T) {
	const capBytes = 1 << 20
	e := New(Config{AppMemCap: capBytes}, func(*eve.Event) error { return nil })
	ts := time.Unix(1700000000, 0)
	// Each flow starts a 16 KiB TLS record and never finishes it: the parser
	// has to hold the partial record.
	partial := "\x16\x03\x01\x40\x00" + string(make([]byte, 9000))
	n := uint64(0)
	for f := range 500 {
		sp := uint16(2000 + f)
		for _, p := range [][]byte{
			tcp4(1, 2, sp, 443, 100, 0, syn, ""),
			tcp4(2, 1, 443, sp, 500, 101, syn|ack, ""),
			tcp4(1, 2, sp, 443, 101, 501, psh, partial),
			tcp4(2, 1, 443, sp, 501, 101+uint32(len(partial)), ack, ""),
		} {
			n++
			require.NoError(t, e.Packet(p, 101, ts, n))
		}
		assert.LessOrEqual(t, e.appB, capBytes+(64<<10))
	}
	assert.NotZero(t, e.C.AppMemDrops)
	require.NoError(t, e.Finish())
	assert.Zero(t, e.appB)
}

func TestPortReuseAfterReset(t *testing.T) {
	rst := uint8(decode.FlagRST)
	r := run(t, Config{},
		tcp4(1, 2, 1000, 80, 100, 0, syn, ""),
		tcp4(2, 1, 80, 1000, 500, 101, syn|ack, ""),
		tcp4(1, 2, 1000, 80, 101, 501, ack, ""),
		tcp4(1, 2, 1000, 80, 101, 0, rst, ""),
		tcp4(1, 2, 1000, 80, 9000, 0, syn, ""), // same ports, new handshake
		tcp4(2, 1, 80, 1000, 7000, 9001, syn|ack, ""),
	)
	require.Equal(t, 2, r.types()["flow"])
	assert.Equal(t, "closed", r.events[0].Flow.State)
	assert.Equal(t, "new", r.events[1].Flow.State)
}

// TestPanicAtFlowEndCostsOneFlow: a panic while a flow's last stream data
// goes to its parser at the end of the analysis (a parser bug) is counted,
// that flow still gets its flow record, and the other flows are ended too.
func TestPanicAtFlowEndCostsOneFlow(t *testing.T) {
	var events []string
	armed := false
	e := New(Config{}, func(ev *eve.Event) error {
		if armed && ev.EventType == "http" {
			armed = false
			panic("parser bug")
		}
		events = append(events, ev.EventType)
		return nil
	})
	ts := time.Unix(1700000000, 0)
	var n uint64
	for _, port := range []uint16{1111, 2222} {
		for _, p := range [][]byte{
			tcp4(1, 2, port, 80, 100, 0, syn, ""),
			tcp4(2, 1, 80, port, 500, 101, syn|ack, ""),
			tcp4(1, 2, port, 80, 101, 501, ack, ""),
			tcp4(1, 2, port, 80, 101, 501, psh, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		} {
			n++
			require.NoError(t, e.Packet(p, 101, ts.Add(time.Duration(n)*time.Millisecond), n))
		}
	}
	require.Empty(t, events, "the requests wait for their acknowledgement")
	armed = true
	require.NoError(t, e.Finish())
	assert.Equal(t, uint64(1), e.C.Panics)
	assert.ErrorIs(t, e.LastPanic, ErrInternal)
	assert.ElementsMatch(t, []string{"flow", "http", "flow"}, events)
}
