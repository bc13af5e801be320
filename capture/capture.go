package capture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/firebreak-ir/firebreak/capture/internal/bpf"
	"github.com/firebreak-ir/firebreak/capture/internal/decode"
	"github.com/firebreak-ir/firebreak/capture/internal/engine"
	"github.com/firebreak-ir/firebreak/capture/internal/eve"
	"github.com/firebreak-ir/firebreak/capture/internal/flow"
	"github.com/firebreak-ir/firebreak/capture/internal/pcapio"
	"github.com/gopacket/gopacket/layers"
)

// Event is one EVE record. Its fields carry Suricata's JSON names; marshal
// it with encoding/json or write it with an EVEWriter.
type Event = eve.Event

// Alert is the alert object of an "alert" event, raised by a module.
type Alert = eve.Alert

// Time formats t as EVE timestamps are: 2016-02-02T15:49:13.145227+0000.
func Time(t time.Time) string { return eve.Time(t) }

// Timeouts are flow timeouts in packet time, per protocol and state. Zero
// fields take Suricata's defaults: TCP new 60 s, established 600 s, closed
// 60 s; UDP new 30 s, established 300 s; ICMP new 30 s, established 300 s.
type Timeouts struct {
	TCPNew, TCPEstablished, TCPClosed time.Duration
	UDPNew, UDPEstablished            time.Duration
	ICMPNew, ICMPEstablished          time.Duration
}

// Options configures Analyze. The zero value is the documented default.
type Options struct {
	// StreamDepth is how many bytes of each direction of a TCP connection
	// are reassembled for the application parsers. 0 means 1 MiB
	// (Suricata's default); a negative value means unlimited.
	StreamDepth int64
	// Midstream analyses TCP connections whose handshake was not captured.
	// Off by default, as in Suricata: such flows are counted but get no
	// application metadata.
	Midstream bool
	// Timeouts end idle flows, in packet time.
	Timeouts Timeouts
	// MaxFlows caps the flow table; the flow idle longest is ended (reason
	// "forced") to make room. Default 65536.
	MaxFlows int
	// MemCap bounds the bytes held for TCP reassembly and, separately, by
	// the application parsers, across all flows (so up to twice MemCap in
	// all). Default 256 MiB. Together with MaxFlows and the fragment caps it
	// bounds the analyser's memory whatever the capture holds.
	MemCap int
	// IgnoreVLAN leaves VLAN IDs out of flow tracking
	// (Suricata's vlan.use-for-tracking: false).
	IgnoreVLAN bool
	// CommunityIDSeed is the Community ID v1 seed (default 0).
	CommunityIDSeed uint16
	// DNSPorts are extra ports whose UDP and TCP payloads are parsed as DNS
	// (53 always is). TCP carrying length-prefixed DNS is found on any port.
	DNSPorts []uint16
	// TLSCertificates adds the certificates themselves, base64 DER, to tls
	// events (tls.certificate, tls.chain and the client's), as Suricata's
	// custom TLS fields do.
	TLSCertificates bool
	// BPF keeps only the packets a tcpdump-style filter expression accepts
	// (the supported subset of capture/internal/bpf), as tcpdump -r FILE
	// EXPR would. It applies to Ethernet captures; other link types are
	// skipped with a warning.
	BPF string
	// PacketTaps are tcpdump-style filter expressions (at most 64; "" accepts
	// every packet) for detection modules that look at packets: each packet
	// a tap accepts is also passed to emit as a "packet" event (Event.Packet
	// names the taps), never written as EVE. Taps see Ethernet frames.
	// FlowStarts passes a "flow_start" event to emit when a flow is first
	// seen. Either makes Analyze run one flow engine, as modules need.
	PacketTaps []string
	FlowStarts bool
	// Workers is how many flow engines analyse in parallel, each in its own
	// goroutine, fed by one reader that decodes and dispatches packets by a
	// symmetric hash of their flow. 0 means GOMAXPROCS; 1 keeps the
	// single-engine path. Events of one flow keep their order; events of
	// different flows may interleave differently than with one engine.
	// MaxFlows is shared out among the workers.
	Workers int
	// NoStats suppresses the final "stats" event.
	NoStats bool
	// Stdin is read for the path "-". Default os.Stdin.
	Stdin io.Reader
	// Progress, if set, is told how far reading has come: bytes of the
	// input read so far and its size (-1 for stdin), about every MiB and
	// at the end of each input. It is called from the goroutine reading
	// the input and must return quickly.
	Progress func(file string, read, size int64)
	// Warn receives recoverable problems (damaged records, unreadable
	// inputs). Nil discards them; they are still counted in Stats.
	Warn func(Warning)
}

