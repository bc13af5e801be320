package casebook

import (
	"context"
	"crypto/ed25519"
	"errors"
	"sync"
	"testing"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal/journaltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newBook(t *testing.T) (*Book, *journaltest.Store) {
	st := journaltest.New(t)
	b, err := New(st.Store, st.DB, st.Key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	return b, st
}

// Concurrent commands on one case are checked against the state they are
// applied to: of many engineers confirming the same case at once, exactly
// one succeeds.
func TestCommandsAreSerialisedPerCase(t *testing.T) {
	b, _ := newBook(t)
	ctx := context.Background()
	id, err := b.Create(ctx, "alice", cases.OpenRequest{Title: "Phishing wave"})
	require.NoError(t, err)

	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for range 20 {
		wg.Go(func() {
			err := b.Do(ctx, "bob", id, func(c *cases.Case) (cases.Change, error) {
				return c.SetPhase(cases.PhaseRequest{To: cases.PhaseConfirmed, Reason: "confirmed"})
			})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else {
				assert.True(t, errors.Is(err, cases.ErrTransition) || errors.Is(err, cases.ErrNoChange) || errors.Is(err, cases.ErrInvalid), "%v", err)
				refused++
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, ok)
	assert.Equal(t, 19, refused)
}

// The cached projection equals a replay of the journal from scratch, also
// when other writers append entries the case model does not know.
func TestProjectionEqualsReplay(t *testing.T) {
	b, st := newBook(t)
	ctx := context.Background()
	id, err := b.Create(ctx, "alice", cases.OpenRequest{Title: "Miner on build server"})
	require.NoError(t, err)
	require.NoError(t, b.Do(ctx, "alice", id, func(c *cases.Case) (cases.Change, error) {
		return c.Note(cases.NoteRequest{Text: "xmrig seen"})
	}))
	// Another capability writes straight to the journal.
	_, err = st.Append(ctx, journal.Record{Journal: id, Actor: "capture", Type: "finding.added", Payload: map[string]string{"sig": "miner"}})
	require.NoError(t, err)
	require.NoError(t, b.Do(ctx, "alice", id, func(c *cases.Case) (cases.Change, error) {
		return c.Note(cases.NoteRequest{Text: "after the finding"})
	}))

	var all []journal.Entry
	require.NoError(t, st.Entries(id, 0, func(e journal.Entry) error { all = append(all, e); return nil }))
	want, err := cases.Replay(id, all)
	require.NoError(t, err)
	require.NoError(t, b.View(id, func(c *cases.Case) error {
		assert.Equal(t, want, c)
		assert.Equal(t, uint64(4), c.LastSeq)
		assert.Len(t, c.Notes, 2)
		return nil
	}))

	list, err := b.List()
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, id, list[0].ID)

	err = b.View("FB-0000-0000", func(*cases.Case) error { return nil })
	assert.ErrorIs(t, err, ErrNotFound)
	err = b.View("../../etc", func(*cases.Case) error { return nil })
	assert.ErrorIs(t, err, ErrNotFound)
	es, err := b.Entries(id, 2, 1)
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, uint64(3), es[0].Seq)
}
