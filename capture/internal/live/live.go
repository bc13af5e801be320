//go:build linux

// Package live is what `firebreak serve --capture IF...` runs: it compiles
// the filter (capture/internal/bpf), captures on the interfaces
// (capture/internal/afpacket), records every packet into rotating,
// hashed pcapng evidence segments (capture/internal/pcapng) and hands each
// packet to the analysis handler.
//
// API:
//
//	rec, err := live.Start(live.Options{
//		Interfaces: []string{"eth1", "eth2"}, Filter: "not port 22",
//		Dir: segDir, CaseID: id, ApplianceID: box,
//		OnSeal:      func(s pcapng.Segment) { /* vault + journal */ },
//		OnWatermark: func(free uint64) { /* raise an alert */ },
//	})                      // filter compiled, sockets open, segments recovered
//	stats, err := rec.Run(ctx, func(p *afpacket.Packet) { /* decode, flows, EVE */ })
//
// live.Run(ctx, opts, h) does both. Start opens the sockets in the calling
// thread's network namespace.
//
// Before capturing, Run recovers segments a previous run left unsealed
// (pcapng.Recover) and reports each through OnSeal with Reason
// "recovered" and Truncated set when it ends inside a block; the daemon
// seals them into the vault as truncated evidence.
//
// At the disk watermark recording stops (the last segment is sealed,
// OnWatermark is called once) but capture and analysis go on: the
// responder keeps seeing the network, only the evidence copy stops, and
// Stats.NotRecorded counts what was not written.
//
// With several workers per interface, packets of different flows can
// reach a segment slightly out of time order (each flow's own packets stay
// in order, as fanout keeps a flow on one worker); readers sort by
// timestamp where it matters.
//
// This package must never drop a packet silently: every packet is either
// recorded, counted in NotRecorded, or counted as a kernel drop.
package live

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/firebreak-ir/firebreak/capture/internal/afpacket"
	"github.com/firebreak-ir/firebreak/capture/internal/bpf"
	"github.com/firebreak-ir/firebreak/capture/internal/pcapng"
)

// Options configures Start (and Run). Zero values mean the defaults of the
// packages they are passed to.
type Options struct {
	Interfaces []string
	// Filter is a tcpdump-style expression (see capture/internal/bpf for
	// the supported subset), compiled with bpf.Options.LinuxVLAN; ""
	// captures everything.
	Filter string
	// Workers per interface (fanout); 0 means one per CPU.
	Workers int

	// Dir receives the evidence segments; "" disables recording.
	Dir                 string
	CaseID, ApplianceID string
	MaxBytes            int64
	MaxDuration         time.Duration
	MinFree             uint64
	CheckEvery          int64
	OnSeal              func(pcapng.Segment)
	OnWatermark         func(free uint64)
}

// Stats summarises a run.
type Stats struct {
	Interfaces  []afpacket.IfaceStats
	Recorded    uint64 // packets written to segments
	NotRecorded uint64 // packets captured after recording stopped
}

// Recorder is a started capture; Run it once.
type Recorder struct {
	opts Options
	src  *afpacket.Source
	w    *pcapng.Writer
}

// Run is Start followed by Recorder.Run.
func Run(ctx context.Context, opts Options, h afpacket.Handler) (Stats, error) {
	r, err := Start(opts)
	if err != nil {
		return Stats{}, err
	}
	return r.Run(ctx, h)
}

// Start compiles the filter, recovers unsealed segments, opens the sockets
// and prepares the evidence writer. Errors here are configuration errors
// (bad filter, no such interface, no permission, bad directory).
func Start(opts Options) (*Recorder, error) {
	// Compiled for the kernel: "vlan" reads the tag the kernel moved into
	// packet metadata.
	prog, err := bpf.Compile(opts.Filter, bpf.Options{LinuxVLAN: true})
	if err != nil {
		return nil, err
	}
	src, err := afpacket.Open(afpacket.Options{Interfaces: opts.Interfaces, Filter: prog.Raw, FilterUsesVLAN: prog.UsesVLAN, Workers: opts.Workers})
	if err != nil {
		return nil, err
	}
	var w *pcapng.Writer
	if opts.Dir != "" {
		recovered, err := pcapng.Recover(opts.Dir)
		if err != nil {
			src.Close()
			return nil, err
		}
		for _, s := range recovered {
			if opts.OnSeal != nil {
				opts.OnSeal(s)
			}
		}
		ifs := make([]pcapng.Interface, len(opts.Interfaces))
		for i, name := range opts.Interfaces {
			ifs[i] = pcapng.Interface{Name: name, Filter: opts.Filter}
		}
		w, err = pcapng.Create(pcapng.Options{
			Dir: opts.Dir, Interfaces: ifs, CaseID: opts.CaseID, ApplianceID: opts.ApplianceID,
			MaxBytes: opts.MaxBytes, MaxDuration: opts.MaxDuration, MinFree: opts.MinFree, CheckEvery: opts.CheckEvery,
			OnSeal: opts.OnSeal, OnWatermark: opts.OnWatermark,
			Drops: func() []uint64 {
				st := src.Stats()
				d := make([]uint64, len(st))
				for i := range st {
					d[i] = st[i].Drops
				}
				return d
			},
		})
		if err != nil {
			src.Close()
			return nil, err
		}
	}
	return &Recorder{opts: opts, src: src, w: w}, nil
}

// Close releases a Recorder that will not Run (Run releases it itself).
func (r *Recorder) Close() error {
	if r.w != nil {
		r.w.Close()
	}
	return r.src.Close()
}

// Run captures until ctx is cancelled, records and hands packets to h (which
// may be nil), then seals the last segment and returns the final counters.
func (r *Recorder) Run(ctx context.Context, h afpacket.Handler) (Stats, error) {
	opts, src, w := r.opts, r.src, r.w
	index := map[string]int{}
	for i, name := range opts.Interfaces {
		index[name] = i
	}
	var recorded, notRecorded atomic.Uint64
	var werr atomic.Pointer[error]
	runErr := src.Run(ctx, func(p *afpacket.Packet) {
		if w != nil {
			switch err := w.WritePacket(p.Timestamp, index[p.IfName], p.Data, p.Length); {
			case err == nil:
				recorded.Add(1)
			case errors.Is(err, pcapng.ErrWatermark):
				notRecorded.Add(1)
			default:
				notRecorded.Add(1)
				werr.CompareAndSwap(nil, &err)
			}
		}
		if h != nil {
			h(p)
		}
	})
	st := Stats{Interfaces: src.Stats(), Recorded: recorded.Load(), NotRecorded: notRecorded.Load()}
	if w != nil {
		if err := w.Close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	if e := werr.Load(); e != nil && runErr == nil {
		runErr = fmt.Errorf("live: recording failed: %w", *e)
	}
	return st, runErr
}
