package pcapng

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

type pkt struct {
	ts    time.Time
	iface int
	data  []byte
	orig  int
}

func frames(n int, seed uint64, start time.Time) []pkt {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]pkt, n)
	ts := start
	for i := range out {
		d := make([]byte, 14+rng.IntN(1500))
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		ts = ts.Add(time.Duration(rng.IntN(2_000_000)) * time.Nanosecond)
		orig := len(d)
		if i%7 == 0 {
			orig += 100 // a snapped packet
		}
		out[i] = pkt{ts, i % 2, d, orig}
	}
	return out
}

func sha256File(t *testing.T, p string) (string, int64) {
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), int64(len(b))
}

func testOptions(dir string, segs *[]Segment) Options {
	return Options{
		Dir:         dir,
		Prefix:      "case42",
		MaxBytes:    256 << 10,
		MaxDuration: time.Minute,
		Interfaces:  []Interface{{Name: "c0", Filter: "tcp or udp"}, {Name: "s0", Filter: "tcp or udp"}},
		CaseID:      "2026-0042",
		ApplianceID: "fb-07",
		Hardware:    "test-hw",
		OS:          "test-os",
		UserAppl:    "firebreak-test",
		MinFree:     1 << 20,
		OnSeal:      func(s Segment) { *segs = append(*segs, s) },
	}
}

// TestRoundTrip writes packets on two interfaces through size and time
// rotation and reads every segment back with gopacket's NgReader.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	var segs []Segment
	drops := []uint64{0, 0}
	opts := testOptions(dir, &segs)
	opts.Drops = func() []uint64 { return append([]uint64(nil), drops...) }
	w, err := Create(opts)
	require.NoError(t, err)
	start := time.Date(2026, 11, 24, 3, 0, 0, 123456789, time.UTC)
	in := frames(600, 1, start)
	// A gap of two minutes in packet time forces a time rotation.
	later := frames(50, 2, start.Add(3*time.Minute))
	in = append(in, later...)
	for i, p := range in {
		drops[0] += uint64(i % 3)
		require.NoError(t, w.WritePacket(p.ts, p.iface, p.data, p.orig))
	}
	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
	assert.ErrorIs(t, w.WritePacket(start, 0, nil, 0), ErrClosed)

	reasons := map[string]int{}
	var total uint64
	var totalDrops uint64
	next := 0
	for i, s := range segs {
		reasons[s.Reason]++
		sum, size := sha256File(t, s.Path)
		assert.Equal(t, sum, s.SHA256, "hash in the callback equals sha256 of the file")
		assert.Equal(t, size, s.Size)
		assert.LessOrEqual(t, s.Size, opts.MaxBytes)
		assert.Equal(t, fmt.Sprintf("case42-%06d.pcapng", i+1), filepath.Base(s.Path))
		totalDrops += s.KernelDrops[0]

		f, err := os.Open(s.Path)
		require.NoError(t, err)
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		require.NoError(t, err)
		si := r.SectionInfo()
		assert.Equal(t, "test-hw", si.Hardware)
		assert.Equal(t, "test-os", si.OS)
		assert.Equal(t, "firebreak-test", si.Application)
		assert.Contains(t, si.Comment, "case: 2026-0042")
		assert.Contains(t, si.Comment, "appliance: fb-07")
		assert.Contains(t, si.Comment, "interfaces: c0, s0")
		assert.Contains(t, si.Comment, "filter: tcp or udp")
		var n uint64
		for {
			data, ci, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			want := in[next]
			assert.Equal(t, want.data, data)
			assert.True(t, want.ts.Equal(ci.Timestamp), "timestamp %v != %v", ci.Timestamp, want.ts)
			assert.Equal(t, want.iface, ci.InterfaceIndex)
			assert.Equal(t, want.orig, ci.Length)
			if n == 0 {
				assert.True(t, s.First.Equal(want.ts))
			}
			assert.True(t, s.Last.Equal(want.ts) || s.Last.After(want.ts))
			next++
			n++
		}
		assert.Equal(t, s.Packets, n)
		require.Equal(t, 2, r.NInterfaces())
		for j, name := range []string{"c0", "s0"} {
			ifc, err := r.Interface(j)
			require.NoError(t, err)
			assert.Equal(t, name, ifc.Name)
			assert.Equal(t, "tcp or udp", ifc.Filter)
			assert.Equal(t, layers.LinkTypeEthernet, ifc.LinkType)
			assert.Equal(t, uint32(262144), ifc.SnapLength)
			assert.Equal(t, pcapgo.NgResolution(9), ifc.TimestampResolution)
			// The Interface Statistics Block carries the kernel drops.
			assert.Equal(t, s.KernelDrops[j], ifc.Statistics.PacketsDropped, "isb_ifdrop of %s", name)
			assert.True(t, s.First.Equal(ifc.Statistics.StartTime))
			assert.True(t, s.Last.Equal(ifc.Statistics.EndTime))
		}
		f.Close()
		total += n
	}
	assert.Equal(t, uint64(len(in)), total)
	assert.Equal(t, drops[0], totalDrops, "drops since previous seal add up")
	assert.Positive(t, reasons["size"])
	assert.Equal(t, 1, reasons["time"])
	assert.Equal(t, 1, reasons["close"])
	left, _ := filepath.Glob(filepath.Join(dir, "*.partial"))
	assert.Empty(t, left)

	// The same files through Wireshark's tools, when installed.
	if _, err := exec.LookPath("capinfos"); err == nil {
		out, err := exec.Command("capinfos", "-M", segs[0].Path).CombinedOutput()
		require.NoError(t, err, "%s", out)
		for _, s := range []string{"pcapng", "Number of packets:   " + strconv.FormatUint(segs[0].Packets, 10),
			"Capture hardware:    test-hw", "Capture oper-sys:    test-os", "Capture application: firebreak-test",
			"case: 2026-0042", "Name = c0", "Capture length = 262144", "Time precision = nanoseconds"} {
			assert.Contains(t, string(out), s)
		}
	} else {
		t.Log("capinfos not installed")
	}
	if _, err := exec.LookPath("tshark"); err == nil {
		for _, s := range segs {
			out, err := exec.Command("tshark", "-r", s.Path, "-T", "fields", "-e", "frame.cap_len", "-e", "frame.interface_name").Output()
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			assert.Len(t, lines, int(s.Packets), "tshark reads every packet of %s", s.Path)
		}
	} else {
		t.Log("tshark not installed")
	}
}

