package contain

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/internal/netlab"
	"github.com/firebreak-ir/firebreak/netctl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServiceLifecycle: a Facts source (as the capture engine will be)
// feeds the safety check; a stopped and restarted service adopts what is
// in force without touching the kernel; closed cases take no isolation;
// Close leaves no goroutine behind (TestMain checks).
func TestServiceLifecycle(t *testing.T) {
	lab := netlab.NewBridgeLab(t)
	st, b, id := book(t)
	ctx := context.Background()
	dns := netip.MustParseAddr(netlab.CV4)
	opts := Options{
		Net:     netctl.Options{Mode: netctl.ModeBridge, NetNS: lab.App.Path, Ports: lab.Ports},
		Journal: st.Store, Book: b, Interval: 100 * time.Millisecond,
		Facts:  []Facts{FactsFunc(func() netctl.Environment { return netctl.Environment{DNSServers: []netip.Addr{dns}} })},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	s, err := Start(opts)
	if errors.Is(err, netctl.ErrUnsupported) {
		t.Skipf("skipping: the kernel lacks a feature bridge mode needs: %v", err)
	}
	require.NoError(t, err)
	lab.WaitFlowing(t, netlab.BV4, netlab.BV6)

	_, err = s.Add(ctx, "alice", Request{Case: id, IP: netlab.CV4, Reason: "suspected"})
	require.ErrorIs(t, err, netctl.ErrUnsafe)
	assert.Contains(t, err.Error(), "covers DNS server "+netlab.CV4)

	res, err := s.Add(ctx, "alice", Request{Case: id, IP: netlab.AV4, MAC: netlab.AMAC, Reason: "beaconing", TTL: "1h"})
	require.NoError(t, err)
	assert.Error(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 300*time.Millisecond))
	require.NoError(t, s.Close())

	s, err = Start(opts)
	require.NoError(t, err)
	defer s.Close()
	list := s.List()
	require.Len(t, list, 1)
	assert.Equal(t, res.Isolation.ID, list[0].ID)
	assert.True(t, list[0].Expires.Equal(res.Isolation.Expires))
	es, err := b.Entries(id, 0, 0)
	require.NoError(t, err)
	var adopted []Adopted
	for _, e := range es {
		if e.Type == TypeAdopted {
			var a Adopted
			require.NoError(t, e.Decode(&a))
			adopted = append(adopted, a)
		}
	}
	require.Len(t, adopted, 1)
	assert.Empty(t, adopted[0].Changes, "adopted, nothing re-added")
	assert.Error(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 300*time.Millisecond), "still cut")

	// A closed case takes no new isolation; releasing still works.
	for _, to := range []cases.Phase{cases.PhaseNotIncident, cases.PhaseClosed} {
		require.NoError(t, b.Do(ctx, "alice", id, func(c *cases.Case) (cases.Change, error) {
			return c.SetPhase(cases.PhaseRequest{To: to, Reason: "false alarm"})
		}))
	}
	_, err = s.Add(ctx, "alice", Request{Case: id, IP: netlab.BV4, Reason: "x"})
	require.ErrorIs(t, err, cases.ErrClosed)
	_, err = s.Add(ctx, "alice", Request{Case: "FB-2026-9999", IP: netlab.BV4, Reason: "x"})
	require.ErrorIs(t, err, casebook.ErrNotFound)
	ended, err := s.Release(ctx, "alice", "", "", "case closed")
	require.NoError(t, err)
	require.Len(t, ended, 1)
	assert.NoError(t, netlab.UDPProbe(lab.A.NS, netlab.BV4+":9001", lab.Probe, 2*time.Second))
	assert.Empty(t, s.List())
}

// TestRestartInAnotherMode: an isolation that does not fit the mode the
// daemon is restarted with does not stop it from starting; it is listed
// with the problem and can be released.
func TestRestartInAnotherMode(t *testing.T) {
	lab := netlab.NewBridgeLab(t)
	st, b, id := book(t)
	ctx := context.Background()
	opts := Options{
		Net:     netctl.Options{Mode: netctl.ModeBridge, NetNS: lab.App.Path, Ports: lab.Ports},
		Journal: st.Store, Book: b, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	s, err := Start(opts)
	if errors.Is(err, netctl.ErrUnsupported) {
		t.Skipf("skipping: the kernel lacks a feature bridge mode needs: %v", err)
	}
	require.NoError(t, err)
	_, err = s.Add(ctx, "alice", Request{Case: id, MAC: netlab.AMAC, Reason: "beaconing", TTL: "1h"})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	opts.Net = netctl.Options{Mode: netctl.ModeRouter, NetNS: lab.App.Path}
	s, err = Start(opts)
	require.NoError(t, err, "a MAC isolation does not keep router mode from starting")
	defer s.Close()
	list := s.List()
	require.Len(t, list, 1)
	assert.Contains(t, list[0].Problem, "not managed in router mode")
	ended, err := s.Release(ctx, "alice", list[0].ID, "", "wrong mode")
	require.NoError(t, err)
	require.Len(t, ended, 1)
	assert.Empty(t, s.List())
}
