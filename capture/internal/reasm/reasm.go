// Package reasm reassembles one direction of a TCP connection into the
// ordered byte stream an application-layer parser consumes, up to a stream
// depth. Data is handed over when the peer acknowledges it (as Suricata does
// in IDS mode), or when the stream is flushed at FIN, RST or flow end.
//
// It tolerates retransmissions, overlaps (the first copy wins),
// out-of-order segments and gaps (reported, then skipped), and data on SYN
// (TCP Fast Open). It must never hold more than its caps: out-of-order
// segments and unacknowledged bytes are bounded, and nothing is kept past the
// depth.
package reasm

// Limits on what one Stream holds.
const (
	// MaxPending is the most unacknowledged in-order bytes kept before they
	// are handed over anyway (one-sided captures never see an ACK).
	MaxPending = 256 << 10
	// MaxOOOBytes and MaxOOOSegs cap buffered out-of-order data.
	MaxOOOBytes = 256 << 10
	MaxOOOSegs  = 256
)

type seg struct {
	seq  uint32
	data []byte
}

// Stream is one direction of a TCP connection.
type Stream struct {
	init    bool
	next    uint32 // sequence number of the next in-order byte
	start   uint32 // sequence number of buf[0]
	buf     chunks // in-order bytes not yet handed over
	ooo     []seg
	oooLen  int
	total   int64  // bytes accounted (data + gaps) against the depth
	depth   int64  // <0: unlimited
	acked   bool   // lastAck is valid
	lastAck uint32 // highest acknowledgement seen from the peer
	stopped bool   // nobody wants the data any more: track sequence numbers only
	skipReq int64  // bytes after those delivered that the consumer asked to skip
	skipEnd uint32 // while skipping: sequence number where the skipped bytes end
	skip    bool   // in-order bytes before skipEnd are counted, never kept
	Gaps    int
	Dropped int // segments dropped at the caps
}

// Deliver receives stream data; gap > 0 means that many bytes were lost
// before data.
type Deliver func(data []byte, gap int)

// Init starts the stream at sequence number seq (ISN+1 after a SYN, or the
// first seen sequence number when picking up midstream). depth < 0 means
// unlimited.
func (s *Stream) Init(seq uint32, depth int64) {
	*s = Stream{init: true, next: seq, start: seq, depth: depth}
}

// Next returns the sequence number of the next in-order byte.
func (s *Stream) Next() uint32 { return s.next }

// Delivered returns the bytes accounted so far (data and gaps).
func (s *Stream) Delivered() int64 { return s.total }

// Initialized reports whether Init was called.
func (s *Stream) Initialized() bool { return s.init }

// Done reports whether the depth has been reached or Stop was called.
func (s *Stream) Done() bool { return s.stopped || s.depth >= 0 && s.total >= s.depth }

// Stop drops buffered data and makes the stream ignore further data: the
// application layer has all it wants.
func (s *Stream) Stop() {
	s.stopped = true
	s.release()
	s.ooo, s.oooLen = nil, 0
}

func (s *Stream) release() { s.buf.release() }

// Skip tells the stream that the consumer does not need the n bytes that
// follow what it was handed so far (the body of a message it has read the
// header of): they are counted against the depth but never kept, copied or
// handed over, and a hole among them is no gap. It may be called from the
// Deliver callback.
func (s *Stream) Skip(n int64) {
	if n > 0 && !s.stopped {
		s.skipReq += n
	}
}

// applySkip carries out a Skip request once the delivered data is consumed:
// the buffered bytes it covers are dropped, and the rest are skipped as they
// arrive. It returns the buffered bytes dropped.
func (s *Stream) applySkip() int {
	if s.skipReq == 0 {
		return 0
	}
	n := int(min(s.skipReq, int64(s.buf.n)))
	for k := n; k > 0; {
		piece := s.buf.front(k)
		s.buf.consume(len(piece))
		k -= len(piece)
	}
	s.start += uint32(n)
	if rest := s.skipReq - int64(n); rest > 0 {
		// Nothing is buffered any more: start == next.
		s.skip, s.skipEnd = true, s.next+uint32(min(rest, 1<<30))
	}
	s.skipReq = 0
	return n
}

// skipping consumes up to n bytes at s.next that fall in the skipped range,
// and returns how many it consumed.
func (s *Stream) skipping(n int64) int64 {
	if !s.skip {
		return 0
	}
	left := diff(s.skipEnd, s.next)
	m := min(left, n)
	if m == left {
		s.skip = false
	}
	if m <= 0 {
		return 0
	}
	if s.depth >= 0 && s.total+m > s.depth {
		m = s.depth - s.total
	}
	s.next += uint32(m)
	s.start = s.next
	s.total += m
	return m
}

func diff(a, b uint32) int64 { return int64(int32(a - b)) }

// Add inserts a segment. fn receives data only if the pending buffer
// overflows MaxPending.
func (s *Stream) Add(seq uint32, data []byte, fn Deliver) {
	if !s.init || len(data) == 0 || s.Done() {
		return
	}
	rel := diff(seq, s.next)
	if rel+int64(len(data)) <= 0 {
		return // retransmission of data already in order
	}
	if rel < 0 {
		data = data[-rel:]
		seq = s.next
		rel = 0
	}
	if rel > 0 {
		if s.skip && diff(s.skipEnd, seq+uint32(len(data))) >= 0 {
			return // will be skipped: no need to keep it
		}
		s.addOOO(seq, data)
		return
	}
	s.appendInOrder(data)
	s.drainOOO()
	if s.acked {
		// The peer acknowledged this data before we saw it (capture
		// reordering): hand it over now.
		if rel := diff(s.lastAck, s.start); rel > 0 {
			s.handOver(int(min(rel, int64(s.buf.n))), fn)
		}
	}
	if s.buf.n >= MaxPending {
		s.handOver(s.buf.n, fn)
	}
}