// TestHeaderGolden pins the section and interface blocks byte for byte.
func TestHeaderGolden(t *testing.T) {
	var segs []Segment
	w, err := Create(testOptions(t.TempDir(), &segs))
	require.NoError(t, err)
	w.seq = 1
	got := []byte(hex.Dump(w.headers()))
	path := "testdata/header.golden"
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update")
	assert.Equal(t, string(want), string(got))
}

func TestErrorsAndLimits(t *testing.T) {
	var segs []Segment
	w, err := Create(testOptions(t.TempDir(), &segs))
	require.NoError(t, err)
	assert.ErrorIs(t, w.WritePacket(time.Now(), 2, []byte{1}, 1), ErrInterface)
	assert.ErrorIs(t, w.WritePacket(time.Now(), 0, make([]byte, 262145), 1), ErrTooLarge)
	require.NoError(t, w.Close())
	assert.Empty(t, segs, "no packets, no segment")
	_, err = Create(Options{Dir: "/nonexistent/fbcap"})
	assert.Error(t, err)
}

// TestKill9 kills a writer process mid-segment: the earlier segments are
// complete and verifiable, and the one it was writing is left as a
// .partial file that Recover reports as truncated without changing it.
func TestKill9(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$")
	cmd.Env = append(os.Environ(), "FBCAP_PCAPNG_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sealed := map[string]string{}
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(sealed) < 3 {
		if p, sum, ok := strings.Cut(sc.Text(), " "); ok && strings.HasSuffix(p, ".pcapng") {
			sealed[p] = sum
		}
	}
	require.Len(t, sealed, 3, "child sealed segments")
	// Kill once the segment being written has some bytes on disk.
	for i := 0; i < 200; i++ {
		if ps, _ := filepath.Glob(filepath.Join(dir, "*.partial")); len(ps) == 1 {
			if st, err := os.Stat(ps[0]); err == nil && st.Size() > 0 {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()

	for p, sum := range sealed {
		got, _ := sha256File(t, p)
		assert.Equal(t, sum, got, "%s survived intact", p)
	}
	partial, _ := filepath.Glob(filepath.Join(dir, "*.partial"))
	require.Len(t, partial, 1, "exactly one unsealed segment")
	before, size := sha256File(t, partial[0])

	segs, err := Recover(dir)
	require.NoError(t, err)
	require.Len(t, segs, 1)
	s := segs[0]
	assert.Equal(t, before, s.SHA256, "recovery does not change the bytes")
	assert.Equal(t, size, s.Size)
	assert.Equal(t, "recovered", s.Reason)
	assert.True(t, strings.HasSuffix(s.Path, ".truncated.pcapng"))
	after, _ := sha256File(t, s.Path)
	assert.Equal(t, before, after)
	// Readers get the complete packets of the partial file.
	f, err := os.Open(s.Path)
	require.NoError(t, err)
	defer f.Close()
	if s.Size > 0 {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err == nil {
			var n uint64
			for {
				if _, _, err := r.ReadPacketData(); err != nil {
					break
				}
				n++
			}
			assert.Equal(t, s.Packets, n)
		}
	}
	assert.Positive(t, s.Packets)
	assert.True(t, s.Truncated, "killed mid-write: the file ends inside a block")
	t.Logf("partial segment: %d bytes, %d complete packets, ends inside a block: %v", s.Size, s.Packets, s.Truncated)
	again, err := Recover(dir)
	require.NoError(t, err)
	assert.Empty(t, again, "a recovered file is not reported twice")
}

// TestKill9Child is the writer TestKill9 kills; it only runs as a child.
func TestKill9Child(t *testing.T) {
	dir := os.Getenv("FBCAP_PCAPNG_CHILD")
	if dir == "" {
		t.Skip("helper process for TestKill9")
	}
	opts := Options{Dir: dir, MaxBytes: 1 << 20, MinFree: 1 << 20, Interfaces: []Interface{{Name: "c0"}},
		OnSeal: func(s Segment) { fmt.Printf("%s %s\n", s.Path, s.SHA256) }}
	w, err := Create(opts)
	require.NoError(t, err)
	start := time.Now()
	for i := 0; ; i++ {
		for _, p := range frames(100, uint64(i), start) {
			require.NoError(t, w.WritePacket(p.ts, 0, p.data, p.orig))
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWatermark fills a small tmpfs: recording must stop with ErrWatermark
// and a sealed last segment before free space falls below MinFree.
func TestWatermark(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"))
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	var segs []Segment
	var stoppedAt uint64
	calls := 0
	opts := testOptions(dir, &segs)
	opts.MaxBytes = 1 << 20
	opts.MinFree = 2 << 20
	opts.CheckEvery = 512 << 10
	opts.OnWatermark = func(free uint64) { stoppedAt = free; calls++ }
	w, err := Create(opts)
	require.NoError(t, err)
	start := time.Now()
	var werr error
	written := 0
	for i := 0; werr == nil && i < 100; i++ {
		for _, p := range frames(200, uint64(i), start) {
			if werr = w.WritePacket(p.ts, p.iface, p.data, p.orig); werr != nil {
				break
			}
			written++
		}
	}
	require.ErrorIs(t, werr, ErrWatermark)
	assert.ErrorIs(t, w.WritePacket(start, 0, []byte{1}, 1), ErrWatermark, "stays stopped")
	assert.True(t, w.Stopped())
	assert.Equal(t, 1, calls)
	require.NoError(t, w.Close())
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	free := st.Bavail * uint64(st.Bsize)
	assert.GreaterOrEqual(t, free, opts.MinFree, "free space stayed above the watermark")
	require.NotEmpty(t, segs)
	assert.Equal(t, "watermark", segs[len(segs)-1].Reason)
	var n uint64
	for _, s := range segs {
		sum, _ := sha256File(t, s.Path)
		assert.Equal(t, s.SHA256, sum)
		n += s.Packets
	}
	assert.Equal(t, uint64(written), n, "every accepted packet is in a sealed segment")
	t.Logf("stopped with %d bytes free (watermark %d) after %d packets in %d segments; now %d free", stoppedAt, opts.MinFree, written, len(segs), free)
}

// FuzzScan feeds arbitrary bytes to the recovery scanner, which reads
// files a crash left behind: it must never panic or over-count.
func FuzzScan(f *testing.F) {
	var segs []Segment
	w, err := Create(testOptions(f.TempDir(), &segs))
	require.NoError(f, err)
	f.Add(w.headers())
	f.Add([]byte{6, 0, 0, 0, 32, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := scan(b)
		assert.LessOrEqual(t, s.Packets, uint64(len(b)/32))
	})
}

// TestRestartNeverOverwrites reopens a writer on a directory that already
// holds segments: numbering continues and no sealed file changes.
func TestRestartNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	var first, second []Segment
	for _, segs := range []*[]Segment{&first, &second} {
		w, err := Create(testOptions(dir, segs))
		require.NoError(t, err)
		for _, p := range frames(300, 5, time.Now()) {
			require.NoError(t, w.WritePacket(p.ts, p.iface, p.data, p.orig))
		}
		require.NoError(t, w.Close())
	}
	require.NotEmpty(t, first)
	assert.Equal(t, fmt.Sprintf("case42-%06d.pcapng", len(first)+1), filepath.Base(second[0].Path))
	for _, s := range append(first, second...) {
		sum, _ := sha256File(t, s.Path)
		assert.Equal(t, s.SHA256, sum, "%s unchanged", s.Path)
	}
}
