package cases

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func pcapItem(sum string) CollectRequest {
	return CollectRequest{Category: EvidencePcap, Format: "pcap", SHA256: sum, Size: 10,
		Method: EvidenceMethod{Tool: "firebreak", Version: "test"}, Collectors: []string{"alice"}}
}

func TestCollectNumbersExhibits(t *testing.T) {
	k := newKase(t)
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	k.must(k.c.Collect(pcapItem(a)))
	k.must(k.c.Collect(pcapItem(b)))
	eve := CollectRequest{Category: EvidenceEVE, Format: "eve-json", SHA256: strings.Repeat("c", 64), Method: EvidenceMethod{Tool: "firebreak analyze"}, DerivedFrom: []string{a, b}}
	k.must(k.c.Collect(eve))
	require.Len(t, k.c.Evidence, 3)
	for i, want := range []string{"E001", "E002", "E003"} {
		assert.Equal(t, want, k.c.Evidence[i].Exhibit)
	}
	assert.Equal(t, "alice", k.c.Evidence[0].CollectedBy)

	_, err := k.c.Collect(pcapItem(a))
	assert.ErrorIs(t, err, ErrNoChange, "the same item twice")
	bad := eve
	bad.SHA256, bad.DerivedFrom = strings.Repeat("d", 64), []string{strings.Repeat("e", 64)}
	_, err = k.c.Collect(bad)
	assert.ErrorIs(t, err, ErrInvalid, "derived from something not on the case")
	for _, mut := range []func(*CollectRequest){
		func(r *CollectRequest) { r.SHA256 = "ABC" },
		func(r *CollectRequest) { r.Category = "hearsay" },
		func(r *CollectRequest) { r.Method.Tool = "" },
		func(r *CollectRequest) { r.Size = -1 },
		func(r *CollectRequest) { r.Source.Path = "a\nb" },
	} {
		r := pcapItem(strings.Repeat("f", 64))
		mut(&r)
		_, err := k.c.Collect(r)
		assert.ErrorIs(t, err, ErrInvalid, "%+v", r)
	}

	k.must(k.c.CompleteAnalysis(AnalysisCompleted{Inputs: []string{a, b}, Output: eve.SHA256, Stats: map[string]uint64{"packets": 7}}))
	require.Len(t, k.c.Analyses, 1)
	_, err = k.c.CompleteAnalysis(AnalysisCompleted{Inputs: []string{strings.Repeat("9", 64)}, Output: eve.SHA256})
	assert.ErrorIs(t, err, ErrInvalid)

	replayed, err := Replay(k.c.ID, k.entries)
	require.NoError(t, err)
	assert.Equal(t, k.c, replayed)

	// A journal whose exhibits are out of order does not replay.
	ch, err := k.c.Collect(pcapItem(strings.Repeat("1", 64)))
	require.NoError(t, err)
	p := ch.Payload.(EvidenceCollected)
	p.Exhibit = "E001"
	raw, _ := json.Marshal(p)
	e := entryFor(t, k.c, "mallory", k.now, Change{Type: TypeEvidenceCollected, Payload: json.RawMessage(raw)})
	assert.ErrorIs(t, k.c.Apply(e), ErrBadEntry)
	assert.Len(t, k.c.Evidence, 3, "a refused entry changes nothing")
}

func TestCollectorsAndWitness(t *testing.T) {
	for _, tc := range []struct {
		collectors []string
		witness    string
		err        string
	}{
		{[]string{"alice", "bob"}, "王芳", ""},
		{[]string{"alice", "bob", "carol"}, "", ""},
		{[]string{"alice"}, "", "at least two distinct collectors"},
		{[]string{"alice", "alice"}, "", "named twice"},
		{[]string{"alice", ""}, "", "has no name"},
		{[]string{"alice", "bob"}, "bob", "the witness must be someone else"},
	} {
		err := CheckCollectors(tc.collectors, tc.witness)
		if tc.err == "" {
			assert.NoError(t, err, "%v", tc.collectors)
			continue
		}
		assert.ErrorIs(t, err, ErrInvalid)
		assert.ErrorContains(t, err, tc.err)
	}
	r := CollectRequest{Category: EvidencePcap, SHA256: strings.Repeat("a", 64), Method: EvidenceMethod{Tool: "t"},
		Collectors: []string{"alice", "bob"}, Witness: "alice"}
	assert.ErrorContains(t, r.Validate(), "witness")
}
