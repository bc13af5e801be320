//go:build linux

package afpacket

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/netlab"
)

// TestDropsCounted overruns a tiny ring with a slow handler: the kernel's
// drops and queue freezes must show up in Stats, and every frame the kernel
// accepted must be either delivered or counted as dropped.
func TestDropsCounted(t *testing.T) {
	snd, box := netlab.NewPair(t)
	var src *Source
	var dst net.HardwareAddr
	netlab.In(t, box, func() (err error) {
		ifi, err := net.InterfaceByName("v0")
		if err != nil {
			return err
		}
		dst = ifi.HardwareAddr
		src, err = Open(Options{Interfaces: []string{"v0"}, Workers: 1, BlockSize: 4096, Blocks: 2, BlockTimeout: time.Millisecond})
		return err
	})
	var delivered atomic.Uint64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(p *Packet) {
			delivered.Add(1)
			time.Sleep(200 * time.Microsecond)
		})
	}()
	bl := netlab.NewBlaster(t, snd, dst)
	const n = 5000
	_, err := bl.Send(n, 0)
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	st := src.Stats()[0]
	t.Logf("sent %d: kernel received %d, dropped %d, queue freezes %d; delivered %d", n, st.Received, st.Drops, st.FreezeQueue, st.Delivered)
	assert.Positive(t, st.Drops)
	assert.Positive(t, st.FreezeQueue)
	assert.Equal(t, delivered.Load(), st.Delivered)
	assert.Equal(t, st.Received, st.Delivered+st.Drops, "every accepted frame is delivered or counted as dropped")
	// The veth may drop a few frames at the receive backlog under load,
	// before any socket sees them; those are not the socket's to count.
	assert.LessOrEqual(t, st.Received, uint64(n))
}

func TestRunAfterClose(t *testing.T) {
	netlab.RequireRoot(t)
	src, err := Open(Options{Interfaces: []string{"lo"}, Workers: 1, Blocks: 2})
	require.NoError(t, err)
	require.NoError(t, src.Close())
	assert.ErrorIs(t, src.Run(context.Background(), func(*Packet) {}), ErrRunning)
	require.NoError(t, src.Close())
}

// TestLinkFlap takes the captured link down and up again mid-capture:
// the source reports it and carries on capturing.
func TestLinkFlap(t *testing.T) {
	snd, box := netlab.NewPair(t)
	var src *Source
	var dst net.HardwareAddr
	netlab.In(t, box, func() (err error) {
		ifi, err := net.InterfaceByName("v0")
		if err != nil {
			return err
		}
		dst = ifi.HardwareAddr
		src, err = Open(Options{Interfaces: []string{"v0"}, Workers: 2, Blocks: 4, BlockTimeout: 2 * time.Millisecond})
		return err
	})
	var delivered atomic.Uint64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(p *Packet) { delivered.Add(1) }) }()
	bl := netlab.NewBlaster(t, snd, dst)
	waitFor := func(cond func() bool) {
		for deadline := time.Now().Add(5 * time.Second); !cond() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	_, err := bl.Send(100, 1000)
	require.NoError(t, err)
	waitFor(func() bool { return delivered.Load() >= 100 })
	before := delivered.Load()
	netlab.Run(t, "ip", "-n", box, "link", "set", "v0", "down")
	waitFor(func() bool { return src.Stats()[0].LinkDowns > 0 })
	netlab.Run(t, "ip", "-n", box, "link", "set", "v0", "up")
	waitFor(func() bool {
		out, _ := exec.Command("ip", "-n", box, "-o", "link", "show", "v0").Output()
		return strings.Contains(string(out), "LOWER_UP")
	})
	_, err = bl.Send(100, 1000)
	require.NoError(t, err)
	waitFor(func() bool { return delivered.Load() >= 200 })
	cancel()
	require.NoError(t, <-done)
	st := src.Stats()[0]
	t.Logf("delivered %d before the flap, %d in all; link downs seen %d", before, st.Delivered, st.LinkDowns)
	assert.Equal(t, uint64(100), before)
	assert.Equal(t, uint64(200), st.Delivered, "capture resumed after the link came back")
	assert.Positive(t, st.LinkDowns)
}
