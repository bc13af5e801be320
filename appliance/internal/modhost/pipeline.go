package modhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-ir/firebreak/capture"
	"github.com/firebreak-ir/firebreak/sdk"
)

// Pipeline feeds capture events to modules and passes every event on,
// followed by the alerts the modules raise. Its Emit fits capture.Analyze's
// emit; Emit, Reconfigure and Finish are called from one goroutine at a time.
//
// The modules run beside the caller, in a goroutine of their own: Emit
// gathers each module's records into a batch and hands the full batch over,
// so the flow engine goes on while the modules work (analyze with modules
// runs one flow engine, which leaves the other cores free). Their alerts are
// passed on by the next Emit, and all of them before Finish returns; the
// order of the events a module sees, and so what it finds, does not change.
type Pipeline struct {
	ctx     context.Context
	h       *Host
	mods    []*Module
	next    func(*capture.Event) error
	scratch sdk.Builder
	done    bool
	batches map[*Module]*batch // being filled, per module

	jobs   chan job
	worker chan struct{} // closed when the worker has returned

	outMu sync.Mutex
	out   []*capture.Event // alerts raised, not yet passed on
	err   error            // the worker's, if it had to stop (cancelled)

	// The worker's own: the packet time of the last event delivered.
	last int64

	// statsMu guards Stats while the worker runs; read them with
	// ModuleStats, or directly once Finish has returned.
	statsMu sync.Mutex
	Stats   map[string]*ModuleStats
}

// batch is records for one module, in host memory, on their way to it.
type batch struct {
	recs   []byte
	events int
	last   int64 // packet time of the last record
}

// job is what the worker does next for a module: deliver a batch, or
// (flush) end its input and discard its instance, then (reconfig) give it
// a new config. done, if set, is told when it is done.
type job struct {
	m        *Module
	b        *batch
	dropped  int // records too large to deliver, to count
	flush    bool
	reconfig bool
	config   []byte
	done     chan struct{}
}

// ModuleStats counts what a module did in a pipeline.
type ModuleStats struct {
	Events, Batches, Alerts, Faults, Dropped int
	Disabled                                 bool
	LastFault                                string
	Time                                     time.Duration // spent in the module's batch calls
}

var batchPool sync.Pool

func (p *Pipeline) newBatch() *batch {
	if b, ok := batchPool.Get().(*batch); ok && cap(b.recs) >= p.h.opts.BatchBytes {
		return b
	}
	return &batch{recs: make([]byte, 0, p.h.opts.BatchBytes)}
}

// Pipeline returns a pipeline over the modules that calls next with every
// event and alert. The modules' first instances start at once, in the
// background (a Go module's runtime takes milliseconds to start).
func (h *Host) Pipeline(ctx context.Context, mods []*Module, next func(*capture.Event) error) *Pipeline {
	p := &Pipeline{ctx: ctx, h: h, mods: mods, next: next, Stats: map[string]*ModuleStats{}, batches: map[*Module]*batch{}}
	for _, m := range mods {
		p.Stats[m.Manifest.Name] = &ModuleStats{}
	}
	p.open()
	return p
}

// open starts the modules' goroutine.
func (p *Pipeline) open() {
	p.done = false
	p.jobs, p.worker = make(chan job, 4*len(p.mods)+4), make(chan struct{})
	go p.work()
}

// work runs the modules: it starts their first instances, then does the
// jobs in the order they come until the channel closes.
func (p *Pipeline) work() {
	defer close(p.worker)
	p.statsMu.Lock()
	for _, m := range p.mods {
		if !m.disabled && m.inst == nil {
			p.keep(p.start(m))
		}
	}
	p.statsMu.Unlock()
	for j := range p.jobs {
		p.statsMu.Lock()
		p.do(j)
		p.statsMu.Unlock()
		if j.b != nil {
			j.b.recs, j.b.events = j.b.recs[:0], 0
			batchPool.Put(j.b)
		}
		if j.done != nil {
			close(j.done)
		}
	}
}

