package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/pcapio"
)

// TestPcapNGAndGzipGiveSameEvents converts every test capture to pcapng
// (nanosecond timestamps kept as written by gopacket's writer) and to
// gzip, and checks that the events are the same as from the original.
func TestPcapNGAndGzipGiveSameEvents(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(testdataDir(t), "pcap", "*.pcap"))
	require.NotEmpty(t, paths)
	dir := t.TempDir()
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".pcap")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(p)
			require.NoError(t, err)
			r, err := pcapio.Open(bytes.NewReader(raw))
			require.NoError(t, err)
			var ng bytes.Buffer
			w, err := pcapgo.NewNgWriter(&ng, layers.LinkType(r.LinkType()))
			require.NoError(t, err)
			for {
				data, info, err := r.Next()
				if err != nil {
					break
				}
				require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: info.Timestamp,
					CaptureLength: len(data), Length: info.OrigLen}, data))
			}
			require.NoError(t, w.Flush())
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(ng.Bytes())
			zw.Close()
			ngPath := filepath.Join(dir, name+".pcapng")
			gzPath := filepath.Join(dir, name+".pcapng.gz")
			require.NoError(t, os.WriteFile(ngPath, ng.Bytes(), 0o644))
			require.NoError(t, os.WriteFile(gzPath, gz.Bytes(), 0o644))

			want := eveLines(t, p)
			require.Equal(t, want, eveLines(t, ngPath), "pcapng")
			require.Equal(t, want, eveLines(t, gzPath), "gzip pcapng")
		})
	}
}

func eveLines(t *testing.T, path string) []string {
	var out []string
	_, err := Analyze(context.Background(), Options{Workers: 1}, []string{path}, func(ev *Event) error {
		b, err := json.Marshal(ev)
		out = append(out, string(b))
		return err
	})
	require.NoError(t, err)
	return out
}
