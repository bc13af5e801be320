package netctl

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-ir/firebreak/netctl/internal/nlk"
	"golang.org/x/sys/unix"
)

// Mode is how the appliance sits in the network.
type Mode string

// Modes.
const (
	// ModeBridge: inline, a Linux bridge over two or more ports;
	// isolation by tc filters on the ingress of every port.
	ModeBridge Mode = "bridge"
	// ModeRouter: the appliance is the segment's gateway; isolation by
	// blackhole policy rules.
	ModeRouter Mode = "router"
	// ModePort: isolation takes a whole port down.
	ModePort Mode = "port"
)

// Markers by which netctl recognises what Firebreak installed.
const (
	// PrioFirst and PrioLast bound the tc filter priorities Firebreak
	// owns on the ingress hook of bridge ports, and the ip rule
	// priorities it owns in router mode. Exceptions sit at PrioFirst
	// and up, drops at PrioFirst+50 and up, so every exception is
	// evaluated before every drop.
	PrioFirst = 1000
	PrioLast  = 1099
	// RuleProtocol is the protocol number on Firebreak's ip rules.
	RuleProtocol = 251
	// AliasMarker prefixes the alias of a link that port mode took
	// down; the previous alias follows it.
	AliasMarker = "firebreak-isolated:"
)

// Options configure a Controller. Zero values mean the documented
// defaults.
type Options struct {
	// Mode is required.
	Mode Mode
	// NetNS is the path of the network namespace to manage (as in
	// /var/run/netns/NAME); empty means the caller's.
	NetNS string
	// Bridge is the bridge in bridge mode; created if missing. Default
	// "fbbr0".
	Bridge string
	// Ports are the bridge ports in bridge mode (enslaved if they are
	// not), and the links policies may take down in port mode; netctl
	// refuses to take down any other link.
	Ports []string
	// Sink is the veth link that dropped frames are redirected to in
	// bridge mode when the kernel has act_mirred; its peer, Sink+"c", is
	// where the capture path can read what isolated hosts keep sending.
	// Default "fbsink0". Without act_mirred, frames are dropped by gact
	// and no sink is created.
	Sink string
	// Logger receives debug detail; nil discards it. Changes are not
	// logged here but returned in the Report for the caller to journal.
	Logger *slog.Logger
}

// State is the complete desired isolation state: every policy in force.
type State struct {
	Policies []Policy
}

// Op is what happened, or would have to happen, to a kernel object.
type Op string

// Ops in a Report (added, removed, restored) and from Verify (missing,
// extra).
const (
	OpAdded    Op = "added"
	OpRemoved  Op = "removed"
	OpRestored Op = "restored"
	OpMissing  Op = "missing"
	OpExtra    Op = "extra"
)

// Change is one kernel object added, removed or restored by Set, or found
// missing or extra by Verify.
type Change struct {
	Op Op
	// Kind is "bridge", "port", "qdisc", "sink", "filter", "rule" or
	// "link".
	Kind string
	// Link is the link the object is on, if any.
	Link string
	// Object describes the object, e.g. "drop ip src 10.0.0.2/32".
	Object string
	// Policies are the IDs of the policies that need the object; empty
	// for infrastructure and for stale objects.
	Policies []string
}

func (c Change) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", c.Op, c.Kind)
	if c.Link != "" {
		fmt.Fprintf(&b, " on %s", c.Link)
	}
	fmt.Fprintf(&b, ": %s", c.Object)
	if len(c.Policies) > 0 {
		fmt.Fprintf(&b, " [%s]", strings.Join(c.Policies, ","))
	}
	return b.String()
}

// Report says what Set did, for the caller to journal.
type Report struct {
	Mode Mode
	// Changes in the order they were applied.
	Changes []Change
	// Kept counts objects that were already in place (adopted after a
	// restart, or unchanged since the last Set).
	Kept int
	// Warnings are things the caller should show the engineer: skipped
	// exceptions, ports outside netctl's control.
	Warnings []string
	// Took is how long Set spent, reading back included.
	Took time.Duration
}

// Object is a kernel object carrying Firebreak's marker.
type Object struct {
	Kind   string
	Link   string
	Object string
}

// Controller applies isolation state to one network namespace. Its
// methods are safe for concurrent use; calls are serialised.
type Controller struct {
	mu    sync.Mutex
	opts  Options
	k     nlk.Kernel
	log   *slog.Logger
	feats *Features
	// last holds the objects in place after the last successful Set,
	// so that a missing one is reported as restored and a removed one
	// by the rule and policies it was there for.
	last map[string]*object
}

// New opens the namespace and returns a Controller. It does not change
// anything; the first Set does.
func New(opts Options) (*Controller, error) {
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	k, err := nlk.Open(opts.NetNS)
	if err != nil {
		return nil, err
	}
	return newController(opts, k), nil
}

