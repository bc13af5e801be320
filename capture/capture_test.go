package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/pcapio"
)

var update = flag.Bool("update", false, "rewrite golden files")

func pcapPath(t testing.TB, name string) string {
	return filepath.Join(testdataDir(t), "pcap", name+".pcap")
}

// TestGoldenEVE pins the complete EVE output of a few captures (flow_id
// removed: it is stable within a run only). Run with -update to rewrite.
func TestGoldenEVE(t *testing.T) {
	for _, name := range []string{"dns-udp-eve-dig", "bug-2646-01", "ssh-banner-only", "bug-814", "dhcp-eve-extended"} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			// One engine: the golden files pin the order of events too.
			_, err := Analyze(context.Background(), Options{Workers: 1}, []string{pcapPath(t, name)}, func(ev *Event) error {
				c := *ev
				c.FlowID = 0
				b, err := json.Marshal(&c)
				buf.Write(b)
				buf.WriteByte('\n')
				return err
			})
			require.NoError(t, err)
			golden := filepath.Join("testdata", "golden", name+".eve.json")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run with -update to create")
			assert.Equal(t, string(want), buf.String())
		})
	}
}

// TestEncoderMatchesEncodingJSON checks the hand-written EVE encoder
// against encoding/json on every event of every test capture.
func TestEncoderMatchesEncodingJSON(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(testdataDir(t), "pcap", "*.pcap"))
	n := 0
	_, err := Analyze(context.Background(), Options{TLSCertificates: true}, paths, func(ev *Event) error {
		n++
		fast := ev.AppendJSON(nil)
		ref, err := json.Marshal(ev)
		require.NoError(t, err)
		var a, b any
		require.NoError(t, json.Unmarshal(fast, &a), "%s", fast)
		require.NoError(t, json.Unmarshal(ref, &b))
		require.Equal(t, b, a)
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, n, 300)
}

func TestInputs(t *testing.T) {
	raw, err := os.ReadFile(pcapPath(t, "dns-udp-eve-txt"))
	require.NoError(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	dir := t.TempDir()
	gzPath := filepath.Join(dir, "capture.bin") // no .gz suffix: detected by magic
	require.NoError(t, os.WriteFile(gzPath, gz.Bytes(), 0o644))
	junk := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(junk, []byte("not a capture at all"), 0o644))

	for _, tc := range []struct {
		name     string
		paths    []string
		stdin    []byte
		packets  uint64
		warnings int
	}{
		{"plain", []string{pcapPath(t, "dns-udp-eve-txt")}, nil, 4, 0},
		{"gzip by magic", []string{gzPath}, nil, 4, 0},
		{"stdin", []string{"-"}, raw, 4, 0},
		{"gzip on stdin", []string{"-"}, gz.Bytes(), 4, 0},
		{"not a capture", []string{junk, gzPath}, nil, 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warns []Warning
			n := 0
			st, err := Analyze(context.Background(), Options{Stdin: bytes.NewReader(tc.stdin), Warn: func(w Warning) { warns = append(warns, w) }},
				tc.paths, func(ev *Event) error {
					if ev.EventType == "dns" {
						n++
					}
					return nil
				})
			require.NoError(t, err)
			assert.Equal(t, tc.packets, st.Packets)
			assert.Equal(t, 4, n)
			assert.Len(t, warns, tc.warnings)
			for _, w := range warns {
				assert.ErrorIs(t, w.Err, ErrFormat)
			}
		})
	}
}

