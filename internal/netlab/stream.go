package netlab

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Stream sends a numbered UDP datagram every interval and records when each
// was sent and which arrived.
type Stream struct {
	mu sync.Mutex
	// sent is taken before each write, wrote after it: a datagram left
	// between the two. Leaks are judged by sent (it surely left after),
	// latencies by wrote (it surely left before).
	sent  []time.Time
	wrote []time.Time
	recv  map[int]time.Time
	stop  chan struct{}
	done  sync.WaitGroup
}

// StartStream starts a stream from the namespace to addr, received on rc.
func StartStream(t testing.TB, from *NS, rc *net.UDPConn, to string, interval time.Duration) *Stream {
	t.Helper()
	var c net.Conn
	require.NoError(t, from.Do(func() error {
		var err error
		c, err = net.Dial("udp", to)
		return err
	}))
	s := &Stream{recv: map[int]time.Time{}, stop: make(chan struct{})}
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		tk := time.NewTicker(interval)
		defer tk.Stop()
		buf := make([]byte, 8)
		for {
			select {
			case <-s.stop:
				return
			case <-tk.C:
			}
			s.mu.Lock()
			seq := len(s.sent)
			s.sent = append(s.sent, time.Now())
			s.wrote = append(s.wrote, time.Time{})
			s.mu.Unlock()
			binary.BigEndian.PutUint64(buf, uint64(seq))
			c.Write(buf)
			s.mu.Lock()
			s.wrote[seq] = time.Now()
			s.mu.Unlock()
		}
	}()
	go func() {
		defer s.done.Done()
		buf := make([]byte, 64)
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			rc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			n, err := rc.Read(buf)
			if err != nil || n != 8 {
				continue
			}
			now := time.Now()
			s.mu.Lock()
			s.recv[int(binary.BigEndian.Uint64(buf))] = now
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { s.Close(); c.Close() })
	return s
}

// Close stops the stream.
func (s *Stream) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.done.Wait()
}

// WaitSent waits until a datagram sent at or after t exists and returns
// its sequence number.
func (s *Stream) WaitSent(t testing.TB, after time.Time) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.sent)
		ok := n > 0 && !s.sent[n-1].Before(after)
		s.mu.Unlock()
		if ok {
			return n - 1
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("stream stalled")
	return 0
}

// WaitRecv waits until some datagram sent at or after t has arrived and
// returns the first such sequence number.
func (s *Stream) WaitRecv(after time.Time, timeout time.Duration) (int, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		first := -1
		for seq := range s.recv {
			if !s.sent[seq].Before(after) && (first < 0 || seq < first) {
				first = seq
			}
		}
		s.mu.Unlock()
		if first >= 0 {
			return first, true
		}
		time.Sleep(time.Millisecond)
	}
	return 0, false
}

// LastRecvUpTo returns the highest sequence number received among those up
// to limit, or -1.
func (s *Stream) LastRecvUpTo(limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := -1
	for seq := range s.recv {
		if seq <= limit && seq > last {
			last = seq
		}
	}
	return last
}

// ReceivedBetween counts datagrams with sequence numbers in [from, to]
// that arrived.
func (s *Stream) ReceivedBetween(from, to int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for seq := range s.recv {
		if seq >= from && seq <= to {
			n++
		}
	}
	return n
}

// SentAt is when datagram seq was about to be written.
func (s *Stream) SentAt(seq int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[seq]
}

// WroteBy is when the write of datagram seq had returned.
func (s *Stream) WroteBy(seq int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wrote[seq]
}

// Received reports whether datagram seq arrived.
func (s *Stream) Received(seq int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.recv[seq]
	return ok
}

// LastSentBefore returns the sequence number of the last datagram sent
// before t, or -1.
func (s *Stream) LastSentBefore(t time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := len(s.sent) - 1
	for i >= 0 && !s.sent[i].Before(t) {
		i--
	}
	return i
}