// newController takes options New has checked (or, in unit tests, known
// good ones) and a Kernel.
func newController(opts Options, k nlk.Kernel) *Controller {
	defaults(&opts)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{opts: opts, k: k, log: log.With("component", "netctl", "mode", string(opts.Mode))}
}

func defaults(o *Options) {
	if o.Bridge == "" {
		o.Bridge = "fbbr0"
	}
	if o.Sink == "" {
		o.Sink = "fbsink0"
	}
}

func checkOptions(o *Options) error {
	defaults(o)
	if len(o.Sink)+1 > unix.IFNAMSIZ-1 || len(o.Bridge) > unix.IFNAMSIZ-1 {
		return fmt.Errorf("bridge %q or sink %q: interface name too long: %w", o.Bridge, o.Sink, ErrConfig)
	}
	switch o.Mode {
	case ModeBridge:
		if len(o.Ports) < 2 {
			return fmt.Errorf("bridge mode needs at least two ports: %w", ErrConfig)
		}
	case ModeRouter:
	case ModePort:
		if len(o.Ports) == 0 {
			return fmt.Errorf("port mode needs the ports it may take down: %w", ErrConfig)
		}
	case "":
		return fmt.Errorf("no mode: %w", ErrConfig)
	default:
		return fmt.Errorf("mode %q: %w", o.Mode, ErrConfig)
	}
	for _, p := range o.Ports {
		if p == "" || p == o.Bridge || p == o.Sink || p == o.Sink+"c" {
			return fmt.Errorf("port %q: %w", p, ErrConfig)
		}
	}
	return nil
}

// Close releases the netlink handle. Kernel state stays as it is: an
// isolation outlives the process that installed it.
func (c *Controller) Close() error {
	c.k.Close()
	return nil
}

// object is one kernel object, desired or observed.
type object struct {
	kind, link string
	key        string // unique across the controller, comparable between desired and observed
	desc       string
	policies   []string
	// phase orders application: passes are added before drops and
	// removed after them, so no exception is ever missing while its
	// drop is in place.
	phase int
	add   func() error
	del   func() error
}

const (
	phasePass = 1
	phaseDrop = 2
)

type plan struct {
	desired  []*object
	observed []*object
	warnings []string
	// afterDelete runs once removals are done (cleanup of empty tc
	// priorities).
	afterDelete func(removed []*object) error
}

// Set makes the kernel match desired: it adds what is missing, removes
// what Firebreak installed that is no longer wanted, and leaves what is
// already right alone, so calling it again with the same state changes
// nothing. It then reads the state back and returns a *VerifyError if it
// still differs. The Report lists every change, also on error.
func (c *Controller) Set(desired State) (rep Report, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := time.Now()
	rep.Mode = c.opts.Mode
	defer func() { rep.Took = time.Since(start) }()

	if err := c.validate(desired); err != nil {
		return rep, err
	}
	infra, err := c.infra(true)
	rep.Changes = append(rep.Changes, infra...)
	if err != nil {
		return rep, err
	}
	p, err := c.plan(desired)
	if err != nil {
		return rep, err
	}
	rep.Warnings = p.warnings
	c.describe(p)
	changes, kept, err := c.apply(p)
	rep.Changes = append(rep.Changes, changes...)
	rep.Kept = kept
	if err != nil {
		return rep, err
	}
	p, err = c.plan(desired)
	if err != nil {
		return rep, fmt.Errorf("read back: %w", err)
	}
	if drift := diff(p); len(drift) > 0 {
		return rep, &VerifyError{Drift: drift}
	}
	c.last = map[string]*object{}
	for _, o := range p.desired {
		c.last[o.key] = o
	}
	return rep, nil
}

// Verify reads the kernel and reports how it differs from desired,
// changing nothing: it is also the dry run of Set, listing what Set
// would add (missing) and remove (extra). An empty result means the
// kernel is in sync. (In bridge mode, the first call of a Controller
// probes tc features with a filter that never matches, added and removed
// at once.)
func (c *Controller) Verify(desired State) ([]Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.validate(desired); err != nil {
		return nil, err
	}
	drift, err := c.infra(false)
	if err != nil {
		return drift, err
	}
	p, err := c.plan(desired)
	if err != nil {
		if len(drift) > 0 {
			// The filters cannot be read or probed without the
			// missing infrastructure; that is the drift to report.
			return drift, nil
		}
		return drift, err
	}
	c.describe(p)
	return append(drift, diff(p)...), nil
}

