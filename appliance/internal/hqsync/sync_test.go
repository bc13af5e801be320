package hqsync

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	bigBlob = 200 << 20 // the "large pcap" of the must-show tests
	caseID  = "case-2026-0001"
)

// requireBucketEqualsBox verifies the bucket from its contents alone and
// compares it with the box: every journal's head, every blob by hash.
func requireBucketEqualsBox(t *testing.T, g *gateway, b *box) []CaseReport {
	t.Helper()
	o := b.options(g)
	reports, err := Verify(context.Background(), Options{Endpoint: o.Endpoint, Bucket: o.Bucket, Credentials: o.Credentials}, b.id, nil)
	require.NoError(t, err)
	ids, err := b.j.IDs()
	require.NoError(t, err)
	require.Len(t, reports, len(ids))
	blobs := 0
	for _, r := range reports {
		seq, head, err := b.j.Head(r.Journal)
		require.NoError(t, err)
		assert.Equal(t, seq, r.Entries, r.Journal)
		assert.Equal(t, head, r.Head, r.Journal)
		blobs += r.Blobs
	}
	assert.Equal(t, len(b.blobs), blobs, "every blob, re-hashed from the bucket")
	return reports
}

func TestSyncEndToEnd(t *testing.T) {
	g := startGateway(t)
	b := newBox(t)
	b.note(t, caseID, 20)
	big := b.collect(t, caseID, bigBlob, 1)
	b.collect(t, caseID, 300<<10, 2)
	b.note(t, caseID, 5)
	b.note(t, "appliance", 3)
	s := b.syncer(t, b.options(g))

	start := time.Now()
	rep, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	took := time.Since(start)
	t.Logf("first sync: %d MiB blob + 2 journals in %v (%.0f MB/s), %d requests, %d bytes on the wire",
		bigBlob>>20, took.Round(time.Millisecond), float64(rep.Wire)/took.Seconds()/1e6, rep.Puts, rep.Wire)
	assert.EqualValues(t, 2, rep.Blobs)
	assert.EqualValues(t, 2, rep.Segments)
	assert.EqualValues(t, bigBlob+300<<10, rep.BlobBytes, "each blob byte sent once")

	reports := requireBucketEqualsBox(t, g, b)
	for _, r := range reports {
		if r.Journal == caseID {
			assert.EqualValues(t, 27, r.Entries)
			assert.EqualValues(t, bigBlob+300<<10, r.BlobBytes)
		}
	}
	require.Contains(t, b.blobs, big)

	rep, err = s.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Zero(t, rep.Puts, "a second sync uploads nothing")
	assert.Zero(t, rep.BlobBytes)
	t.Logf("second sync: %d requests sent, %d bytes on the wire (the reachability check)", rep.Puts, rep.Wire)

	// New entries later ship as a new segment; nothing else moves.
	b.note(t, caseID, 2)
	rep, err = s.RunOnce(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 1, rep.Segments)
	assert.EqualValues(t, 2, rep.Puts, "one segment and one cursor")
	requireBucketEqualsBox(t, g, b)

	st := s.Status()
	for _, js := range st.Journals {
		assert.Equal(t, js.Local, js.Acked, js.Journal)
	}
}

// progressAt calls fn once, from another goroutine, when the upload of the
// current blob has passed done bytes.
func progressAt(s *Syncer, done int64, fn func()) (stop func()) {
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-quit:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if c := s.Status().Current; c != nil && c.Done >= done {
				fn()
				return
			}
		}
	}()
	return func() { close(quit); <-finished }
}

func TestServerKilledMidUploadResumes(t *testing.T) {
	g := startGateway(t)
	b := newBox(t)
	b.note(t, caseID, 3)
	b.collect(t, caseID, bigBlob, 1)
	b.note(t, caseID, 3)
	o := b.options(g)
	o.MaxRate = 96 << 20 // slow enough that the kill lands inside a part
	s := b.syncer(t, o)
	chunk := s.opts.ChunkSize

	stop := progressAt(s, 3*chunk, func() {
		time.Sleep(70 * time.Millisecond) // into the fourth part
		g.kill()
	})
	rep1, err := s.RunOnce(context.Background())
	stop()
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnreachable)
	t.Logf("run 1, server killed: %v; %d MiB of blob sent", err, rep1.BlobBytes>>20)
	acked, _ := s.out.acked(caseID)
	assert.Zero(t, acked, "no entry is acknowledged while its blob is incomplete")

	rep, err := s.RunOnce(context.Background())
	require.ErrorIs(t, err, ErrUnreachable, "the server is down")
	assert.Zero(t, rep.BlobBytes)

	g.start()
	rep2, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	resent := rep1.BlobBytes + rep2.BlobBytes - bigBlob
	t.Logf("run 2 after restart: %d MiB of blob sent; re-sent %d bytes (chunk %d)", rep2.BlobBytes>>20, resent, chunk)
	assert.LessOrEqual(t, resent, chunk, "at most one chunk is sent again")
	assert.Positive(t, rep1.BlobBytes, "the kill came mid-upload")
	requireBucketEqualsBox(t, g, b)
}

