package capture

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/firebreak-ir/firebreak/capture/internal/afpacket"
	"github.com/firebreak-ir/firebreak/capture/internal/live"
	"github.com/firebreak-ir/firebreak/capture/internal/pcapng"
)

// LiveOptions configure Capture. Zero values are the documented defaults of
// the packages behind it.
type LiveOptions struct {
	// Interfaces to capture on, all at once.
	Interfaces []string
	// Filter is a tcpdump-style expression in the supported subset; ""
	// captures everything.
	Filter string
	// Workers per interface (fanout); 0 means one per CPU.
	Workers int
	// Dir receives the rotating pcapng evidence segments; "" records none.
	Dir string
	// CaseID and ApplianceID go into each segment's section header.
	CaseID, ApplianceID string
	// MaxBytes and MaxDuration rotate segments (by size, by packet time).
	MaxBytes    int64
	MaxDuration time.Duration
	// MinFree is the disk watermark: recording stops cleanly before the
	// free space of Dir goes below it.
	MinFree uint64
	// OnSeal receives every sealed segment, and any a crash left unsealed
	// (Reason "recovered"), to be moved into the vault and journaled.
	OnSeal func(Segment)
	// OnWatermark is called once when recording stops at the watermark.
	OnWatermark func(free uint64)
}

// Segment is a sealed pcapng evidence segment: its path, SHA-256 (computed
// while it was written), size, packet count, first and last packet time
// and the kernel drops since the previous one.
type Segment = pcapng.Segment

// LiveStats are the counters of a finished capture, per interface.
type LiveStats = live.Stats

// Capturer is a live capture whose sockets are open; Run it once.
type Capturer struct{ rec *live.Recorder }

// StartCapture compiles the filter, recovers segments a crash left
// unsealed (through OnSeal), opens the sockets and prepares the evidence
// writer. Its errors are configuration errors: a bad filter, no such
// interface, no permission, a bad folder.
func StartCapture(opts LiveOptions) (*Capturer, error) {
	rec, err := live.Start(live.Options{
		Interfaces: opts.Interfaces, Filter: opts.Filter, Workers: opts.Workers,
		Dir: opts.Dir, CaseID: opts.CaseID, ApplianceID: opts.ApplianceID,
		MaxBytes: opts.MaxBytes, MaxDuration: opts.MaxDuration, MinFree: opts.MinFree,
		OnSeal: opts.OnSeal, OnWatermark: opts.OnWatermark,
	})
	if err != nil {
		return nil, err
	}
	return &Capturer{rec: rec}, nil
}

// Run captures until ctx is cancelled, records the evidence segments,
// analyses every packet in s, and counts packets in packets (if not nil).
// The last segment is sealed before it returns.
func (c *Capturer) Run(ctx context.Context, s *Stream, packets *atomic.Uint64) (LiveStats, error) {
	return c.rec.Run(ctx, func(p *afpacket.Packet) {
		if packets != nil {
			packets.Add(1)
		}
		s.Packet(p.Data, Ethernet, p.Timestamp)
	})
}