// Warning is a recoverable problem with one input. Packet is the 1-based
// record number within File (0 when the problem is with the whole file).
// Err matches ErrTruncated, ErrCorrupt or ErrFormat with errors.Is.
type Warning struct {
	File   string
	Packet uint64
	Err    error
}

func (w Warning) String() string {
	if w.Packet == 0 {
		return fmt.Sprintf("%s: %v", w.File, w.Err)
	}
	return fmt.Sprintf("%s: packet %d: %v", w.File, w.Packet, w.Err)
}

// Stats summarises an analysis.
type Stats struct {
	Files       uint64 // inputs read
	Packets     uint64 // records read
	Bytes       uint64 // captured bytes read
	Decoded     uint64 // packets with at least one IP layer decoded
	Undecoded   uint64 // packets without (non-IP, unknown link type, garbage)
	Truncated   uint64 // packets whose headers were cut short
	Fragments   uint64 // IP fragments seen
	Reassembled uint64 // datagrams rebuilt from fragments
	Flows       uint64 // flows created
	FlowsForced uint64 // flows ended early because the table was full
	StreamGaps  uint64 // holes skipped in TCP streams
	Events      uint64 // events emitted
	Warnings    uint64 // warnings raised
}

// Analyze reads the captures at paths ("-" is Options.Stdin) in order, as
// one continuous capture, and passes every event to emit. It returns when
// the inputs are exhausted, ctx is cancelled (ctx.Err()), or emit fails
// (that error). Flows still open at the end are logged with reason
// "shutdown", then a "stats" event unless NoStats is set.
func Analyze(ctx context.Context, opts Options, paths []string, emit func(*Event) error) (Stats, error) {
	var st Stats
	var prog *bpf.Program
	if opts.BPF != "" {
		var err error
		if prog, err = bpf.Compile(opts.BPF, bpf.Options{}); err != nil {
			return st, err
		}
	}
	if len(paths) == 0 {
		return st, ErrNoInput
	}
	if emit == nil {
		emit = func(*Event) error { return nil }
	}
	cfg, err := engineConfig(opts)
	if err != nil {
		return st, err
	}
	if workers := opts.workers(); workers > 1 && len(cfg.Taps) == 0 && !cfg.FlowStarts {
		return analyzeParallel(ctx, opts, prog, paths, emit, workers)
	}
	eng := engine.New(cfg, emit)
	warn := func(w Warning) {
		st.Warnings++
		if opts.Warn != nil {
			opts.Warn(w)
		}
	}
	var n uint64
	var last time.Time
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return st.fill(eng), err
		}
		err := analyzeOne(ctx, opts, prog, path, &n, warn, func(data []byte, info pcapio.Info, n, rec uint64) error {
			last = info.Timestamp
			panics := eng.C.Panics
			if err := eng.Packet(data, info.LinkType, info.Timestamp, n); err != nil {
				return err
			}
			if eng.C.Panics != panics {
				warn(Warning{File: path, Packet: rec, Err: panicWarning(eng.LastPanic)})
			}
			return nil
		})
		st.Files++
		if err != nil {
			return st.fill(eng), err
		}
	}
	panics := eng.C.Panics
	if err := eng.Finish(); err != nil {
		return st.fill(eng), err
	}
	if eng.C.Panics != panics {
		warn(Warning{Err: fmt.Errorf("ending flows: %w", panicWarning(eng.LastPanic))})
	}
	st.fill(eng)
	if !opts.NoStats {
		st.Events++
		if err := emit(statsEvent(&st, eng, last)); err != nil {
			return st, err
		}
	}
	return st, nil
}

