package capture

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/capture/internal/benchgen"
	"github.com/firebreak-ir/firebreak/capture/internal/pcapio"
)

// The large-capture benchmarks run Analyze and its peers (tcpdump, tshark,
// ndpiReader) on one generated capture in the same run, and report each
// figure beside the peer's. `make bench` runs them for real on 2 M
// packets; with -benchtime=1x (the CI smoke run) the capture is small.
//
// FIREBREAK_BENCH_PCAP names a capture to reuse (generated there if absent);
// FIREBREAK_BENCH_PACKETS overrides the packet count.

var bench struct {
	once     sync.Once
	path     string
	tmp      string
	n        int
	bytes    int64
	src      *benchgen.Source
	err      error
	peers    map[string]float64 // packets/s (wall) of the peers in this run
	peersCPU map[string]float64 // packets per CPU-second of the peers
}

func smokeRun() bool {
	f := flag.Lookup("test.benchtime")
	return f != nil && f.Value.String() == "1x"
}

func benchPackets() int {
	if v, err := strconv.Atoi(os.Getenv("FIREBREAK_BENCH_PACKETS")); err == nil && v > 0 {
		return v
	}
	if smokeRun() {
		return 20000
	}
	return 2_000_000
}

// benchSource loads the source traffic for the generator.
func benchSource(b *testing.B) *benchgen.Source {
	td := testdataDir(b)
	bench.once.Do(func() {
		bench.src, bench.err = benchgen.Load(filepath.Join(td, "pcap"))
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.src
}

// largeCapture returns the generated capture, writing it on first use.
func largeCapture(b *testing.B) (string, int, int64) {
	src := benchSource(b)
	if bench.path != "" {
		return bench.path, bench.n, bench.bytes
	}
	path := os.Getenv("FIREBREAK_BENCH_PCAP")
	n := benchPackets()
	if path == "" {
		dir, err := os.MkdirTemp("", "firebreak-bench-")
		if err != nil {
			b.Fatal(err)
		}
		bench.tmp = dir
		path = filepath.Join(dir, "large-mixed.pcap")
	}
	if _, err := os.Stat(path); err != nil {
		start := time.Now()
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		err = src.Write(f, n)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("generated %s: %d packets from %d captures in %v", path, n, src.Files, time.Since(start).Round(time.Millisecond))
	}
	// Count what the file holds (it may have been given).
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rd, err := pcapio.Open(f)
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	var st Stats
	for {
		data, _, err := rd.Next()
		if err != nil {
			break
		}
		st.Packets++
		st.Bytes += uint64(len(data))
	}
	bench.path, bench.n, bench.bytes = path, int(st.Packets), int64(st.Bytes)
	return bench.path, bench.n, bench.bytes
}

// resetPeakRSS restarts the kernel's peak-RSS count (VmHWM) for this
// process, so that a later peakRSS reads the peak of what ran in between.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// heapPeak samples the heap in use (live and not yet collected objects,
// as MemStats.HeapInuse but without stopping the world) until stop is
// called, and returns the highest value seen.
func heapPeak() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	sample := func() {
		metrics.Read(samples)
		if v := samples[0].Value.Uint64() + samples[1].Value.Uint64(); v > peak {
			peak = v
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		sample()
		return peak
	}
}

// BenchmarkAnalyzeLarge runs the peers, then Analyze on one core and on all
// cores, then the firebreak command itself the same two ways, on the
// generated capture; our lines carry the ratios to the peers measured in the
// same run.
func BenchmarkAnalyzeLarge(b *testing.B) {
	path, n, bytes := largeCapture(b)
	b.Cleanup(func() {
		if bench.tmp != "" {
			os.RemoveAll(bench.tmp)
			bench.tmp, bench.path = "", ""
		}
	})
	b.Logf("capture: %d packets, %.1f MB, %d CPUs, GOMAXPROCS %d", n, float64(bytes)/1e6, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	bench.peers, bench.peersCPU = map[string]float64{}, map[string]float64{}
	peer := func(name string, args ...string) {
		b.Run(name, func(b *testing.B) {
			if _, err := exec.LookPath(args[0]); err != nil {
				b.Skipf("%s not installed: %v", args[0], err)
			}
			wall, cpu, rss, err := runCommand(b.N, nil, args...)
			if err != nil {
				b.Skipf("%s: %v", name, err)
			}
			bench.peers[name] = float64(b.N*n) / wall.Seconds()
			bench.peersCPU[name] = float64(b.N*n) / cpu.Seconds()
			report(b, n, bytes, wall, cpu)
			b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
		})
	}
	peer("tcpdump", "tcpdump", "-r", path, "-w", "/dev/null")
	peer("tshark", "tshark", "-r", path, "-T", "fields", "-e", "dns.qry.name", "-e", "http.host", "-e", "tls.handshake.extensions_server_name")
	peer("ndpiReader", "ndpiReader", "-q", "-i", path)

	ours := func(name string, procs, workers int) {
		b.Run(name, func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			runtime.GC()
			resetPeakRSS()
			rss0 := peakRSS()
			stopHeap := heapPeak()
			var events uint64
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w := NewEVEWriter(io.Discard)
				st, err := Analyze(context.Background(), Options{Workers: workers}, []string{path}, w.Write)
				if err != nil {
					b.Fatal(err)
				}
				w.Flush()
				events += st.Events
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			heap := stopHeap()
			ratios(b, report(b, n, bytes, b.Elapsed(), cpu), n, cpu)
			b.ReportMetric(float64(events)/float64(b.N), "events")
			b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
			b.Logf("%s: GOMAXPROCS %d, workers %d: peak heap %.1f MiB, peak RSS %.1f MiB (%.1f MiB before)",
				name, procs, workers, float64(heap)/(1<<20), float64(peakRSS())/(1<<20), float64(rss0)/(1<<20))
		})
	}
	ours("firebreak-1core", 1, 1)
	all := runtime.NumCPU()
	ours("firebreak-allcores", all, all)

	// The command a responder runs, `firebreak analyze` without modules,
	// measured as the peers are: a process of its own, EVE to /dev/null.
	bin := firebreakBinary(b)
	command := func(name string, procs int) {
		b.Run(name, func(b *testing.B) {
			env := []string{"GOMAXPROCS=" + strconv.Itoa(procs), "FIREBREAK_DATA=" + b.TempDir()}
			wall, cpu, rss, err := runCommand(b.N, env, bin, "analyze", "--quiet", "--modules", "none", "--eve", os.DevNull, path)
			if err != nil {
				b.Fatal(err)
			}
			ratios(b, report(b, n, bytes, wall, cpu), n, cpu)
			b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
		})
	}
	command("command-1core", 1)
	command("command-allcores", all)
}

// ratios reports our packets/s (and packets per CPU-second, which other
// load on the machine disturbs less) over each peer's from the same run.
func ratios(b *testing.B, pps float64, n int, cpu time.Duration) {
	for _, p := range []string{"tcpdump", "tshark", "ndpiReader"} {
		if v := bench.peers[p]; v > 0 {
			b.ReportMetric(pps/v, "x_"+p)
		}
		if v := bench.peersCPU[p]; v > 0 && cpu > 0 {
			b.ReportMetric(float64(b.N*n)/cpu.Seconds()/v, "x_"+p+"_per_CPU-s")
		}
	}
}

// runCommand runs a command times times and returns its total wall and CPU
// time and its peak resident memory.
func runCommand(times int, env []string, args ...string) (wall, cpu time.Duration, rss int64, err error) {
	for range times {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout = io.Discard
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		wall += time.Since(start)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%w: %s", err, stderr.String())
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss<<10 > rss {
			rss = ru.Maxrss << 10
		}
	}
	return wall, cpu, rss, nil
}

// firebreakBinary builds the firebreak command for a benchmark.
func firebreakBinary(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "firebreak")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "github.com/firebreak-ir/firebreak/appliance/cmd/firebreak")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building firebreak: %v: %s", err, out)
	}
	return bin
}

