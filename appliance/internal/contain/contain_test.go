package contain

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal/journaltest"
	"github.com/firebreak-ir/firebreak/netctl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestValidate(t *testing.T) {
	ok := Request{Case: "FB-2026-0001", IP: "10.0.0.5", Reason: "beaconing"}
	tests := []struct {
		name string
		edit func(r *Request)
		err  string
	}{
		{"ok", func(r *Request) {}, ""},
		{"ip and mac", func(r *Request) { r.MAC = "02:00:00:00:00:0A" }, ""},
		{"cidr, ttl, confirm, allow", func(r *Request) {
			r.IP, r.TTL, r.ConfirmWithin, r.Exceptions = "10.0.0.0/28", "4h", "2m", []string{"10.0.0.1", "10.0.0.53:53/udp", "[fd00::1]:22"}
		}, ""},
		{"no case", func(r *Request) { r.Case = "" }, "case is required"},
		{"no reason", func(r *Request) { r.Reason = " " }, "reason is required"},
		{"control characters", func(r *Request) { r.Reason = "x\x1b[31m" }, "control characters"},
		{"no target", func(r *Request) { r.IP = "" }, "give --ip, --mac or --link"},
		{"bad ip", func(r *Request) { r.IP = "web01" }, "want an IPv4 or IPv6 address"},
		{"bad mac", func(r *Request) { r.MAC = "02:00" }, "want an Ethernet MAC"},
		{"link and ip", func(r *Request) { r.Link = "eth1" }, "cannot also name an address"},
		{"bad ttl", func(r *Request) { r.TTL = "forever" }, "ttl"},
		{"tiny confirm", func(r *Request) { r.ConfirmWithin = "10ms" }, "confirm_within"},
		{"confirm after ttl", func(r *Request) { r.TTL, r.ConfirmWithin = "1m", "2m" }, "shorter than the ttl"},
		{"bad exception", func(r *Request) { r.Exceptions = []string{"dns"} }, "exception"},
		{"port 0", func(r *Request) { r.Exceptions = []string{"10.0.0.1:0"} }, "bad port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.edit(&r)
			err := r.Validate()
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

// book opens a journal and a case book with one open case.
func book(t *testing.T) (*journaltest.Store, *casebook.Book, string) {
	st := journaltest.New(t)
	b, err := casebook.New(st.Store, st.DB, st.Key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	id, err := b.Create(context.Background(), "alice", cases.OpenRequest{Title: "beaconing"})
	require.NoError(t, err)
	return st, b, id
}

// TestReplay: the set in force is the fold of the journals' entries.
func TestReplay(t *testing.T) {
	st, _, id := book(t)
	ctx := context.Background()
	now := time.Now().UTC()
	add := func(jid, typ string, p any) {
		_, err := st.Append(ctx, journal.Record{Journal: jid, Actor: "alice", Type: typ, Payload: p})
		require.NoError(t, err)
	}
	iso := func(n string) Isolation {
		return Isolation{ID: n, Case: id, IP: "10.0.0.5", Reason: "r", Approver: "alice", Created: now, ConfirmBy: now.Add(time.Minute)}
	}
	add(id, TypeApplied, Applied{Isolation: iso("iso-1")})
	add(id, TypeApplied, Applied{Isolation: iso("iso-2")})
	add(id, TypeRefused, Refused{Isolation: iso("iso-3"), Explanation: "gateway"})
	add(id, TypeConfirmed, Confirmed{ID: "iso-2"})
	add(id, TypeReleased, Ended{ID: "iso-1"})
	add(id, TypeRestored, Restored{IDs: []string{"iso-2"}})
	add(id, "note.added", map[string]string{"text": "not an isolation"})

	s := &Service{opts: Options{Journal: st.Store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, isos: map[string]*Isolation{}, verified: map[string]bool{}}
	require.NoError(t, s.replay())
	require.Len(t, s.isos, 1)
	got := s.isos["iso-2"]
	require.NotNil(t, got)
	assert.True(t, got.Confirmed)
	assert.Equal(t, "alice", got.ConfirmedBy)
	assert.True(t, got.ConfirmBy.Equal(now.Add(time.Minute)))
	assert.Equal(t, uint64(3), s.lastID, "refused IDs are not reused")
	p, err := got.Policy()
	require.NoError(t, err)
	assert.Equal(t, netip.MustParsePrefix("10.0.0.5/32"), p.Target.Prefix)
}

func TestMerge(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.53")
	env := netctl.Environment{Gateways: []netip.Addr{a}, ManagementLinks: []string{"eth0"}}
	merge(&env, netctl.Environment{Gateways: []netip.Addr{a}, DNSServers: []netip.Addr{b}, ManagementLinks: []string{"eth0", "eth9"}, MaxHosts: 16})
	assert.Equal(t, []netip.Addr{a}, env.Gateways)
	assert.Equal(t, []netip.Addr{b}, env.DNSServers)
	assert.Equal(t, []string{"eth0", "eth9"}, env.ManagementLinks)
	assert.Equal(t, 16, env.MaxHosts)
}

// FuzzRequest: an isolation request is an API body, untrusted input;
// decoding and validating it never panics, and a valid one converts to a
// netctl policy that netctl accepts.
func FuzzRequest(f *testing.F) {
	f.Add(`{"case":"FB-2026-0001","ip":"10.0.0.5","reason":"beaconing"}`)
	f.Add(`{"case":"FB-2026-0001","ip":"fd00::5/128","mac":"02:00:00:00:00:05","reason":"x","allow":["[fd00::1]:53/udp"],"ttl":"4h","confirm_within":"2m"}`)
	f.Add(`{"case":"c","link":"eth1","reason":"r","force":true}`)
	f.Add(`{"case":"c","ip":"0.0.0.0/0","reason":"r"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var r Request
		if json.Unmarshal([]byte(body), &r) != nil {
			return
		}
		if r.Validate() != nil {
			return
		}
		p, err := r.isolation("iso-1", "alice", time.Now()).Policy()
		if err != nil {
			t.Fatalf("valid request %q gives no policy: %v", body, err)
		}
		if err := p.Validate(); err != nil && !errors.Is(err, netctl.ErrInvalidPolicy) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