// workers is the number of flow engines Analyze runs.
func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// panicWarning is the error of a warning about a panic the engine recovered
// from (engine.Engine.LastPanic): a memory fault means a mapped capture was
// cut short under the analysis while the engine decoded a record of it,
// anything else is a bug.
func panicWarning(err error) error {
	var fault interface{ Addr() uintptr }
	if errors.As(err, &fault) {
		return fmt.Errorf("%w: %s", ErrTruncated, fileChanged)
	}
	return err // it wraps ErrInternal
}

const fileChanged = "the file changed while it was read (another program cut it short)"

// analyzeOne reads one input and passes each record the filter keeps to
// handle, with its packet number n (counted across inputs) and its record
// number rec within the input.
func analyzeOne(ctx context.Context, opts Options, prog *bpf.Program, path string, n *uint64, warn func(Warning), handle func(data []byte, info pcapio.Info, n, rec uint64) error) (err error) {
	var r io.Reader
	if path == "-" {
		r = opts.Stdin
		if r == nil {
			r = os.Stdin
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("open capture: %w", err)
		}
		defer f.Close()
		r = f
	}
	var progress func(int64)
	if opts.Progress != nil {
		size := int64(-1)
		if f, ok := r.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
		}
		progress = func(read int64) { opts.Progress(path, read, size) }
	}
	// A mapped capture that shrinks under us faults on the lost pages:
	// that is a warning about the file, never a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var rec uint64
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			warn(Warning{File: path, Packet: rec + 1, Err: fmt.Errorf("%w: %s", ErrTruncated, fileChanged)})
			err = nil
		}
	}()
	rd, err := pcapio.OpenInput(r, progress)
	if err != nil {
		warn(Warning{File: path, Err: fmt.Errorf("%w: %v", ErrFormat, err)})
		return nil
	}
	defer rd.Close()
	for ; ; rec++ {
		if rec&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		data, info, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			var perr *pcapio.PacketError
			if !errors.As(err, &perr) {
				warn(Warning{File: path, Err: fmt.Errorf("%w: %v", ErrCorrupt, err)})
				return nil
			}
			kind := ErrCorrupt
			if errors.Is(err, pcapio.ErrTruncated) {
				kind = ErrTruncated
			}
			warn(Warning{File: path, Packet: perr.Packet, Err: fmt.Errorf("%w: %v", kind, perr.Err)})
			if perr.Fatal {
				return nil
			}
			continue
		}
		if prog != nil {
			if info.LinkType != layers.LinkTypeEthernet {
				warn(Warning{File: path, Packet: rec + 1, Err: fmt.Errorf("%w: the filter applies to Ethernet captures, this one is %s; file skipped", ErrNotSupported, info.LinkType)})
				return nil
			}
			if !prog.Match(data) {
				continue
			}
		}
		*n++
		if err := handle(data, info, *n, rec+1); err != nil {
			return err
		}
	}
}

func (st *Stats) fill(eng *engine.Engine) Stats {
	c := eng.C
	d := eng.Decoder().Stats
	st.Packets = c.Packets
	st.Bytes = c.Bytes
	st.Decoded = c.Decoded
	st.Undecoded = c.Undecoded
	st.Truncated = d.Truncated
	st.Fragments = d.Fragments
	st.Reassembled = d.Reassembled
	st.Flows = eng.Flows().Created
	st.FlowsForced = eng.Flows().Evicted
	st.StreamGaps = c.StreamGaps
	st.Events = c.Events
	return *st
}

