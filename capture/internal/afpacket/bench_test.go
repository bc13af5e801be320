//go:build linux

package afpacket

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/bpf"
	"github.com/firebreak-ir/firebreak/capture/internal/netlab"
	"github.com/firebreak-ir/firebreak/capture/internal/pcapng"
)

type trial struct {
	rate                  int // offered, frames/s (0: unpaced)
	sent                  int
	sendPPS               float64
	ours, oursDrops       uint64 // delivered to the pcapng writer, kernel drops
	oursRecorded          uint64 // packets in sealed segments
	tcpdump, tcpdumpDrops uint64
	// CPU time per frame, user and system: our worker threads (capture
	// loop and pcapng writer), and the tcpdump process. System time may
	// include softirq work of delivering frames that the kernel charged to
	// whichever thread was running.
	oursUser, oursSys, tcpdumpUser, tcpdumpSys time.Duration
}

var tcpdumpStat = regexp.MustCompile(`(\d+) packets (captured|dropped by kernel)`)

func runTrial(b *testing.B, box, dir string, bl *netlab.Blaster, rate, n int) trial {
	tr := trial{rate: rate, sent: n}
	// Same filter and about the same kernel buffer for both.
	const expr = "udp"
	prog, err := bpf.Compile(expr, bpf.Options{})
	require.NoError(b, err)
	tdPath := filepath.Join(dir, fmt.Sprintf("tcpdump-%d.pcap", rate))
	td := netlab.Cmd(context.Background(), box, "tcpdump", "-i", "v0", "-w", tdPath, "-n", "-s", "0", "-B", "65536", expr)
	stderr, err := td.StderrPipe()
	require.NoError(b, err)
	require.NoError(b, td.Start())
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, stderr)
		close(lines)
	}()
	for l := range lines {
		if strings.Contains(l, "listening on") {
			break
		}
	}

	segDir := filepath.Join(dir, fmt.Sprintf("ours-%d", rate))
	require.NoError(b, os.MkdirAll(segDir, 0o755))
	w, err := pcapng.Create(pcapng.Options{Dir: segDir, Interfaces: []pcapng.Interface{{Name: "v0", Filter: expr}},
		MaxBytes: 64 << 20, MinFree: 64 << 20,
		OnSeal: func(s pcapng.Segment) { tr.oursRecorded += s.Packets }})
	require.NoError(b, err)
	var src *Source
	netlab.In(b, box, func() (err error) {
		src, err = Open(Options{Interfaces: []string{"v0"}, Filter: prog.Raw, Workers: 2, Blocks: 32})
		return err
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(p *Packet) {
			if err := w.WritePacket(p.Timestamp, 0, p.Data, p.Length); err != nil {
				b.Error(err)
			}
		})
	}()

	type sendResult struct {
		d   time.Duration
		err error
	}
	sres := make(chan sendResult, 1)
	go func() {
		d, err := bl.Send(n, rate)
		sres <- sendResult{d, err}
	}()
	sr := <-sres
	require.NoError(b, sr.err)
	tr.sendPPS = float64(n) / sr.d.Seconds()
	time.Sleep(300 * time.Millisecond)
	cancel()
	require.NoError(b, <-done)
	require.NoError(b, w.Close())
	st := src.Stats()[0]
	tr.oursUser, tr.oursSys = st.WorkerUser/time.Duration(n), st.WorkerSystem/time.Duration(n)
	tr.ours, tr.oursDrops = st.Delivered, st.Drops

	// tcpdump's ring retires a partly filled block only after its 1 s
	// timeout; stopping it earlier would lose those frames uncounted.
	time.Sleep(1200 * time.Millisecond)
	td.Process.Signal(syscall.SIGINT)
	for l := range lines {
		if m := tcpdumpStat.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseUint(m[1], 10, 64)
			if m[2] == "captured" {
				tr.tcpdump = v
			} else {
				tr.tcpdumpDrops = v
			}
		}
	}
	td.Wait()
	tr.tcpdumpUser = td.ProcessState.UserTime() / time.Duration(n)
	tr.tcpdumpSys = td.ProcessState.SystemTime() / time.Duration(n)
	os.RemoveAll(segDir)
	os.Remove(tdPath)
	return tr
}

