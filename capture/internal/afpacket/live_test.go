//go:build linux

package afpacket

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/bpf"
	"github.com/firebreak-ir/firebreak/capture/internal/netlab"
)

// TestLiveMatchesTcpdump captures on both bridge ports of the box with two
// fanout workers per port and a kernel filter, while tcpdump -w captures
// the same ports; real clients (curl, dig, ssh, ping) make the traffic.
// Every frame tcpdump saw must have been delivered, byte for byte, and
// nothing else.
func TestLiveMatchesTcpdump(t *testing.T) {
	l := netlab.NewLab(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed")
	}
	sshOK := netlab.StartServers(t, l)
	const expr = "tcp or udp or arp or icmp"
	prog, err := bpf.Compile(expr, bpf.Options{})
	require.NoError(t, err)

	dir := t.TempDir()
	devs := []string{"c0", "s0"}
	var stops []func()
	for _, dev := range devs {
		stops = append(stops, netlab.StartTcpdump(t, l.Box, dev, filepath.Join(dir, dev+".pcap"), expr))
	}

	var src *Source
	netlab.In(t, l.Box, func() (err error) {
		src, err = Open(Options{Interfaces: devs, Filter: prog.Raw, Workers: 2, BlockSize: 1 << 16, Blocks: 32, BlockTimeout: 5 * time.Millisecond})
		return err
	})
	begin := time.Now() // tcpdump started earlier: compare from here
	var mu sync.Mutex
	got := map[string][]netlab.Frame{}
	workers := map[int]int{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(p *Packet) {
			mu.Lock()
			got[p.IfName] = append(got[p.IfName], netlab.Frame{TS: p.Timestamp, Data: slices.Clone(p.Data)})
			workers[p.Worker]++
			mu.Unlock()
		})
	}()

	netlab.Traffic(t, l, sshOK)
	time.Sleep(300 * time.Millisecond) // let the last frames reach both captures
	cutoff := time.Now()
	cancel()
	require.NoError(t, <-done)
	for _, stop := range stops {
		stop()
	}

	stats := src.Stats()
	for i, dev := range devs {
		// tcpdump starts before and stops after us: compare what both saw
		// while both ran.
		want := netlab.Between(netlab.ReadPcap(t, filepath.Join(dir, dev+".pcap")), begin, cutoff)
		mine := netlab.Between(got[dev], begin, cutoff)
		require.NotEmpty(t, want, "tcpdump saw nothing on %s", dev)
		assert.Equal(t, len(want), len(mine), "%s: packet count, tcpdump vs ours", dev)
		// Fanout workers interleave: compare as multisets of frames.
		count := map[string]int{}
		for _, c := range want {
			count[string(c.Data)]++
		}
		tagged := 0
		for _, c := range mine {
			if len(c.Data) > 16 && c.Data[12] == 0x81 && c.Data[13] == 0x00 && c.Data[15] == 100 {
				tagged++
			}
		}
		assert.Positive(t, tagged, "%s: no 802.1Q-tagged frames delivered", dev)
		// Each socket stamps a frame itself: pair equal frames in order
		// and report how far apart the two clocks readings are.
		tdTimes := map[string][]time.Time{}
		for _, c := range want {
			tdTimes[string(c.Data)] = append(tdTimes[string(c.Data)], c.TS)
		}
		slices.SortFunc(mine, func(a, b netlab.Frame) int { return a.TS.Compare(b.TS) })
		var maxSkew time.Duration
		for _, c := range mine {
			count[string(c.Data)]--
			if q := tdTimes[string(c.Data)]; len(q) > 0 {
				d := c.TS.Sub(q[0])
				maxSkew = max(maxSkew, d, -d)
				tdTimes[string(c.Data)] = q[1:]
			}
		}
		for k, v := range count {
			assert.Zero(t, v, "%s: frame of %d bytes seen %d more times by tcpdump than by us", dev, len(k), v)
		}
		assert.Equal(t, stats[i].Name, dev)
		assert.Zero(t, stats[i].Drops, "%s: kernel drops", dev)
		assert.Equal(t, uint64(len(got[dev])), stats[i].Delivered)
		t.Logf("%s: tcpdump %d frames, ours %d (kernel received %d, drops %d, freezes %d); timestamps within %v of tcpdump's; %d frames with the VLAN tag restored",
			dev, len(want), len(mine), stats[i].Received, stats[i].Drops, stats[i].FreezeQueue, maxSkew, tagged)
	}
	t.Logf("frames per fanout worker: %v; ssh traffic: %v", workers, sshOK)
	assert.Greater(t, len(workers), 1, "fanout spread nothing")
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(Options{})
	assert.ErrorIs(t, err, ErrNoInterface)
	_, err = Open(Options{Interfaces: []string{"lo"}, FilterUsesVLAN: true})
	assert.ErrorIs(t, err, ErrVLANFilter)
	if os.Geteuid() == 0 {
		_, err = Open(Options{Interfaces: []string{"fbcap-none"}})
		assert.ErrorIs(t, err, ErrNoInterface)
	}
}
