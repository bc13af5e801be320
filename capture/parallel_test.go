package capture

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/capture/internal/pcapio"

	"github.com/stretchr/testify/require"
)

// The parallel analysis gives every test capture the same events as one
// engine (flow_id and pcap_cnt included, the stats event too), in an order
// that may differ across flows but not within one.
func TestParallelMatchesSingle(t *testing.T) {
	td := testdataDir(t)
	paths, _ := filepath.Glob(filepath.Join(td, "pcap", "*.pcap"))
	more, _ := filepath.Glob(filepath.Join(td, "pcap", "malicious", "*"))
	paths = append(paths, more...)
	require.NotEmpty(t, paths)
	run := func(t *testing.T, paths []string, workers int) ([]string, map[uint64][]string, Stats) {
		var all []string
		byFlow := map[uint64][]string{}
		// MaxFlows is shared out among the workers: large enough that no table
		// fills, as eviction depends on how the flows are shared out.
		st, err := Analyze(context.Background(), Options{Workers: workers, MaxFlows: 1 << 22}, paths, func(ev *Event) error {
			b, err := json.Marshal(ev)
			all = append(all, string(b))
			byFlow[ev.FlowID] = append(byFlow[ev.FlowID], string(b))
			return err
		})
		require.NoError(t, err)
		sort.Strings(all)
		return all, byFlow, st
	}
	check := func(t *testing.T, paths []string) {
		want, wantFlows, wantSt := run(t, paths, 1)
		for _, workers := range []int{2, 5} {
			got, gotFlows, gotSt := run(t, paths, workers)
			require.Equal(t, want, got, "workers=%d", workers)
			require.Equal(t, wantFlows, gotFlows, "workers=%d: order within a flow", workers)
			require.Equal(t, wantSt, gotSt, "workers=%d", workers)
		}
	}
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)), func(t *testing.T) { check(t, []string{p}) })
	}
	// Several inputs as one capture: pcap_cnt runs across them. Only inputs
	// whose packet times follow on: when time goes backwards, which idle
	// flows a timeout sweep reaches depends on the order of the whole
	// table's lists, so one engine and several may end different flows by
	// timeout rather than at shutdown.
	t.Run("chain", func(t *testing.T) {
		chain := timeChain(t, paths)
		require.Greater(t, len(chain), 3)
		check(t, chain)
	})
}

// timeChain picks, among captures whose packet times never go backwards,
// a sequence whose time ranges follow each other.
func timeChain(t *testing.T, paths []string) []string {
	type span struct {
		path        string
		first, last time.Time
	}
	var spans []span
	for _, p := range paths {
		f, err := os.Open(p)
		require.NoError(t, err)
		r, err := pcapio.Open(f)
		if err != nil {
			f.Close()
			continue
		}
		var s span
		ok := true
		for {
			_, info, err := r.Next()
			if err != nil {
				break
			}
			if s.first.IsZero() {
				s.first = info.Timestamp
			} else if info.Timestamp.Before(s.last) {
				ok = false
			}
			s.last = info.Timestamp
		}
		r.Close()
		f.Close()
		if ok && !s.first.IsZero() {
			s.path = p
			spans = append(spans, s)
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].first.Before(spans[j].first) })
	var chain []string
	var end time.Time
	for _, s := range spans {
		if !s.first.Before(end) {
			chain = append(chain, s.path)
			end = s.last
		}
	}
	return chain
}

// The parallel path stops on an emit error, a cancelled context or a
// missing input as the single one does, and leaves no goroutine behind
// (TestMain checks).
func TestParallelStops(t *testing.T) {
	td := testdataDir(t)
	path := filepath.Join(td, "pcap", "smb2-ntlmssp-order.pcap")
	stop := errors.New("stop")
	calls := 0
	_, err := Analyze(context.Background(), Options{Workers: 3}, []string{path}, func(*Event) error {
		calls++
		return stop
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls, "emit is not called again after it failed")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Analyze(ctx, Options{Workers: 3}, []string{path}, nil)
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	n := 0
	_, err = Analyze(ctx, Options{Workers: 3}, []string{path, path, path}, func(*Event) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)

	_, err = Analyze(context.Background(), Options{Workers: 3}, []string{filepath.Join(t.TempDir(), "missing.pcap")}, nil)
	require.ErrorIs(t, err, os.ErrNotExist)
}
