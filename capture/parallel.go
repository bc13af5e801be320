package capture

import (
	"context"
	"encoding/binary"
	"math/bits"
	"sync"
	"time"

	"github.com/firebreak-ir/firebreak/capture/internal/bpf"
	"github.com/firebreak-ir/firebreak/capture/internal/decode"
	"github.com/firebreak-ir/firebreak/capture/internal/engine"
	"github.com/firebreak-ir/firebreak/capture/internal/eve"
	"github.com/firebreak-ir/firebreak/capture/internal/pcapio"
)

// The parallel analysis: one goroutine reads and decodes (IP fragments are
// reassembled there, before dispatch), and hands every view to the engine
// owning its flow, chosen by a hash of the view's addresses, ports and
// protocol that is the same in both directions. Each engine runs in its own
// goroutine and sees its flows' packets in capture order, with a tick at
// every new second of packet time so that timeouts fire where a single
// engine would fire them; the events of one flow therefore come out as a
// single engine emits them, pcap_cnt and flow_id included. The caller's
// goroutine merges the engines' events and calls emit (and Options.Warn),
// so neither is ever called concurrently.

const (
	batchItems = 512       // views per batch handed to an engine
	batchBytes = 256 << 10 // payload bytes per batch
	queueDepth = 4         // batches queued per engine
)

// item is one view of a packet (or a tick) for an engine. The payload is
// copied into the batch's arena: the reader's buffer is reused.
type item struct {
	v        decode.View
	off, n   int // payload in the arena
	ts       time.Time
	pkt, rec uint64
	file     int
	tick     bool
}

type batch struct {
	items []item
	arena []byte
}

// output is what the engines and the reader pass to the emitting goroutine.
type output struct {
	events []*eve.Event
	warns  []Warning
}

