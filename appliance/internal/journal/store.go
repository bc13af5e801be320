package journal

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Layout in bbolt:
//
//	journals/<id>/<seq as 8 bytes big-endian> → stored entry (append-only, FillPercent 1.0)
//	heads/<id>                                → head record: seq, hash, ed25519 signature
var (
	bucketJournals = []byte("journals")
	bucketHeads    = []byte("heads")
)

// Options configure a Store. The zero value is usable, with the defaults
// documented on each field.
type Options struct {
	// Key signs every journal head, so a chain rewritten without the
	// appliance key fails verification. Nil leaves heads unsigned.
	Key ed25519.PrivateKey
	// MaxBatch is the most appends committed in one transaction. Default 256.
	MaxBatch int
	// Logger for the writer. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Record is what a caller appends. The store assigns Seq, Time, Prev and Hash.
type Record struct {
	Journal string
	Actor   string
	Type    string
	Payload any // marshalled with encoding/json; a json.RawMessage is compacted
	// New makes the append fail with ErrExists if the journal has entries.
	New bool
}

// Store is the journal on bbolt. One writer goroutine commits appends in
// groups: every caller waiting when a transaction starts shares its fsync.
type Store struct {
	db      *bolt.DB
	opts    Options
	reqs    chan *appendReq
	closing chan struct{}
	done    chan struct{}
}

type appendReq struct {
	entries []Entry // prepared: Journal, Actor, Type, Payload set
	news    []bool
	err     error
	done    chan struct{}
}

// Open starts a journal on db, creating its buckets. Close stops it; it does
// not close db.
func Open(db *bolt.DB, opts Options) (*Store, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketJournals, bucketHeads} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create journal buckets: %w", err)
	}
	s := &Store{
		db:      db,
		opts:    opts,
		reqs:    make(chan *appendReq),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.run()
	return s, nil
}

// Close stops the writer after the group in flight. Appends after Close
// return ErrClosed.
func (s *Store) Close() error {
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	<-s.done
	return nil
}

var journalID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidID reports whether id can name a journal.
func ValidID(id string) bool { return len(id) <= MaxJournalID && journalID.MatchString(id) }

func prepare(r Record) (Entry, error) {
	if !ValidID(r.Journal) {
		return Entry{}, fmt.Errorf("%w: journal ID %q", ErrInvalid, r.Journal)
	}
	if r.Actor == "" || len(r.Actor) > MaxActor || !utf8.ValidString(r.Actor) {
		return Entry{}, fmt.Errorf("%w: actor must be 1-%d bytes of UTF-8", ErrInvalid, MaxActor)
	}
	if r.Type == "" || len(r.Type) > MaxType || !utf8.ValidString(r.Type) {
		return Entry{}, fmt.Errorf("%w: type must be 1-%d bytes of UTF-8", ErrInvalid, MaxType)
	}
	var raw []byte
	switch p := r.Payload.(type) {
	case json.RawMessage:
		raw = p
	case nil:
		raw = []byte("{}")
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return Entry{}, fmt.Errorf("%w: payload: %v", ErrInvalid, err)
		}
		raw = b
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return Entry{}, fmt.Errorf("%w: payload is not JSON: %v", ErrInvalid, err)
	}
	if compact.Len() > MaxPayload {
		return Entry{}, fmt.Errorf("%w: payload is %d bytes, limit %d", ErrInvalid, compact.Len(), MaxPayload)
	}
	return Entry{Journal: r.Journal, Actor: r.Actor, Type: r.Type, Payload: compact.Bytes()}, nil
}

// Append writes records atomically (all or none) and returns the committed
// entries. When it returns without error the entries are on disk.
func (s *Store) Append(ctx context.Context, recs ...Record) ([]Entry, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	req := &appendReq{done: make(chan struct{})}
	for _, r := range recs {
		e, err := prepare(r)
		if err != nil {
			return nil, err
		}
		req.entries = append(req.entries, e)
		req.news = append(req.news, r.New)
	}
	select {
	case s.reqs <- req:
	case <-s.closing:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once handed over the append will complete either way; wait for it so
	// the caller learns whether it is durable.
	<-req.done
	if req.err != nil {
		return nil, req.err
	}
	return req.entries, nil
}

func (s *Store) run() {
	defer close(s.done)
	for {
		var first *appendReq
		select {
		case first = <-s.reqs:
		case <-s.closing:
			return
		}
		batch := []*appendReq{first}
	gather:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		s.commit(batch)
	}
}

// commit writes one group in one transaction. A request that cannot apply
// (ErrExists) fails alone; an I/O error fails the whole group, and bbolt
// guarantees nothing of it reached the file.
func (s *Store) commit(batch []*appendReq) {
	now := s.opts.Now().UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		js, hs := tx.Bucket(bucketJournals), tx.Bucket(bucketHeads)
		heads := map[string]head{}
		for _, req := range batch {
			req.err = s.place(js, hs, heads, req, now)
			if req.err != nil && !isRequestError(req.err) {
				return req.err
			}
		}
		for id, h := range heads {
			if err := hs.Put([]byte(id), h.marshal(s.opts.Key, id)); err != nil {
				return err
			}
		}
		return nil
	})
	for _, req := range batch {
		if err != nil {
			req.err = fmt.Errorf("commit journal: %w", err)
		}
		close(req.done)
	}
	if err != nil {
		s.opts.Logger.Error("journal commit failed", "entries", len(batch), "err", err)
	}
}

func isRequestError(err error) bool { return err == ErrExists }

