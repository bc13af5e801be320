package sensor

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/contain"
	"github.com/firebreak-ir/firebreak/capture"
	"github.com/firebreak-ir/firebreak/netctl"
)

// Live captures on interfaces as a source until ctx is cancelled: every
// packet is analysed into the traffic view and, if opts.Dir is set,
// recorded into evidence segments handed to opts.OnSeal. It returns once
// the sockets are open, or with the configuration error.
func (s *Sensor) Live(ctx context.Context, opts capture.LiveOptions) error {
	src := &Source{Name: strings.Join(opts.Interfaces, ","), Kind: "live", State: Running, Started: time.Now().UTC(), live: new(atomic.Uint64)}
	var copts capture.Options
	emit := s.observe
	run := s.detect(ctx, src.Name, s.observe)
	if run != nil {
		emit = run.Emit
		run.Configure(&copts)
	}
	stream, err := capture.NewStream(copts, emit)
	var c *capture.Capturer
	if err == nil {
		c, err = capture.StartCapture(opts)
	}
	if err != nil {
		if run != nil {
			s.finish(ctx, src.Name, run)
		}
		return err
	}
	s.mu.Lock()
	s.sources = append(s.sources, src)
	s.streams = append(s.streams, stream)
	if run != nil {
		s.runs = append(s.runs, run)
	}
	s.mu.Unlock()
	s.wg.Go(func() {
		st, err := c.Run(ctx, stream, src.live)
		cst, _ := stream.Close()
		if run != nil {
			s.finish(ctx, src.Name, run) // its findings stay for TakeFindings
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		src.Packets, src.Bytes, src.Finished, src.State = cst.Packets, cst.Bytes, time.Now().UTC(), Finished
		for _, i := range st.Interfaces {
			src.Drops += i.Drops
		}
		if err != nil {
			src.State, src.Error = Failed, err.Error()
			s.log.Error("live capture failed", "interfaces", opts.Interfaces, "err", err)
		}
		if s.eveW != nil {
			s.eveW.Flush()
		}
	})
	return nil
}

// FlowsOf lists the open flows of the live sources that have an endpoint
// in the target's prefix, for an isolation plan. It implements
// contain.Flows.
func (s *Sensor) FlowsOf(t netctl.Target) ([]contain.Flow, error) {
	if !t.Prefix.IsValid() {
		return nil, fmt.Errorf("flows are tracked by address; give the isolation an IP as well as the MAC")
	}
	s.mu.Lock()
	streams := append([]*capture.Stream(nil), s.streams...)
	s.mu.Unlock()
	out := []contain.Flow{}
	for _, st := range streams {
		for _, f := range st.Flows() {
			if f.Involves(t.Prefix) {
				out = append(out, contain.Flow{Proto: f.Proto, SrcIP: f.SrcIP, SrcPort: f.SrcPort, DestIP: f.DestIP, DstPort: f.DestPort,
					Packets: f.Packets, Bytes: f.Bytes, Last: f.Last.UTC().Format(time.RFC3339)})
			}
		}
	}
	return out, nil
}
