package cases

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTimers(t *testing.T) {
	k := newKase(t) // opened at t0
	received := t0.Add(-30 * time.Minute)
	k.must(k.c.UpdateIntake(Intake{ReportedAt: received}))
	k.must(k.c.Milestone(MilestoneRequest{Milestone: MilestoneResponded, At: received.Add(20 * time.Minute)}))
	k.must(k.c.Milestone(MilestoneRequest{Milestone: MilestoneOnSite, At: received.Add(5 * time.Hour)}))

	now := received.Add(30 * time.Hour)
	got := k.c.Timers(now)
	want := []Timer{
		{Milestone: MilestoneRequestReceived, Due: received, State: TimerMet, MetAt: received},
		{Milestone: MilestoneResponded, Target: Duration(time.Hour), Due: received.Add(time.Hour), State: TimerMet, MetAt: received.Add(20 * time.Minute)},
		{Milestone: MilestoneOnSite, Target: Duration(4 * time.Hour), Due: received.Add(4 * time.Hour), State: TimerMetLate, MetAt: received.Add(5 * time.Hour), Late: Duration(time.Hour)},
		{Milestone: MilestoneContained, Target: Duration(24 * time.Hour), Due: received.Add(24 * time.Hour), State: TimerBreached, Late: Duration(6 * time.Hour)},
		{Milestone: MilestoneReportDelivered, Target: Duration(72 * time.Hour), Due: received.Add(72 * time.Hour), State: TimerPending, Left: Duration(42 * time.Hour)},
	}
	assert.Equal(t, want, got)
}

func TestTimersAnchorAndAutoMilestones(t *testing.T) {
	k := newKase(t)
	assert.Equal(t, t0, k.c.RequestReceived(), "without reported_at the clock starts at creation")

	k.walk(PhaseContained)
	rec, ok := k.c.SLA.Reached[MilestoneContained]
	require.True(t, ok, "entering contained meets the milestone")
	assert.True(t, rec.Auto)
	assert.Equal(t, k.c.PhaseHistory[1].At, rec.At)

	// Going back and forward again keeps the first time.
	k.to(PhaseConfirmed, "missed a host")
	k.to(PhaseContained, "")
	assert.Equal(t, rec, k.c.SLA.Reached[MilestoneContained])

	k.walk(PhaseReported)
	assert.True(t, k.c.SLA.Reached[MilestoneReportDelivered].Auto)
	_, ok = k.c.SLA.Reached[MilestoneResponded]
	assert.False(t, ok, "responded is never automatic")
}

func TestSetSLATargets(t *testing.T) {
	k := newKase(t)
	d := func(s string) *Duration {
		v, err := time.ParseDuration(s)
		require.NoError(t, err)
		x := Duration(v)
		return &x
	}
	k.must(k.c.SetSLATargets(SLATargetsRequest{OnSite: d("8h"), Reason: "site is 400 km away"}))
	assert.Equal(t, Duration(8*time.Hour), k.c.SLA.Targets.OnSite)
	assert.Equal(t, Duration(time.Hour), k.c.SLA.Targets.Responded)

	tests := []struct {
		name string
		req  SLATargetsRequest
		err  error
	}{
		{"nothing given", SLATargetsRequest{}, ErrInvalid},
		{"zero", SLATargetsRequest{Responded: d("0s")}, ErrInvalid},
		{"negative", SLATargetsRequest{Responded: d("-1h")}, ErrInvalid},
		{"over a month", SLATargetsRequest{ReportDelivered: d("721h")}, ErrInvalid},
		{"same as now", SLATargetsRequest{OnSite: d("8h")}, ErrNoChange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.c.SetSLATargets(tt.req)
			require.ErrorIs(t, err, tt.err)
		})
	}

	var r SLATargetsRequest
	require.NoError(t, json.Unmarshal([]byte(`{"contained":"36h","reason":"contract"}`), &r))
	k.must(k.c.SetSLATargets(r))
	assert.Equal(t, Duration(36*time.Hour), k.c.SLA.Targets.Contained)
	require.Error(t, json.Unmarshal([]byte(`{"contained":"soon"}`), &r))
}

func TestMilestoneRequest(t *testing.T) {
	k := newKase(t)
	tests := []struct {
		name string
		req  MilestoneRequest
		err  error
	}{
		{"request_received is the intake's", MilestoneRequest{Milestone: MilestoneRequestReceived}, ErrInvalid},
		{"unknown", MilestoneRequest{Milestone: "lunch"}, ErrInvalid},
		{"before the request", MilestoneRequest{Milestone: MilestoneResponded, At: t0.Add(-time.Hour)}, ErrInvalid},
		{"year 3000", MilestoneRequest{Milestone: MilestoneResponded, At: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, ErrInvalid},
		{"now", MilestoneRequest{Milestone: MilestoneResponded}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.c.Milestone(tt.req)
			if tt.err == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.err)
			}
		})
	}
	e := k.must(k.c.Milestone(MilestoneRequest{Milestone: MilestoneResponded}))
	assert.Equal(t, e.Time, k.c.SLA.Reached[MilestoneResponded].At, "zero At means the entry's time")
	_, err := k.c.Milestone(MilestoneRequest{Milestone: MilestoneResponded})
	require.ErrorIs(t, err, ErrInvalid, "a correction needs a note")
	at := t0.Add(10 * time.Minute)
	k.must(k.c.Milestone(MilestoneRequest{Milestone: MilestoneResponded, At: at, Note: "called back from the car, logged late"}))
	assert.Equal(t, at, k.c.SLA.Reached[MilestoneResponded].At)
}
