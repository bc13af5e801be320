package hqsync

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// Syncer ships the journals and their blobs to HQ. Start runs it in its
// own goroutine; Close stops it, cancelling an upload in flight (which
// resumes from the outbox on the next start).
type Syncer struct {
	opts Options
	log  *slog.Logger
	hq   *hq
	out  *outbox
	// recipients, when set, encrypt every blob and segment (age).
	recipients []age.Recipient

	runMu  sync.Mutex        // one run at a time
	pulled map[string]string // hq/ key → the ETags it was last pulled at (runMu)
	// refused maps what the last pulls refused to its ETags (runMu); they
	// are tried again when they change or on Now (a key trusted since).
	refused map[string]string
	retry   atomic.Bool
	every   atomic.Int64 // the interval HQ's configuration set, 0: opts.Interval
	kick    chan struct{}
	stop    context.CancelFunc
	done    chan struct{}

	mu        sync.Mutex
	st        Status
	runCancel context.CancelFunc // cancels the run in flight, for Pause

	stats struct {
		puts, blobs, segments, blobBytes atomic.Int64
	}
	// tamper, when set by a test, changes the bytes of an upload after
	// their checksum was computed.
	tamper func(key string, part int32, b []byte) []byte
}

// Status is what `firebreak sync status` shows.
type Status struct {
	Endpoint    string          `json:"endpoint"`
	Bucket      string          `json:"bucket"`
	MaxRate     int64           `json:"max_rate,omitempty"`
	State       string          `json:"state"` // idle, running, paused, backoff
	Paused      bool            `json:"paused"`
	LastRun     time.Time       `json:"last_run,omitzero"`
	LastSuccess time.Time       `json:"last_success,omitzero"`
	LastError   string          `json:"last_error,omitempty"`
	Failures    int             `json:"failures,omitempty"`
	NextRun     time.Time       `json:"next_run,omitzero"`
	Current     *Progress       `json:"current,omitempty"`
	Journals    []JournalStatus `json:"journals"`
	BytesSent   int64           `json:"bytes_sent"`     // on the wire since start
	Pull        *PullStatus     `json:"pull,omitempty"` // the last pull of what HQ published
}

// Progress is the blob being uploaded.
type Progress struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Done   int64  `json:"done"`
}

// JournalStatus compares a journal with what HQ acknowledged.
type JournalStatus struct {
	Journal string `json:"journal"`
	Local   uint64 `json:"local"`
	Acked   uint64 `json:"acked"`
	Error   string `json:"error,omitempty"`
}

// Report is what one run did.
type Report struct {
	Puts      int64 `json:"puts"`       // PUT, multipart and cursor requests
	Blobs     int64 `json:"blobs"`      // blobs uploaded
	Segments  int64 `json:"segments"`   // journal segments uploaded
	BlobBytes int64 `json:"blob_bytes"` // blob bytes sent, including parts sent again
	Wire      int64 `json:"wire"`       // bytes written to HQ's sockets
}

// New checks the options and opens the outbox. It does not talk to HQ.
func New(opts Options) (*Syncer, error) {
	opts.applyStoredConfig()
	opts.defaults()
	if opts.DB == nil || opts.Journal == nil || opts.Vault == nil || opts.Appliance == "" || opts.Key == nil {
		return nil, fmt.Errorf("%w: sync needs the store, journal, vault and appliance key", ErrConfig)
	}
	h, err := dial(context.Background(), &opts)
	if err != nil {
		return nil, err
	}
	rs, err := parseRecipients(opts.Recipients)
	if err != nil {
		return nil, err
	}
	out, err := openOutbox(opts.DB, opts.target())
	if err != nil {
		return nil, err
	}
	s := &Syncer{opts: opts, log: opts.Logger, hq: h, out: out, kick: make(chan struct{}, 1), recipients: rs, pulled: map[string]string{}, refused: map[string]string{}}
	s.st = Status{Endpoint: opts.Endpoint, Bucket: opts.Bucket, MaxRate: opts.MaxRate, State: "idle"}
	return s, nil
}

// Start runs sync in the background: a first run at once, then every
// Interval, sooner when Now is called, later after failures.
func (s *Syncer) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go s.loop(ctx)
}

// Close stops the background loop and waits for it.
func (s *Syncer) Close() error {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	s.hq.close()
	return nil
}

