package bpf

import (
	"testing"

	"github.com/stretchr/testify/require"
	xbpf "golang.org/x/net/bpf"
)

// TestInterpreterMatchesVM checks the fast interpreter against
// golang.org/x/net/bpf's VM on every table expression and corpus frame.
func TestInterpreterMatchesVM(t *testing.T) {
	corpus := packetCorpus(t)
	for _, c := range expressions {
		p, err := Compile(c.expr, Options{})
		require.NoError(t, err)
		for i, pkt := range corpus {
			n, err := p.vm.Run(pkt.data)
			require.NoError(t, err)
			k, ok := run(p.Raw, pkt.data)
			require.True(t, ok)
			want := uint32(n) > 0
			require.Equal(t, want, k > 0, "%q packet %d (%s)", c.expr, i, pkt.name)
		}
	}
}

// BenchmarkMatch measures Program.Match against golang.org/x/net/bpf's VM
// (the peer) running the same program over the same frames.
func BenchmarkMatch(b *testing.B) {
	p, err := Compile("host 10.0.0.1 and (port 53 or portrange 1000-2000)", Options{})
	require.NoError(b, err)
	frames := synthesise(b)
	vm, err := xbpf.NewVM(disassemble(p.Raw))
	require.NoError(b, err)
	b.Run("firebreak", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p.Match(frames[i%len(frames)].data)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	})
	b.Run("x-net-bpf-VM", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			vm.Run(frames[i%len(frames)].data)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	})
}
