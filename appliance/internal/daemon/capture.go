package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
	"github.com/firebreak-ir/firebreak/capture"
)

// CaptureOptions configure live capture from the daemon.
type CaptureOptions struct {
	// Interfaces to capture on. None: no live capture.
	Interfaces []string
	// Filter is a tcpdump-style filter expression ("" captures all).
	Filter string
	// RecordCase is the case whose evidence the recorded pcapng segments
	// become. Empty: traffic is analysed but not recorded.
	RecordCase string
	// SegmentBytes and SegmentTime rotate segments; zero: the recorder's
	// defaults.
	SegmentBytes int64
	SegmentTime  time.Duration
	// MinFree is the disk watermark in bytes below which recording stops;
	// zero: the recorder's default.
	MinFree uint64
}

// captureDir holds segments being written; it is on the vault's filesystem,
// so a sealed segment moves into the vault by a rename.
const captureDir = "capture"

func (d *Daemon) startCapture(ctx context.Context, o CaptureOptions, version string) error {
	lo := capture.LiveOptions{Interfaces: o.Interfaces, Filter: o.Filter, ApplianceID: d.Dir.Identity.ID(),
		MaxBytes: o.SegmentBytes, MaxDuration: o.SegmentTime, MinFree: o.MinFree}
	if o.RecordCase != "" {
		if err := d.Book.View(o.RecordCase, func(c *cases.Case) error {
			if c.IsClosed() {
				return fmt.Errorf("case %s is closed", c.ID)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("--record-case: %w", err)
		}
		lo.Dir, lo.CaseID = filepath.Join(d.Dir.Path, captureDir), o.RecordCase
		if err := os.MkdirAll(lo.Dir, 0o700); err != nil {
			return err
		}
		lo.OnSeal = func(s capture.Segment) { d.sealSegment(o, s, version) }
		lo.OnWatermark = func(free uint64) {
			d.log.Error("disk watermark reached: recording stopped, analysis goes on", "free_bytes", free)
			d.Journal.Append(context.Background(), journal.Record{Journal: o.RecordCase, Actor: "firebreak", Type: "capture.recording_stopped",
				Payload: map[string]any{"reason": "disk watermark", "free_bytes": free, "interfaces": o.Interfaces}})
		}
	} else {
		d.log.Warn("live capture without --record-case: traffic is analysed but not kept as evidence")
	}
	return d.Sensor.Live(ctx, lo)
}

// sealSegment moves a sealed segment into the vault and records it as an
// exhibit of the recording case, with its hash, packet count, first and
// last packet time and the kernel's drops.
func (d *Daemon) sealSegment(o CaptureOptions, s capture.Segment, version string) {
	log := d.log.With("segment", filepath.Base(s.Path), "sha256", s.SHA256)
	if err := d.Vault.Adopt(s.Path, vault.Blob{SHA256: s.SHA256, Size: s.Size}); err != nil {
		log.Error("segment not sealed into the vault; it stays in the capture folder", "err", err)
		return
	}
	var drops uint64
	for _, n := range s.KernelDrops {
		drops += n
	}
	args := []string{"serve", "--capture", strings.Join(o.Interfaces, ",")}
	desc := fmt.Sprintf("live capture segment, %d packets, ended by %s", s.Packets, s.Reason)
	if s.Truncated {
		desc += "; recovered after the appliance stopped abruptly, it ends inside a block (truncated)"
	}
	req := cases.CollectRequest{Category: cases.EvidencePcap, Format: "pcapng", SHA256: s.SHA256, Size: s.Size,
		Source:     cases.EvidenceSource{Host: d.Dir.Identity.ID(), Interface: strings.Join(o.Interfaces, ","), Path: filepath.Base(s.Path)},
		Method:     cases.EvidenceMethod{Tool: "firebreak", Version: version, Args: args, Filter: o.Filter},
		Collectors: []string{"firebreak " + d.Dir.Identity.ID()},
		Start:      s.First, End: s.Last, Packets: s.Packets, KernelDrops: &drops,
		NotSeized:   "network traffic has no original storage medium; it was recorded from the wire by the appliance",
		Description: desc}
	err := d.Book.Do(context.Background(), "firebreak", o.RecordCase, func(c *cases.Case) (cases.Change, error) {
		if it := c.EvidenceByHash(s.SHA256); it != nil {
			return cases.Change{}, nil
		}
		return c.Collect(req)
	})
	if err != nil {
		log.Error("segment sealed but not journaled", "case", o.RecordCase, "err", err)
		return
	}
	log.Info("segment sealed", "case", o.RecordCase, "packets", s.Packets, "kernel_drops", drops)
	d.recordLiveFindings(o.RecordCase, s.SHA256)
}

// recordLiveFindings records in the case what the modules found on the
// live traffic since the last sealed segment, naming that segment as the
// evidence they were found in.
func (d *Daemon) recordLiveFindings(caseID, segment string) {
	fs := d.Sensor.TakeFindings()
	if len(fs) == 0 {
		return
	}
	rec := cases.FindingsRecorded{Source: cases.FindingsLive, Inputs: []string{segment}, Findings: fs}
	err := d.Book.Do(context.Background(), "firebreak", caseID, func(c *cases.Case) (cases.Change, error) { return c.RecordFindings(rec) })
	if err != nil {
		d.log.Error("live findings not journaled", "case", caseID, "findings", len(fs), "err", err)
	}
}
