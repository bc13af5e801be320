//go:build linux

package afpacket

import (
	"context"
	"fmt"
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

// TestVLANFiltersMatchTcpdump runs filters compiled with bpf.LinuxVLAN in
// the kernel next to tcpdump (whose libpcap compiles the same expressions
// for a live socket) on the same port, with untagged traffic and frames
// tagged 100 and 200: both must keep exactly the same frames.
func TestVLANFiltersMatchTcpdump(t *testing.T) {
	l := netlab.NewLab(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed")
	}
	// Not "vlan or arp" nor "not vlan and arp": after a vlan test that
	// found no tag in metadata libpcap reads later primitives four bytes
	// further on, so those miss untagged ARP; ours do not (see
	// bpf.Options.LinuxVLAN).
	exprs := []string{"vlan", "vlan 100", "vlan 200", "not vlan", "vlan 100 and udp", "vlan and icmp", "udp", "arp and not vlan",
		"vlan 300 and vlan 100 and udp", "vlan 300 and not vlan 100", "vlan and vlan"}
	dir := t.TempDir()
	var stops []func()
	for i, e := range exprs {
		stops = append(stops, netlab.StartTcpdump(t, l.Box, "c0", filepath.Join(dir, fmt.Sprint(i)+".pcap"), e))
	}
	srcs := make([]*Source, len(exprs))
	for i, e := range exprs {
		p, err := bpf.Compile(e, bpf.Options{LinuxVLAN: true})
		require.NoError(t, err)
		netlab.In(t, l.Box, func() (err error) {
			srcs[i], err = Open(Options{Interfaces: []string{"c0"}, Filter: p.Raw, FilterUsesVLAN: p.UsesVLAN, Workers: 1, Blocks: 4, BlockTimeout: 2 * time.Millisecond})
			return err
		})
	}
	begin := time.Now()
	var mu sync.Mutex
	got := make([][]netlab.Frame, len(exprs))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, src.Run(ctx, func(p *Packet) {
				mu.Lock()
				got[i] = append(got[i], netlab.Frame{TS: p.Timestamp, Data: slices.Clone(p.Data)})
				mu.Unlock()
			}))
		}()
	}
	out, err := netlab.Cmd(context.Background(), l.Cli, "ping", "-c", "2", "-i", "0.2", "10.77.0.2").CombinedOutput()
	require.NoError(t, err, "%s", out)
	netlab.InjectTagged(t, l.Cli, 100, 4)
	netlab.InjectTagged(t, l.Cli, 200, 3)
	netlab.InjectQinQ(t, l.Cli, 300, 100, 2)
	time.Sleep(300 * time.Millisecond)
	cutoff := time.Now()
	cancel()
	wg.Wait()
	for _, stop := range stops {
		stop()
	}
	for i, e := range exprs {
		want := netlab.Between(netlab.ReadPcap(t, filepath.Join(dir, fmt.Sprint(i)+".pcap")), begin, cutoff)
		mine := netlab.Between(got[i], begin, cutoff)
		count := map[string]int{}
		for _, f := range want {
			count[string(f.Data)]++
		}
		for _, f := range mine {
			count[string(f.Data)]--
		}
		for k, v := range count {
			assert.Zero(t, v, "%q: frame of %d bytes kept %d more times by tcpdump than by us", e, len(k), v)
		}
		t.Logf("%-18q tcpdump %2d frames, ours %2d", e, len(want), len(mine))
	}
}
