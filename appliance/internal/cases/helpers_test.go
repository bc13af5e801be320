package cases

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// entryFor turns a change into the entry the journal would commit next.
func entryFor(tb testing.TB, c *Case, actor string, at time.Time, ch Change) journal.Entry {
	tb.Helper()
	b, err := ch.Encode()
	require.NoError(tb, err)
	e := journal.Entry{
		Journal: c.ID, Seq: c.LastSeq + 1, Time: at, Actor: actor,
		Type: ch.Type, Payload: b, Prev: c.HeadHash,
	}
	e.Hash = e.ComputeHash()
	return e
}

// kase keeps a case and the entries applied to it, with a clock that moves
// one minute per entry unless told otherwise.
type kase struct {
	tb      testing.TB
	c       *Case
	now     time.Time
	entries []journal.Entry
}

func newKase(tb testing.TB) *kase {
	k := &kase{tb: tb, c: New("IR-2026-001"), now: t0}
	k.must(k.c.Open(OpenRequest{Title: "Ransomware at Example Ltd"}))
	return k
}

// must commits a change that must be valid.
func (k *kase) must(ch Change, err error) journal.Entry {
	k.tb.Helper()
	require.NoError(k.tb, err)
	return k.commit("alice", ch)
}

func (k *kase) commit(actor string, ch Change) journal.Entry {
	k.tb.Helper()
	e := entryFor(k.tb, k.c, actor, k.now, ch)
	require.NoError(k.tb, k.c.Apply(e))
	k.entries = append(k.entries, e)
	k.now = k.now.Add(time.Minute)
	return e
}

func (k *kase) to(p Phase, reason string) journal.Entry {
	k.tb.Helper()
	return k.must(k.c.SetPhase(PhaseRequest{To: p, Reason: reason}))
}

// walk moves the case forward along the main line to p.
func (k *kase) walk(p Phase) {
	k.tb.Helper()
	for k.c.Phase != p {
		n := next(k.c.Phase)
		require.NotEmpty(k.tb, n, "cannot walk from %s to %s", k.c.Phase, p)
		k.to(n[0], "")
	}
}
