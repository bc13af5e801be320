//go:build linux

package live

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/firebreak-ir/firebreak/capture/internal/afpacket"
	"github.com/firebreak-ir/firebreak/capture/internal/bpf"
	"github.com/firebreak-ir/firebreak/capture/internal/netlab"
	"github.com/firebreak-ir/firebreak/capture/internal/pcapng"
)

// TestRecordMatchesTcpdump is the evidence path end to end: the box
// records c0 into small rotating segments while tcpdump -w records the same
// port; the sealed segments hold exactly tcpdump's frames, and every hash
// reported at sealing is the SHA-256 of the file on disk.
func TestRecordMatchesTcpdump(t *testing.T) {
	l := netlab.NewLab(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed")
	}
	ssh := netlab.StartServers(t, l)
	dir := t.TempDir()
	segDir := filepath.Join(dir, "segments")
	require.NoError(t, os.Mkdir(segDir, 0o750))
	const expr = "not ip6"
	stop := netlab.StartTcpdump(t, l.Box, "c0", filepath.Join(dir, "tcpdump.pcap"), expr)

	var mu sync.Mutex
	var segs []pcapng.Segment
	var analysed int
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		st  Stats
		err error
	}
	done := make(chan result, 1)
	var rec *Recorder
	netlab.In(t, l.Box, func() (err error) {
		rec, err = Start(Options{Interfaces: []string{"c0"}, Filter: expr, Workers: 2, Dir: segDir,
			CaseID: "2026-0042", ApplianceID: "fb-test", MaxBytes: 48 << 10, MinFree: 1 << 20,
			OnSeal: func(s pcapng.Segment) { mu.Lock(); segs = append(segs, s); mu.Unlock() },
		})
		return err
	})
	begin := time.Now() // tcpdump started earlier: compare from here
	go func() {
		st, err := rec.Run(ctx, func(p *afpacket.Packet) { mu.Lock(); analysed++; mu.Unlock() })
		done <- result{st, err}
	}()
	netlab.Traffic(t, l, ssh)
	time.Sleep(300 * time.Millisecond)
	cutoff := time.Now()
	cancel()
	r := <-done
	require.NoError(t, r.err)
	stop()

	// tcpdump starts before and stops after us: compare what both saw
	// while both ran.
	want := netlab.Between(netlab.ReadPcap(t, filepath.Join(dir, "tcpdump.pcap")), begin, cutoff)
	count := map[string]int{}
	for _, f := range want {
		count[string(f.Data)]++
	}
	var total, all uint64
	require.Greater(t, len(segs), 1, "segments rotated")
	for _, s := range segs {
		b, err := os.ReadFile(s.Path)
		require.NoError(t, err)
		sum := sha256.Sum256(b)
		assert.Equal(t, hex.EncodeToString(sum[:]), s.SHA256, "%s", s.Path)
		f, err := os.Open(s.Path)
		require.NoError(t, err)
		rd, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		require.NoError(t, err)
		assert.Contains(t, rd.SectionInfo().Comment, "case: 2026-0042")
		for {
			data, ci, err := rd.ReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			all++
			if ci.Timestamp.Before(begin) || !ci.Timestamp.Before(cutoff) {
				continue
			}
			count[string(data)]--
			total++
		}
		f.Close()
		assert.Equal(t, []uint64{0}, s.KernelDrops)
	}
	for k, v := range count {
		assert.Zero(t, v, "frame of %d bytes: tcpdump saw it %d more times than the segments hold", len(k), v)
	}
	assert.Equal(t, uint64(len(want)), total)
	assert.Equal(t, r.st.Recorded, all)
	assert.Zero(t, r.st.NotRecorded)
	assert.Equal(t, int(all), analysed, "every packet also went to analysis")
	t.Logf("tcpdump %d frames; %d segments hold %d frames; kernel drops %d", len(want), len(segs), total, r.st.Interfaces[0].Drops)
}

