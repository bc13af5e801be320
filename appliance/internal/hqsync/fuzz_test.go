package hqsync

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// FuzzDecodeSegment feeds HQ's segment decoder what a bucket could hold:
// it must never panic, and what it accepts must encode back to entries that
// decode the same.
func FuzzDecodeSegment(f *testing.F) {
	var entries []journal.Entry
	var prev journal.Hash
	for i := range 3 {
		e := journal.Entry{Journal: "case-1", Seq: uint64(i + 1), Time: time.Unix(1700000000, int64(i)).UTC(),
			Actor: "alice", Type: "note.added", Payload: json.RawMessage(`{"text":"<x> & y"}`), Prev: prev}
		e.Hash = e.ComputeHash()
		prev = e.Hash
		entries = append(entries, e)
	}
	seg, err := encodeSegment("case-1", entries)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-1])
	f.Add([]byte(segmentTag))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, got, err := decodeSegment(data)
		if err != nil {
			return
		}
		again, err := encodeSegment(id, got)
		if err != nil {
			t.Fatal(err)
		}
		id2, got2, err := decodeSegment(again)
		if err != nil || id2 != id || len(got2) != len(got) {
			t.Fatalf("re-encoded segment does not decode the same: %v", err)
		}
		for i := range got {
			if got[i].Canonical() == nil || string(got[i].Canonical()) != string(got2[i].Canonical()) || got[i].Hash != got2[i].Hash {
				t.Fatalf("entry %d changed in a round trip", i)
			}
		}
	})
}