// Read lists the kernel objects carrying Firebreak's marker: what a
// previous run (or this one) installed.
func (c *Controller) Read() ([]Object, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.plan(State{})
	if err != nil {
		return nil, err
	}
	c.describe(p)
	out := make([]Object, 0, len(p.observed))
	for _, o := range p.observed {
		out = append(out, Object{Kind: o.kind, Link: o.link, Object: o.desc})
	}
	return out, nil
}

func (c *Controller) validate(s State) error {
	seen := map[string]bool{}
	for _, p := range s.Policies {
		if err := p.Validate(); err != nil {
			return err
		}
		if seen[p.ID] {
			return fmt.Errorf("policy %s given twice: %w", p.ID, ErrInvalidPolicy)
		}
		seen[p.ID] = true
		if err := c.fits(p); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) fits(p Policy) error {
	t := p.Target
	switch c.opts.Mode {
	case ModeBridge:
		if t.Link != "" {
			return unsupported("policy %s: a link target needs port mode", p.ID)
		}
	case ModeRouter:
		if t.Link != "" || len(t.MAC) > 0 {
			return unsupported("policy %s: router mode isolates addresses, not %s", p.ID, t)
		}
	case ModePort:
		if t.Link == "" {
			return unsupported("policy %s: port mode isolates links, not %s", p.ID, t)
		}
		if !slices.Contains(c.opts.Ports, t.Link) {
			return fmt.Errorf("policy %s: link %s is not one of the configured ports %v: %w", p.ID, t.Link, c.opts.Ports, ErrInvalidPolicy)
		}
	}
	for _, e := range p.Exceptions {
		if t.Prefix.IsValid() && len(t.MAC) == 0 && e.Peer.Addr().Is4() != t.Prefix.Addr().Is4() {
			return fmt.Errorf("policy %s: exception %s is not in the target's address family: %w", p.ID, e, ErrInvalidPolicy)
		}
	}
	return nil
}

func (c *Controller) infra(fix bool) ([]Change, error) {
	if c.opts.Mode == ModeBridge {
		return c.bridgeInfra(fix)
	}
	return nil, nil
}

func (c *Controller) plan(s State) (*plan, error) {
	switch c.opts.Mode {
	case ModeBridge:
		return c.bridgePlan(s)
	case ModeRouter:
		return c.routerPlan(s)
	case ModePort:
		return c.portPlan(s)
	}
	return nil, fmt.Errorf("mode %q: %w", c.opts.Mode, ErrConfig)
}

func splitPlan(p *plan) (missing, extra []*object, kept int) {
	have := map[string]bool{}
	for _, o := range p.observed {
		have[o.key] = true
	}
	want := map[string]bool{}
	for _, o := range p.desired {
		want[o.key] = true
		if have[o.key] {
			kept++
		} else {
			missing = append(missing, o)
		}
	}
	for _, o := range p.observed {
		if !want[o.key] {
			extra = append(extra, o)
		}
	}
	sort.SliceStable(missing, func(i, j int) bool { return missing[i].phase < missing[j].phase })
	sort.SliceStable(extra, func(i, j int) bool { return extra[i].phase > extra[j].phase })
	return missing, extra, kept
}

func diff(p *plan) []Change {
	missing, extra, _ := splitPlan(p)
	var out []Change
	for _, o := range missing {
		out = append(out, o.change(OpMissing))
	}
	for _, o := range extra {
		out = append(out, o.change(OpExtra))
	}
	return out
}

// describe names observed objects by what the last Set put there for,
// when they are known.
func (c *Controller) describe(p *plan) {
	for _, o := range p.observed {
		if was := c.last[o.key]; was != nil {
			o.desc, o.policies = was.desc, was.policies
		}
	}
}

func (o *object) change(op Op) Change {
	return Change{Op: op, Kind: o.kind, Link: o.link, Object: o.desc, Policies: o.policies}
}

func (c *Controller) apply(p *plan) ([]Change, int, error) {
	missing, extra, kept := splitPlan(p)
	var out []Change
	for _, o := range missing {
		if err := o.add(); err != nil {
			return out, kept, fmt.Errorf("add %s %s: %w", o.kind, o.desc, err)
		}
		op := OpAdded
		if c.last[o.key] != nil {
			op = OpRestored
		}
		out = append(out, o.change(op))
	}
	var removed []*object
	for _, o := range extra {
		if err := o.del(); err != nil && !errors.Is(err, errGone) {
			return out, kept, fmt.Errorf("remove %s %s: %w", o.kind, o.desc, err)
		}
		removed = append(removed, o)
		out = append(out, o.change(OpRemoved))
	}
	if p.afterDelete != nil && len(removed) > 0 {
		if err := p.afterDelete(removed); err != nil {
			return out, kept, err
		}
	}
	return out, kept, nil
}

// errGone marks a removal whose object had already disappeared.
var errGone = errors.New("already gone")