func analyzeParallel(ctx context.Context, opts Options, prog *bpf.Program, paths []string, emit func(*Event) error, workers int) (Stats, error) {
	var st Stats
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	cfg, _ := engineConfig(opts) // Analyze checked it
	if cfg.Flow.MaxFlows <= 0 {
		cfg.Flow.MaxFlows = 65536
	}
	cfg.Flow.MaxFlows = max(cfg.Flow.MaxFlows/workers, 1)
	front := engine.New(cfg, nil)

	out := make(chan output, 4*workers)
	free := make(chan *batch, (queueDepth+2)*workers)
	ins := make([]chan *batch, workers)
	engs := make([]*engine.Engine, workers)
	var last time.Time // packet time of the last packet read
	var readErr error  // why the reader stopped early
	var wg sync.WaitGroup
	for w := range workers {
		ins[w] = make(chan *batch, queueDepth)
		var evs []*eve.Event
		eng := engine.New(cfg, func(ev *eve.Event) error {
			evs = append(evs, ev)
			return nil
		})
		engs[w] = eng
		wg.Add(1)
		go func() {
			defer wg.Done()
			var warns []Warning
			flush := func() {
				if len(evs) > 0 || len(warns) > 0 {
					out <- output{events: evs, warns: warns}
					evs, warns = nil, nil
				}
			}
			for b := range ins[w] {
				if ctx.Err() == nil {
					for i := range b.items {
						it := &b.items[i]
						if it.tick {
							eng.Tick(it.ts)
							continue
						}
						it.v.Payload = b.arena[it.off : it.off+it.n : it.off+it.n]
						panics := eng.C.Panics
						eng.View(&it.v, it.ts, it.pkt)
						if eng.C.Panics != panics {
							warns = append(warns, Warning{File: paths[it.file], Packet: it.rec, Err: panicWarning(eng.LastPanic)})
						}
					}
					flush()
				}
				b.items, b.arena = b.items[:0], b.arena[:0]
				select {
				case free <- b:
				default:
				}
			}
			// The reader is done (it closed ins[w]): last and readErr are
			// final. As with one engine, a failed input ends the analysis
			// without the flows' shutdown records.
			if ctx.Err() == nil && readErr == nil {
				eng.FinishAt(last)
				flush()
			}
		}()
	}

	// The reader.
	var files uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			for _, in := range ins {
				close(in)
			}
		}()
		cur := make([]*batch, workers)
		newBatch := func() *batch {
			select {
			case b := <-free:
				return b
			default:
				return &batch{items: make([]item, 0, batchItems), arena: make([]byte, 0, batchBytes)}
			}
		}
		for w := range cur {
			cur[w] = newBatch()
		}
		send := func(w int) bool {
			select {
			case ins[w] <- cur[w]:
				cur[w] = newBatch()
				return true
			case <-ctx.Done():
				return false
			}
		}
		warn := func(w Warning) {
			select {
			case out <- output{warns: []Warning{w}}:
			case <-ctx.Done():
			}
		}
		var pkt decode.Packet
		lastSec := int64(-1 << 63)
		var n uint64 // packet number across inputs: pcap_cnt
		for fi, path := range paths {
			if err := ctx.Err(); err != nil {
				readErr = err
				return
			}
			err := analyzeOne(ctx, opts, prog, path, &n, warn, func(data []byte, info pcapio.Info, n, rec uint64) error {
				ts := info.Timestamp
				last = ts
				if sec := ts.Unix(); sec != lastSec {
					lastSec = sec
					for w := range cur {
						cur[w].items = append(cur[w].items, item{ts: ts, tick: true})
					}
				}
				panics := front.C.Panics
				front.Decode(data, info.LinkType, ts, &pkt)
				if front.C.Panics != panics {
					warn(Warning{File: path, Packet: rec, Err: panicWarning(front.LastPanic)})
				}
				for i := 0; i < pkt.N; i++ {
					v := &pkt.Views[i]
					w := shard(v, workers)
					b := cur[w]
					off := len(b.arena)
					b.arena = append(b.arena, v.Payload...)
					b.items = append(b.items, item{v: *v, off: off, n: len(v.Payload), ts: ts, pkt: n, rec: rec, file: fi})
					b.items[len(b.items)-1].v.Payload = nil
				}
				for w, b := range cur {
					if len(b.items) >= batchItems || len(b.arena) >= batchBytes {
						if !send(w) {
							return ctx.Err()
						}
					}
				}
				return nil
			})
			files++
			if err != nil {
				readErr = err
				return
			}
		}
		for w, b := range cur {
			if len(b.items) > 0 && !send(w) {
				readErr = ctx.Err()
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(out)
	}()

	var emitErr error
	for o := range out {
		for _, w := range o.warns {
			st.Warnings++
			if opts.Warn != nil && emitErr == nil {
				opts.Warn(w)
			}
		}
		for _, ev := range o.events {
			if emitErr != nil {
				break
			}
			if err := emit(ev); err != nil {
				emitErr = err
				cancel()
			}
		}
	}
	// Every goroutine is done: their counters can be read.
	for _, eng := range engs {
		front.C.Events += eng.C.Events
		front.C.StreamGaps += eng.C.StreamGaps
		front.C.FlowsEnded += eng.C.FlowsEnded
		for k, v := range eng.C.AppTx {
			front.C.AppTx[k] += v
		}
		for k, v := range eng.C.ByProto {
			front.C.ByProto[k] += v
		}
		front.Flows().Created += eng.Flows().Created
		front.Flows().Evicted += eng.Flows().Evicted
	}
	st.Files = files
	st.fill(front)
	if emitErr != nil {
		return st, emitErr
	}
	if readErr != nil {
		return st, readErr
	}
	if err := parent.Err(); err != nil {
		return st, err // cancelled after the last packet was read
	}
	if !opts.NoStats {
		st.Events++
		if err := emit(statsEvent(&st, front, last)); err != nil {
			return st, err
		}
	}
	return st, nil
}

// shard picks the engine of a view's flow: a hash of its endpoints that is
// the same for both directions (the flow table's key ignores direction too).
func shard(v *decode.View, n int) int {
	sp, dp := v.SrcPort, v.DstPort
	if v.Proto == decode.ProtoICMP || v.Proto == decode.ProtoICMPv6 {
		sp, dp = 0, 0 // as the flow key: ICMP flows are keyed by addresses
	}
	h := endpoint(v.Src.As16(), sp) + endpoint(v.Dst.As16(), dp) + uint64(v.Proto)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}

func endpoint(a [16]byte, port uint16) uint64 {
	x := binary.LittleEndian.Uint64(a[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(a[8:])
	x ^= uint64(port) << 48
	x *= 0xc2b2ae3d27d4eb4f
	return x ^ x>>29
}
