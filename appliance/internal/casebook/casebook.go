// Package casebook keeps every case of the appliance: it turns validated
// commands into journal entries and keeps each case's state as the
// projection of its journal, brought up to date from the store on every
// read.
//
// It never changes a case except by appending to its journal, and never
// holds state that cannot be rebuilt by replaying the journal.
package casebook

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	bolt "go.etcd.io/bbolt"
)

// ErrNotFound means no case has that ID.
var ErrNotFound = errors.New("case not found")

// Book is the set of cases on the appliance.
type Book struct {
	j   *journal.Store
	db  *bolt.DB
	pub ed25519.PublicKey
	now func() time.Time

	mu    sync.Mutex
	cases map[string]*held
}

// held is one case's cached projection. mu serialises commands on the case
// (validate, then append) and guards c.
type held struct {
	mu sync.Mutex
	c  *cases.Case
}

var bucketMeta = []byte("casebook")

// New returns the case book over a journal. pub verifies journal heads.
func New(j *journal.Store, db *bolt.DB, pub ed25519.PublicKey) (*Book, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketMeta)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Book{j: j, db: db, pub: pub, now: time.Now, cases: map[string]*held{}}, nil
}

// newID allocates the next case ID, FB-<year>-<n>, from a counter in the
// store. A number taken by a creation that then fails is not reused.
func (b *Book) newID() (string, error) {
	var n uint64
	err := b.db.Update(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.Bucket(bucketMeta).NextSequence()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("allocate case ID: %w", err)
	}
	return fmt.Sprintf("FB-%d-%04d", b.now().UTC().Year(), n), nil
}

// Create opens a new case and returns its ID.
func (b *Book) Create(ctx context.Context, actor string, req cases.OpenRequest) (string, error) {
	id, err := b.newID()
	if err != nil {
		return "", err
	}
	ch, err := cases.New(id).Open(req)
	if err != nil {
		return "", err
	}
	_, err = b.j.Append(ctx, journal.Record{Journal: id, Actor: actor, Type: ch.Type, Payload: ch.Payload, New: true})
	if err != nil {
		return "", err
	}
	return id, nil
}

// get returns the held case, loading it on first use.
func (b *Book) get(id string) (*held, error) {
	if !journal.ValidID(id) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.cases[id]
	if !ok {
		if _, _, err := b.j.Head(id); err != nil {
			if errors.Is(err, journal.ErrNotFound) {
				return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
			}
			return nil, err
		}
		h = &held{c: cases.New(id)}
		b.cases[id] = h
	}
	return h, nil
}

// catchUp applies every entry committed after the projection's last one.
// The caller holds the case's lock.
func (b *Book) catchUp(c *cases.Case) error {
	return b.j.Entries(c.ID, c.LastSeq, c.Apply)
}

// withCase runs fn holding the case's lock, with its projection brought up
// to date.
func (b *Book) withCase(id string, fn func(c *cases.Case) error) error {
	h, err := b.get(id)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := b.catchUp(h.c); err != nil {
		return err
	}
	return fn(h.c)
}

// View calls fn with the case brought up to date. fn must not keep c.
func (b *Book) View(id string, fn func(c *cases.Case) error) error { return b.withCase(id, fn) }

// Do validates a command against the current state of the case and
// appends what it returns (nothing, if the Change has no type). Commands on
// one case are serialised, so the state a command was checked against is the
// state it is applied to.
func (b *Book) Do(ctx context.Context, actor, id string, cmd func(c *cases.Case) (cases.Change, error)) error {
	return b.withCase(id, func(c *cases.Case) error {
		ch, err := cmd(c)
		if err != nil || ch.Type == "" {
			return err // a Change with no type means there is nothing to record
		}
		if _, err := b.j.Append(ctx, journal.Record{Journal: id, Actor: actor, Type: ch.Type, Payload: ch.Payload}); err != nil {
			return err
		}
		return b.catchUp(c)
	})
}

// Summary is one line of the case list.
type Summary struct {
	ID      string      `json:"id"`
	Title   string      `json:"title"`
	Phase   cases.Phase `json:"phase"`
	Level   string      `json:"level,omitempty"`
	Opened  time.Time   `json:"opened"`
	Updated time.Time   `json:"updated"`
	Entries uint64      `json:"entries"`
}

// List returns a summary of every case, newest first.
func (b *Book) List() ([]Summary, error) {
	ids, err := b.j.IDs()
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, id := range ids {
		if id == ApplianceJournal {
			continue
		}
		err := b.View(id, func(c *cases.Case) error {
			out = append(out, summarize(c))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Opened.After(out[j].Opened) })
	return out, nil
}

// ApplianceJournal is the journal of the appliance itself (tokens, modules,
// settings): a journal like a case's, but not a case.
const ApplianceJournal = "appliance"

// Entries returns a case's journal entries after seq, at most limit
// (0 means all).
func (b *Book) Entries(id string, after uint64, limit int) ([]journal.Entry, error) {
	if _, err := b.get(id); err != nil {
		return nil, err
	}
	out := []journal.Entry{}
	errEnough := errors.New("enough")
	err := b.j.Entries(id, after, func(e journal.Entry) error {
		out = append(out, e)
		if limit > 0 && len(out) >= limit {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	return out, nil
}

// Verify re-walks a case's journal; see journal.Store.Verify.
func (b *Book) Verify(id string) (uint64, error) {
	if !journal.ValidID(id) {
		return 0, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	n, err := b.j.Verify(id, b.pub)
	if errors.Is(err, journal.ErrNotFound) {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return n, err
}

func summarize(c *cases.Case) Summary {
	s := Summary{ID: c.ID, Title: c.Title, Phase: c.Phase, Opened: c.CreatedAt, Updated: c.UpdatedAt, Entries: c.LastSeq}
	if c.Classification != nil {
		s.Level = string(c.Classification.Level)
	}
	return s
}
