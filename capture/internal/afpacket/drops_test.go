//go:build linux

package afpacket

import (
	"context"
	"net"
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
	assert.Equal(t, uint64(n), st.Received, "the veth delivered every frame to the socket")
}

func TestRunAfterClose(t *testing.T) {
	netlab.RequireRoot(t)
	src, err := Open(Options{Interfaces: []string{"lo"}, Workers: 1, Blocks: 2})
	require.NoError(t, err)
	require.NoError(t, src.Close())
	assert.ErrorIs(t, src.Run(context.Background(), func(*Packet) {}), ErrRunning)
	require.NoError(t, src.Close())
}
