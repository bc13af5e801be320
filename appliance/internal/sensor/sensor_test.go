package sensor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/capture"
	"github.com/firebreak-ir/firebreak/samples"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRingKeepsTheNewest(t *testing.T) {
	r := &ring{max: 3}
	for i := range 5 {
		r.add(capture.Event{EventType: fmt.Sprint(i)})
	}
	var got []string
	for _, ev := range r.newest(10) {
		got = append(got, ev.EventType)
	}
	assert.Equal(t, []string{"4", "3", "2"}, got)
	r2 := &ring{max: 5}
	r2.add(capture.Event{EventType: "a"})
	r2.add(capture.Event{EventType: "b"})
	assert.Equal(t, "b", r2.newest(1)[0].EventType)
}

func TestReplaySamples(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{EVEDir: dir, Keep: 5, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, s.ReplayFS(ctx, "samples", samples.FS))
	require.Eventually(t, func() bool { return s.Status().Sources[0].State == Finished }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, s.Close())

	st := s.Status()
	assert.Greater(t, st.Sources[0].Packets, uint64(100))
	for _, typ := range []string{"dns", "http", "tls", "ssh", "dhcp", "flow"} {
		assert.Positive(t, st.Events[typ], "the samples show %s", typ)
	}
	assert.Len(t, s.Events("dns", 0), 5, "only the newest Keep events are kept")
	assert.Positive(t, st.Hosts)
	b, err := os.ReadFile(filepath.Join(dir, "eve.json"))
	require.NoError(t, err)
	lines := strings.Count(string(b), "\n")
	var total uint64
	for typ, n := range st.Events {
		if typ != "stats" {
			total += n
		}
	}
	assert.Equal(t, total, uint64(lines), "every event but stats is in the EVE log")
}
