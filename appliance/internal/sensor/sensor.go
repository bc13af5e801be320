// Package sensor is the daemon's view of the traffic: it runs the capture
// engine on the appliance's sources and keeps what the API and the console
// show — counters, the host inventory built from traffic, and the latest
// events of each type — and appends every event to the data directory's
// EVE log.
//
// It never blocks a source on a slow reader: the API reads copies, and the
// memory it keeps is bounded however much traffic arrives.
package sensor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/detect"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/capture"
)

// Options configure a Sensor. Zero values are the documented defaults.
type Options struct {
	// EVEDir is where eve.json is appended. Empty keeps no EVE log.
	EVEDir string
	// Keep is how many of the latest events of each type are kept for the
	// API. Default 1000.
	Keep int
	// Detect runs the detection modules over every source; their alerts
	// join the events. Nil: no modules.
	Detect *detect.Detector
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Source is one thing the sensor reads.
type Source struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"` // "replay" (capture files) or "live" (interfaces)
	State    string    `json:"state"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Error    string    `json:"error,omitempty"`
	Packets  uint64    `json:"packets"`
	Bytes    uint64    `json:"bytes"`
	Warnings uint64    `json:"warnings"`
	Drops    uint64    `json:"kernel_drops,omitempty"`

	live *atomic.Uint64 // packets so far, for a live source
}

// Source states.
const (
	Running  = "running"
	Finished = "finished"
	Failed   = "failed"
)

// Status is the sensor's state at a moment.
type Status struct {
	Sources []Source          `json:"sources"`
	Events  map[string]uint64 `json:"events"` // events seen, by type
	Hosts   int               `json:"hosts"`
}

// Sensor keeps the traffic view. Its methods are safe for concurrent use.
type Sensor struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	sources []*Source
	streams []*capture.Stream // of live sources, for their open flows
	runs    []*detect.Run     // modules on live sources, for their findings
	allRuns []*detect.Run     // modules on every source, for their health
	counts  map[string]uint64
	latest  map[string]*ring
	inv     *capture.Inventory
	eve     *os.File
	eveW    *capture.EVEWriter
	wg      sync.WaitGroup
}

// New returns a sensor with no sources.
func New(opts Options) (*Sensor, error) {
	if opts.Keep <= 0 {
		opts.Keep = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Sensor{opts: opts, log: opts.Logger.With("component", "sensor"), counts: map[string]uint64{},
		latest: map[string]*ring{}, inv: capture.NewInventory()}
	if opts.EVEDir != "" {
		if err := os.MkdirAll(opts.EVEDir, 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(filepath.Join(opts.EVEDir, "eve.json"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open EVE log: %w", err)
		}
		s.eve, s.eveW = f, capture.NewEVEWriter(f)
	}
	return s, nil
}

// Close waits for the sources to stop (cancel their context first) and
// closes the EVE log.
func (s *Sensor) Close() error {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.eve == nil {
		return nil
	}
	err := s.eveW.Flush()
	if cerr := s.eve.Close(); err == nil {
		err = cerr
	}
	s.eve = nil
	return err
}

// observe takes one event. It is the emit function of every source.
func (s *Sensor) observe(ev *capture.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[ev.EventType]++
	if ev.EventType == "stats" {
		return nil
	}
	r := s.latest[ev.EventType]
	if r == nil {
		r = &ring{buf: make([]capture.Event, 0, min(s.opts.Keep, 64)), max: s.opts.Keep}
		s.latest[ev.EventType] = r
	}
	r.add(*ev)
	s.inv.Observe(ev)
	if s.eveW != nil {
		if err := s.eveW.Write(ev); err != nil {
			s.log.Error("EVE log write failed; the log stops here", "err", err)
			s.eveW = nil
		}
	}
	return nil
}

// Replay analyses capture files as a source, in the background, until they
// end or ctx is cancelled.
func (s *Sensor) Replay(ctx context.Context, name string, paths []string) {
	src := &Source{Name: name, Kind: "replay", State: Running, Started: time.Now().UTC()}
	s.mu.Lock()
	s.sources = append(s.sources, src)
	s.mu.Unlock()
	s.wg.Go(func() {
		opts := capture.Options{Warn: func(w capture.Warning) { s.log.Warn("capture warning", "source", name, "warning", w.String()) }}
		emit := s.observe
		run := s.detect(ctx, name, s.observe)
		if run != nil {
			emit = run.Emit
			run.Configure(&opts) // one flow engine: modules see the events in capture order
		}
		st, err := capture.Analyze(ctx, opts, paths, emit)
		if run != nil {
			s.finish(ctx, name, run)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		src.Packets, src.Bytes, src.Warnings, src.Finished = st.Packets, st.Bytes, st.Warnings, time.Now().UTC()
		src.State = Finished
		if err != nil && ctx.Err() == nil {
			src.State, src.Error = Failed, err.Error()
			s.log.Error("source failed", "source", name, "err", err)
		}
		if s.eveW != nil {
			s.eveW.Flush()
		}
		s.log.Info("source finished", "source", name, "packets", st.Packets, "events", st.Events)
	})
}

// detect starts a fresh run of the detection modules over a source,
// passing their alerts and every event to next; nil without modules. A
// source whose modules cannot start is analysed without them, and says so.
func (s *Sensor) detect(ctx context.Context, source string, next func(*capture.Event) error) *detect.Run {
	if s.opts.Detect == nil {
		return nil
	}
	run, err := s.opts.Detect.Start(ctx, next)
	if errors.Is(err, detect.ErrNoModules) {
		return nil // every module disabled, or none built in
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("detection modules did not start; the source is analysed without them", "source", source, "err", err)
		}
		return nil
	}
	s.mu.Lock()
	s.allRuns = append(s.allRuns, run)
	s.mu.Unlock()
	return run
}

// finish ends a source's module run and logs what went wrong in it.
func (s *Sensor) finish(ctx context.Context, source string, run *detect.Run) {
	st, err := run.Finish()
	if err != nil && ctx.Err() == nil {
		s.log.Error("detection modules failed", "source", source, "err", err)
	}
	for name, m := range st {
		if m.Faults > 0 || m.Disabled {
			s.log.Warn("detection module faulted", "source", source, "module", name, "faults", m.Faults, "disabled", m.Disabled, "last", m.LastFault)
		}
	}
}

// Reload gives a module of every live source its config again, from the
// detector's source: an indicator feed installed while the box captures
// takes effect on the traffic that follows, without restarting capture.
func (s *Sensor) Reload(module string) {
	s.mu.Lock()
	runs := append([]*detect.Run(nil), s.runs...)
	s.mu.Unlock()
	for _, r := range runs {
		if err := r.Reload(module); err != nil {
			s.log.Error("module not reconfigured", "module", module, "err", err)
		}
	}
}

// ModuleHealth sums, per module, what it did on every source since the
// daemon started: events, batches, alerts, faults, time in its calls.
func (s *Sensor) ModuleHealth() map[string]modhost.ModuleStats {
	s.mu.Lock()
	runs := append([]*detect.Run(nil), s.allRuns...)
	s.mu.Unlock()
	out := map[string]modhost.ModuleStats{}
	for _, r := range runs {
		for name, st := range r.Stats() {
			h := out[name]
			h.Events += st.Events
			h.Batches += st.Batches
			h.Alerts += st.Alerts
			h.Faults += st.Faults
			h.Dropped += st.Dropped
			h.Time += st.Time
			h.Disabled = h.Disabled || st.Disabled
			if st.LastFault != "" {
				h.LastFault = st.LastFault
			}
			out[name] = h
		}
	}
	return out
}

// TakeFindings returns what the modules found on the live sources since
// the last call: new findings, and earlier ones with the occurrences since.
func (s *Sensor) TakeFindings() []cases.Finding {
	s.mu.Lock()
	runs := append([]*detect.Run(nil), s.runs...)
	s.mu.Unlock()
	var out []cases.Finding
	for _, r := range runs {
		out = append(out, r.Take()...)
	}
	return out
}

// ReplayFS replays every *.pcap at the root of fsys (the bundled samples),
// copied to a temporary folder that is removed afterwards.
func (s *Sensor) ReplayFS(ctx context.Context, name string, fsys fs.FS) error {
	dir, err := os.MkdirTemp("", "firebreak-replay")
	if err != nil {
		return err
	}
	names, err := fs.Glob(fsys, "*.pcap")
	if err != nil || len(names) == 0 {
		os.RemoveAll(dir)
		return fmt.Errorf("replay %s: no captures", name)
	}
	var paths []string
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			os.RemoveAll(dir)
			return err
		}
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			os.RemoveAll(dir)
			return err
		}
		paths = append(paths, p)
	}
	s.Replay(ctx, name, paths)
	s.wg.Go(func() {
		<-ctx.Done()
		os.RemoveAll(dir)
	})
	return nil
}

// Status returns the sources and counters.
func (s *Sensor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Events: map[string]uint64{}, Hosts: len(s.inv.Hosts())}
	for k, v := range s.counts {
		st.Events[k] = v
	}
	for _, src := range s.sources {
		cp := *src
		if src.live != nil && src.State == Running {
			cp.Packets = src.live.Load()
		}
		st.Sources = append(st.Sources, cp)
	}
	return st
}

// Events returns up to limit of the latest events of a type, newest first.
func (s *Sensor) Events(typ string, limit int) []capture.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.latest[typ]
	if r == nil {
		return []capture.Event{}
	}
	return r.newest(limit)
}

// Hosts returns the inventory built from traffic.
func (s *Sensor) Hosts() []capture.Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inv.Hosts()
}

// ring keeps the latest max events.
type ring struct {
	buf  []capture.Event
	next int
	max  int
}

func (r *ring) add(ev capture.Event) {
	if len(r.buf) < r.max {
		r.buf = append(r.buf, ev)
		return
	}
	r.buf[r.next] = ev
	r.next = (r.next + 1) % r.max
}

func (r *ring) newest(limit int) []capture.Event {
	n := len(r.buf)
	if limit <= 0 || limit > n {
		limit = n
	}
	out := make([]capture.Event, 0, limit)
	for i := 0; i < limit; i++ {
		// The newest is just before next (or at the end while filling).
		j := (r.next - 1 - i + 2*n) % n
		if len(r.buf) < r.max {
			j = n - 1 - i
		}
		out = append(out, r.buf[j])
	}
	return out
}
