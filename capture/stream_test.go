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
	s, err := NewStream(Options{}, func(ev *Event) error {
		b, _ := json.Marshal(ev)
		got = append(got, string(b))
		return nil
	})
	require.NoError(t, err)
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

// Packet taps hand on the packets tcpdump -r FILE EXPR keeps, each naming
// the taps that accepted it; flow starts come one per flow, before the
// flow's other events. Neither changes the EVE events.
func TestPacketTapsAndFlowStarts(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed")
	}
	file := filepath.Join(testdataDir(t), "pcap", "decode-teredo-01.pcap")
	taps := []string{"udp", "tcp and port 80", "ip or ip6"}
	var plain []string
	_, err := Analyze(context.Background(), Options{Workers: 1}, []string{file}, func(ev *Event) error {
		plain = append(plain, ev.EventType+" "+ev.Timestamp)
		return nil
	})
	require.NoError(t, err)

	counts := make([]uint64, len(taps))
	var rest []string
	started := map[uint64]bool{}
	st, err := Analyze(context.Background(), Options{PacketTaps: taps, FlowStarts: true}, []string{file}, func(ev *Event) error {
		switch ev.EventType {
		case "packet":
			require.NotZero(t, ev.Packet.Taps)
			for i := range taps {
				if ev.Packet.Taps&(1<<i) != 0 {
					counts[i]++
				}
			}
		case "flow_start":
			assert.False(t, started[ev.FlowID], "one flow_start per flow")
			started[ev.FlowID] = true
		default:
			if ev.EventType == "flow" {
				assert.True(t, started[ev.FlowID], "flow %d ended without a flow_start", ev.FlowID)
			}
			rest = append(rest, ev.EventType+" "+ev.Timestamp)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, plain, rest, "taps and flow starts add events, they change none")
	assert.Equal(t, int(st.Flows), len(started))
	assert.Positive(t, counts[0])
	assert.Greater(t, counts[2], counts[0], "every IP packet, not only UDP")
	for i, expr := range taps {
		out, err := exec.Command("tcpdump", "-nn", "-r", file, expr).Output()
		require.NoError(t, err, expr)
		assert.Equal(t, uint64(strings.Count(string(out), "\n")), counts[i], "tap %q", expr)
	}

	_, err = Analyze(context.Background(), Options{PacketTaps: []string{"tcp[13] & 2 != 0"}}, []string{file}, nil)
	assert.ErrorContains(t, err, "packet tap 0", "a tap outside the subset is refused clearly")
	_, err = NewStream(Options{PacketTaps: []string{"port"}}, nil)
	assert.Error(t, err)
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
