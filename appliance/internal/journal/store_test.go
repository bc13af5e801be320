package journal_test

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal/journaltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func note(id, text string) journal.Record {
	return journal.Record{Journal: id, Actor: "alice", Type: "note.added", Payload: map[string]string{"text": text}}
}

func TestAppendAndRead(t *testing.T) {
	s := journaltest.New(t)
	ctx := context.Background()

	es, err := s.Append(ctx, journal.Record{Journal: "FB-1", Actor: "alice", Type: "case.opened", New: true,
		Payload: json.RawMessage(`{ "title" : "web server <defaced>" }`)})
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, uint64(1), es[0].Seq)
	assert.True(t, es[0].Prev.IsZero())
	assert.JSONEq(t, `{"title":"web server <defaced>"}`, string(es[0].Payload))
	assert.Equal(t, `{"title":"web server <defaced>"}`, string(es[0].Payload), "payload is stored compact, bytes kept")

	es2, err := s.Append(ctx, note("FB-1", "first"), note("FB-1", "second"))
	require.NoError(t, err)
	require.Len(t, es2, 2)
	assert.Equal(t, es[0].Hash, es2[0].Prev)
	assert.Equal(t, es2[0].Hash, es2[1].Prev)

	var got []journal.Entry
	require.NoError(t, s.Entries("FB-1", 0, func(e journal.Entry) error { got = append(got, e); return nil }))
	require.Len(t, got, 3)
	for i, e := range got {
		assert.Equal(t, uint64(i+1), e.Seq)
		assert.Equal(t, e.ComputeHash(), e.Hash)
		assert.Equal(t, time.UTC, e.Time.Location())
	}
	assert.Equal(t, es2[1], got[2], "what Append returned is what is stored")

	seq, h, err := s.Head("FB-1")
	require.NoError(t, err)
	assert.Equal(t, uint64(3), seq)
	assert.Equal(t, got[2].Hash, h)

	_, err = s.Append(ctx, journal.Record{Journal: "FB-1", Actor: "bob", Type: "case.opened", New: true})
	assert.ErrorIs(t, err, journal.ErrExists)
	_, err = s.Append(ctx, journal.Record{Journal: "../x", Actor: "bob", Type: "t"})
	assert.ErrorIs(t, err, journal.ErrInvalid)
	_, err = s.Append(ctx, journal.Record{Journal: "FB-1", Actor: "", Type: "t"})
	assert.ErrorIs(t, err, journal.ErrInvalid)
	_, err = s.Append(ctx, journal.Record{Journal: "FB-1", Actor: "a", Type: "t", Payload: json.RawMessage(`{"a":`)})
	assert.ErrorIs(t, err, journal.ErrInvalid)
	err = s.Entries("nope", 0, func(journal.Entry) error { return nil })
	assert.ErrorIs(t, err, journal.ErrNotFound)
}

// A refused request in a group leaves the others committed.
func TestGroupCommitConcurrent(t *testing.T) {
	s := journaltest.New(t)
	ctx := context.Background()
	const writers, each = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			id := fmt.Sprintf("FB-%d", w%3)
			for i := range each {
				if _, err := s.Append(ctx, note(id, fmt.Sprintf("w%d-%d", w, i))); err != nil {
					errs <- err
				}
				// Some writers also try to create a journal that exists.
				if i == 0 {
					s.Append(ctx, journal.Record{Journal: id, Actor: "x", Type: "case.opened", New: true})
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var total uint64
	for i := range 3 {
		seq, _, err := s.Head(fmt.Sprintf("FB-%d", i))
		require.NoError(t, err)
		total += seq
	}
	assert.GreaterOrEqual(t, total, uint64(writers*each))
	assert.LessOrEqual(t, total, uint64(writers*each+3), "at most one successful New per journal")
}

func TestCloseRefusesAppends(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "j.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	s, err := journal.Open(db, journal.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "close twice is fine")
	_, err = s.Append(context.Background(), note("FB-1", "late"))
	assert.ErrorIs(t, err, journal.ErrClosed)
}

// tamperCase builds a journal of n notes, closes it, applies edit to the
// bbolt file directly, and returns what Verify says.
func tamperCase(t *testing.T, n int, edit func(b *bolt.Bucket, heads *bolt.Bucket)) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "firebreak.db")
	_, key, _ := ed25519.GenerateKey(nil)
	pub := key.Public().(ed25519.PublicKey)
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	s, err := journal.Open(db, journal.Options{Key: key})
	require.NoError(t, err)
	for i := range n {
		_, err := s.Append(context.Background(), note("FB-7", fmt.Sprint("note ", i+1)))
		require.NoError(t, err)
	}
	_, err = s.Verify("FB-7", pub)
	require.NoError(t, err, "untouched chain verifies")
	require.NoError(t, s.Close())
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		edit(tx.Bucket([]byte("journals")).Bucket([]byte("FB-7")), tx.Bucket([]byte("heads")))
		return nil
	}))
	s, err = journal.Open(db, journal.Options{})
	require.NoError(t, err)
	defer s.Close()
	defer db.Close()
	_, err = s.Verify("FB-7", pub)
	return err
}