// Now asks for a run as soon as possible, which also tries again what HQ
// published and the last pulls refused. It does not wait for the run.
func (s *Syncer) Now() error {
	if s.out.paused() {
		return ErrPaused
	}
	s.retry.Store(true)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

// Pause stops sync, cancelling the upload in flight, until Resume. It
// persists across restarts.
func (s *Syncer) Pause() error {
	if err := s.out.setPaused(true); err != nil {
		return err
	}
	s.mu.Lock()
	if s.runCancel != nil {
		s.runCancel()
	}
	s.mu.Unlock()
	return nil
}

// Resume undoes Pause and starts a run.
func (s *Syncer) Resume() error {
	if err := s.out.setPaused(false); err != nil {
		return err
	}
	return s.Now()
}

// Status reports the state of sync and of every journal.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	st := s.st
	if st.Current != nil {
		c := *st.Current
		st.Current = &c
	}
	s.mu.Unlock()
	st.Paused = s.out.paused()
	if st.Paused {
		st.State = "paused"
	}
	st.BytesSent = s.hq.written.Load()
	ids, _ := s.opts.Journal.IDs()
	st.Journals = []JournalStatus{}
	for _, id := range ids {
		local, _, _ := s.opts.Journal.Head(id)
		acked, _ := s.out.acked(id)
		js := JournalStatus{Journal: id, Local: local, Acked: acked}
		st.Journals = append(st.Journals, js)
	}
	return st
}

func (s *Syncer) setCurrent(sum string, size, done int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sum == "" {
		s.st.Current = nil
		return
	}
	s.st.Current = &Progress{SHA256: sum, Size: size, Done: done}
}

func (s *Syncer) loop(ctx context.Context) {
	defer close(s.done)
	failures := 0
	wait := time.Duration(0)
	for {
		s.mu.Lock()
		s.st.NextRun = time.Now().Add(wait)
		s.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.kick:
			t.Stop()
		case <-t.C:
		}
		if s.out.paused() {
			wait = s.interval()
			continue
		}
		_, err := s.RunOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			failures, wait = 0, s.interval()
		case errors.Is(err, ErrPaused) || errors.Is(err, context.Canceled):
			wait = s.interval()
		default:
			failures++
			wait = backoff(s.opts.MinBackoff, s.opts.MaxBackoff, failures)
			s.log.Warn("sync to HQ failed", "err", err, "failures", failures, "retry_in", wait.Round(time.Millisecond))
			s.mu.Lock()
			s.st.State = "backoff"
			s.st.Failures = failures
			s.mu.Unlock()
		}
	}
}

// backoff is exponential with full jitter: uniform in [min/2, min·2^(n-1)],
// capped at max.
func backoff(lo, hi time.Duration, failures int) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return lo/2 + rand.N(d-lo/2+1)
}

// RunOnce ships everything HQ has not acknowledged and returns what it
// sent. The background loop calls it; tests and `sync now` may too. It is
// safe to cancel at any point: the next run resumes from the outbox.
func (s *Syncer) RunOnce(ctx context.Context) (Report, error) {
	if s.out.paused() {
		return Report{}, ErrPaused
	}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.runCancel = cancel
	s.st.State, s.st.LastRun = "running", time.Now()
	s.mu.Unlock()

	before := s.snapshot()
	err := s.run(ctx)
	if err != nil {
		// After a failure every pooled connection is suspect (a cut link
		// leaves half-dead ones): the next run starts with fresh ones.
		s.hq.close()
	}
	rep := s.snapshot()
	rep.Puts -= before.Puts
	rep.Blobs -= before.Blobs
	rep.Segments -= before.Segments
	rep.BlobBytes -= before.BlobBytes
	rep.Wire -= before.Wire

	s.mu.Lock()
	s.runCancel = nil
	s.st.Current = nil
	if err != nil {
		s.st.LastError = err.Error()
		s.st.State = "backoff"
		if s.out.paused() {
			err = ErrPaused
		}
	} else {
		s.st.LastError, s.st.Failures, s.st.LastSuccess, s.st.State = "", 0, time.Now(), "idle"
	}
	s.mu.Unlock()
	if err == nil && rep.Puts > 0 {
		s.log.Info("synced to HQ", "blobs", rep.Blobs, "segments", rep.Segments, "bytes", rep.Wire)
	}
	return rep, err
}

func (s *Syncer) snapshot() Report {
	return Report{Puts: s.stats.puts.Load(), Blobs: s.stats.blobs.Load(), Segments: s.stats.segments.Load(),
		BlobBytes: s.stats.blobBytes.Load(), Wire: s.hq.written.Load()}
}