func statsEvent(st *Stats, eng *engine.Engine, last time.Time) *Event {
	d := eng.Decoder().Stats
	app := map[string]any{}
	for k, v := range eng.C.AppTx {
		app[k] = v
	}
	return &Event{
		Timestamp: eve.Time(last),
		EventType: "stats",
		Stats: &eve.StatsRec{
			Capture: map[string]any{"files": st.Files, "warnings": st.Warnings},
			Decoder: map[string]any{
				"pkts": st.Packets, "bytes": st.Bytes, "invalid": d.Invalid, "ethernet": d.Ethernet,
				"ipv4": d.IPv4, "ipv6": d.IPv6, "tcp": d.TCP, "udp": d.UDP, "icmpv4": d.ICMPv4, "icmpv6": d.ICMPv6,
				"vlan": d.VLAN, "mpls": d.MPLS, "pppoe": d.PPPoE, "gre": d.GRE, "erspan": d.ERSPAN,
				"vxlan": d.VXLAN, "teredo": d.Teredo, "truncated": d.Truncated,
				"ipv4_frag": d.Fragments, "defrag_reassembled": d.Reassembled,
			},
			Flow:  map[string]any{"total": st.Flows, "forced": st.FlowsForced, "tcp_gaps": st.StreamGaps},
			AppTx: app,
		},
	}
}

// EVEWriter writes events as EVE JSON lines. It buffers; call Flush at the
// end. It is not safe for concurrent use.
type EVEWriter struct {
	bw *bufio.Writer
}

// NewEVEWriter returns a writer of EVE lines to w.
func NewEVEWriter(w io.Writer) *EVEWriter {
	return &EVEWriter{bw: bufio.NewWriterSize(w, 256<<10)}
}

// Write writes one event as a line. Its signature fits Analyze's emit.
// The line is the document encoding/json would produce for the event
// (without HTML escaping), written by a reflection-free encoder.
func (w *EVEWriter) Write(ev *Event) error {
	// The line is encoded straight into the buffer's free space, kept
	// large enough for all but rare long events.
	if w.bw.Available() < 8<<10 {
		if err := w.bw.Flush(); err != nil {
			return err
		}
	}
	_, err := w.bw.Write(append(ev.AppendJSON(w.bw.AvailableBuffer()), '\n'))
	return err
}

// Flush writes buffered lines to the underlying writer.
func (w *EVEWriter) Flush() error { return w.bw.Flush() }

// engineConfig turns Options into the engine's configuration.
func engineConfig(opts Options) (engine.Config, error) {
	if len(opts.PacketTaps) > 64 {
		return engine.Config{}, fmt.Errorf("%d packet taps: at most 64", len(opts.PacketTaps))
	}
	var taps []*bpf.Program
	for i, expr := range opts.PacketTaps {
		p, err := bpf.Compile(expr, bpf.Options{})
		if err != nil {
			return engine.Config{}, fmt.Errorf("packet tap %d: %w", i, err)
		}
		taps = append(taps, p)
	}
	return engine.Config{
		Taps:            taps,
		FlowStarts:      opts.FlowStarts,
		StreamDepth:     opts.StreamDepth,
		Midstream:       opts.Midstream,
		TLSCertificates: opts.TLSCertificates,
		MemCap:          opts.MemCap,
		AppMemCap:       opts.MemCap,
		DNSPorts:        append([]uint16(nil), opts.DNSPorts...),
		Flow: flow.Options{
			Timeouts: flow.Timeouts{
				TCPNew: opts.Timeouts.TCPNew, TCPEstablished: opts.Timeouts.TCPEstablished, TCPClosed: opts.Timeouts.TCPClosed,
				UDPNew: opts.Timeouts.UDPNew, UDPEstablished: opts.Timeouts.UDPEstablished,
				ICMPNew: opts.Timeouts.ICMPNew, ICMPEstablished: opts.Timeouts.ICMPEstablished,
			},
			MaxFlows:   opts.MaxFlows,
			IgnoreVLAN: opts.IgnoreVLAN,
			Seed:       opts.CommunityIDSeed,
		},
		Decode: decode.Options{},
	}, nil
}

// CheckFilter reports whether a tcpdump-style filter expression compiles
// (PacketTaps, BPF), with the position of the problem if not.
func CheckFilter(expr string) error {
	_, err := bpf.Compile(expr, bpf.Options{})
	return err
}