func key(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func TestVerifyNamesTheBadEntry(t *testing.T) {
	tests := []struct {
		name string
		edit func(b, heads *bolt.Bucket)
		seq  uint64
		kind string
	}{
		{"modify payload", func(b, _ *bolt.Bucket) {
			v := append([]byte(nil), b.Get(key(4))...)
			i := len(v) - 64 - 2 // inside the payload: `note 4"}`
			v[i] = '9'
			b.Put(key(4), v)
		}, 4, journal.Modified},
		{"modify garbage", func(b, _ *bolt.Bucket) { b.Put(key(2), []byte{1, 2, 3}) }, 2, journal.Modified},
		{"delete middle", func(b, _ *bolt.Bucket) { b.Delete(key(5)) }, 5, journal.Deleted},
		{"delete first", func(b, _ *bolt.Bucket) { b.Delete(key(1)) }, 1, journal.Deleted},
		{"reorder", func(b, _ *bolt.Bucket) {
			v3 := append([]byte(nil), b.Get(key(3))...)
			v6 := append([]byte(nil), b.Get(key(6))...)
			b.Put(key(3), v6)
			b.Put(key(6), v3)
		}, 3, journal.Reordered},
		{"truncate tail", func(b, _ *bolt.Bucket) { b.Delete(key(8)); b.Delete(key(7)) }, 7, journal.Truncated},
		{"truncate tail and head together", func(b, heads *bolt.Bucket) {
			// Rewind the head to entry 6 without the appliance key.
			var e journal.Entry
			e.UnmarshalBinary(b.Get(key(6)))
			h := binary.BigEndian.AppendUint64(nil, 6)
			h = append(h, e.Hash[:]...)
			heads.Put([]byte("FB-7"), append(h, make([]byte, 64)...))
			b.Delete(key(8))
			b.Delete(key(7))
		}, 6, journal.HeadBad},
		{"head removed", func(_, heads *bolt.Bucket) { heads.Delete([]byte("FB-7")) }, 0, journal.HeadBad},
		{"extra entry appended", func(b, _ *bolt.Bucket) { b.Put(key(9), b.Get(key(8))) }, 9, journal.Reordered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tamperCase(t, 8, tt.edit)
			require.ErrorIs(t, err, journal.ErrChainBroken)
			var ce *journal.ChainError
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, tt.seq, ce.Seq, "names the entry: %v", err)
			assert.Equal(t, tt.kind, ce.Kind, "%v", err)
		})
	}
}

func TestEntryBinaryRoundTrip(t *testing.T) {
	e := journal.Entry{Journal: "FB-1", Seq: 42, Time: time.Date(2026, 11, 24, 2, 0, 0, 123456789, time.UTC),
		Actor: "张伟", Type: "note.added", Payload: json.RawMessage(`{"text":"横向移动"}`)}
	e.Hash = e.ComputeHash()
	b, err := e.MarshalBinary()
	require.NoError(t, err)
	got := journal.Entry{Journal: "FB-1"}
	require.NoError(t, got.UnmarshalBinary(b))
	assert.Equal(t, e, got)
}

// FuzzEntryDecode feeds arbitrary bytes to the stored-entry decoder: it
// must never panic, and whatever it accepts must encode and decode to the
// same entry.
func FuzzEntryDecode(f *testing.F) {
	e := journal.Entry{Journal: "FB-1", Seq: 1, Time: time.Unix(0, 1).UTC(), Actor: "a", Type: "t", Payload: json.RawMessage(`{}`)}
	seed, _ := e.MarshalBinary()
	f.Add(seed)
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e journal.Entry
		if err := e.UnmarshalBinary(b); err != nil {
			require.ErrorIs(t, err, journal.ErrBadRecord)
			return
		}
		again, err := e.MarshalBinary()
		require.NoError(t, err)
		var e2 journal.Entry
		require.NoError(t, e2.UnmarshalBinary(again))
		require.Equal(t, e, e2)
		require.Equal(t, e.Canonical(), e2.Canonical())
	})
}

func BenchmarkAppend(b *testing.B) {
	s := journaltest.New(b)
	ctx := context.Background()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Append(ctx, note("FB-1", "benchmark")); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}
