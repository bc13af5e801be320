package console_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
)

// TestDashboardResponsiveDuringAnalysis measures the API calls the
// dashboard makes, over HTTPS with a console session, while the daemon
// analyses a capture at full speed: their 95th percentile must stay under
// 100 ms.
func TestDashboardResponsiveDuringAnalysis(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the latency measurement in -short mode")
	}
	// 4000 connections, replayed 40 times over as one source: 1.28 million
	// packets, analysed as fast as the daemon can.
	const conns, copies = 4000, 40
	load := writeLoadPcap(t, t.TempDir(), conns)
	d := startDaemon(t, daemon.Options{Replay: slices.Repeat([]string{load}, copies)})
	addAccount(t, d, "alice", auth.Viewer)
	b := newBrowser(t, httpsBase(d)).mustLogin("alice")
	calls := []string{"/api/v1/capture", "/api/v1/console/traffic?buckets=60&top=10", "/api/v1/capture/events?type=alert&limit=10", "/api/v1/cases"}
	// running reports whether the replay is still going and how many
	// events it has produced so far.
	running := func() (bool, uint64) {
		code, body := b.do("GET", "/api/v1/capture", nil, nil)
		require.Equal(t, http.StatusOK, code)
		var st struct {
			Sources []struct {
				State string
			}
			Events map[string]uint64
		}
		require.NoError(t, json.Unmarshal(body, &st))
		var n uint64
		for _, v := range st.Events {
			n += v
		}
		return st.Sources[0].State == "running", n
	}
	// Wait for the analysis to be under way (the detection modules are
	// compiled first), then measure until it ends.
	for on, n := running(); on && n == 0; on, n = running() {
		time.Sleep(10 * time.Millisecond)
	}
	var lat []time.Duration
	start := time.Now()
	for i := 0; ; i++ {
		if on, _ := running(); !on {
			break
		}
		t0 := time.Now()
		code, body := b.do("GET", calls[i%len(calls)], nil, nil)
		lat = append(lat, time.Since(t0))
		require.Equal(t, http.StatusOK, code, "%s: %s", calls[i%len(calls)], body)
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	_, events := running()
	require.GreaterOrEqual(t, len(lat), 20, "the analysis ended before enough calls were measured (%v)", took)
	slices.Sort(lat)
	p50, p95, worst := lat[len(lat)/2], lat[len(lat)*95/100], lat[len(lat)-1]
	t.Logf("MEASURED dashboard API during a full-speed analysis (%d events) of %d packets, %v: %d calls, p50 %v, p95 %v, max %v",
		events, conns*8*copies, took.Round(time.Millisecond), len(lat), p50, p95, worst)
	assert.Less(t, p95, 100*time.Millisecond, "dashboard API p95 while analysing")
}
