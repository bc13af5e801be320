package capture

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/capture/internal/pcapio"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Packets pushed one by one give the same events as analysing the file,
// and the open flows can be listed while it runs.
func TestStreamMatchesAnalyze(t *testing.T) {
	path := filepath.Join(testdataDir(t), "pcap", "http-gap-simple.pcap")
	var want []string
	_, err := Analyze(context.Background(), Options{NoStats: true, Workers: 1}, []string{path}, func(ev *Event) error {
		b, _ := json.Marshal(ev)
		want = append(want, string(b))
		return nil
	})
	require.NoError(t, err)

	var got []string
	s := NewStream(Options{}, func(ev *Event) error {
		b, _ := json.Marshal(ev)
		got = append(got, string(b))
		return nil
	})
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rd, err := pcapio.Open(bufio.NewReader(f))
	require.NoError(t, err)
	var sawOpen bool
	for {
		data, info, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.NoError(t, s.Packet(data, int(info.LinkType), info.Timestamp))
		for _, fl := range s.Flows() {
			sawOpen = true
			assert.True(t, fl.Involves(netip.MustParsePrefix(fl.SrcIP+"/32")))
			assert.Equal(t, "TCP", fl.Proto)
		}
	}
	assert.True(t, sawOpen, "the flow is listed while it is open")
	st, err := s.Close()
	require.NoError(t, err)
	assert.Positive(t, st.Packets)
	assert.Empty(t, s.Flows(), "closing ends every flow")
	assert.Equal(t, want, got)
}

// A filter keeps the packets tcpdump -r FILE EXPR keeps.
func TestFilterMatchesTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed")
	}
	file := filepath.Join(testdataDir(t), "pcap", "decode-teredo-01.pcap")
	for _, expr := range []string{"udp", "tcp and port 80", "not udp port 53", "host 192.168.2.16"} {
		out, err := exec.Command("tcpdump", "-nn", "-r", file, expr).Output()
		require.NoError(t, err, expr)
		want := uint64(strings.Count(string(out), "\n"))
		st, err := Analyze(context.Background(), Options{BPF: expr, NoStats: true}, []string{file}, nil)
		require.NoError(t, err, expr)
		assert.Equal(t, want, st.Packets, "%q", expr)
	}
	_, err := Analyze(context.Background(), Options{BPF: "tcp[13] & 2 != 0"}, []string{file}, nil)
	assert.ErrorContains(t, err, "not supported", "an expression outside the subset is refused clearly")
}

// Progress is told how far each input has been read, up to its size.
func TestProgress(t *testing.T) {
	file := filepath.Join(testdataDir(t), "pcap", "bug-4376.pcap")
	fi, err := os.Stat(file)
	require.NoError(t, err)
	for _, workers := range []int{1, 2} {
		var calls []int64
		_, err := Analyze(context.Background(), Options{Workers: workers, Progress: func(f string, read, size int64) {
			assert.Equal(t, file, f)
			assert.Equal(t, fi.Size(), size)
			calls = append(calls, read)
		}}, []string{file}, nil)
		require.NoError(t, err)
		require.NotEmpty(t, calls)
		assert.Equal(t, fi.Size(), calls[len(calls)-1], "the last report is the whole file")
		assert.IsNonDecreasing(t, calls)
	}
}
