package reasm

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

type tseg struct {
	seq  uint32
	data string
}

func TestStream(t *testing.T) {
	const isn = 1000
	for _, tc := range []struct {
		name  string
		segs  []tseg
		ack   uint32 // 0: flush instead
		depth int64
		want  string
		gaps  int
	}{
		{"in order", []tseg{{isn, "abc"}, {isn + 3, "def"}}, isn + 6, -1, "abcdef", 0},
		{"out of order", []tseg{{isn + 3, "def"}, {isn, "abc"}}, isn + 6, -1, "abcdef", 0},
		{"retransmission", []tseg{{isn, "abc"}, {isn, "abc"}, {isn + 3, "def"}}, isn + 6, -1, "abcdef", 0},
		{"overlap first wins", []tseg{{isn, "abcd"}, {isn + 2, "XXef"}}, isn + 6, -1, "abcdef", 0},
		{"partial ack", []tseg{{isn, "abcdef"}}, isn + 3, -1, "abc", 0},
		{"gap acked", []tseg{{isn, "abc"}, {isn + 6, "ghi"}}, isn + 9, -1, "abc|3|ghi", 1},
		{"gap flushed", []tseg{{isn, "abc"}, {isn + 6, "ghi"}}, 0, -1, "abc|3|ghi", 1},
		{"ack before data", []tseg{{isn, "abc"}}, 0, -1, "abc", 0},
		{"depth", []tseg{{isn, "abcdef"}}, 0, 4, "abcd", 0},
		{"wraparound", []tseg{{0xfffffffe, "ab"}, {0, "cd"}}, 2, -1, "abcd", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Stream
			start := uint32(isn)
			if tc.segs[0].seq > 0xffff0000 {
				start = tc.segs[0].seq
			}
			s.Init(start, tc.depth)
			got := ""
			fn := func(b []byte, gap int) {
				if gap > 0 {
					got += "|" + string(rune('0'+gap)) + "|"
				}
				got += string(b)
			}
			for _, g := range tc.segs {
				s.Add(g.seq, []byte(g.data), fn)
			}
			if tc.ack != 0 {
				s.Ack(tc.ack, fn)
			} else {
				s.Flush(fn)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.gaps, s.Gaps)
		})
	}
}

func TestBounded(t *testing.T) {
	var s Stream
	s.Init(0, -1)
	for i := range 100000 {
		s.Add(uint32(10+i*100), make([]byte, 50), nil) // all out of order, never filled
	}
	assert.LessOrEqual(t, s.Pending(), MaxOOOBytes)
	for i := range 100000 {
		s.Add(uint32(i*100), make([]byte, 100), nil) // never acknowledged
	}
	assert.LessOrEqual(t, s.Pending(), MaxOOOBytes+MaxPending)
}

func FuzzStream(f *testing.F) {
	f.Add([]byte{0, 10, 1, 5, 2, 20, 0, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var s Stream
		s.Init(100, int64(len(ops)*7))
		payload := make([]byte, 300)
		for i := 0; i+1 < len(ops); i += 2 {
			seq := 100 + uint32(ops[i+1])*3
			switch ops[i] % 4 {
			case 0:
				s.Add(seq, payload[:int(ops[i])%len(payload)], func([]byte, int) {})
			case 1:
				s.Ack(seq, func([]byte, int) {})
			case 2:
				s.Flush(func([]byte, int) {})
			default:
				s.Ack(seq, func([]byte, int) { s.Skip(int64(ops[i+1])) })
			}
			if s.Pending() > MaxPending+MaxOOOBytes {
				t.Fatal("over cap")
			}
		}
	})
}

func TestAckBeforeData(t *testing.T) {
	var s Stream
	s.Init(1000, -1)
	got := ""
	fn := func(b []byte, gap int) {
		if gap > 0 {
			got += "|gap|"
		}
		got += string(b)
	}
	s.Ack(1003, fn) // the ACK overtook the segment in the capture
	assert.Equal(t, "", got)
	s.Add(1000, []byte("abc"), fn)
	assert.Equal(t, "abc", got, "acknowledged data is handed over on arrival")
	assert.Zero(t, s.Gaps)
}

// TestSkip: bytes a consumer asks to skip are never handed over nor kept,
// whether they were buffered already or arrive later, in order or not, and
// a hole among them is no gap; the depth still counts them.
func TestSkip(t *testing.T) {
	const isn = 1000
	for _, tc := range []struct {
		name  string
		segs  []tseg
		acks  []uint32 // after each segment (0: none)
		depth int64
		want  string
		gaps  int
	}{
		{"arriving later", []tseg{{isn, "HDR8"}, {isn + 4, "bodybody"}, {isn + 12, "next"}},
			[]uint32{isn + 4, isn + 12, isn + 16}, -1, "HDR8next", 0},
		{"already buffered", []tseg{{isn, "HDR8"}, {isn + 4, "bodybody"}, {isn + 12, "next"}},
			[]uint32{0, isn + 4, isn + 16}, -1, "HDR8next", 0},
		{"handed over with the header", []tseg{{isn, "HDR8"}, {isn + 4, "bodybody"}, {isn + 12, "next"}},
			[]uint32{0, 0, isn + 16}, -1, "HDR8next", 0},
		{"out of order", []tseg{{isn, "HDR8"}, {isn + 8, "body"}, {isn + 12, "next"}, {isn + 4, "body"}},
			[]uint32{isn + 4, 0, 0, isn + 16}, -1, "HDR8next", 0},
		{"hole in the skipped bytes", []tseg{{isn, "HDR8"}, {isn + 8, "body"}, {isn + 12, "next"}},
			[]uint32{isn + 4, 0, isn + 16}, -1, "HDR8next", 0},
		{"hole after the skipped bytes", []tseg{{isn, "HDR8"}, {isn + 4, "bodybody"}, {isn + 14, "xt"}},
			[]uint32{isn + 4, 0, isn + 16}, -1, "HDR8|2|xt", 1},
		{"depth counts them", []tseg{{isn, "HDR8"}, {isn + 4, "bodybody"}, {isn + 12, "next"}},
			[]uint32{isn + 4, isn + 12, isn + 16}, 14, "HDR8ne", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Stream
			s.Init(isn, tc.depth)
			got := ""
			fn := func(b []byte, gap int) {
				if gap > 0 {
					got += "|" + string(rune('0'+gap)) + "|"
				}
				if string(b) == "HDR8" || len(b) > 4 && string(b[:4]) == "HDR8" {
					// The header announces 8 bytes of body: those handed
					// over with it are read, the rest skipped.
					got += "HDR8"
					s.Skip(int64(8 - min(len(b)-4, 8)))
					b = b[4+min(len(b)-4, 8):]
				}
				got += string(b)
			}
			for i, g := range tc.segs {
				s.Add(g.seq, []byte(g.data), fn)
				if tc.acks[i] != 0 {
					s.Ack(tc.acks[i], fn)
				}
			}
			s.Flush(fn)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.gaps, s.Gaps)
			assert.Zero(t, s.Pending())
		})
	}
}