func TestTruncatedCaptureWarns(t *testing.T) {
	raw, err := os.ReadFile(pcapPath(t, "bug-2646-01"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "cut.pcap")
	require.NoError(t, os.WriteFile(path, raw[:len(raw)-20], 0o644))
	var warns []Warning
	st, err := Analyze(context.Background(), Options{Warn: func(w Warning) { warns = append(warns, w) }}, []string{path}, nil)
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Equal(t, uint64(29), warns[0].Packet, "the last of 29 packets is cut")
	assert.Equal(t, path, warns[0].File)
	assert.ErrorIs(t, warns[0].Err, ErrTruncated)
	assert.Equal(t, uint64(28), st.Packets)
	assert.Contains(t, warns[0].String(), "packet 29")
}

// TestCaptureShrinksWhileRead: a capture file truncated by another program
// while it is analysed (it is read in place, mapped) ends that file with a
// warning, never a crash, whatever goroutine touches the lost pages.
func TestCaptureShrinksWhileRead(t *testing.T) {
	raw, err := os.ReadFile(pcapPath(t, "smb2-ntlmssp-order"))
	require.NoError(t, err)
	require.Greater(t, len(raw), 1<<20, "the file must outlast the first progress report")
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shrinking.pcap")
			require.NoError(t, os.WriteFile(path, raw, 0o644))
			var warns []Warning
			cut := false
			opts := Options{Workers: workers, Warn: func(w Warning) { warns = append(warns, w) },
				Progress: func(_ string, read, _ int64) {
					if read >= 1<<20 && !cut {
						cut = true
						require.NoError(t, os.Truncate(path, 4096))
					}
				}}
			st, err := Analyze(context.Background(), opts, []string{path}, nil)
			require.NoError(t, err)
			require.True(t, cut)
			require.NotEmpty(t, warns)
			for _, w := range warns {
				// The reader meets the lost pages, and so may the decoder
				// reading the record just taken from them.
				t.Log(w)
				assert.ErrorIs(t, w.Err, ErrTruncated)
				assert.Contains(t, w.Err.Error(), "changed while it was read")
			}
			assert.Positive(t, st.Packets)
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	_, err := Analyze(context.Background(), Options{BPF: "tcp port 80 and"}, []string{"x"}, nil)
	assert.ErrorContains(t, err, "filter", "a bad filter is refused before any input is read")
	_, err = Analyze(context.Background(), Options{}, nil, nil)
	assert.ErrorIs(t, err, ErrNoInput)
	_, err = Analyze(context.Background(), Options{}, []string{filepath.Join(t.TempDir(), "missing.pcap")}, nil)
	assert.ErrorIs(t, err, os.ErrNotExist)
	stop := errors.New("stop")
	_, err = Analyze(context.Background(), Options{}, []string{pcapPath(t, "bug-1158")}, func(*Event) error { return stop })
	assert.ErrorIs(t, err, stop)
}

// garbageCapture writes n frames of hostile junk: random bytes, and
// Ethernet/IPv4 frames with random transport headers and payloads on the
// ports the parsers listen to.
func garbageCapture(t testing.TB, n int) string {
	path := filepath.Join(t.TempDir(), "garbage.pcap")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], 1)
	w.Write(h)
	r := rand.New(rand.NewPCG(1, 2))
	frame := make([]byte, 256)
	rec := make([]byte, 16)
	ports := []uint16{53, 80, 443, 22, 67, 123, 4789, 3544, 1053}
	for i := range n {
		l := 14 + r.IntN(120)
		for j := 0; j < l; j += 8 {
			binary.LittleEndian.PutUint64(frame[j:], r.Uint64())
		}
		if r.IntN(4) != 0 {
			frame[12], frame[13] = 0x08, 0x00
			if l < 14+20+8 {
				l = 14 + 20 + 8
			}
			ip := frame[14:]
			ip[0] = 0x45
			binary.BigEndian.PutUint16(ip[2:], uint16(l-14))
			ip[6], ip[7] = 0, 0
			ip[9] = []byte{6, 17, 6, 17, 1, 47}[r.IntN(6)]
			ip[12], ip[13], ip[14], ip[15] = 10, 0, byte(r.IntN(4)), byte(r.IntN(256))
			ip[16], ip[17], ip[18], ip[19] = 10, 1, 0, byte(r.IntN(16))
			binary.BigEndian.PutUint16(ip[22:], ports[r.IntN(len(ports))])
			if ip[9] == 6 && l >= 14+20+20 {
				ip[32] = 0x50 // data offset 5
			}
		}
		binary.LittleEndian.PutUint32(rec[0:], uint32(1600000000+i/1000))
		binary.LittleEndian.PutUint32(rec[4:], uint32(i%1000)*1000)
		binary.LittleEndian.PutUint32(rec[8:], uint32(l))
		binary.LittleEndian.PutUint32(rec[12:], uint32(l))
		w.Write(rec)
		w.Write(frame[:l])
	}
	require.NoError(t, w.Flush())
	return path
}

// TestGarbage: a million hostile frames must not crash, hang or grow memory.
func TestGarbage(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	path := garbageCapture(t, n)
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
			}
		}
	}()
	start := time.Now()
	var events int
	st, err := Analyze(context.Background(), Options{MaxFlows: 20000}, []string{path}, func(*Event) error { events++; return nil })
	close(done)
	require.NoError(t, err)
	assert.Equal(t, uint64(n), st.Packets)
	t.Logf("%d garbage frames in %v: %d events, %d flows, peak heap %d MiB", n, time.Since(start), events, st.Flows, peak.Load()>>20)
	assert.Less(t, peak.Load(), uint64(512<<20), "heap must stay bounded")
}