func TestWrongCredentialsLoseNothing(t *testing.T) {
	g := startGateway(t)
	b := newBox(t)
	b.note(t, caseID, 4)
	b.collect(t, caseID, 1<<20, 3)
	o := b.options(g)
	o.Credentials = &Credentials{AccessKeyID: testAccess, SecretAccessKey: "not-the-secret-at-all"}
	s, err := New(o)
	require.NoError(t, err)
	_, err = s.RunOnce(context.Background())
	require.ErrorIs(t, err, ErrCredentials)
	t.Logf("wrong secret: %v", err)
	assert.NotContains(t, err.Error(), "not-the-secret-at-all")
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", o.Credentials, o.Credentials, o.Credentials), "not-the-secret")
	assert.Contains(t, s.Status().LastError, "refused the credentials")
	acked, _ := s.out.acked(caseID)
	assert.Zero(t, acked)
	s.Close()

	o.Credentials = &Credentials{AccessKeyID: "nobody", SecretAccessKey: testSecret}
	s, err = New(o)
	require.NoError(t, err)
	_, err = s.RunOnce(context.Background())
	require.ErrorIs(t, err, ErrCredentials, "unknown access key")
	s.Close()

	s = b.syncer(t, b.options(g))
	_, err = s.RunOnce(context.Background())
	require.NoError(t, err)
	requireBucketEqualsBox(t, g, b)
}

func TestSyncStoppedMidwayResumes(t *testing.T) {
	g := startGateway(t)
	b := newBox(t)
	b.note(t, caseID, 3)
	b.collect(t, caseID, bigBlob, 1)
	o := b.options(g)
	o.MaxRate = 128 << 20
	s, err := New(o)
	require.NoError(t, err)
	chunk := s.opts.ChunkSize

	// The box is shut down mid-upload: the run is cancelled and the syncer
	// closed, as daemon.Close does.
	ctx, cancel := context.WithCancel(context.Background())
	stop := progressAt(s, 2*chunk, func() { time.Sleep(50 * time.Millisecond); cancel() })
	rep1, err := s.RunOnce(ctx)
	stop()
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, s.Close())
	u, err := s.out.upload(caseID, firstBlob(b))
	require.NoError(t, err)
	require.NotNil(t, u, "the multipart upload is saved in the outbox")
	t.Logf("stopped after %d parts acknowledged, %d MiB sent", len(u.Parts), rep1.BlobBytes>>20)

	b.note(t, caseID, 2) // the case goes on while sync is down

	s2 := b.syncer(t, o)
	rep2, err := s2.RunOnce(context.Background())
	require.NoError(t, err)
	resent := rep1.BlobBytes + rep2.BlobBytes - bigBlob
	t.Logf("restarted: %d MiB sent, re-sent %d bytes (chunk %d)", rep2.BlobBytes>>20, resent, chunk)
	assert.LessOrEqual(t, resent, chunk)
	requireBucketEqualsBox(t, g, b)
}

func firstBlob(b *box) string {
	for sum := range b.blobs {
		return sum
	}
	return ""
}

func TestCorruptedPartRefused(t *testing.T) {
	g := startGateway(t)
	b := newBox(t)
	b.note(t, caseID, 2)
	sum := b.collect(t, caseID, 40<<20, 4)
	o := b.options(g)
	o.ChunkSize = 8 << 20
	s := b.syncer(t, o)
	var tampered atomic.Int32
	s.tamper = func(key string, part int32, data []byte) []byte {
		if part == 3 && tampered.Add(1) == 1 {
			data[12345] ^= 0x40 // one bit flipped on the way
		}
		return data
	}
	rep, err := s.RunOnce(context.Background())
	require.ErrorIs(t, err, ErrRefused, "the server checks the part's SHA-256")
	t.Logf("corrupted part 3: %v", err)
	u, _ := s.out.upload(caseID, sum)
	require.NotNil(t, u)
	assert.Len(t, u.Parts, 2, "parts 1 and 2 kept, 3 refused")
	assert.EqualValues(t, 24<<20, rep.BlobBytes)

	// Nothing of the blob is visible at HQ, and no entry that references it.
	h := s.hq
	_, err = h.hashBlob(context.Background(), blobKey(b.id, caseID, sum), sum)
	assert.Error(t, err)
	acked, _ := s.out.acked(caseID)
	assert.Zero(t, acked)

	rep, err = s.RunOnce(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 40<<20-16<<20, rep.BlobBytes, "the upload resumed at part 3")
	requireBucketEqualsBox(t, g, b)
}

