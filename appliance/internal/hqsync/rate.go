package hqsync

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limiter is a token bucket over bytes. Tokens may go negative: a writer
// takes what it needs and sleeps off the debt, so the long-run rate is
// exact and a write never waits for more than one piece's worth.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(rate int64) *limiter {
	l := &limiter{}
	l.set(rate)
	return l
}

// set changes the rate; zero or less is no cap.
func (l *limiter) set(rate int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	burst := float64(rate) / 20 // 50 ms of traffic
	if burst < 1024 {
		burst = 1024
	}
	l.rate, l.burst, l.tokens, l.last = float64(max(rate, 0)), burst, burst, time.Now()
}

// piece is the most one Write sends before it takes tokens again.
func (l *limiter) piece() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate == 0 {
		return 256 << 10
	}
	return int(l.burst)
}

func (l *limiter) take(n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate == 0 {
		return 0
	}
	now := time.Now()
	l.tokens += now.Sub(l.last).Seconds() * l.rate
	l.last = now
	if l.tokens > l.burst {
		l.tokens = l.burst
	}
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}

// meteredConn counts the bytes written to HQ and, with a limiter, paces
// them: the cap is on what leaves the box, headers included.
type meteredConn struct {
	net.Conn
	lim     *limiter
	written *atomic.Int64
	set     *conns
	stall   time.Duration
}

func (c *meteredConn) Close() error {
	c.set.mu.Lock()
	delete(c.set.m, c)
	c.set.mu.Unlock()
	return c.Conn.Close()
}

// conns are the connections open to HQ, so stopping sync closes them all
// and no transport goroutine outlives it.
type conns struct {
	mu sync.Mutex
	m  map[*meteredConn]struct{}
}

func (s *conns) closeAll() {
	s.mu.Lock()
	all := make([]*meteredConn, 0, len(s.m))
	for c := range s.m {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
}

func (c *meteredConn) Write(b []byte) (int, error) {
	piece := 256 << 10
	if c.lim != nil {
		piece = c.lim.piece()
	}
	var sent int
	for len(b) > 0 {
		p := min(len(b), piece)
		if c.lim != nil {
			if d := c.lim.take(p); d > 0 {
				time.Sleep(d)
			}
		}
		// Each piece must drain within the stall timeout.
		c.Conn.SetWriteDeadline(time.Now().Add(c.stall))
		n, err := c.Conn.Write(b[:p])
		sent += n
		c.written.Add(int64(n))
		if err != nil {
			return sent, err
		}
		b = b[p:]
	}
	return sent, nil
}

func meteredDialer(lim *limiter, written *atomic.Int64, set *conns, stall time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: min(stall, 10*time.Second), KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mc := &meteredConn{Conn: c, lim: lim, written: written, set: set, stall: stall}
		set.mu.Lock()
		set.m[mc] = struct{}{}
		set.mu.Unlock()
		return mc, nil
	}
}
