package cases

import (
	"fmt"
	"time"
)

// Milestone is a point of the service that the customer's SLA times.
type Milestone string

// The SLA milestones. RequestReceived is the anchor every target is
// measured from.
const (
	MilestoneRequestReceived Milestone = "request_received"
	MilestoneResponded       Milestone = "responded"
	MilestoneOnSite          Milestone = "on_site"
	MilestoneContained       Milestone = "contained"
	MilestoneReportDelivered Milestone = "report_delivered"
)

var milestoneLabels = map[Milestone]Label{
	MilestoneRequestReceived: {"Request received", "接收请求"},
	MilestoneResponded:       {"Responded", "响应"},
	MilestoneOnSite:          {"Engineer on site", "工程师到场"},
	MilestoneContained:       {"Incident contained", "事件已抑制"},
	MilestoneReportDelivered: {"Report delivered", "报告已提交"},
}

// Milestones returns the milestones in service order.
func Milestones() []Milestone {
	return []Milestone{MilestoneRequestReceived, MilestoneResponded, MilestoneOnSite, MilestoneContained, MilestoneReportDelivered}
}

// Valid reports whether m is a known milestone.
func (m Milestone) Valid() bool { _, ok := milestoneLabels[m]; return ok }

// Label returns the milestone's name.
func (m Milestone) Label() Label { return milestoneLabels[m] }

// Milestones reached automatically by a phase change (in Apply, at the
// entry's time, only if the milestone is not already met):
//
//	contained        when the case enters PhaseContained
//	report_delivered when the case enters PhaseReported
//
// request_received is the intake's ReportedAt, or the case's creation time
// when that is not set. responded and on_site are recorded by an engineer
// with an sla.milestone entry: only a person knows when the customer was
// called back or when they walked in.
var phaseMilestone = map[Phase]Milestone{
	PhaseContained: MilestoneContained,
	PhaseReported:  MilestoneReportDelivered,
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("1h30m").
type Duration time.Duration

// MarshalText writes the duration as "1h30m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// SLATargets are the deadlines of each milestone, measured from
// request_received.
type SLATargets struct {
	Responded       Duration `json:"responded"`
	OnSite          Duration `json:"on_site"`
	Contained       Duration `json:"contained"`
	ReportDelivered Duration `json:"report_delivered"`
}

// DefaultSLATargets are the targets of a new case.
var DefaultSLATargets = SLATargets{
	Responded:       Duration(time.Hour),
	OnSite:          Duration(4 * time.Hour),
	Contained:       Duration(24 * time.Hour),
	ReportDelivered: Duration(72 * time.Hour),
}

func (t SLATargets) of(m Milestone) Duration {
	switch m {
	case MilestoneResponded:
		return t.Responded
	case MilestoneOnSite:
		return t.OnSite
	case MilestoneContained:
		return t.Contained
	case MilestoneReportDelivered:
		return t.ReportDelivered
	}
	return 0
}

func (t SLATargets) validate() error {
	for _, m := range Milestones()[1:] {
		d := t.of(m)
		if d <= 0 || time.Duration(d) > MaxSLATarget {
			return fieldErr(string(m), "target %s must be above 0 and at most %s", time.Duration(d), MaxSLATarget)
		}
	}
	return nil
}

// MilestoneRecord is a milestone that was reached.
type MilestoneRecord struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Seq   uint64    `json:"seq"` // entry that recorded it
	Auto  bool      `json:"auto,omitempty"`
	Note  string    `json:"note,omitempty"`
}

// SLA is the case's service-level state.
type SLA struct {
	Targets SLATargets `json:"targets"`
	// Reached holds the milestones met so far, except request_received,
	// which is always RequestReceived of the Case.
	Reached map[Milestone]MilestoneRecord `json:"reached"`
}

// TimerState is the state of one SLA timer.
type TimerState string

// Timer states.
const (
	TimerMet      TimerState = "met"      // reached by the deadline
	TimerMetLate  TimerState = "met_late" // reached, after the deadline
	TimerPending  TimerState = "pending"  // not reached, deadline ahead
	TimerBreached TimerState = "breached" // not reached, deadline passed
)

// Timer is one milestone's SLA state at a given moment.
type Timer struct {
	Milestone Milestone  `json:"milestone"`
	Target    Duration   `json:"target"` // from request_received
	Due       time.Time  `json:"due"`
	State     TimerState `json:"state"`
	MetAt     time.Time  `json:"met_at,omitzero"`
	Left      Duration   `json:"left,omitempty"` // pending: time until due
	Late      Duration   `json:"late,omitempty"` // met_late, breached: time past due
}

// RequestReceived is when the SLA clock started: the intake's ReportedAt,
// or the case's creation.
func (c *Case) RequestReceived() time.Time {
	if !c.Intake.ReportedAt.IsZero() {
		return c.Intake.ReportedAt
	}
	return c.CreatedAt
}

// Timers returns the state of every SLA timer at now, in service order,
// request_received first (met at the anchor, target 0).
func (c *Case) Timers(now time.Time) []Timer {
	start := c.RequestReceived()
	out := []Timer{{Milestone: MilestoneRequestReceived, Due: start, State: TimerMet, MetAt: start}}
	for _, m := range Milestones()[1:] {
		t := Timer{Milestone: m, Target: c.SLA.Targets.of(m)}
		t.Due = start.Add(time.Duration(t.Target))
		if r, ok := c.SLA.Reached[m]; ok {
			t.MetAt = r.At
			if r.At.After(t.Due) {
				t.State, t.Late = TimerMetLate, Duration(r.At.Sub(t.Due))
			} else {
				t.State = TimerMet
			}
		} else if now.After(t.Due) {
			t.State, t.Late = TimerBreached, Duration(now.Sub(t.Due))
		} else {
			t.State, t.Left = TimerPending, Duration(t.Due.Sub(now))
		}
		out = append(out, t)
	}
	return out
}
