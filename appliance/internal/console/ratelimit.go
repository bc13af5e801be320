package console

import (
	"sync"
	"time"
)

// Login rate limits: failed logins are counted per client address and per
// account name over a sliding window; past the limit, further attempts are
// refused without checking the password until the window has moved on.
const (
	LoginWindow        = 10 * time.Minute
	MaxFailsPerAccount = 5
	MaxFailsPerAddress = 20
	maxTracked         = 10000 // keys kept at most, so a spray of names cannot grow memory without bound
)

type limiter struct {
	window time.Duration
	max    int

	mu    sync.Mutex
	fails map[string][]time.Time
}

func newLimiter(window time.Duration, max int) *limiter {
	return &limiter{window: window, max: max, fails: map[string][]time.Time{}}
}

// blocked reports how long key must still wait, or 0.
func (l *limiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.prune(key, now)
	if len(f) < l.max {
		return 0
	}
	return f[len(f)-l.max].Add(l.window).Sub(now)
}

func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) >= maxTracked {
		for k := range l.fails {
			if len(l.prune(k, now)) == 0 {
				delete(l.fails, k)
			}
		}
		if len(l.fails) >= maxTracked {
			// Still full: forget one at random rather than grow.
			for k := range l.fails {
				delete(l.fails, k)
				break
			}
		}
	}
	l.fails[key] = append(l.prune(key, now), now)
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.fails, key)
	l.mu.Unlock()
}

func (l *limiter) prune(key string, now time.Time) []time.Time {
	f := l.fails[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = f
	return f
}