func TestStartFilters(t *testing.T) {
	_, err := Start(Options{Interfaces: []string{"lo"}, Filter: "host example.com"})
	assert.ErrorIs(t, err, bpf.ErrUnsupported)
	netlab.RequireRoot(t)
	// vlan filters compile for the kernel's tag metadata.
	r, err := Start(Options{Interfaces: []string{"lo"}, Filter: "vlan 5 and udp", Workers: 1})
	require.NoError(t, err)
	require.NoError(t, r.Close())
}

// TestWatermarkKeepsCapturing fills a small tmpfs with recorded traffic:
// recording stops at the watermark with the last segment sealed and one
// alert, while capture and analysis carry on and every packet is
// accounted for as recorded or not recorded.
func TestWatermarkKeepsCapturing(t *testing.T) {
	snd, box := netlab.NewPair(t)
	dir := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"))
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })

	var mu sync.Mutex
	var segs []pcapng.Segment
	alerts := 0
	var analysed uint64
	var rec *Recorder
	var dst net.HardwareAddr
	netlab.In(t, box, func() (err error) {
		ifi, err := net.InterfaceByName("v0")
		if err != nil {
			return err
		}
		dst = ifi.HardwareAddr
		rec, err = Start(Options{Interfaces: []string{"v0"}, Filter: "udp", Workers: 2, Dir: dir,
			MaxBytes: 1 << 20, MinFree: 1 << 20, CheckEvery: 256 << 10,
			OnSeal:      func(s pcapng.Segment) { mu.Lock(); segs = append(segs, s); mu.Unlock() },
			OnWatermark: func(uint64) { mu.Lock(); alerts++; mu.Unlock() },
		})
		return err
	})
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		st  Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := rec.Run(ctx, func(p *afpacket.Packet) { mu.Lock(); analysed++; mu.Unlock() })
		done <- result{st, err}
	}()
	bl := netlab.NewBlaster(t, snd, dst)
	const n = 60_000 // ~5.5 MB of pcapng: more than the tmpfs holds
	_, err := bl.Send(n, 100_000)
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	cancel()
	r := <-done
	require.NoError(t, r.err)

	assert.Equal(t, 1, alerts, "one watermark alert")
	require.NotEmpty(t, segs)
	assert.Equal(t, "watermark", segs[len(segs)-1].Reason)
	var inSegs uint64
	for _, s := range segs {
		inSegs += s.Packets
	}
	assert.Equal(t, r.st.Recorded, inSegs)
	assert.Positive(t, r.st.NotRecorded)
	// The veth may drop a few frames at its receive backlog under load,
	// before capture; everything the socket delivered is accounted for.
	got := r.st.Interfaces[0].Delivered
	assert.GreaterOrEqual(t, got, uint64(n*9/10))
	assert.Equal(t, got, r.st.Recorded+r.st.NotRecorded, "every frame recorded or counted as not recorded")
	assert.Equal(t, got, analysed, "analysis saw every frame")
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	assert.GreaterOrEqual(t, st.Bavail*uint64(st.Bsize), uint64(1<<20), "free space stayed above the watermark")
	t.Logf("recorded %d frames in %d segments, %d not recorded after the watermark; %d bytes free",
		r.st.Recorded, len(segs), r.st.NotRecorded, st.Bavail*uint64(st.Bsize))
}

func TestStartClose(t *testing.T) {
	netlab.RequireRoot(t)
	dir := t.TempDir()
	// A segment a crashed run left behind is reported at Start.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "capture-000001.pcapng.partial"), []byte{0x0a, 0x0d, 0x0d}, 0o640))
	var segs []pcapng.Segment
	r, err := Start(Options{Interfaces: []string{"lo"}, Workers: 1, Dir: dir, MinFree: 1 << 20,
		OnSeal: func(s pcapng.Segment) { segs = append(segs, s) }})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.Len(t, segs, 1)
	assert.Equal(t, "recovered", segs[0].Reason)
	assert.True(t, segs[0].Truncated)
	assert.FileExists(t, filepath.Join(dir, "capture-000001.truncated.pcapng"))
}
