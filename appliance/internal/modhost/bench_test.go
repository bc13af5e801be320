package modhost_test

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/capture"
	"github.com/firebreak-ir/firebreak/sdk"
)

// BenchmarkLoadWarmCache is load → verify → compile with the compilation
// cache already holding the module: what a restart of the appliance costs
// per module.
func BenchmarkLoadWarmCache(b *testing.B) {
	pkg := firstParty(b, "portscan")
	dir := b.TempDir()
	h, _ := newHost(b, modhost.Options{CacheDir: dir})
	m, err := h.Load(context.Background(), pkg, nil) // fills the cache
	require.NoError(b, err)
	m.Close(context.Background())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := modhost.New(modhost.Options{CacheDir: dir, Trust: trustTest()})
		require.NoError(b, err)
		_, err = h.Load(context.Background(), pkg, nil)
		require.NoError(b, err)
		h.Close(context.Background())
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
}

func trustTest() *modhost.TrustStore {
	ts := modhost.NewTrustStore()
	ts.Add("test", testKey.Public().(ed25519.PublicKey))
	return ts
}

// BenchmarkInstantiate is instantiate → _initialize → fb_init of a
// compiled module, the cost of a restart after a fault: a Go module (whose
// runtime initialises itself) and the WAT one (no runtime).
func BenchmarkInstantiate(b *testing.B) {
	for _, g := range []struct {
		name string
		pkg  func() *modhost.Package
	}{
		{"go", func() *modhost.Package { return firstParty(b, "portscan") }},
		{"wat", func() *modhost.Package {
			w, _ := os.ReadFile("testdata/conformance.wasm")
			return signed(manifest("wat", nil), w)
		}},
	} {
		b.Run(g.name, func(b *testing.B) {
			h, _ := newHost(b, modhost.Options{})
			m, err := h.Load(context.Background(), g.pkg(), nil)
			require.NoError(b, err)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := h.Pipeline(context.Background(), []*modhost.Module{m}, func(*capture.Event) error { return nil })
				require.NoError(b, p.Finish()) // starts, flushes and discards the instance
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/instantiate")
		})
	}
}

// flowBatch is n flow records, as the host writes them.
func flowBatch(n int) []byte {
	var bl sdk.Builder
	for i := 0; i < n; i++ {
		bl.Begin(sdk.Header{Kind: sdk.KindFlow, Proto: 6, Time: int64(i) * 1e6, FlowID: uint64(i),
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), SrcPort: 40000, DstPort: uint16(i)})
		bl.Uint(sdk.FieldPktsToServer, 5)
		bl.Uint(sdk.FieldPktsToClient, 5)
		bl.Uint(sdk.FieldBytesToServer, 600)
		bl.Uint(sdk.FieldBytesToClient, 900)
		bl.Str(sdk.FieldFlowState, "closed")
		bl.Uint(sdk.FieldTCPFlags, 0x1b)
		bl.End()
	}
	return bl.Bytes()
}

// BenchmarkHostPerEvent is the host's cost per event delivered: writing
// the record into guest memory and one fb_batch call per 512 events, with
// a guest that reads each record's header and a field (the conformance
// guest), and with the WAT guest (no Go runtime).
func BenchmarkHostPerEvent(b *testing.B) {
	for _, g := range []struct {
		name   string
		wasm   func() []byte
		config string
	}{
		{"go-noop", func() []byte { return wasmOf(b, hostileDir) }, "noop"},
		{"go", func() []byte { return wasmOf(b, conformanceDir) }, ""},
		{"wat", func() []byte { w, _ := os.ReadFile("testdata/conformance.wasm"); return w }, ""},
	} {
		b.Run(g.name, func(b *testing.B) {
			h, _ := newHost(b, modhost.Options{})
			m, err := h.Load(context.Background(), signed(manifest("bench", nil), g.wasm()), []byte(g.config))
			require.NoError(b, err)
			p := h.Pipeline(context.Background(), []*modhost.Module{m}, func(*capture.Event) error { return nil })
			batch := flowBatch(512)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Non-flow kind 9 so the guest reads the record but emits nothing.
				for off := 0; off < len(batch); off += int(binary.LittleEndian.Uint32(batch[off:])) {
					binary.LittleEndian.PutUint16(batch[off+4:], uint16(sdk.KindFile))
				}
				require.NoError(b, modhost.CallBatch(p, m, batch))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/event")
		})
	}
}

