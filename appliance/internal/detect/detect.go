// Package detect runs the detection modules over a stream of capture
// events for the daemon and the CLI: it loads the modules for each source,
// passes every event through them, and folds their alerts into the case
// findings the journal records (identical alerts become one finding with a
// count and a time span).
//
// Each source gets its own module instances, so what a module remembers of
// one capture never leaks into another, and a module that faults is
// restarted or disabled by the module host without stopping the source.
package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
	"github.com/firebreak-ir/firebreak/capture"
)

// Options configure a Detector.
type Options struct {
	// Packages are the modules to run. Nil: Source's, else every
	// first-party module embedded in the binary.
	Packages []*modhost.Package
	// Source, if set, supplies the modules and their configs anew at each
	// Start, so modules installed, enabled or disabled since apply to the
	// next source or analysis.
	Source Source
	// Trust holds the accepted signing keys. Nil: the first-party key.
	Trust *modhost.TrustStore
	// AllowUnsigned loads modules whose signature does not verify; each
	// such load is journaled by the module host.
	AllowUnsigned bool
	// Config is passed to every module's init.
	Config []byte
	// CacheDir keeps the compiled modules between runs.
	CacheDir string
	// Journal records module loads, refusals and faults (the module host's
	// events) in the appliance journal. Nil: the log only.
	Journal func(ctx context.Context, typ string, payload any) error
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Source is where the modules to run come from (the appliance's module
// store).
type Source interface {
	Packages() ([]*modhost.Package, error)
	Config(module string) ([]byte, error)
}

// ErrNoModules is a Detector with nothing to run: the binary was built
// without the first-party modules and none were given.
var ErrNoModules = errors.New("no detection modules")

// Detector starts module runs. It is safe for concurrent use.
type Detector struct {
	opts Options
}

// New checks the options and returns a Detector.
func New(opts Options) (*Detector, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Packages == nil && opts.Source == nil {
		pkgs, err := firstparty.Packages()
		if errors.Is(err, firstparty.ErrNotBuilt) {
			return nil, fmt.Errorf("%w: %v", ErrNoModules, err)
		}
		if err != nil {
			return nil, err
		}
		opts.Packages = pkgs
	}
	if len(opts.Packages) == 0 && opts.Source == nil {
		return nil, ErrNoModules
	}
	if opts.Trust == nil {
		ts, err := FirstPartyTrust()
		if err != nil {
			return nil, err
		}
		opts.Trust = ts
	}
	return &Detector{opts: opts}, nil
}

// FirstPartyTrust is a trust store holding the embedded first-party key,
// named "first-party"; empty when the binary has none.
func FirstPartyTrust() (*modhost.TrustStore, error) {
	ts := modhost.NewTrustStore()
	k, err := firstparty.Key()
	if errors.Is(err, firstparty.ErrNotBuilt) {
		return ts, nil
	}
	if err != nil {
		return nil, err
	}
	return ts, ts.Add("first-party", k)
}

// Run is the modules running over one source. Emit may be called from
// several goroutines; events reach the modules one at a time.
type Run struct {
	host *modhost.Host
	mods []*modhost.Module
	p    *modhost.Pipeline
	ctx  context.Context
	src  Source // where configs come from; nil if given with the packages

	mu       sync.Mutex
	fold     map[foldKey]int // index into findings
	findings []cases.Finding
	taken    []int             // the count of each finding at the last Take
	flows    map[uint64]string // flow id → community id, for the findings
	used     []cases.ModuleUsed
	finished bool
}

// Start loads a fresh instance of every module and returns the run; next
// receives every event and every alert, in order.
//
// The trusted tier — modules signed with the first-party key, built from
// modules/ in this repository, unit- and fuzz-tested — runs without
// wazero's interruption checks, which cost 2–5× on guest code; every other
// module can be stopped at its deadline (modhost/RATIONALE.md).
func (d *Detector) Start(ctx context.Context, next func(*capture.Event) error) (*Run, error) {
	pkgs := d.opts.Packages
	if pkgs == nil {
		var err error
		if pkgs, err = d.opts.Source.Packages(); err != nil {
			return nil, err
		}
	}
	pkgs = onTraffic(pkgs)
	if len(pkgs) == 0 {
		return nil, ErrNoModules
	}
	h, err := modhost.New(modhost.Options{CacheDir: d.opts.CacheDir, Trust: d.opts.Trust, AllowUnsigned: d.opts.AllowUnsigned,
		Journal: d.opts.Journal, Logger: d.opts.Logger, Uninterruptible: []string{"first-party"}})
	if err != nil {
		return nil, err
	}
	r := &Run{host: h, ctx: ctx, src: d.opts.Source, fold: map[foldKey]int{}, flows: map[uint64]string{}}
	for _, pkg := range pkgs {
		if err := ctx.Err(); err != nil { // a first compile takes seconds: a stop need not wait for all
			h.Close(context.WithoutCancel(ctx))
			return nil, err
		}
		config := d.opts.Config
		if d.opts.Source != nil {
			if man, err := modhost.ParseManifest(pkg.Manifest); err == nil {
				if config, err = d.opts.Source.Config(man.Name); err != nil {
					h.Close(ctx)
					return nil, err
				}
			}
		}
		m, err := h.Load(ctx, pkg, config)
		if err != nil {
			h.Close(ctx)
			return nil, err
		}
		r.mods = append(r.mods, m)
		r.used = append(r.used, cases.ModuleUsed{Name: m.Manifest.Name, Version: m.Manifest.Version, SHA256: m.SHA256, Signer: m.Signer})
	}
	r.p = h.Pipeline(ctx, r.mods, func(ev *capture.Event) error {
		if ev.EventType == "alert" && ev.Alert != nil {
			r.record(ev)
		}
		return next(ev)
	})
	return r, nil
}

// trafficEvents are the events of a traffic source; modules that subscribe
// to none of them (host triage's file and log modules) are not loaded.
var trafficEvents = map[string]bool{"packet": true, "flow_start": true, "flow": true, "dns": true, "http": true,
	"tls": true, "ssh": true, "anomaly": true}

// onTraffic keeps the detection modules that subscribe to traffic events.
func onTraffic(pkgs []*modhost.Package) []*modhost.Package {
	var out []*modhost.Package
	for _, p := range pkgs {
		man, err := modhost.ParseManifest(p.Manifest)
		if err != nil {
			out = append(out, p) // the load refuses it, and says why
			continue
		}
		for _, sub := range man.Subscriptions {
			if man.Kind == "detect" && trafficEvents[sub.Event] {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// Configure sets what the analysis feeding the run must produce for its
// modules: one flow engine, their packet taps and flow starts
// (modhost.Pipeline.Configure).
func (r *Run) Configure(opts *capture.Options) { r.p.Configure(opts) }

// Reload gives the running module its config from the source again (the
// ioc module, when an indicator feed was installed): the instance running
// finishes what it has and the next event starts one with the new config.
func (r *Run) Reload(module string) error {
	if r.src == nil {
		return nil
	}
	config, err := r.src.Config(module)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return nil
	}
	_, err = r.p.Reconfigure(module, config)
	return err
}

// Modules names the modules of the run exactly, for the analysis record.
func (r *Run) Modules() []cases.ModuleUsed { return slices.Clone(r.used) }

// Emit passes one event through the modules, then to next.
func (r *Run) Emit(ev *capture.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.FlowID != 0 && ev.CommunityID != "" {
		if len(r.flows) >= maxFlows {
			clear(r.flows)
		}
		r.flows[ev.FlowID] = ev.CommunityID
	}
	return r.p.Emit(ev)
}

// maxFlows bounds the flow → Community ID map of a long live run.
const maxFlows = 1 << 16

// Finish flushes the modules (end of input), releases them and returns
// what each module did. Findings stay readable.
func (r *Run) Finish() (map[string]modhost.ModuleStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return r.stats(), nil
	}
	r.finished = true
	err := r.p.Finish()
	r.host.Close(context.WithoutCancel(r.ctx))
	return r.stats(), err
}

// Stats is what each module of the run has done so far.
func (r *Run) Stats() map[string]modhost.ModuleStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats()
}

func (r *Run) stats() map[string]modhost.ModuleStats { return r.p.ModuleStats() }

// Findings returns every finding of the run so far, folded.
func (r *Run) Findings() []cases.Finding {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cloneFindings(r.findings)
}

// Take returns what was found since the last Take — what a live source
// records at each sealed segment: new findings, and findings seen again
// with Count the occurrences since.
func (r *Run) Take() []cases.Finding {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []cases.Finding
	for i, f := range r.findings {
		before := 0
		if i < len(r.taken) {
			before = r.taken[i]
		} else {
			r.taken = append(r.taken, 0)
		}
		if f.Count > before {
			f.Count -= before
			f.Techniques = slices.Clone(f.Techniques)
			out = append(out, f)
			r.taken[i] = r.findings[i].Count
		}
	}
	return out
}

// maxFindings bounds the distinct findings of one run; beyond it alerts
// still reach the EVE output but fold into nothing new.
const maxFindings = 10000

type foldKey struct {
	module, signature, proto, src, dst string
	dstPort                            uint16
}

// record folds an alert event into the findings. The caller holds r.mu
// (alerts are emitted from within Emit or Finish).
func (r *Run) record(ev *capture.Event) {
	a := ev.Alert
	f := cases.Finding{Signature: a.Signature, Category: a.Category, Severity: a.Severity, SignatureID: a.SignatureID,
		Proto: ev.Proto, Src: ev.SrcIP, Dst: ev.DestIP, FlowID: ev.FlowID, Count: 1, CommunityID: r.flows[ev.FlowID]}
	if ev.SrcPort != nil {
		f.SrcPort = *ev.SrcPort
	}
	if ev.DestPort != nil {
		f.DstPort = *ev.DestPort
	}
	if t, err := time.Parse(timeLayout, ev.Timestamp); err == nil {
		f.Time, f.LastTime = t.UTC(), t.UTC()
	}
	md := map[string][]string{}
	for k, v := range a.Metadata {
		switch k {
		case "firebreak_module":
			f.Module = strings.Join(v, ",")
		case "firebreak_module_version":
			f.ModuleVersion = strings.Join(v, ",")
		case "mitre_technique_id":
			f.Techniques = slices.Clone(v)
		default:
			md[k] = slices.Clone(v)
		}
	}
	if len(md) > 0 {
		f.Metadata = md
	}
	k := foldKey{f.Module, f.Signature, f.Proto, f.Src, f.Dst, f.DstPort}
	if i, ok := r.fold[k]; ok {
		g := &r.findings[i]
		g.Count++
		if f.Time.Before(g.Time) {
			g.Time = f.Time
		}
		if f.LastTime.After(g.LastTime) {
			g.LastTime = f.LastTime
		}
		return
	}
	if len(r.findings) >= maxFindings {
		return
	}
	r.fold[k] = len(r.findings)
	r.findings = append(r.findings, f)
}

// timeLayout parses EVE timestamps (2016-02-02T15:49:13.145227+0000).
const timeLayout = "2006-01-02T15:04:05.999999-0700"

func cloneFindings(fs []cases.Finding) []cases.Finding {
	out := make([]cases.Finding, len(fs))
	copy(out, fs)
	return out
}
