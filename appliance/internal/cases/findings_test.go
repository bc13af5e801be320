package cases

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFindingsAreNumberedByEntry(t *testing.T) {
	k := newKase(t)
	a := strings.Repeat("a", 64)
	k.must(k.c.Collect(pcapItem(a)))
	scan := Finding{Module: "portscan", Signature: "TCP port scan", Severity: 2, Src: "10.0.0.9", Dst: "10.0.0.1", Count: 1, Techniques: []string{"T1046"}}
	brute := Finding{Module: "bruteforce", Signature: "SSH brute force", Severity: 1, Src: "10.0.0.9", Dst: "10.0.0.2", DstPort: 22, Count: 40}
	e := k.must(k.c.RecordFindings(FindingsRecorded{Source: FindingsAnalysis, Inputs: []string{a}, Findings: []Finding{scan, brute}}))
	require.Len(t, k.c.Findings, 2)
	assert.Equal(t, fmt.Sprintf("F%d.2", e.Seq), k.c.Findings[1].ID)
	assert.Equal(t, "bruteforce", k.c.FindingByID(k.c.Findings[1].ID).Module)
	assert.Equal(t, []string{a}, k.c.Findings[0].Inputs)
	assert.Nil(t, k.c.FindingByID("F999.1"))

	again, err := Replay(k.c.ID, k.entries)
	require.NoError(t, err)
	assert.Equal(t, k.c.Findings, again.Findings, "the projection is the same after a replay")

	for name, p := range map[string]FindingsRecorded{
		"unknown source":   {Source: "rumour", Findings: []Finding{scan}},
		"foreign evidence": {Source: FindingsAnalysis, Inputs: []string{strings.Repeat("b", 64)}, Findings: []Finding{scan}},
		"no findings":      {Source: FindingsLive},
		"no signature":     {Source: FindingsLive, Findings: []Finding{{Module: "x"}}},
	} {
		_, err := k.c.RecordFindings(p)
		assert.ErrorIs(t, err, ErrInvalid, name)
	}

	many := make([]Finding, MaxFindingsPerEntry+5)
	for i := range many {
		many[i] = scan
	}
	k.must(k.c.RecordFindings(FindingsRecorded{Source: FindingsLive, Findings: many}))
	assert.Len(t, k.c.Findings, 2+MaxFindingsPerEntry)
}
