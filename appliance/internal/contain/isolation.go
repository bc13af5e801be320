package contain

import (
	"fmt"
	"net"
	"strings"
	"time"
	"unicode"

	"github.com/firebreak-ir/firebreak/netctl"
)

// Journal entry types this package writes, each in the case journal of the
// isolation it concerns (the appliance journal for what concerns no case).
const (
	TypeApplied    = "isolation.applied"     // Applied: in force from here
	TypeRefused    = "isolation.refused"     // Refused: unsafe and not forced
	TypeFailed     = "isolation.failed"      // Failed: the kernel refused; undone
	TypeConfirmed  = "isolation.confirmed"   // Confirmed
	TypeReleased   = "isolation.released"    // Ended by an engineer
	TypeExpired    = "isolation.expired"     // Ended: the TTL ran out
	TypeRolledBack = "isolation.rolled_back" // Ended: not confirmed in time
	TypeRestored   = "isolation.restored"    // Restored: drift found and repaired
	TypeAdopted    = "isolation.adopted"     // Adopted: found in the kernel at start
	TypeVerified   = "isolation.verified"    // Verified: the kernel's drop counters, once
	// In the appliance journal.
	TypeStarted = "containment.started" // Started
	TypeStale   = "containment.stale"   // Stale: objects no isolation needs, removed
)

// Isolation is one isolation policy as the appliance records it: the
// payload of isolation.applied, and what the API lists. Its JSON is a
// compatibility promise to every journal already written, so fields are
// only ever added.
type Isolation struct {
	ID   string `json:"id"`
	Case string `json:"case"`
	// IP is an address or CIDR; MAC a MAC address; Link a port (port
	// mode). IP and MAC may be given together (the host's address and the
	// MAC it was seen with): then its IPv6 link-local and NDP are cut too.
	IP         string   `json:"ip,omitempty"`
	MAC        string   `json:"mac,omitempty"`
	Link       string   `json:"link,omitempty"`
	Exceptions []string `json:"exceptions,omitempty"`
	Reason     string   `json:"reason"`
	// Approver is the authenticated engineer who applied it.
	Approver string `json:"approver"`
	// Forced records that the engineer overrode the safety concerns,
	// which are kept beside it.
	Forced    bool      `json:"forced,omitempty"`
	Concerns  []Concern `json:"concerns,omitempty"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires,omitzero"`
	ConfirmBy time.Time `json:"confirm_by,omitzero"`
	Confirmed bool      `json:"confirmed,omitempty"`
	// ConfirmedBy is set when an engineer confirmed it (not journaled in
	// isolation.applied; projected from isolation.confirmed).
	ConfirmedBy string `json:"confirmed_by,omitempty"`
	// Problem says why an isolation in force is not in the kernel: it
	// does not fit the mode the daemon was restarted with (never
	// journaled; set at start).
	Problem string `json:"problem,omitempty"`
}

// Target returns the netctl target the isolation names.
func (iso Isolation) Target() (netctl.Target, error) {
	var t netctl.Target
	if iso.Link != "" {
		if iso.IP != "" || iso.MAC != "" {
			return t, fmt.Errorf("%w: a link target cannot also name an address", ErrInvalid)
		}
		return netctl.Target{Link: iso.Link}, nil
	}
	if iso.IP != "" {
		p, err := netctl.ParseTarget(iso.IP)
		if err != nil || !p.Prefix.IsValid() {
			return t, fmt.Errorf("%w: ip %q: want an IPv4 or IPv6 address or CIDR", ErrInvalid, iso.IP)
		}
		t.Prefix = p.Prefix
	}
	if iso.MAC != "" {
		hw, err := net.ParseMAC(iso.MAC)
		if err != nil || len(hw) != 6 {
			return t, fmt.Errorf("%w: mac %q: want an Ethernet MAC such as 02:00:00:00:00:0a", ErrInvalid, iso.MAC)
		}
		t.MAC = hw
	}
	if t.IsZero() {
		return t, fmt.Errorf("%w: give --ip, --mac or --link", ErrInvalid)
	}
	return t, nil
}

