package cases

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A triage plan's steps move proposed → approved → applied → undone; a
// refused step can never be approved, and the projection equals a replay.
func TestTriageStepLifecycle(t *testing.T) {
	k := newKase(t)
	k.must(k.c.CollectTriage(TriageCollected{Collection: "C1", Target: "/mnt/web01", Kind: "directory", Last: true,
		Files: []TriageFile{{Path: "/etc/passwd", Size: 10, Mode: 0o100644}}}))
	require.NotNil(t, k.c.LatestCollection("/mnt/web01"))
	e := k.must(k.c.RecordFindings(FindingsRecorded{Source: FindingsTriage, Findings: []Finding{{Module: "accounts",
		Signature: "second UID 0 account toor", Severity: 1, Host: "/mnt/web01", Path: "/etc/passwd"}}}))
	fid := k.c.Findings[0].ID
	require.Equal(t, fmt.Sprintf("F%d.1", e.Seq), fid)

	_, err := k.c.PlanTriage(TriagePlanned{Target: "/mnt/web01", Steps: []TriageStep{{ID: "S9.1", Type: "remove_account", Target: "/etc/passwd", Answers: []string{"F99.1"}}}})
	require.ErrorIs(t, err, ErrInvalid, "a step answering no finding of the case")
	k.must(k.c.PlanTriage(TriagePlanned{Target: "/mnt/web01", Steps: []TriageStep{
		{ID: "S4.1", Type: "remove_account", Target: "/etc/passwd", Detail: "toor", Answers: []string{fid}},
		{ID: "S4.2", Type: "quarantine_file", Target: "/etc/passwd", Answers: []string{fid}, Refused: "the host cannot work without it"},
	}}))
	_, err = k.c.ApproveTriageStep("S4.2")
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "refused by the appliance")
	_, err = k.c.TriageStepDone(TypeTriageStepApplied, TriageStepResult{Step: "S4.1"})
	require.Error(t, err, "applied before approval")
	_, err = k.c.ApproveTriageStep("S9.9")
	require.True(t, errors.Is(err, ErrNotFound))

	k.must(k.c.ApproveTriageStep("S4.1"))
	_, err = k.c.ApproveTriageStep("S4.1")
	require.ErrorIs(t, err, ErrNoChange)
	change := TriageChange{Path: "/etc/passwd", Before: "aa", After: "bb", Original: "aa"}
	k.must(k.c.TriageStepDone(TypeTriageStepApplied, TriageStepResult{Step: "S4.1", Changes: []TriageChange{change}}))
	_, st := k.c.TriageStepByID("S4.1")
	assert.Equal(t, StepApplied, st.Status)
	assert.Equal(t, "alice", st.ApprovedBy)
	assert.Equal(t, []TriageChange{change}, st.Changes)
	k.must(k.c.TriageStepDone(TypeTriageStepUndone, TriageStepResult{Step: "S4.1"}))
	_, st = k.c.TriageStepByID("S4.1")
	assert.Equal(t, StepUndone, st.Status)
	_, err = k.c.TriageStepDone(TypeTriageStepUndone, TriageStepResult{Step: "S4.1"})
	require.Error(t, err, "undone twice")

	replayed, err := Replay(k.c.ID, k.entries)
	require.NoError(t, err)
	assert.Equal(t, k.c.Triage, replayed.Triage)
}
