package hqsync

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// link is a TCP relay between the box and HQ that can be cut: while cut it
// forwards nothing in either direction and answers nothing, as a link that
// drops every packet does (a namespace or firewall needs root; this does
// not). When it is restored, connections from before the cut are gone, as
// they would be after TCP timed them out.
type link struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	gen    int // bumped by each cut; a connection of an older generation is dropped
	wake   *sync.Cond
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newLink(t *testing.T, target string) *link {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	k := &link{l: l, target: target}
	k.wake = sync.NewCond(&k.mu)
	k.wg.Add(1)
	go k.accept()
	t.Cleanup(k.close)
	return k
}

func (k *link) url() string { return "http://" + k.l.Addr().String() }

func (k *link) accept() {
	defer k.wg.Done()
	for {
		c, err := k.l.Accept()
		if err != nil {
			return
		}
		k.wg.Add(1)
		go k.relay(c)
	}
}

// wait blocks while the link is cut and reports whether the connection of
// generation gen may go on.
func (k *link) wait(gen int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for k.cut {
		k.wake.Wait()
	}
	return k.gen == gen
}

func (k *link) relay(c net.Conn) {
	defer k.wg.Done()
	k.mu.Lock()
	gen := k.gen
	k.conns = append(k.conns, c)
	k.mu.Unlock()
	if !k.wait(gen) {
		c.Close()
		return
	}
	s, err := net.Dial("tcp", k.target)
	if err != nil {
		c.Close()
		return
	}
	k.mu.Lock()
	k.conns = append(k.conns, s)
	k.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if !k.wait(gen) {
					break
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		c.Close()
		s.Close()
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pipe(s, c) }()
	go func() { defer wg.Done(); pipe(c, s) }()
	wg.Wait()
}

// Cut stops all traffic; Restore lets new connections through.
func (k *link) Cut() {
	k.mu.Lock()
	k.cut = true
	k.gen++
	k.mu.Unlock()
}

func (k *link) Restore() {
	k.mu.Lock()
	k.cut = false
	k.wake.Broadcast()
	k.mu.Unlock()
}

func (k *link) close() {
	k.l.Close()
	k.Restore()
	k.mu.Lock()
	for _, c := range k.conns {
		c.Close()
	}
	k.mu.Unlock()
	k.wg.Wait()
}

func TestLinkCutForAWhile(t *testing.T) {
	g := startGateway(t)
	k := newLink(t, g.Addr)
	b := newBox(t)
	b.note(t, caseID, 3)
	b.collect(t, caseID, bigBlob, 1)
	b.note(t, caseID, 3)
	o := b.options(g)
	o.Endpoint = k.url()
	o.MaxRate = 96 << 20
	o.StallTimeout = 1500 * time.Millisecond // loose enough for a loaded CI machine's fsync of a part
	o.MinBackoff, o.MaxBackoff = 100*time.Millisecond, 400*time.Millisecond
	o.Interval = time.Hour
	s := b.syncer(t, o)
	chunk := s.opts.ChunkSize

	cut := make(chan time.Time, 1)
	stop := progressAt(s, 3*chunk, func() {
		time.Sleep(60 * time.Millisecond)
		k.Cut()
		cut <- time.Now()
	})
	s.Start()
	var cutAt time.Time
	select {
	case cutAt = <-cut:
	case <-time.After(20 * time.Second):
		t.Fatal("the upload did not reach the fourth part")
	}
	stop()
	// The link stays down for five seconds; the loop notices the stall,
	// backs off and probes again.
	require.Eventually(t, func() bool { return s.Status().Failures >= 2 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(time.Until(cutAt.Add(5 * time.Second)))
	st := s.Status()
	t.Logf("link down 5 s: %d failed runs, last: %s", st.Failures, st.LastError)
	assert.Contains(t, st.LastError, "unreachable")
	acked, _ := s.out.acked(caseID)
	assert.Zero(t, acked)
	k.Restore()
	restored := time.Now()

	require.Eventually(t, func() bool { a, _ := s.out.acked(caseID); return a == 7 }, 30*time.Second, 10*time.Millisecond)
	t.Logf("synced %v after the link came back", time.Since(restored).Round(time.Millisecond))
	require.NoError(t, s.Close())
	resent := s.stats.blobBytes.Load() - bigBlob
	t.Logf("blob bytes sent %d for a %d-byte blob: %d re-sent (chunk %d)", s.stats.blobBytes.Load(), int64(bigBlob), resent, chunk)
	assert.LessOrEqual(t, resent, chunk)
	requireBucketEqualsBox(t, g, b)
}