// report reports packets/s and Gbit/s (wall), and packets per CPU-second,
// which is what matters on a machine shared with other work. It returns
// packets/s.
func report(b *testing.B, n int, bytes int64, wall, cpu time.Duration) float64 {
	pps := float64(b.N*n) / wall.Seconds()
	b.ReportMetric(pps, "packets/s")
	b.ReportMetric(float64(int64(b.N)*bytes)*8/wall.Seconds()/1e9, "Gbit/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N*n)/cpu.Seconds(), "packets/CPU-s")
	}
	return pps
}

// BenchmarkAnalyzeLargeStdin streams a generated capture of growing length
// through Options.Stdin, as a capture larger than memory would arrive, and
// reports the peak heap: it must not grow with the length.
func BenchmarkAnalyzeLargeStdin(b *testing.B) {
	src := benchSource(b)
	sizes := []int{2_000_000, 10_000_000}
	if smokeRun() {
		sizes = []int{20_000, 100_000}
	}
	var peaks []uint64
	for _, n := range sizes {
		b.Run(fmt.Sprintf("packets=%d", n), func(b *testing.B) {
			runtime.GC()
			stopHeap := heapPeak()
			cpu0 := cpuTime()
			var bytes int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pr, pw := io.Pipe()
				gen := make(chan error, 1)
				go func() {
					err := src.Write(pw, n)
					pw.CloseWithError(err)
					gen <- err
				}()
				st, err := Analyze(context.Background(), Options{Stdin: bufio.NewReaderSize(pr, 1<<20)}, []string{"-"}, nil)
				pr.CloseWithError(errors.New("analysis ended"))
				if gerr := <-gen; gerr != nil && err == nil {
					err = gerr
				}
				if err != nil {
					b.Fatal(err)
				}
				if int(st.Packets) != n {
					b.Fatalf("analysed %d packets, generated %d", st.Packets, n)
				}
				bytes = int64(st.Bytes)
			}
			b.StopTimer()
			heap := stopHeap()
			peaks = append(peaks, heap)
			report(b, n, bytes, b.Elapsed(), cpuTime()-cpu0)
			b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MB")
			b.Logf("%d packets streamed through stdin: peak heap %.1f MiB", n, float64(heap)/(1<<20))
			if len(peaks) == 2 && peaks[0] > 0 {
				b.Logf("peak heap %.1f MiB at %d packets, %.1f MiB at %d packets: x%.2f for x%d the length",
					float64(peaks[0])/(1<<20), sizes[0], float64(peaks[1])/(1<<20), sizes[1],
					float64(peaks[1])/float64(peaks[0]), sizes[1]/sizes[0])
			}
		})
	}
}