// BenchmarkInterruptCost measures what wazero's close-on-context-done (the
// only way to stop a looping guest) costs, on a tight arithmetic loop in
// the guest (the worst case: a check on every back-edge) and on the
// portscan module over batches of 512 flows (a real module).
func BenchmarkInterruptCost(b *testing.B) {
	for _, w := range []struct {
		name, config string
		pkg          func() *modhost.Package
		per          int
	}{
		{"spin", "spin", func() *modhost.Package { return signed(manifest("spin", nil), wasmOf(b, hostileDir)) }, 1 << 20},
		{"portscan", `{"ports": 100000, "hosts": 100000}`, func() *modhost.Package { return firstParty(b, "portscan") }, 512},
	} {
		for _, on := range []bool{false, true} {
			name := w.name + "/uninterruptible"
			if on {
				name = w.name + "/interruptible"
			}
			b.Run(name, func(b *testing.B) {
				h, _ := newHost(b, modhost.Options{})
				modhost.SetInterruptible(h, on)
				m, err := h.Load(context.Background(), w.pkg(), []byte(w.config))
				require.NoError(b, err)
				p := h.Pipeline(context.Background(), []*modhost.Module{m}, func(*capture.Event) error { return nil })
				batch := flowBatch(512)
				require.NoError(b, modhost.CallBatch(p, m, batch)) // warm up
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					require.NoError(b, modhost.CallBatch(p, m, batch))
				}
				unit := "ns/event"
				if w.name == "spin" {
					unit = "ns/iteration"
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*w.per), unit)
			})
		}
	}
}

// BenchmarkAnalyzeModules is firebreak analyze's pipeline (decoding, flows,
// metadata, EVE written) with no modules and with the first-party modules,
// on one flow engine both times (as analyze runs when modules are on), over
// the large capture `make bench` generates
// (FIREBREAK_BENCH_PCAP, the one the capture benchmark measures), or else
// over every test capture ten times. The figures that matter: the modules'
// share of the pipeline's own time (target under 0.5) and the module host's
// cost per packet. First-party modules run as analyze runs them, without
// interruption checks; "interruptible" is what any other module costs.
//
// The VM is shared and its speed drifts: each iteration analyses the
// capture without modules and then with them, back to back, and the
// figures are the fastest of each.
func BenchmarkAnalyzeModules(b *testing.B) {
	needTestdata(b)
	pcaps, midstream := []string{os.Getenv("FIREBREAK_BENCH_PCAP")}, false
	if _, err := os.Stat(pcaps[0]); pcaps[0] == "" || err != nil {
		a, _ := filepath.Glob(testdata + "/pcap/*.pcap")
		m, _ := filepath.Glob(testdata + "/pcap/malicious/*.pcap*")
		pcaps, midstream = nil, true
		for i := 0; i < 10; i++ { // ~100k packets: start-up (~10 ms per Go module) is then a small share
			pcaps = append(append(pcaps, a...), m...)
		}
		b.Logf("FIREBREAK_BENCH_PCAP not given: the test captures, ten times (make bench measures the large capture)")
	}
	// analyze runs the capture through mods (none: no modules) and returns
	// the time it took (wall and CPU, the modules' goroutine included), the
	// packets, and the pipeline.
	analyze := func(b *testing.B, h *modhost.Host, mods []*modhost.Module) (time.Duration, time.Duration, uint64, *modhost.Pipeline) {
		// As firebreak analyze runs, and as the capture benchmark measures
		// the pipeline: every event written as EVE.
		w := capture.NewEVEWriter(io.Discard)
		p := h.Pipeline(context.Background(), mods, w.Write)
		emit := p.Emit
		opts := capture.Options{Workers: 1, Midstream: midstream}
		if mods != nil {
			p.Configure(&opts) // the modules' packet taps and flow starts
		} else {
			emit = w.Write
		}
		start, cpu := time.Now(), cpuTime()
		st, err := capture.Analyze(context.Background(), opts, pcaps, emit)
		require.NoError(b, err)
		require.NoError(b, w.Flush())
		return time.Since(start), cpuTime() - cpu, st.Packets, p
	}
	for _, v := range []struct {
		name          string
		uninterrupted []string
	}{{"firstparty", []string{"test"}}, {"firstparty-interruptible", nil}} {
		b.Run(v.name, func(b *testing.B) {
			h, _ := newHost(b, modhost.Options{Uninterruptible: v.uninterrupted})
			mods := loadFirstParty(b, h)
			none, with := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
			noneCPU, withCPU := none, with
			var packets uint64
			var p *modhost.Pipeline
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t, cpu, _, _ := analyze(b, h, nil)
				none, noneCPU = min(none, t), min(noneCPU, cpu)
				t, cpu, packets, p = analyze(b, h, mods)
				with, withCPU = min(with, t), min(withCPU, cpu)
			}
			base := float64(none.Nanoseconds()) / float64(packets)
			perPacket := float64(with.Nanoseconds()) / float64(packets)
			b.ReportMetric(1e9/base, "packets/s-without")
			b.ReportMetric(1e9/perPacket, "packets/s-with")
			b.ReportMetric((perPacket-base)/base, "module-share")
			b.ReportMetric(perPacket-base, "module-ns/packet")
			// What the modules cost in CPU, on whichever core they ran.
			b.ReportMetric(float64(withCPU-noneCPU)/float64(noneCPU), "module-cpu-share")
			for _, name := range firstPartyNames {
				if st := p.Stats[name]; st != nil && st.Events > 0 {
					b.Logf("%-10s %7d events in %4d batches, %6.2f µs/event in the module", name, st.Events, st.Batches,
						float64(st.Time.Nanoseconds())/1e3/float64(st.Events))
				}
			}
		})
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
