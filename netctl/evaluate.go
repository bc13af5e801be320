package netctl

import "time"

// EndReason says why a policy stopped being in force.
type EndReason string

// End reasons.
const (
	// Expired: the policy's TTL ran out.
	Expired EndReason = "expired"
	// RolledBack: the commit-confirm deadline passed unconfirmed.
	RolledBack EndReason = "rolled back unconfirmed"
)

// Ended is a policy that Evaluate took out of force.
type Ended struct {
	Policy Policy
	Reason EndReason
	// At is the deadline that passed (not the time it was noticed).
	At time.Time
}

// Evaluate splits policies into those still in force at now and those
// whose TTL or confirm deadline has passed. A deadline equal to now has
// passed. When both passed, the earlier one is the reason. The caller
// journals the ended ones and calls Set with the active ones.
func Evaluate(policies []Policy, now time.Time) (active []Policy, ended []Ended) {
	for _, p := range policies {
		var e *Ended
		if !p.ConfirmBy.IsZero() && !p.Confirmed && !now.Before(p.ConfirmBy) {
			e = &Ended{Policy: p, Reason: RolledBack, At: p.ConfirmBy}
		}
		if !p.Expires.IsZero() && !now.Before(p.Expires) && (e == nil || p.Expires.Before(e.At)) {
			e = &Ended{Policy: p, Reason: Expired, At: p.Expires}
		}
		if e != nil {
			ended = append(ended, *e)
			continue
		}
		active = append(active, p)
	}
	return active, ended
}

// NextDeadline returns the earliest TTL or confirm deadline after now
// among policies, or the zero time if there is none, so the caller can
// sleep until then instead of polling.
func NextDeadline(policies []Policy, now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.IsZero() || !t.After(now) {
			return
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, p := range policies {
		consider(p.Expires)
		if !p.Confirmed {
			consider(p.ConfirmBy)
		}
	}
	return next
}

// Reconcile is one tick of a daemon's loop: it takes the policies whose
// deadlines passed at now out of force, applies the rest with Set, and
// returns both for the caller to journal. The caller persists the
// removal of the ended policies.
func (c *Controller) Reconcile(policies []Policy, now time.Time) (Report, []Ended, error) {
	active, ended := Evaluate(policies, now)
	rep, err := c.Set(State{Policies: active})
	return rep, ended, err
}