func (s *Store) place(js, hs *bolt.Bucket, heads map[string]head, req *appendReq, now time.Time) error {
	// Check every record first so a refused request leaves no trace in the
	// transaction.
	for i, e := range req.entries {
		if !req.news[i] {
			continue
		}
		if _, ok := heads[e.Journal]; ok || hs.Get([]byte(e.Journal)) != nil {
			return ErrExists
		}
	}
	for i := range req.entries {
		e := &req.entries[i]
		h, ok := heads[e.Journal]
		if !ok {
			if raw := hs.Get([]byte(e.Journal)); raw != nil {
				var err error
				if h, err = parseHead(raw); err != nil {
					return fmt.Errorf("journal %s: %w", e.Journal, err)
				}
			}
		}
		b, err := js.CreateBucketIfNotExists([]byte(e.Journal))
		if err != nil {
			return err
		}
		b.FillPercent = 1.0 // keys only ever grow
		e.Seq, e.Time, e.Prev = h.seq+1, now, h.hash
		e.Hash = e.ComputeHash()
		rec, _ := e.MarshalBinary()
		if err := b.Put(seqKey(e.Seq), rec); err != nil {
			return err
		}
		heads[e.Journal] = head{seq: e.Seq, hash: e.Hash}
	}
	return nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// head is the recorded end of a journal: the seq and hash of its last entry,
// signed by the appliance key. Verify compares the chain with it to find a
// truncated tail.
type head struct {
	seq  uint64
	hash Hash
	sig  []byte
}

const headTag = "firebreak/head/v1\n"

func headMessage(id string, seq uint64, h Hash) []byte {
	m := append([]byte(headTag), id...)
	m = append(m, '\n')
	m = binary.BigEndian.AppendUint64(m, seq)
	return append(m, h[:]...)
}

func (h head) marshal(key ed25519.PrivateKey, id string) []byte {
	b := binary.BigEndian.AppendUint64(nil, h.seq)
	b = append(b, h.hash[:]...)
	if key != nil {
		b = append(b, ed25519.Sign(key, headMessage(id, h.seq, h.hash))...)
	}
	return b
}

func parseHead(b []byte) (head, error) {
	if len(b) != 40 && len(b) != 40+ed25519.SignatureSize {
		return head{}, fmt.Errorf("%w: head is %d bytes", ErrBadRecord, len(b))
	}
	h := head{seq: binary.BigEndian.Uint64(b)}
	copy(h.hash[:], b[8:40])
	if len(b) > 40 {
		h.sig = append([]byte(nil), b[40:]...)
	}
	return h, nil
}

// Head returns the seq and hash of a journal's last entry as recorded.
func (s *Store) Head(id string) (seq uint64, hash Hash, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketHeads).Get([]byte(id))
		if raw == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		h, err := parseHead(raw)
		seq, hash = h.seq, h.hash
		return err
	})
	return seq, hash, err
}

// IDs lists every journal in key order.
func (s *Store) IDs() ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHeads).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	})
	return ids, err
}

// Entries calls fn for every entry of a journal with Seq > after, in order.
// It decodes but does not verify; a record that cannot be decoded stops the
// walk with ErrBadRecord.
func (s *Store) Entries(id string, after uint64, fn func(Entry) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJournals).Bucket([]byte(id))
		if b == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		c := b.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
			e := Entry{Journal: id}
			if err := e.UnmarshalBinary(v); err != nil {
				return fmt.Errorf("journal %s key %x: %w", id, k, err)
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// Verify re-walks a journal's chain from the first entry and returns a
// *ChainError naming the first entry that does not fit: one whose bytes
// changed, one missing, one out of place, or a tail missing compared with the
// recorded head. With a public key it also checks the head's signature. It
// returns the number of entries checked.
func (s *Store) Verify(id string, pub ed25519.PublicKey) (uint64, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		bad := func(seq uint64, kind, format string, args ...any) error {
			return &ChainError{Journal: id, Seq: seq, Kind: kind, Detail: fmt.Sprintf(format, args...)}
		}
		rawHead := tx.Bucket(bucketHeads).Get([]byte(id))
		b := tx.Bucket(bucketJournals).Bucket([]byte(id))
		if rawHead == nil && b == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if rawHead == nil {
			return bad(0, HeadBad, "the recorded head is missing")
		}
		h, err := parseHead(rawHead)
		if err != nil {
			return bad(0, HeadBad, "%v", err)
		}
		var prev Hash
		want := uint64(1)
		if b != nil {
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if len(k) != 8 {
					return bad(want, Modified, "stray key %x", k)
				}
				key := binary.BigEndian.Uint64(k)
				e := Entry{Journal: id}
				if err := e.UnmarshalBinary(v); err != nil {
					return bad(key, Modified, "cannot decode: %v", err)
				}
				switch {
				case e.Seq != key:
					return bad(key, Reordered, "the entry stored at %d carries seq %d", key, e.Seq)
				case key != want:
					return bad(want, Deleted, "the chain jumps from %d to %d", want-1, key)
				case e.ComputeHash() != e.Hash:
					return bad(key, Modified, "content does not match its hash %s", e.Hash)
				case e.Prev != prev:
					return bad(key, Modified, "previous hash %s, but entry %d has hash %s", e.Prev, key-1, prev)
				}
				prev, want, n = e.Hash, want+1, key
			}
		}
		switch {
		case h.seq > n:
			return bad(n+1, Truncated, "the head records %d entries, the chain ends at %d", h.seq, n)
		case h.seq < n:
			return bad(h.seq+1, HeadBad, "the head records %d entries, the chain has %d", h.seq, n)
		case h.hash != prev:
			return bad(n, Modified, "the last entry's hash %s differs from the head's %s", prev, h.hash)
		}
		if pub != nil && (h.sig == nil || !ed25519.Verify(pub, headMessage(id, h.seq, h.hash), h.sig)) {
			return bad(n, HeadBad, "the head is not signed by this appliance's key")
		}
		return nil
	})
	return n, err
}