func (s *Stream) appendInOrder(data []byte) {
	data = data[s.skipping(int64(len(data))):]
	if len(data) == 0 || s.Done() {
		return
	}
	if s.depth >= 0 && s.total+int64(len(data)) > s.depth {
		data = data[:s.depth-s.total]
	}
	s.buf.append(data)
	s.next += uint32(len(data))
	s.total += int64(len(data))
}

func (s *Stream) addOOO(seq uint32, data []byte) {
	if len(s.ooo) >= MaxOOOSegs || s.oooLen+len(data) > MaxOOOBytes {
		s.Dropped++
		return
	}
	// Keep sorted by seq; the first copy of a byte range wins when drained.
	i := len(s.ooo)
	for i > 0 && diff(s.ooo[i-1].seq, seq) > 0 {
		i--
	}
	s.ooo = append(s.ooo, seg{})
	copy(s.ooo[i+1:], s.ooo[i:])
	s.ooo[i] = seg{seq: seq, data: append([]byte(nil), data...)}
	s.oooLen += len(data)
}

func (s *Stream) drainOOO() {
	for len(s.ooo) > 0 && !s.Done() {
		g := s.ooo[0]
		rel := diff(g.seq, s.next)
		if rel > 0 {
			return
		}
		s.ooo = s.ooo[1:]
		s.oooLen -= len(g.data)
		if rel+int64(len(g.data)) > 0 {
			s.appendInOrder(g.data[-rel:])
		}
	}
	if len(s.ooo) == 0 {
		s.ooo = nil
	}
}

func (s *Stream) handOver(n int, fn Deliver) {
	if n <= 0 || n > s.buf.n {
		return
	}
	for n > 0 && !s.stopped { // fn may stop the stream
		piece := s.buf.front(n)
		if len(piece) == 0 {
			return // cannot happen while n <= s.buf.n; never spin
		}
		if fn != nil {
			fn(piece, 0)
		}
		if s.stopped {
			return
		}
		s.buf.consume(len(piece))
		s.start += uint32(len(piece))
		n -= len(piece)
		n -= min(s.applySkip(), n)
	}
}

// Ack hands over the bytes the peer acknowledged with ack. If ack is past
// bytes never seen, the hole is reported as a gap and skipped.
func (s *Stream) Ack(ack uint32, fn Deliver) {
	if !s.init {
		return
	}
	if !s.acked || diff(ack, s.lastAck) > 0 {
		s.lastAck, s.acked = ack, true
	}
	rel := diff(ack, s.start)
	if rel <= 0 {
		return
	}
	if rel <= int64(s.buf.n) {
		s.handOver(int(rel), fn)
		return
	}
	// Everything buffered is acknowledged, and more: a gap, unless the
	// extra is a FIN's phantom byte (ack == next+1) or we hit the depth.
	s.handOver(s.buf.n, fn)
	missing := diff(ack, s.next)
	if missing <= 1 || s.Done() {
		return
	}
	// A hole is only declared lost once data after it has arrived: an ACK
	// can overtake the segment it acknowledges in a capture.
	if len(s.ooo) == 0 {
		return
	}
	if missing > 1<<30 {
		return // nonsense ACK
	}
	// Skip holes up to the ACK, pulling in out-of-order data between them.
	for range MaxOOOSegs + 1 {
		missing = diff(ack, s.next)
		if missing <= 0 || s.Done() {
			break
		}
		n := missing
		if len(s.ooo) > 0 {
			if d := diff(s.ooo[0].seq, s.next); d < n {
				n = d
			}
		}
		if n > 0 {
			s.skipGap(n, fn)
		} else {
			s.drainOOO()
		}
		s.handOver(int(min(max(diff(ack, s.start), 0), int64(s.buf.n))), fn)
		if s.buf.n > 0 {
			break // acknowledged data handed over; the rest waits
		}
	}
}

// skipGap declares n missing bytes at s.next, then pulls in what follows.
func (s *Stream) skipGap(n int64, fn Deliver) {
	n -= s.skipping(n) // missing bytes the consumer did not want are no gap
	if n > 0 {
		s.Gaps++
		s.next += uint32(n)
		s.start = s.next
		s.total += n
		if fn != nil {
			fn(nil, int(min(n, 1<<30)))
		}
		s.applySkip()
	}
	s.drainOOO()
}

// Flush hands over everything, jumping over holes before out-of-order data.
func (s *Stream) Flush(fn Deliver) {
	if !s.init {
		return
	}
	for range MaxOOOSegs + 1 {
		s.handOver(s.buf.n, fn)
		if len(s.ooo) == 0 || s.Done() {
			break
		}
		s.skipGap(diff(s.ooo[0].seq, s.next), fn)
	}
	s.ooo, s.oooLen = nil, 0
}

// Pending returns the number of bytes held (in order and out of order).
// Buffer capacity counts, not just the bytes in it: it is what memory
// accounting must see.
func (s *Stream) Pending() int { return s.buf.held() + s.oooLen }
