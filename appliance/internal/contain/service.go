package contain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/netctl"
)

// Options configure the Service. Net.Mode, Journal and Book are required;
// zero values of the rest are the documented defaults.
type Options struct {
	// Net configures netctl: the mode, the namespace, the bridge and its
	// ports.
	Net netctl.Options
	// Journal receives every change; Book checks that a case is open
	// before an isolation is added to it.
	Journal *journal.Store
	Book    *casebook.Book
	// Listen is the daemon's --listen address; its host is one of the
	// management addresses the safety check protects.
	Listen string
	// Facts are further sources of safety facts (the capture engine).
	Facts []Facts
	// Flows is the live flow table for plans; nil means the capture is
	// not running and a plan says so.
	Flows Flows
	// Interval is how often the kernel is read back for drift. Default 2s.
	Interval time.Duration
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Actor is the journal actor of what the service does by itself (expiry,
// rollback, repair, adoption).
const Actor = "firebreak"

// Service is the containment service of a running daemon.
type Service struct {
	opts Options
	ctl  *netctl.Controller
	box  *box
	log  *slog.Logger

	mu     sync.Mutex
	isos   map[string]*Isolation // in force
	lastID uint64
	// verified holds the isolations whose drop counters are journaled.
	verified map[string]bool

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// Start rebuilds the desired set from the journals, adopts what the kernel
// holds (ending what expired while the daemon was down), and starts the
// reconcile loop. Close stops it; the isolations stay in the kernel.
func Start(opts Options) (s *Service, err error) {
	if opts.Journal == nil || opts.Book == nil {
		return nil, errors.New("contain: Journal and Book are required")
	}
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s = &Service{opts: opts, log: opts.Logger, isos: map[string]*Isolation{}, verified: map[string]bool{}, kick: make(chan struct{}, 1), done: make(chan struct{})}
	if err := s.replay(); err != nil {
		return nil, fmt.Errorf("replay isolations: %w", err)
	}
	if opts.Net.Logger == nil {
		opts.Net.Logger = opts.Logger
	}
	if s.ctl, err = netctl.New(opts.Net); err != nil {
		return nil, fmt.Errorf("containment: %w", err)
	}
	started := s
	defer func() {
		if err != nil {
			started.ctl.Close()
			if started.box != nil {
				started.box.close()
			}
		}
	}()
	if s.box, err = newBox(opts.Listen, opts.Net.NetNS); err != nil {
		return nil, fmt.Errorf("containment: %w", err)
	}
	if err := s.adopt(); err != nil {
		return nil, fmt.Errorf("containment: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(ctx)
	return s, nil
}

// Close stops the reconcile loop and waits for it. Kernel state stays: an
// isolation outlives the daemon, and the next Start adopts it.
func (s *Service) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	<-s.done
	s.cancel = nil
	s.box.close()
	return s.ctl.Close()
}

// Mode is the configured deployment mode.
func (s *Service) Mode() netctl.Mode { return s.opts.Net.Mode }

// replay folds every journal's isolation entries into the set in force.
func (s *Service) replay() error {
	ids, err := s.opts.Journal.IDs()
	if err != nil {
		return err
	}
	for _, jid := range ids {
		err := s.opts.Journal.Entries(jid, 0, func(e journal.Entry) error {
			if !strings.HasPrefix(e.Type, "isolation.") {
				return nil
			}
			return s.fold(e)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// fold applies one isolation entry to the set in force.
func (s *Service) fold(e journal.Entry) error {
	var head struct {
		ID string `json:"id"`
	}
	if err := e.Decode(&head); err != nil {
		return err
	}
	if n, err := strconv.ParseUint(strings.TrimPrefix(head.ID, "iso-"), 10, 64); err == nil && n > s.lastID {
		s.lastID = n
	}
	switch e.Type {
	case TypeApplied:
		var a Applied
		if err := e.Decode(&a); err != nil {
			return err
		}
		iso := a.Isolation
		s.isos[iso.ID] = &iso
	case TypeConfirmed:
		if iso := s.isos[head.ID]; iso != nil {
			iso.Confirmed, iso.ConfirmedBy = true, e.Actor
		}
	case TypeVerified:
		s.verified[head.ID] = true
	case TypeReleased, TypeExpired, TypeRolledBack:
		delete(s.isos, head.ID)
		delete(s.verified, head.ID)
	}
	return nil
}

// policies returns the netctl policies in force that the kernel should
// hold, skipping (and logging) any that no longer convert.
func (s *Service) policies() []netctl.Policy { return s.policiesOf(false) }

// allPolicies also returns those kept out of the kernel (Problem set),
// whose deadlines still run.
func (s *Service) allPolicies() []netctl.Policy { return s.policiesOf(true) }

func (s *Service) policiesOf(all bool) []netctl.Policy {
	out := make([]netctl.Policy, 0, len(s.isos))
	for _, id := range s.sortedIDs() {
		if s.isos[id].Problem != "" && !all {
			continue
		}
		p, err := s.isos[id].Policy()
		if err != nil {
			s.log.Error("isolation cannot be applied", "id", id, "err", err)
			continue
		}
		out = append(out, p)
	}
	return out
}

func (s *Service) sortedIDs() []string {
	ids := make([]string, 0, len(s.isos))
	for id := range s.isos {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return idLess(ids[i], ids[j]) })
	return ids
}

func idLess(a, b string) bool {
	na, _ := strconv.ParseUint(strings.TrimPrefix(a, "iso-"), 10, 64)
	nb, _ := strconv.ParseUint(strings.TrimPrefix(b, "iso-"), 10, 64)
	if na != nb {
		return na < nb
	}
	return a < b
}

// List returns the isolations in force, oldest first.
func (s *Service) List() []Isolation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Isolation{}
	for _, id := range s.sortedIDs() {
		out = append(out, *s.isos[id])
	}
	return out
}

// Get returns one isolation in force.
func (s *Service) Get(id string) (Isolation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	iso := s.isos[id]
	if iso == nil {
		return Isolation{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return *iso, nil
}

// Environment returns the safety facts as of now: the box's own, merged
// with every Facts source.
func (s *Service) Environment() netctl.Environment {
	env := s.box.Environment()
	for _, f := range s.opts.Facts {
		merge(&env, f.Environment())
	}
	return env
}

func (s *Service) append(ctx context.Context, jid, actor, typ string, payload any) error {
	_, err := s.opts.Journal.Append(context.WithoutCancel(ctx), journal.Record{Journal: jid, Actor: actor, Type: typ, Payload: payload})
	if err != nil {
		return fmt.Errorf("journal %s in %s: %w", typ, jid, err)
	}
	return nil
}

// openCase checks that the case exists and takes changes.
func (s *Service) openCase(id string) error {
	return s.opts.Book.View(id, func(c *cases.Case) error {
		if !c.IsOpen() {
			return fmt.Errorf("%s: %w", id, cases.ErrNotOpen)
		}
		if c.IsClosed() {
			return fmt.Errorf("%s: %w: reopen it first", id, cases.ErrClosed)
		}
		return nil
	})
}

// Result is what Add returns.
type Result struct {
	Isolation Isolation `json:"isolation"`
	Report    Report    `json:"report"`
	// Hints are things the engineer should know, e.g. that an address
	// without its MAC leaves the host its IPv6 link-local.
	Hints []string `json:"hints,omitempty"`
}

// Add checks an isolation against the safety facts, applies it, and
// journals it as applied — or as refused (with the explanation) when it is
// unsafe and not forced, in which case the error matches netctl.ErrUnsafe.
// It returns once the kernel drops the target's traffic and the journal
// entry is on disk.
func (s *Service) Add(ctx context.Context, actor string, req Request) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	if err := s.openCase(req.Case); err != nil {
		return Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	s.lastID++
	iso := req.isolation("iso-"+strconv.FormatUint(s.lastID, 10), actor, now)
	pol, err := iso.Policy()
	if err != nil {
		return Result{}, err
	}
	cs := netctl.Concerns(pol, s.Environment())
	iso.Concerns = concerns(cs)
	if len(cs) > 0 && !iso.Forced {
		uerr := &netctl.UnsafeError{Policy: iso.ID, Concerns: cs}
		if err := s.append(ctx, iso.Case, actor, TypeRefused, Refused{Isolation: iso, Explanation: uerr.Error()}); err != nil {
			return Result{}, err
		}
		return Result{}, uerr
	}
	active, _ := netctl.Evaluate(s.policies(), now)
	rep, err := s.ctl.Set(netctl.State{Policies: append(slices.Clip(active), pol)})
	if err != nil {
		if errors.Is(err, netctl.ErrUnsupported) || errors.Is(err, netctl.ErrInvalidPolicy) {
			return Result{}, err // refused before touching the kernel
		}
		undo, uerr := s.ctl.Set(netctl.State{Policies: active})
		if uerr != nil {
			s.log.Error("undo of a failed isolation failed; the reconcile loop retries", "id", iso.ID, "err", uerr)
		}
		jerr := s.append(ctx, iso.Case, actor, TypeFailed, Failed{Isolation: iso, Error: err.Error(), Report: report(rep, nil), Undo: report(undo, nil)})
		return Result{}, errors.Join(fmt.Errorf("apply %s: %w", iso.ID, err), jerr)
	}
	res := Result{Isolation: iso, Report: report(rep, forPolicy(iso.ID))}
	if err := s.append(ctx, iso.Case, actor, TypeApplied, Applied{Isolation: iso, Report: res.Report}); err != nil {
		// Not on record, so not in force.
		if _, uerr := s.ctl.Set(netctl.State{Policies: active}); uerr != nil {
			s.log.Error("undo of an unjournaled isolation failed; the reconcile loop retries", "id", iso.ID, "err", uerr)
		}
		return Result{}, err
	}
	s.isos[iso.ID] = &iso
	res.Hints = s.hints(iso)
	s.wake()
	return res, nil
}

func (s *Service) hints(iso Isolation) []string {
	if s.opts.Net.Mode != netctl.ModeBridge || iso.IP == "" || iso.MAC != "" {
		return nil
	}
	h := "no MAC given: the host's IPv6 link-local and NDP, and any other address it takes, are not cut; add --mac"
	if a, err := netip.ParseAddr(iso.IP); err == nil {
		if macs := s.box.neighbours(a.Unmap()); len(macs) > 0 {
			h += " (the appliance's neighbour table has " + iso.IP + " at " + strings.Join(macs, ", ") + ")"
		}
	}
	return []string{h}
}

// Plan is a dry run of Add: what it would change, and why it might be
// unsafe.
type Plan struct {
	Isolation Isolation `json:"isolation"`
	// Refused explains why Add would refuse it without force; empty if
	// it would not.
	Refused string `json:"refused,omitempty"`
	// Changes are the kernel objects Add would install.
	Changes []string `json:"changes"`
	Hints   []string `json:"hints,omitempty"`
	// Flows are the live flows it would cut; FlowsNote says why there are
	// none to show when the capture engine cannot supply them.
	Flows     []Flow `json:"flows"`
	FlowsNote string `json:"flows_note,omitempty"`
}

// Plan returns what Add would do with req, changing nothing.
func (s *Service) Plan(actor string, req Request) (Plan, error) {
	if err := req.Validate(); err != nil {
		return Plan{}, err
	}
	if err := s.openCase(req.Case); err != nil {
		return Plan{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	iso := req.isolation("iso-"+strconv.FormatUint(s.lastID+1, 10), actor, now)
	pol, err := iso.Policy()
	if err != nil {
		return Plan{}, err
	}
	cs := netctl.Concerns(pol, s.Environment())
	iso.Concerns = concerns(cs)
	pl := Plan{Isolation: iso, Changes: []string{}, Flows: []Flow{}, Hints: s.hints(iso)}
	if len(cs) > 0 && !iso.Forced {
		pl.Refused = (&netctl.UnsafeError{Policy: iso.ID, Concerns: cs}).Error()
	}
	active, _ := netctl.Evaluate(s.policies(), now)
	drift, err := s.ctl.Verify(netctl.State{Policies: append(slices.Clip(active), pol)})
	if err != nil {
		return Plan{}, err
	}
	for _, c := range drift {
		if c.Op == netctl.OpMissing && slices.Contains(c.Policies, iso.ID) {
			c.Op = "add"
			pl.Changes = append(pl.Changes, c.String())
		}
	}
	if s.opts.Flows == nil {
		pl.FlowsNote = "capture not running: the live flows this would cut cannot be listed yet"
	} else if pl.Flows, err = s.opts.Flows.FlowsOf(pol.Target); err != nil {
		pl.Flows, pl.FlowsNote = []Flow{}, "flow table unavailable: "+err.Error()
	}
	return pl, nil
}

// Confirm confirms an isolation added with a confirm deadline, so that it
// stays in force.
func (s *Service) Confirm(ctx context.Context, actor, id string) (Isolation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	iso := s.isos[id]
	switch {
	case iso == nil:
		return Isolation{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	case iso.ConfirmBy.IsZero():
		return Isolation{}, fmt.Errorf("%w: %s was applied without a confirm deadline; it needs no confirmation", ErrConflict, id)
	case iso.Confirmed:
		return Isolation{}, fmt.Errorf("%w: %s is already confirmed", ErrConflict, id)
	case !s.opts.Now().Before(iso.ConfirmBy):
		return Isolation{}, fmt.Errorf("%w: %s was not confirmed by %s and is being rolled back", ErrConflict, id, iso.ConfirmBy.Format(time.RFC3339))
	}
	if err := s.append(ctx, iso.Case, actor, TypeConfirmed, Confirmed{ID: id}); err != nil {
		return Isolation{}, err
	}
	iso.Confirmed, iso.ConfirmedBy = true, actor
	s.wake()
	return *iso, nil
}

// Release ends isolations by an engineer's decision: the one named, or
// with id "" every one in force (of caseID, if not empty). It returns what
// each release journaled.
func (s *Service) Release(ctx context.Context, actor, id, caseID, reason string) ([]Ended, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []string
	for _, k := range s.sortedIDs() {
		if (id == "" && (caseID == "" || s.isos[k].Case == caseID)) || k == id {
			gone = append(gone, k)
		}
	}
	if id != "" && len(gone) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if len(gone) == 0 {
		return []Ended{}, nil
	}
	return s.end(ctx, actor, gone, func(string) (string, time.Time, string) {
		return TypeReleased, s.opts.Now().UTC(), reason
	})
}

// end takes the isolations ids out of force in one Set and journals each
// with the type, time and reason how gives it.
func (s *Service) end(ctx context.Context, actor string, ids []string, how func(id string) (typ string, at time.Time, reason string)) ([]Ended, error) {
	var ending, keep []netctl.Policy
	for _, p := range s.policies() {
		if slices.Contains(ids, p.ID) {
			ending = append(ending, p)
		} else {
			keep = append(keep, p)
		}
	}
	// (An isolation kept out of the kernel ends on record only.)
	var counts map[string]netctl.Counter
	if s.opts.Net.Mode == netctl.ModeBridge && len(ending) > 0 {
		counts, _ = s.ctl.Dropped(netctl.State{Policies: ending}) // best effort: evidence, not control
	}
	rep, err := s.ctl.Set(netctl.State{Policies: keep})
	if err != nil {
		// The reconcile loop puts the kernel back in line with the set in
		// force, which still holds them.
		return nil, fmt.Errorf("release %s: %w", strings.Join(ids, ", "), err)
	}
	out := []Ended{}
	var errs []error
	for _, id := range ids {
		iso := s.isos[id]
		typ, at, reason := how(id)
		e := Ended{ID: id, Target: iso.TargetString(), Reason: reason, At: at, Report: report(rep, onlyPolicy(id))}
		if c, ok := counts[id]; ok {
			e.Dropped = &Drops{Packets: c.Packets, Bytes: c.Bytes}
		}
		if err := s.append(ctx, iso.Case, actor, typ, e); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(s.isos, id)
		delete(s.verified, id)
		out = append(out, e)
	}
	if len(errs) > 0 {
		// Not on record as ended, so still in force: put them back.
		if _, err := s.ctl.Set(netctl.State{Policies: s.policies()}); err != nil {
			errs = append(errs, err)
		}
		return out, errors.Join(errs...)
	}
	return out, nil
}

// onlyPolicy selects the changes made for policy id alone.
func onlyPolicy(id string) func(netctl.Change) bool {
	return func(c netctl.Change) bool { return slices.Contains(c.Policies, id) }
}

func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run is the reconcile loop: at every deadline and every Interval it ends
// what expired or was not confirmed, and repairs drift.
func (s *Service) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTimer(s.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		next := s.tick(ctx)
		t.Reset(next)
	}
}

// tick is one pass of the loop; it returns how long to sleep.
func (s *Service) tick(ctx context.Context) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	_, ended := netctl.Evaluate(s.allPolicies(), now)
	active, _ := netctl.Evaluate(s.policies(), now)
	if len(ended) > 0 {
		s.expire(ctx, ended)
		active, _ = netctl.Evaluate(s.policies(), now)
	}
	wait := s.opts.Interval
	if next := netctl.NextDeadline(s.allPolicies(), now); !next.IsZero() && next.Sub(now) < wait {
		wait = max(next.Sub(now), time.Millisecond)
	}
	s.countDrops(ctx, active, now)
	drift, err := s.ctl.Verify(netctl.State{Policies: active})
	if err != nil {
		s.log.Warn("containment: cannot read the kernel back", "err", err)
		return wait
	}
	if len(drift) == 0 {
		return wait
	}
	rep, err := s.ctl.Set(netctl.State{Policies: active})
	if err != nil {
		s.log.Error("containment: drift not repaired; retrying", "drift", len(drift), "err", err)
	}
	s.journalRepair(ctx, active, drift, rep)
	return wait
}

// VerifyAfter is how long after an isolation is applied its drop counters
// are journaled (bridge mode).
const VerifyAfter = 5 * time.Second

// countDrops journals, once per isolation, what the kernel dropped for it
// in its first seconds.
func (s *Service) countDrops(ctx context.Context, active []netctl.Policy, now time.Time) {
	if s.opts.Net.Mode != netctl.ModeBridge {
		return
	}
	var due []netctl.Policy
	for _, p := range active {
		if !s.verified[p.ID] && now.Sub(p.Created) >= VerifyAfter {
			due = append(due, p)
		}
	}
	if len(due) == 0 {
		return
	}
	counts, err := s.ctl.Dropped(netctl.State{Policies: due})
	if err != nil {
		s.log.Warn("containment: drop counters", "err", err)
		return
	}
	for _, p := range due {
		v := Verified{ID: p.ID, After: now.Sub(p.Created).Round(time.Second).String(), Dropped: Drops{Packets: counts[p.ID].Packets, Bytes: counts[p.ID].Bytes}}
		if err := s.append(ctx, p.CaseID, Actor, TypeVerified, v); err != nil {
			s.log.Error("containment: journal drop counters", "err", err)
			return
		}
		s.verified[p.ID] = true
	}
}

// expire ends the isolations whose TTL or confirm deadline passed.
func (s *Service) expire(ctx context.Context, ended []netctl.Ended) {
	why := map[string]netctl.Ended{}
	var ids []string
	for _, e := range ended {
		why[e.Policy.ID] = e
		ids = append(ids, e.Policy.ID)
	}
	_, err := s.end(ctx, Actor, ids, func(id string) (string, time.Time, string) {
		e := why[id]
		if e.Reason == netctl.RolledBack {
			return TypeRolledBack, e.At, "not confirmed by " + e.At.Format(time.RFC3339)
		}
		return TypeExpired, e.At, "TTL ran out at " + e.At.Format(time.RFC3339)
	})
	if err != nil {
		s.log.Error("containment: ending isolations failed; retrying", "ids", ids, "err", err)
		return
	}
	for _, id := range ids {
		s.log.Info("isolation ended", "id", id, "reason", string(why[id].Reason))
	}
}

// journalRepair records drift and its repair in the journal of every case
// it touched; infrastructure (bridge, ports, sink) serves every isolation.
func (s *Service) journalRepair(ctx context.Context, active []netctl.Policy, drift []netctl.Change, rep netctl.Report) {
	caseOf := map[string]string{}
	for _, p := range active {
		caseOf[p.ID] = p.CaseID
	}
	type acc struct {
		ids            []string
		drift, changes []string
	}
	byCase := map[string]*acc{}
	var stale []string
	note := func(c netctl.Change, isDrift bool) {
		var jids []string
		var pids []string
		for _, id := range c.Policies {
			if cs, ok := caseOf[id]; ok {
				pids = append(pids, id)
				if !slices.Contains(jids, cs) {
					jids = append(jids, cs)
				}
			}
		}
		if len(pids) == 0 {
			if c.Op == netctl.OpRemoved || c.Op == netctl.OpExtra {
				// Nothing in force needs it: stale, not drift of an
				// isolation.
				if !isDrift {
					stale = append(stale, c.String())
				}
				return
			}
			// Infrastructure serves every isolation.
			for _, p := range active {
				pids = append(pids, p.ID)
				if !slices.Contains(jids, p.CaseID) {
					jids = append(jids, p.CaseID)
				}
			}
			if len(jids) == 0 {
				jids = []string{casebook.ApplianceJournal}
			}
		}
		for _, j := range jids {
			a := byCase[j]
			if a == nil {
				a = &acc{}
				byCase[j] = a
			}
			for _, id := range pids {
				if (j == casebook.ApplianceJournal || caseOf[id] == j) && !slices.Contains(a.ids, id) {
					a.ids = append(a.ids, id)
				}
			}
			if isDrift {
				a.drift = append(a.drift, c.String())
			} else {
				a.changes = append(a.changes, c.String())
			}
		}
	}
	for _, c := range drift {
		note(c, true)
	}
	for _, c := range rep.Changes {
		note(c, false)
	}
	jids := make([]string, 0, len(byCase))
	for j := range byCase {
		jids = append(jids, j)
	}
	sort.Strings(jids)
	for _, j := range jids {
		a := byCase[j]
		if len(a.changes) == 0 {
			continue // nothing repaired (yet): the next tick tries again
		}
		sort.Slice(a.ids, func(x, y int) bool { return idLess(a.ids[x], a.ids[y]) })
		if err := s.append(ctx, j, Actor, TypeRestored, Restored{IDs: a.ids, Drift: a.drift, Changes: a.changes}); err != nil {
			s.log.Error("containment: journal repair", "err", err)
		}
		s.log.Warn("containment: drift repaired", "journal", j, "isolations", a.ids, "drift", a.drift)
	}
	if len(stale) > 0 {
		if err := s.append(ctx, casebook.ApplianceJournal, Actor, TypeStale, map[string][]string{"removed": stale}); err != nil {
			s.log.Error("containment: journal stale objects", "err", err)
		}
	}
}

// adopt is the first reconcile after a start: what expired while the
// daemon was down ends now (at its deadline), the rest is handed to Set,
// which finds it in the kernel by netctl's markers and keeps it, and
// re-adds only what is missing (after a reboot, everything).
func (s *Service) adopt() error {
	ctx := context.Background()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	// An isolation that does not fit this mode (the daemon was restarted
	// with another --mode) stays in force on record, so it can be listed
	// and released, but is kept out of the kernel state.
	for _, p := range s.policies() {
		if _, err := s.ctl.Verify(netctl.State{Policies: []netctl.Policy{p}}); errors.Is(err, netctl.ErrUnsupported) || errors.Is(err, netctl.ErrInvalidPolicy) {
			s.isos[p.ID].Problem = fmt.Sprintf("not managed in %s mode (%v); what another mode installed for it stays until the daemon runs in that mode again", s.opts.Net.Mode, err)
			s.log.Error("isolation does not fit the containment mode; release it or restart with its mode", "id", p.ID, "err", err)
		}
	}
	_, ended := netctl.Evaluate(s.allPolicies(), now)
	if len(ended) > 0 {
		s.expire(ctx, ended)
	}
	active, _ := netctl.Evaluate(s.policies(), now)
	rep, err := s.ctl.Set(netctl.State{Policies: active})
	if err != nil {
		return err
	}
	st := Started{Mode: s.opts.Net.Mode, NetNS: s.opts.Net.NetNS, Ports: s.opts.Net.Ports, Report: report(rep, nil)}
	if st.Mode == netctl.ModeBridge {
		st.Bridge = s.opts.Net.Bridge
		if f, err := s.ctl.Features(); err == nil {
			st.Features = f.String()
		}
	}
	for _, p := range active {
		st.Adopted = append(st.Adopted, p.ID)
		a := Adopted{ID: p.ID, Kept: rep.Kept, Expires: p.Expires}
		if !p.Confirmed {
			a.ConfirmBy = p.ConfirmBy
		}
		a.Changes = report(rep, onlyPolicy(p.ID)).Changes
		if err := s.append(ctx, p.CaseID, Actor, TypeAdopted, a); err != nil {
			return err
		}
	}
	if err := s.append(ctx, casebook.ApplianceJournal, Actor, TypeStarted, st); err != nil {
		return err
	}
	s.log.Info("containment started", "mode", st.Mode, "features", st.Features, "adopted", len(active), "kept", rep.Kept, "changes", len(rep.Changes))
	return nil
}
