package cases

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTransitions(t *testing.T) {
	tests := []struct {
		from, closedFrom, to Phase
		dir                  Direction
		err                  string // substring; "" means allowed
	}{
		{PhaseIntake, "", PhaseConfirmed, Forward, ""},
		{PhaseIntake, "", PhaseNotIncident, Forward, ""},
		{PhaseNotIncident, "", PhaseClosed, Forward, ""},
		{PhaseNotIncident, "", PhaseIntake, Back, ""},
		{PhaseConfirmed, "", PhaseContained, Forward, ""},
		{PhaseConfirmed, "", PhaseIntake, Back, ""},
		{PhaseContained, "", PhaseEradicated, Forward, ""},
		{PhaseEradicated, "", PhaseRecovered, Forward, ""},
		{PhaseRecovered, "", PhaseHardened, Forward, ""},
		{PhaseHardened, "", PhaseReported, Forward, ""},
		{PhaseReported, "", PhaseClosed, Forward, ""},
		{PhaseReported, "", PhaseHardened, Back, ""},
		{PhaseContained, "", PhaseConfirmed, Back, ""},
		{PhaseClosed, PhaseReported, PhaseReported, Reopen, ""},
		{PhaseClosed, PhaseNotIncident, PhaseNotIncident, Reopen, ""},

		{PhaseIntake, "", PhaseIntake, "", "already there"},
		{PhaseIntake, "", PhaseContained, "", "cannot be skipped; the next phase is confirmed"},
		{PhaseIntake, "", PhaseClosed, "", "cannot be skipped"},
		{PhaseConfirmed, "", PhaseEradicated, "", "next phase is contained"},
		{PhaseHardened, "", PhaseClosed, "", "next phase is reported"},
		{PhaseRecovered, "", PhaseConfirmed, "", "one phase at a time; the previous phase is eradicated"},
		{PhaseConfirmed, "", PhaseNotIncident, "", "only a case still in intake"},
		{PhaseContained, "", PhaseNotIncident, "", "only a case still in intake"},
		{PhaseNotIncident, "", PhaseConfirmed, "", "can only be closed, or go back to intake"},
		{PhaseNotIncident, "", PhaseContained, "", "can only be closed"},
		{PhaseClosed, PhaseReported, PhaseHardened, "", "can only be reopened, to reported"},
		{PhaseClosed, PhaseReported, PhaseIntake, "", "can only be reopened"},
		{PhaseClosed, PhaseNotIncident, PhaseIntake, "", "can only be reopened, to not_incident"},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			dir, err := transition(tt.from, tt.closedFrom, tt.to)
			if tt.err == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.dir, dir)
				return
			}
			require.ErrorIs(t, err, ErrTransition)
			var te *TransitionError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tt.from, te.From)
			assert.Equal(t, tt.to, te.To)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
	_, err := transition(PhaseIntake, "", "triage")
	require.ErrorIs(t, err, ErrInvalid)
}

func TestSetPhaseReasons(t *testing.T) {
	tests := []struct {
		name  string
		setup func(k *kase)
		req   PhaseRequest
		err   error
	}{
		{"forward needs no reason", func(k *kase) {}, PhaseRequest{To: PhaseConfirmed}, nil},
		{"not_incident needs a reason", func(k *kase) {}, PhaseRequest{To: PhaseNotIncident}, ErrInvalid},
		{"not_incident with reason", func(k *kase) {}, PhaseRequest{To: PhaseNotIncident, Reason: "scheduled backup job"}, nil},
		{"back needs a reason", func(k *kase) { k.walk(PhaseContained) }, PhaseRequest{To: PhaseConfirmed}, ErrInvalid},
		{"back with reason", func(k *kase) { k.walk(PhaseContained) }, PhaseRequest{To: PhaseConfirmed, Reason: "second C2 found"}, nil},
		{"reopen needs a reason", func(k *kase) { k.walk(PhaseClosed) }, PhaseRequest{To: PhaseReported}, ErrInvalid},
		{"closed refuses skip back", func(k *kase) { k.walk(PhaseClosed) }, PhaseRequest{To: PhaseHardened, Reason: "x"}, ErrClosed},
		{"reason with control characters", func(k *kase) {}, PhaseRequest{To: PhaseConfirmed, Reason: "ok\x1b[31m"}, ErrInvalid},
		{"unknown phase", func(k *kase) {}, PhaseRequest{To: "done"}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKase(t)
			tt.setup(k)
			_, err := k.c.SetPhase(tt.req)
			if tt.err == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.err)
			}
		})
	}
}

func TestClosedCaseRefusesChanges(t *testing.T) {
	k := newKase(t)
	k.walk(PhaseClosed)
	assert.Equal(t, PhaseReported, k.c.ClosedFrom)
	calls := map[string]func() (Change, error){
		"note": func() (Change, error) { return k.c.Note(NoteRequest{Text: "late"}) },
		"task": func() (Change, error) { return k.c.AddTask(TaskRequest{Title: "x"}) },
		"classify": func() (Change, error) {
			return k.c.Classify(ClassifyRequest{Category: CatOther, Importance: "ordinary", Loss: "minor", Impact: "ordinary"})
		},
		"intake": func() (Change, error) { return k.c.UpdateIntake(Intake{}) },
		"join":   func() (Change, error) { return k.c.Join(JoinRequest{Engineer: "bob", Role: RoleMember}) },
		"sla":    func() (Change, error) { d := Duration(1); return k.c.SetSLATargets(SLATargetsRequest{Responded: &d}) },
		"phase":  func() (Change, error) { return k.c.SetPhase(PhaseRequest{To: PhaseIntake, Reason: "x"}) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			_, err := call()
			require.ErrorIs(t, err, ErrClosed)
		})
	}

	_, err := k.c.Reopen("")
	require.ErrorIs(t, err, ErrInvalid)
	k.must(k.c.Reopen("customer found a second infected host"))
	assert.Equal(t, PhaseReported, k.c.Phase)
	assert.Empty(t, k.c.ClosedFrom)
	last := k.c.PhaseHistory[len(k.c.PhaseHistory)-1]
	assert.Equal(t, Reopen, last.Direction)
	assert.Equal(t, "customer found a second infected host", last.Reason)
	k.must(k.c.Note(NoteRequest{Text: "reopened, back on site"}))

	_, err = k.c.Reopen("again")
	require.ErrorIs(t, err, ErrTransition)
}

func TestNotIncidentCloses(t *testing.T) {
	k := newKase(t)
	k.to(PhaseNotIncident, "CPU load was the nightly backup")
	k.to(PhaseClosed, "")
	assert.Equal(t, PhaseNotIncident, k.c.ClosedFrom)
	k.must(k.c.Reopen("same symptoms on another host"))
	assert.Equal(t, PhaseNotIncident, k.c.Phase)
	k.to(PhaseIntake, "needs a real look")
	k.to(PhaseConfirmed, "")
	assert.Len(t, k.c.PhaseHistory, 5)
}