// BenchmarkLiveCaptureVeth blasts 60-byte UDP frames over a veth pair at
// rising rates, captures them with this package (two fanout workers)
// recorded to pcapng, and with tcpdump -w on the same interface in the
// same run. It reports the highest offered rate at which this package
// recorded every frame with zero kernel drops, and the drops of both at
// each rate. Output goes to /dev/shm so the disk is not what is measured.
// b.N is ignored: one run is a full sweep.
func BenchmarkLiveCaptureVeth(b *testing.B) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		b.Skip("tcpdump is not installed")
	}
	snd, box := netlab.NewPair(b)
	var dst net.HardwareAddr
	netlab.In(b, box, func() error {
		ifi, err := net.InterfaceByName("v0")
		if err == nil {
			dst = ifi.HardwareAddr
		}
		return err
	})
	bl := netlab.NewBlaster(b, snd, dst)
	dir, err := os.MkdirTemp("/dev/shm", "fbcap-bench-")
	require.NoError(b, err)
	b.Cleanup(func() { os.RemoveAll(dir) })

	// The sender alone, nothing capturing: the ceiling of this machine.
	d, err := bl.Send(300_000, 0)
	require.NoError(b, err)
	ceiling := 300_000 / d.Seconds()
	b.Logf("sender alone, no capture: %.0f frames/s", ceiling)

	b.ResetTimer()
	var best, top trial
	var trials []trial
	for _, rate := range []int{50_000, 100_000, 200_000, 400_000, 0} {
		n := 300_000
		if rate > 0 {
			n = min(rate, 300_000) // about one second of traffic
		}
		tr := runTrial(b, box, dir, bl, rate, n)
		trials = append(trials, tr)
		b.Logf("offered %7d/s sent at %8.0f/s: ours delivered %d recorded %d drops %d cpu %v+%v/frame | tcpdump captured %d drops %d cpu %v+%v/frame",
			tr.rate, tr.sendPPS, tr.ours, tr.oursRecorded, tr.oursDrops, tr.oursUser, tr.oursSys,
			tr.tcpdump, tr.tcpdumpDrops, tr.tcpdumpUser, tr.tcpdumpSys)
		if tr.oursDrops == 0 && tr.oursRecorded == uint64(tr.sent) && tr.sendPPS > best.sendPPS {
			best = tr
		}
		top = tr
	}
	b.StopTimer()
	b.ReportMetric(ceiling, "sender-alone-pps")
	b.ReportMetric(best.sendPPS, "zero-drop-pps")
	b.ReportMetric(float64(best.tcpdumpDrops), "tcpdump-drops-at-that-rate")
	b.ReportMetric(float64(best.tcpdump), "tcpdump-captured-at-that-rate")
	b.ReportMetric(float64(best.sent), "sent-at-that-rate")
	b.ReportMetric(top.sendPPS, "unpaced-pps")
	b.ReportMetric(float64(top.oursDrops), "unpaced-drops")
	b.ReportMetric(float64(top.tcpdumpDrops), "unpaced-tcpdump-drops")
	b.ReportMetric(float64(top.oursUser.Nanoseconds()), "unpaced-user-ns/frame")
	b.ReportMetric(float64(top.oursSys.Nanoseconds()), "unpaced-sys-ns/frame")
	b.ReportMetric(float64(top.tcpdumpUser.Nanoseconds()), "unpaced-tcpdump-user-ns/frame")
	b.ReportMetric(float64(top.tcpdumpSys.Nanoseconds()), "unpaced-tcpdump-sys-ns/frame")
	b.ReportMetric(0, "ns/op")
}