func TestCancel(t *testing.T) {
	path := garbageCapture(t, 200_000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Analyze(ctx, Options{}, []string{path}, nil)
	assert.ErrorIs(t, err, context.Canceled)
}

func FuzzAnalyze(f *testing.F) {
	td := testdataDir(f)
	for _, name := range []string{"dns-udp-eve-dig", "tls-glupteba", "http-not09", "bug-4810", "ssh-banner-only", "dns-tcp-ts-gap"} {
		if b, err := os.ReadFile(filepath.Join(td, "pcap", name+".pcap")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Analyze(context.Background(), Options{Stdin: bytes.NewReader(data), Midstream: len(data)%2 == 0},
			[]string{"-"}, func(ev *Event) error {
				_, err := json.Marshal(ev)
				return err
			})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// benchCapture concatenates the Ethernet captures of the test data, repeated
// reps times with timestamps one hour apart (so flows of one round time out
// before the next), into one pcap file.
func benchCapture(b testing.TB, reps int, names ...string) (string, uint64) {
	td := testdataDir(b)
	paths, _ := filepath.Glob(filepath.Join(td, "pcap", "*.pcap"))
	if len(names) > 0 {
		paths = paths[:0]
		for _, n := range names {
			paths = append(paths, filepath.Join(td, "pcap", n+".pcap"))
		}
	}
	type rec struct {
		ts   time.Time
		data []byte
	}
	var recs []rec
	for _, p := range paths {
		f, err := os.Open(p)
		require.NoError(b, err)
		r, err := pcapio.Open(f)
		require.NoError(b, err)
		if r.LinkType() != 1 {
			f.Close()
			continue
		}
		var base time.Time
		for {
			data, info, err := r.Next()
			if err != nil {
				break
			}
			if base.IsZero() {
				base = info.Timestamp
			}
			recs = append(recs, rec{time.Unix(1700000000, 0).Add(info.Timestamp.Sub(base)), append([]byte(nil), data...)})
		}
		f.Close()
	}
	path := filepath.Join(b.TempDir(), "bench.pcap")
	f, err := os.Create(path)
	require.NoError(b, err)
	w := bufio.NewWriter(f)
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 262144)
	binary.LittleEndian.PutUint32(h[20:], 1)
	w.Write(h)
	var n uint64
	hdr := make([]byte, 16)
	for i := range reps {
		for _, r := range recs {
			ts := r.ts.Add(time.Duration(i) * time.Hour)
			binary.LittleEndian.PutUint32(hdr[0:], uint32(ts.Unix()))
			binary.LittleEndian.PutUint32(hdr[4:], uint32(ts.Nanosecond()/1000))
			binary.LittleEndian.PutUint32(hdr[8:], uint32(len(r.data)))
			binary.LittleEndian.PutUint32(hdr[12:], uint32(len(r.data)))
			w.Write(hdr)
			w.Write(r.data)
			n++
		}
	}
	require.NoError(b, w.Flush())
	require.NoError(b, f.Close())
	return path, n
}

// BenchmarkAnalyze runs the test data captures, concatenated and repeated,
// through the whole pipeline (decode, flows, reassembly, metadata, EVE JSON
// encoding to a discarding writer) and reports packets/s. Set
// FIREBREAK_BENCH_KEEP to a path to keep the generated capture (to time
// tcpdump -r on the same file).
func BenchmarkAnalyze(b *testing.B) {
	path, n := benchCapture(b, 100)
	benchAnalyze(b, path, n)
}

// BenchmarkAnalyzeBulk is the same on bulk transfers only (SMB2 and an HTTP
// download): few events, large packets.
func BenchmarkAnalyzeBulk(b *testing.B) {
	path, n := benchCapture(b, 100, "smb2-ntlmssp-order", "bug-4376")
	benchAnalyze(b, path, n)
}

func benchAnalyze(b *testing.B, path string, n uint64) {
	if keep := os.Getenv("FIREBREAK_BENCH_KEEP"); keep != "" {
		raw, _ := os.ReadFile(path)
		os.WriteFile(keep, raw, 0o644)
	}
	for _, bc := range []struct {
		name string
		emit func(*Event) error
	}{
		{"eve", NewEVEWriter(discard{}).Write}, // the product: events encoded as EVE JSON
		{"events", nil},                        // events built but not encoded
	} {
		b.Run(bc.name, func(b *testing.B) {
			var pkts, events uint64
			cpu0 := cpuTime()
			for range b.N {
				st, err := Analyze(context.Background(), Options{NoStats: true}, []string{path}, bc.emit)
				if err != nil {
					b.Fatal(err)
				}
				pkts += st.Packets
				events += st.Events
			}
			if pkts != uint64(b.N)*n {
				b.Fatalf("read %d packets, want %d", pkts, uint64(b.N)*n)
			}
			b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "packets/s")
			// CPU time is less sensitive than wall time to other processes
			// sharing the cores; it is the per-core figure.
			b.ReportMetric(float64(pkts)/(cpuTime()-cpu0).Seconds(), "packets/cpu-s")
			b.ReportMetric(float64(events)/float64(pkts), "events/packet")
		})
	}
}

// cpuTime returns the user+system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

var _ = strings.Contains