// keep records the first error that stops the worker (a cancelled context,
// or the next stage's error); faults of a module are not such errors.
func (p *Pipeline) keep(err error) {
	if err == nil {
		return
	}
	p.outMu.Lock()
	defer p.outMu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

func (p *Pipeline) stopped() bool {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	return p.err != nil
}

func (p *Pipeline) do(j job) {
	m := j.m
	p.Stats[m.Manifest.Name].Dropped += j.dropped
	if p.stopped() {
		return
	}
	if j.b != nil && !m.disabled {
		p.last = j.b.last
		for rest := sdk.Batch(j.b.recs); ; {
			ev, r, ok := rest.Next()
			if !ok {
				break
			}
			rest = r
			if err := p.append(m, ev); err != nil {
				p.keep(err)
				return
			}
			if m.disabled {
				return
			}
		}
		p.keep(p.run(m, false))
	}
	if j.flush && !m.disabled {
		p.keep(p.run(m, true))
		m.discard(p.ctx)
	}
	if j.reconfig {
		p.setConfig(m, j.config)
	}
}

// setConfig gives m the config its next instance starts with, and journals it.
func (p *Pipeline) setConfig(m *Module, config []byte) {
	m.config = config
	sum := sha256.Sum256(config)
	p.h.journal(p.ctx, "module.reconfigured", map[string]any{"module": m.Manifest.Name, "version": m.Manifest.Version,
		"config_sha256": hex.EncodeToString(sum[:]), "config_bytes": len(config)})
}

// send hands a job to the worker.
func (p *Pipeline) send(j job) error {
	select {
	case p.jobs <- j:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// hand gives the worker m's batch being filled, if it holds anything.
func (p *Pipeline) hand(m *Module) error {
	b := p.batches[m]
	if b == nil || b.events == 0 {
		return nil
	}
	delete(p.batches, m)
	return p.send(job{m: m, b: b})
}

// drain passes on the alerts the modules raised so far.
func (p *Pipeline) drain() error {
	p.outMu.Lock()
	out, err := p.out, p.err
	p.out = nil
	p.outMu.Unlock()
	for _, ev := range out {
		if err := p.next(ev); err != nil {
			return err
		}
	}
	return err
}

// ModuleStats is a copy of what each module did so far, safe to read while
// the pipeline runs.
func (p *Pipeline) ModuleStats() map[string]ModuleStats {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	out := make(map[string]ModuleStats, len(p.Stats))
	for name, st := range p.Stats {
		out[name] = *st
	}
	return out
}

// Configure sets what the analysis feeding the pipeline must produce for
// its modules: one flow engine (what a module finds can depend on the order
// of events across flows, and a replay of the evidence must give the same
// findings), a packet tap per module subscribing to packets, flow starts
// if a module subscribes to them.
func (p *Pipeline) Configure(opts *capture.Options) {
	opts.Workers = 1
	opts.PacketTaps, opts.FlowStarts = nil, false
	for _, m := range p.mods {
		if m.wants(sdk.KindPacket) {
			m.tap = len(opts.PacketTaps)
			opts.PacketTaps = append(opts.PacketTaps, m.filter)
		}
		opts.FlowStarts = opts.FlowStarts || m.wants(sdk.KindFlowStart)
	}
}

// Emit passes ev on and queues it for the modules that subscribe to it.
// The "stats" event closing an analysis first flushes the modules, so
// their last alerts come before it. Packet and flow-start events are for
// the modules only: they are not passed on.
func (p *Pipeline) Emit(ev *capture.Event) error {
	if err := p.drain(); err != nil {
		return err
	}
	if ev.EventType == "stats" {
		if err := p.Finish(); err != nil {
			return err
		}
		return p.next(ev)
	}
	moduleOnly := ev.EventType == "packet" || ev.EventType == "flow_start"
	if !moduleOnly {
		if err := p.next(ev); err != nil {
			return err
		}
	}
	if !p.subscribed(ev.EventType) {
		return nil
	}
	if p.done {
		p.open() // events after Finish: the modules start again, and a later Finish ends them
	}
	p.scratch.Reset()
	k, t, ok := encode(&p.scratch, ev)
	if !ok {
		return nil
	}
	rec := p.scratch.Bytes()
	for _, m := range p.mods {
		if !m.wants(k) || k == sdk.KindPacket && ev.Packet.Taps&(1<<m.tap) == 0 {
			continue
		}
		if len(rec) > p.h.opts.BatchBytes { // larger than the whole buffer: cannot be delivered
			if err := p.send(job{m: m, dropped: 1}); err != nil {
				return err
			}
			continue
		}
		b := p.batches[m]
		if b != nil && (len(b.recs)+len(rec) > p.h.opts.BatchBytes || b.events >= p.h.opts.BatchEvents) {
			if err := p.hand(m); err != nil {
				return err
			}
			b = nil
		}
		if b == nil {
			b = p.newBatch()
			p.batches[m] = b
		}
		b.recs = append(b.recs, rec...)
		b.events++
		b.last = t
	}
	return nil
}

// append writes a record straight into the module's batch buffer, in
// guest memory: the batch is never copied again.
func (p *Pipeline) append(m *Module, rec []byte) error {
	if m.skip > 0 {
		m.skip--
		p.Stats[m.Manifest.Name].Dropped++
		return nil
	}
	if m.inst == nil {
		if err := p.start(m); err != nil || m.inst == nil {
			p.Stats[m.Manifest.Name].Dropped++
			return err
		}
	}
	if m.view == nil {
		v, ok := m.inst.Memory().Read(m.bufPtr, uint32(p.h.opts.BatchBytes))
		if !ok {
			return p.fault(m, m.faultf("fb_batch", ErrBadPointer, "the batch buffer is outside memory"))
		}
		m.view = v
	}
	copy(m.view[m.pending:], rec)
	m.pending += len(rec)
	m.events++
	return nil
}

func (p *Pipeline) start(m *Module) error {
	restart := m.faults > 0
	if err := m.start(p.ctx); err != nil {
		return p.fault(m, err)
	}
	if restart {
		p.h.journal(p.ctx, "module.restarted", map[string]any{"module": m.Manifest.Name, "version": m.Manifest.Version, "faults": m.faults})
	}
	return nil
}

// run delivers the module's pending batch (and, at the end, calls fb_flush).
func (p *Pipeline) run(m *Module, flush bool) error {
	st := p.Stats[m.Manifest.Name]
	if m.inst == nil {
		if !flush {
			return nil
		}
		m.skip = 0
		if err := p.start(m); err != nil || m.inst == nil {
			return err
		}
	}
	if m.pending > 0 {
		n := m.events
		t0 := time.Now()
		rc, err := m.call(p.ctx, "fb_batch", m.fnBatch, uint64(m.pending))
		st.Time += time.Since(t0)
		m.pending, m.events = 0, 0
		st.Batches++
		st.Events += n
		if err == nil && uint32(rc) != 0 {
			err = m.faultf("fb_batch", ErrFailed, "status %d: %s", int32(rc), m.lastErr)
		}
		if err != nil {
			return p.fault(m, err)
		}
		if err := p.deliver(m); err != nil {
			return err
		}
	}
	if flush {
		rc, err := m.call(p.ctx, "fb_flush", m.fnFlush)
		if err == nil && uint32(rc) != 0 {
			err = m.faultf("fb_flush", ErrFailed, "status %d: %s", int32(rc), m.lastErr)
		}
		if err != nil {
			return p.fault(m, err)
		}
		return p.deliver(m)
	}
	return nil
}

// fault discards the instance, journals the fault, and schedules a
// restart with backoff (the next 256, 512, 1024… events are not delivered
// to it; counting events, not wall time, keeps a replay deterministic) or
// disables the module.
// A fault is not an error of the pipeline: the analysis goes on.
func (p *Pipeline) fault(m *Module, err error) error {
	var fe *FaultError
	if !errors.As(err, &fe) {
		return err // cancelled
	}
	m.discard(p.ctx)
	m.faults++
	st := p.Stats[m.Manifest.Name]
	st.Faults++
	st.LastFault = fe.Error()
	payload := map[string]any{"module": m.Manifest.Name, "version": m.Manifest.Version, "call": fe.Call,
		"fault": fe.Err.Error(), "detail": fe.Detail, "faults": m.faults}
	p.h.journal(p.ctx, "module.fault", payload)
	m.log.Warn("module fault; instance discarded", "call", fe.Call, "err", fe)
	if m.faults >= p.h.opts.MaxFaults {
		m.disabled, st.Disabled = true, true
		p.h.journal(p.ctx, "module.disabled", map[string]any{"module": m.Manifest.Name, "version": m.Manifest.Version,
			"faults": m.faults, "last_fault": fe.Error()})
		m.log.Error("module disabled after repeated faults", "faults", m.faults)
		return nil
	}
	m.skip = restartBackoff << (m.faults - 1)
	return nil
}

func (p *Pipeline) deliver(m *Module) error {
	st := p.Stats[m.Manifest.Name]
	if len(m.alerts) > 0 {
		evs := make([]*capture.Event, 0, len(m.alerts))
		for _, a := range m.alerts {
			st.Alerts++
			evs = append(evs, p.alertEvent(m, a))
		}
		p.outMu.Lock()
		p.out = append(p.out, evs...)
		p.outMu.Unlock()
	}
	for _, a := range m.actions {
		// Approval and application are not yet built: the proposal is journaled.
		p.h.journal(p.ctx, "module.action_proposed", map[string]any{"module": m.Manifest.Name,
			"type": a.Type, "target": a.Target, "reason": a.Reason})
	}
	m.alerts, m.actions = m.alerts[:0], m.actions[:0]
	return nil
}

// Reconfigure gives the module called name a new config, as when an
// indicator feed is installed while a live source runs: the events it has
// pending are delivered and its end-of-input flush runs, the instance is
// discarded, and the next event starts one with the new config. It is
// journaled. It reports false if no module has that name.
func (p *Pipeline) Reconfigure(name string, config []byte) (bool, error) {
	for _, m := range p.mods {
		if m.Manifest.Name != name {
			continue
		}
		if p.done { // no instance runs: the next one starts with it
			p.setConfig(m, config)
			return true, nil
		}
		if err := p.hand(m); err != nil {
			return true, err
		}
		done := make(chan struct{})
		if err := p.send(job{m: m, flush: true, reconfig: true, config: config, done: done}); err != nil {
			return true, err
		}
		select {
		case <-done:
		case <-p.ctx.Done():
			return true, p.ctx.Err()
		}
		return true, nil
	}
	return false, nil
}

// Finish delivers what is pending, calls every module's fb_flush, passes on
// their last alerts, and waits for the modules' goroutine to end. Emit
// calls it at the "stats" event; call it yourself when the events end
// without one. A second call does nothing, unless events came in between.
func (p *Pipeline) Finish() error {
	if p.done {
		return nil
	}
	p.done = true
	var err error
	for _, m := range p.mods {
		if err == nil {
			err = p.hand(m)
		}
		if err == nil {
			err = p.send(job{m: m, flush: true})
		}
	}
	close(p.jobs)
	<-p.worker
	if derr := p.drain(); err == nil {
		err = derr
	}
	return err
}

// restartBackoff is the events a module misses after its first fault.
const restartBackoff = 256

// subscribed reports whether any module wants events of this EVE type, so
// that the others are not encoded at all.
func (p *Pipeline) subscribed(eventType string) bool {
	var k sdk.Kind
	switch eventType {
	case "packet":
		k = sdk.KindPacket
	case "flow_start":
		k = sdk.KindFlowStart
	case "flow":
		k = sdk.KindFlow
	case "dns":
		k = sdk.KindDNS
	case "http":
		k = sdk.KindHTTP
	case "tls":
		k = sdk.KindTLS
	case "ssh":
		k = sdk.KindSSH
	case "anomaly":
		k = sdk.KindAnomaly
	default:
		return false
	}
	for _, m := range p.mods {
		if m.wants(k) { // a disabled module's events are dropped by the worker, which owns that state
			return true
		}
	}
	return false
}

var protoNames = map[uint8]string{1: "ICMP", 6: "TCP", 17: "UDP", 58: "IPv6-ICMP", 132: "SCTP"}

// protoNumbers is protoNames the other way, for encoding each event.
var protoNumbers = func() map[string]uint8 {
	m := map[string]uint8{}
	for n, name := range protoNames {
		m[name] = n
	}
	return m
}()

func protoNumber(s string) uint8 { return protoNumbers[s] }

// alertEvent turns what a module emitted into an EVE alert event.
func (p *Pipeline) alertEvent(m *Module, a sdk.Alert) *capture.Event {
	t := a.Time
	if t == 0 {
		t = p.last
	}
	ev := &capture.Event{Timestamp: capture.Time(time.Unix(0, t)), FlowID: a.FlowID, EventType: "alert",
		Proto: protoNames[a.Proto]}
	if a.Src.IsValid() {
		ev.SrcIP = a.Src.String()
	}
	if a.Dst.IsValid() {
		ev.DestIP = a.Dst.String()
	}
	if a.Proto == 6 || a.Proto == 17 || a.Proto == 132 {
		sp, dp := a.SrcPort, a.DstPort
		ev.SrcPort, ev.DestPort = &sp, &dp
	}
	techniques := a.Techniques
	if len(techniques) == 0 {
		techniques = m.Manifest.Techniques
	}
	md := map[string][]string{"firebreak_module": {m.Manifest.Name}, "firebreak_module_version": {m.Manifest.Version},
		"mitre_technique_id": techniques}
	for _, kv := range a.Metadata {
		k, v, _ := strings.Cut(kv, "=")
		md[k] = append(md[k], v)
	}
	ev.Alert = &capture.Alert{Action: "allowed", GID: 1, SignatureID: a.SignatureID, Rev: 1,
		Signature: a.Signature, Category: a.Category, Severity: a.Severity, Metadata: md}
	return ev
}

// encode writes ev as an ABI record; ok is false for events no module can
// subscribe to. It returns the kind and the packet time.
func encode(b *sdk.Builder, ev *capture.Event) (sdk.Kind, int64, bool) {
	var k sdk.Kind
	switch {
	case ev.EventType == "packet" && ev.Packet != nil:
		k = sdk.KindPacket
	case ev.EventType == "flow_start":
		k = sdk.KindFlowStart
	case ev.EventType == "flow" && ev.Flow != nil:
		k = sdk.KindFlow
	case ev.EventType == "dns" && ev.DNS != nil:
		k = sdk.KindDNS
	case ev.EventType == "http" && ev.HTTP != nil:
		k = sdk.KindHTTP
	case ev.EventType == "tls" && ev.TLS != nil:
		k = sdk.KindTLS
	case ev.EventType == "ssh" && ev.SSH != nil:
		k = sdk.KindSSH
	case ev.EventType == "anomaly" && ev.Anomaly != nil:
		k = sdk.KindAnomaly
	default:
		return 0, 0, false
	}
	h := sdk.Header{Kind: k, Proto: protoNumber(ev.Proto), Time: parseTime(ev.Timestamp), FlowID: ev.FlowID}
	h.Src, _ = netip.ParseAddr(ev.SrcIP)
	h.Dst, _ = netip.ParseAddr(ev.DestIP)
	if ev.SrcPort != nil {
		h.SrcPort = *ev.SrcPort
	}
	if ev.DestPort != nil {
		h.DstPort = *ev.DestPort
	}
	b.Begin(h)
	b.Str(sdk.FieldAppProto, ev.AppProto)
	switch k {
	case sdk.KindPacket:
		b.Raw(sdk.FieldPayload, ev.Packet.Payload)
		if ev.Proto == "TCP" {
			b.Uint(sdk.FieldTCPFlags, uint64(ev.Packet.TCPFlags))
		}
		if ev.Packet.EtherType != 0 {
			b.Uint(sdk.FieldEtherType, uint64(ev.Packet.EtherType))
		}
	case sdk.KindFlow:
		f := ev.Flow
		b.Uint(sdk.FieldPktsToServer, f.PktsToServer)
		b.Uint(sdk.FieldPktsToClient, f.PktsToClient)
		b.Uint(sdk.FieldBytesToServer, f.BytesToServer)
		b.Uint(sdk.FieldBytesToClient, f.BytesToClient)
		b.Str(sdk.FieldFlowState, f.State)
		b.Str(sdk.FieldFlowReason, f.Reason)
		if s := parseTime(f.Start); s != 0 {
			b.Uint(sdk.FieldFlowStart, uint64(s))
		}
		if ev.TCP != nil {
			if v, err := strconv.ParseUint(ev.TCP.TCPFlags, 16, 8); err == nil {
				b.Uint(sdk.FieldTCPFlags, v)
			}
			if v, err := strconv.ParseUint(ev.TCP.TCPFlagsTC, 16, 8); err == nil {
				b.Uint(sdk.FieldTCPFlagsTC, v)
			}
		}
	case sdk.KindDNS:
		d := ev.DNS
		b.Str(sdk.FieldDNSType, d.Type)
		b.Uint(sdk.FieldDNSID, uint64(d.ID))
		b.Str(sdk.FieldDNSRCode, d.RCode)
		if len(d.Queries) > 0 {
			b.Str(sdk.FieldDNSRRName, d.Queries[0].RRName)
			b.Str(sdk.FieldDNSRRType, d.Queries[0].RRType)
		}
		for _, a := range d.Answers {
			if a.RData != nil {
				b.Str(sdk.FieldDNSAnswer, *a.RData)
			}
		}
	case sdk.KindHTTP:
		x := ev.HTTP
		b.Str(sdk.FieldHTTPHost, x.Hostname)
		b.Str(sdk.FieldHTTPURL, x.URL)
		b.Str(sdk.FieldHTTPMethod, x.HTTPMethod)
		b.Str(sdk.FieldHTTPUserAgent, x.HTTPUserAgent)
		if x.Status != 0 {
			b.Uint(sdk.FieldHTTPStatus, uint64(x.Status))
		}
		b.Str(sdk.FieldHTTPContentType, x.HTTPContentType)
		b.Str(sdk.FieldHTTPProtocol, x.Protocol)
		b.Str(sdk.FieldHTTPReferer, x.HTTPRefer)
		b.Uint(sdk.FieldHTTPLength, uint64(max(x.Length, 0)))
	case sdk.KindTLS:
		x := ev.TLS
		b.Str(sdk.FieldTLSSNI, x.SNI)
		b.Str(sdk.FieldTLSVersion, x.Version)
		if x.JA3 != nil {
			b.Str(sdk.FieldTLSJA3, x.JA3.Hash)
		}
		if x.JA3S != nil {
			b.Str(sdk.FieldTLSJA3S, x.JA3S.Hash)
		}
		b.Str(sdk.FieldTLSJA4, x.JA4)
		b.Str(sdk.FieldTLSSubject, x.Subject)
		b.Str(sdk.FieldTLSIssuer, x.IssuerDN)
	case sdk.KindSSH:
		if c := ev.SSH.Client; c != nil {
			b.Str(sdk.FieldSSHClient, c.SoftwareVersion)
			if c.Hassh != nil {
				b.Str(sdk.FieldSSHHassh, c.Hassh.Hash)
			}
		}
		if s := ev.SSH.Server; s != nil {
			b.Str(sdk.FieldSSHServer, s.SoftwareVersion)
		}
	case sdk.KindAnomaly: // the header's source is the side that sent what was wrong
		b.Str(sdk.FieldAnomalyType, ev.Anomaly.Type)
		b.Str(sdk.FieldAnomalyEvent, ev.Anomaly.Event)
		b.Str(sdk.FieldAnomalyLayer, ev.Anomaly.Layer)
	}
	b.End()
	return k, h.Time, true
}

// parseTime reads an EVE timestamp (2016-02-02T15:49:13.145227+0000),
// by hand for the form the capture engine writes (time.Parse is a
// noticeable share of the host's time), else with time.Parse.
func parseTime(s string) int64 {
	if len(s) == 31 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == '.' && s[26:] == "+0000" {
		n := func(a, b int) (int, bool) {
			v := 0
			for i := a; i < b; i++ {
				c := s[i]
				if c < '0' || c > '9' {
					return 0, false
				}
				v = v*10 + int(c-'0')
			}
			return v, true
		}
		y, ok1 := n(0, 4)
		mo, ok2 := n(5, 7)
		d, ok3 := n(8, 10)
		h, ok4 := n(11, 13)
		mi, ok5 := n(14, 16)
		se, ok6 := n(17, 19)
		us, ok7 := n(20, 26)
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 {
			return time.Date(y, time.Month(mo), d, h, mi, se, us*1000, time.UTC).UnixNano()
		}
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999-0700", s)
	if err != nil {
		return 0
	}
	return t.UnixNano()
}