func TestCorruptedSmallObjectRefused(t *testing.T) {
	g := startGateway(t)
	b := newBox(t)
	b.note(t, caseID, 2)
	s := b.syncer(t, b.options(g))
	s.tamper = func(key string, part int32, data []byte) []byte {
		if strings.Contains(key, "/segments/") {
			data[len(data)-1] ^= 1
		}
		return data
	}
	_, err := s.RunOnce(context.Background())
	require.ErrorIs(t, err, ErrRefused)
	s.tamper = nil
	_, err = s.RunOnce(context.Background())
	require.NoError(t, err)
	requireBucketEqualsBox(t, g, b)
}

func TestMissingBlobHoldsOnlyItsCase(t *testing.T) {
	g := startGateway(t)
	b := newBox(t)
	b.note(t, "case-a", 2)
	sum := b.collect(t, "case-a", 1<<20, 5)
	b.note(t, "case-b", 3)
	// The vault loses the blob (a disk error, an operator's mistake).
	p, err := b.v.Path(sum)
	require.NoError(t, err)
	require.NoError(t, removeReadOnly(p))
	s := b.syncer(t, b.options(g))
	_, err = s.RunOnce(context.Background())
	require.ErrorIs(t, err, ErrBlobMissing)
	a, _ := s.out.acked("case-a")
	assert.Zero(t, a, "the segment with the entry is not sent without its blob")
	bb, _ := s.out.acked("case-b")
	assert.EqualValues(t, 3, bb, "other cases sync")
}

func TestMaxRate(t *testing.T) {
	if testing.Short() {
		t.Skip("timed transfer")
	}
	g := startGateway(t)
	b := newBox(t)
	b.note(t, caseID, 1)
	const rate = 2 << 20
	const size = 10 << 20 // five seconds at the cap
	b.collect(t, caseID, size, 6)
	o := b.options(g)
	o.MaxRate = rate
	o.ChunkSize = 5 << 20
	s := b.syncer(t, o)
	start := time.Now()
	rep, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	took := time.Since(start)
	got := float64(rep.Wire) / took.Seconds()
	t.Logf("cap %d B/s: %d bytes on the wire in %v = %.0f B/s (%.1f%% of the cap)", rate, rep.Wire, took.Round(time.Millisecond), got, 100*got/rate)
	assert.InEpsilon(t, float64(rate), got, 0.10)
}

func TestLoopStartsPausesAndStops(t *testing.T) {
	g := startGateway(t)
	b := newBox(t)
	b.note(t, caseID, 2)
	o := b.options(g)
	o.Interval = time.Hour
	s, err := New(o)
	require.NoError(t, err)
	s.Start()
	require.Eventually(t, func() bool { a, _ := s.out.acked(caseID); return a == 2 }, 10*time.Second, 10*time.Millisecond)

	require.NoError(t, s.Pause())
	assert.ErrorIs(t, s.Now(), ErrPaused)
	assert.Equal(t, "paused", s.Status().State)
	b.note(t, caseID, 1)
	time.Sleep(100 * time.Millisecond)
	a, _ := s.out.acked(caseID)
	assert.EqualValues(t, 2, a, "nothing moves while paused")

	require.NoError(t, s.Resume())
	require.Eventually(t, func() bool { a, _ := s.out.acked(caseID); return a == 3 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, s.Close())

	// Unreachable: the loop backs off and keeps the state.
	g.kill()
	b.note(t, caseID, 1)
	s, err = New(o)
	require.NoError(t, err)
	s.Start()
	require.Eventually(t, func() bool { return s.Status().Failures >= 2 }, 10*time.Second, 10*time.Millisecond)
	st := s.Status()
	assert.Equal(t, "backoff", st.State)
	assert.Contains(t, st.LastError, "unreachable")
	require.NoError(t, s.Close())
	require.True(t, errors.Is(fmt.Errorf("x: %w", ErrUnreachable), ErrUnreachable))
}

// Sync runs in its own goroutine: stopping it mid-upload is prompt and
// leaves no goroutine or connection behind.
func TestCloseMidUploadIsPromptAndLeaksNothing(t *testing.T) {
	g := startGateway(t)
	b := newBox(t)
	b.collect(t, caseID, 64<<20, 8)
	o := b.options(g)
	o.MaxRate = 16 << 20
	before := runtime.NumGoroutine()
	s, err := New(o)
	require.NoError(t, err)
	s.Start()
	require.Eventually(t, func() bool { c := s.Status().Current; return c != nil && c.Done > 0 }, 10*time.Second, 5*time.Millisecond)
	start := time.Now()
	require.NoError(t, s.Close())
	took := time.Since(start)
	t.Logf("Close mid-upload took %v", took)
	assert.Less(t, took, time.Second)
	for deadline := time.Now().Add(3 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // not assert.Eventually: it runs the check in a goroutine of its own
	}
	if !assert.LessOrEqual(t, runtime.NumGoroutine(), before, "no goroutine outlives Close") {
		buf := make([]byte, 1<<20)
		t.Logf("goroutines: %d before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
	}
}