func (s *Syncer) run(ctx context.Context) error {
	if err := s.hq.reachable(ctx); err != nil {
		return err
	}
	if !s.out.identityDone() {
		id, _ := json.Marshal(Identity{Appliance: s.opts.Appliance, PublicKey: hex.EncodeToString(s.opts.Key.Public().(ed25519.PublicKey))})
		if err := s.putSmall(ctx, identityKey(s.opts.Appliance), id, nil); err != nil {
			return err
		}
		if err := s.out.setIdentityDone(); err != nil {
			return err
		}
	}
	// What HQ published first, so what the pull journals ships in this run.
	if err := s.pull(ctx); err != nil {
		return err
	}
	ids, err := s.opts.Journal.IDs()
	if err != nil {
		return err
	}
	// A case that cannot sync (a blob missing from the vault) must not hold
	// the others back; a failure of HQ stops the run.
	var local []error
	for _, id := range ids {
		err := s.syncJournal(ctx, id)
		var he *hqError
		switch {
		case err == nil:
		case errors.As(err, &he) || ctx.Err() != nil:
			return err
		default:
			local = append(local, fmt.Errorf("journal %s: %w", id, err))
		}
	}
	return errors.Join(local...)
}

// syncJournal ships one journal, a segment at a time: blobs, segment,
// cursor.
func (s *Syncer) syncJournal(ctx context.Context, id string) error {
	for {
		ackSeq, ackHash := s.out.acked(id)
		head, headHash, err := s.opts.Journal.Head(id)
		if err != nil {
			return err
		}
		if head == ackSeq {
			if head > 0 && headHash != ackHash {
				return fmt.Errorf("%w: entry %d", ErrDiverged, head)
			}
			return nil
		}
		if head < ackSeq {
			return fmt.Errorf("%w: HQ has %d entries, the box %d", ErrDiverged, ackSeq, head)
		}
		first, last, ok := s.out.plan(id)
		if !ok || first != ackSeq+1 {
			first, last, ok = ackSeq+1, min(head, ackSeq+maxSegmentEntries), false
		}
		var entries []journal.Entry
		size := 0
		err = s.opts.Journal.Entries(id, ackSeq, func(e journal.Entry) error {
			if e.Seq > last || (!ok && size > maxSegmentBytes/2) {
				return errStop
			}
			size += len(e.Payload) + 128
			entries = append(entries, e)
			return nil
		})
		if err != nil && err != errStop {
			return err
		}
		if len(entries) == 0 || entries[0].Seq != first {
			return fmt.Errorf("%w: entry %d is missing locally", ErrDiverged, first)
		}
		if entries[0].Prev != ackHash {
			return fmt.Errorf("%w: entry %d does not follow HQ's cursor", ErrDiverged, first)
		}
		last = entries[len(entries)-1].Seq
		if !ok {
			// The plan fixes the segment's bounds, so a run that dies after
			// the segment's PUT and before the cursor's sends the same object
			// again, not an overlapping one.
			if err := s.out.setPlan(id, first, last); err != nil {
				return err
			}
		}
		for i := range entries {
			for _, sum := range blobRefs(&entries[i]) {
				if err := s.ensureBlob(ctx, id, sum); err != nil {
					return fmt.Errorf("entry %d: %w", entries[i].Seq, err)
				}
			}
		}
		seg, err := encodeSegment(id, entries)
		if err != nil {
			return err
		}
		segKey := segmentKey(s.opts.Appliance, id, first, last)
		if s.recipients != nil {
			if seg, err = encrypt(seg, s.recipients); err != nil {
				return err
			}
			segKey += ageSuffix
		}
		if err := s.putSmall(ctx, segKey, seg, nil); err != nil {
			return err
		}
		s.stats.segments.Add(1)
		tail := entries[len(entries)-1]
		c := Cursor{Appliance: s.opts.Appliance, Journal: id, Seq: tail.Seq, Hash: tail.Hash, Segment: segKey, Time: time.Now().UTC()}
		c.sign(s.opts.Key)
		cb, _ := json.MarshalIndent(c, "", "  ")
		if err := s.putSmall(ctx, cursorKey(s.opts.Appliance, id), cb, nil); err != nil {
			return err
		}
		if err := s.out.ack(id, tail.Seq, tail.Hash); err != nil {
			return err
		}
	}
}

var errStop = errors.New("stop")