// Policy converts the isolation into the netctl policy it stands for.
func (iso Isolation) Policy() (netctl.Policy, error) {
	t, err := iso.Target()
	if err != nil {
		return netctl.Policy{}, err
	}
	p := netctl.Policy{
		ID: iso.ID, Target: t, Reason: iso.Reason, CaseID: iso.Case, Approver: iso.Approver,
		Force: iso.Forced, Created: iso.Created, Expires: iso.Expires, ConfirmBy: iso.ConfirmBy, Confirmed: iso.Confirmed,
	}
	for _, s := range iso.Exceptions {
		e, err := netctl.ParseException(s)
		if err != nil {
			return netctl.Policy{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		p.Exceptions = append(p.Exceptions, e)
	}
	return p, nil
}

// TargetString names the target for people.
func (iso Isolation) TargetString() string {
	var parts []string
	for _, s := range []string{iso.IP, iso.MAC} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if iso.Link != "" {
		parts = append(parts, "link "+iso.Link)
	}
	return strings.Join(parts, " ")
}

// Request asks for an isolation (and, with Plan, for a dry run of one).
type Request struct {
	Case       string   `json:"case"`
	IP         string   `json:"ip,omitempty"`
	MAC        string   `json:"mac,omitempty"`
	Link       string   `json:"link,omitempty"`
	Exceptions []string `json:"allow,omitempty"`
	Reason     string   `json:"reason"`
	// TTL and ConfirmWithin are Go durations ("2h", "90s"); empty means
	// none.
	TTL           string `json:"ttl,omitempty"`
	ConfirmWithin string `json:"confirm_within,omitempty"`
	Force         bool   `json:"force,omitempty"`
}

// Limits on a request.
const (
	MaxReason     = 1000
	MaxExceptions = 8
	MinConfirm    = time.Second
	MaxDuration   = 365 * 24 * time.Hour
)

// Validate checks the request on its own.
func (r Request) Validate() error {
	if r.Case == "" {
		return fmt.Errorf("%w: case is required", ErrInvalid)
	}
	if strings.TrimSpace(r.Reason) == "" {
		return fmt.Errorf("%w: reason is required: say why the host is cut off", ErrInvalid)
	}
	if len(r.Reason) > MaxReason || strings.IndexFunc(r.Reason, func(c rune) bool { return unicode.IsControl(c) && c != '\n' }) >= 0 {
		return fmt.Errorf("%w: reason must be at most %d characters without control characters", ErrInvalid, MaxReason)
	}
	if len(r.Exceptions) > MaxExceptions {
		return fmt.Errorf("%w: at most %d exceptions", ErrInvalid, MaxExceptions)
	}
	if _, err := r.durations(); err != nil {
		return err
	}
	_, err := r.isolation("", "", time.Time{}).Policy()
	return err
}

type durations struct{ ttl, confirm time.Duration }

func (r Request) durations() (durations, error) {
	var d durations
	parse := func(name, s string, min time.Duration) (time.Duration, error) {
		if s == "" {
			return 0, nil
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < min || v > MaxDuration {
			return 0, fmt.Errorf("%w: %s %q: want a duration from %v to %v, e.g. 30m or 2h", ErrInvalid, name, s, min, MaxDuration)
		}
		return v, nil
	}
	var err error
	if d.ttl, err = parse("ttl", r.TTL, MinConfirm); err != nil {
		return d, err
	}
	if d.confirm, err = parse("confirm_within", r.ConfirmWithin, MinConfirm); err != nil {
		return d, err
	}
	if d.ttl > 0 && d.confirm >= d.ttl {
		return d, fmt.Errorf("%w: confirm_within %v must be shorter than the ttl %v", ErrInvalid, d.confirm, d.ttl)
	}
	return d, nil
}

// isolation builds the isolation the request asks for, as of now.
func (r Request) isolation(id, approver string, now time.Time) Isolation {
	iso := Isolation{
		ID: id, Case: r.Case, IP: strings.TrimSpace(r.IP), MAC: strings.ToLower(strings.TrimSpace(r.MAC)), Link: r.Link,
		Exceptions: r.Exceptions, Reason: strings.TrimSpace(r.Reason), Approver: approver, Forced: r.Force,
		Created: now.UTC(),
	}
	if id == "" {
		iso.ID = "iso-0"
	}
	if d, err := r.durations(); err == nil && !now.IsZero() {
		if d.ttl > 0 {
			iso.Expires = iso.Created.Add(d.ttl)
		}
		if d.confirm > 0 {
			iso.ConfirmBy = iso.Created.Add(d.confirm)
		}
	}
	return iso
}

// Payloads of the entries other than isolation.applied (whose payload is
// the Isolation itself, with the Report beside it).

// Applied is the payload of isolation.applied.
type Applied struct {
	Isolation
	Report Report `json:"report"`
}

// Refused is the payload of isolation.refused.
type Refused struct {
	Isolation
	Explanation string `json:"explanation"`
}

// Failed is the payload of isolation.failed: the kernel did not take the
// isolation, and what had been applied was undone.
type Failed struct {
	Isolation
	Error  string `json:"error"`
	Report Report `json:"report"`
	Undo   Report `json:"undo"`
}

// Confirmed is the payload of isolation.confirmed.
type Confirmed struct {
	ID string `json:"id"`
}

// Ended is the payload of isolation.released, .expired and .rolled_back.
type Ended struct {
	ID     string `json:"id"`
	Target string `json:"target"`
	Reason string `json:"reason,omitempty"` // the engineer's, on release
	// At is the deadline that passed (expired, rolled back) or the time of
	// the release.
	At time.Time `json:"at"`
	// Dropped is what the kernel dropped for the isolation while it was
	// in force (bridge mode), read just before it was removed.
	Dropped *Drops `json:"dropped,omitempty"`
	Report  Report `json:"report"`
}

// Restored is the payload of isolation.restored: drift found (what was
// missing or extra) and the changes that repaired it.
type Restored struct {
	IDs     []string `json:"ids"`
	Drift   []string `json:"drift"`
	Changes []string `json:"changes"`
}

// Adopted is the payload of isolation.adopted: at daemon start, the
// isolation was found in force and the kernel's state adopted.
type Adopted struct {
	ID string `json:"id"`
	// Kept counts the kernel objects found in place (for every isolation).
	Kept int `json:"kept"`
	// Changes are what had to be re-applied for this isolation (after a
	// reboot, everything).
	Changes   []string  `json:"changes,omitempty"`
	Expires   time.Time `json:"expires,omitzero"`
	ConfirmBy time.Time `json:"confirm_by,omitzero"`
}

// Verified is the payload of isolation.verified: a few seconds after an
// isolation was applied (bridge mode), what the kernel's drop filters had
// counted for it. Packets counted mean the host kept trying and was
// stopped; zero means it has been silent since.
type Verified struct {
	ID      string `json:"id"`
	After   string `json:"after"` // since the isolation was applied
	Dropped Drops  `json:"dropped"`
}

// Started is the payload of containment.started in the appliance journal.
type Started struct {
	Mode     netctl.Mode `json:"mode"`
	NetNS    string      `json:"netns,omitempty"`
	Bridge   string      `json:"bridge,omitempty"`
	Ports    []string    `json:"ports,omitempty"`
	Features string      `json:"features,omitempty"`
	Adopted  []string    `json:"adopted,omitempty"`
	Report   Report      `json:"report"`
}

// Concern is a netctl.Concern in journal form.
type Concern struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func concerns(cs []netctl.Concern) []Concern {
	var out []Concern
	for _, c := range cs {
		out = append(out, Concern{Kind: c.Kind, Message: c.Message})
	}
	return out
}

// Drops is a netctl.Counter in journal form.
type Drops struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Report is a netctl.Report in journal form.
type Report struct {
	Changes  []string `json:"changes,omitempty"`
	Kept     int      `json:"kept"`
	Warnings []string `json:"warnings,omitempty"`
	TookUS   int64    `json:"took_us"`
}

func report(r netctl.Report, only func(netctl.Change) bool) Report {
	out := Report{Kept: r.Kept, Warnings: r.Warnings, TookUS: r.Took.Microseconds()}
	for _, c := range r.Changes {
		if only == nil || only(c) {
			out.Changes = append(out.Changes, c.String())
		}
	}
	return out
}

// forPolicy selects the changes made for policy id, and infrastructure
// changes (which serve every policy).
func forPolicy(id string) func(netctl.Change) bool {
	return func(c netctl.Change) bool {
		if len(c.Policies) == 0 {
			return true
		}
		for _, p := range c.Policies {
			if p == id {
				return true
			}
		}
		return false
	}
}
