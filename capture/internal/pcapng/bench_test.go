package pcapng

import (
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"
)

// BenchmarkWritePacket measures the evidence writer (hashing, rotation
// checks, statfs every 8 MiB) against gopacket's pcapgo.NgWriter writing
// the same packets to the same filesystem without either, in the same run.
// Files go to /dev/shm when it exists so the disk is not what is measured.
func BenchmarkWritePacket(b *testing.B) {
	dir := b.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "fbcap-bench-")
		require.NoError(b, err)
		b.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	in := frames(1024, 9, time.Now())
	var bytes int64
	for _, p := range in {
		bytes += int64(len(p.data))
	}
	const perOp = 1024

	b.Run("firebreak", func(b *testing.B) {
		var segs []Segment
		opts := testOptions(dir, &segs)
		opts.MaxBytes = 256 << 20
		opts.MinFree = 64 << 20
		opts.OnSeal = func(s Segment) { os.Remove(s.Path) }
		w, err := Create(opts)
		require.NoError(b, err)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, p := range in {
				if err := w.WritePacket(p.ts, p.iface, p.data, p.orig); err != nil {
					b.Fatal(err)
				}
			}
		}
		require.NoError(b, w.Close())
		b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "packets/s")
		b.ReportMetric(float64(int64(b.N)*bytes)/b.Elapsed().Seconds()/1e6, "MB/s")
	})
	b.Run("pcapgo-NgWriter", func(b *testing.B) {
		f, err := os.CreateTemp(dir, "peer-*.pcapng")
		require.NoError(b, err)
		defer os.Remove(f.Name())
		defer f.Close()
		w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
		require.NoError(b, err)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, p := range in {
				ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: p.orig}
				if err := w.WritePacket(ci, p.data); err != nil {
					b.Fatal(err)
				}
			}
		}
		require.NoError(b, w.Flush())
		require.NoError(b, f.Sync())
		b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "packets/s")
		b.ReportMetric(float64(int64(b.N)*bytes)/b.Elapsed().Seconds()/1e6, "MB/s")
	})
}
