package netctl

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/netctl/internal/nlk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{in: "10.0.0.5", want: "10.0.0.5"},
		{in: "10.0.0.7/24", want: "10.0.0.0/24"},
		{in: "fd00::1", want: "fd00::1"},
		{in: "::ffff:10.0.0.5", want: "10.0.0.5"},
		{in: "02:AA:bb:cc:dd:ee", want: "02:aa:bb:cc:dd:ee"},
		{in: "link:eth3", want: "link eth3"},
		{in: "fe80::1%eth0", err: true},
		{in: "link:", err: true},
		{in: "host.example", err: true},
		{in: "", err: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTarget(tc.in)
			if tc.err {
				assert.ErrorIs(t, err, ErrInvalidTarget)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.String())
		})
	}
}

func TestParseException(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{in: "10.0.0.9", want: "10.0.0.9"},
		{in: "10.0.0.0/28", want: "10.0.0.0/28"},
		{in: "10.0.0.9:22", want: "10.0.0.9:22"},
		{in: "10.0.0.9:22/tcp", want: "10.0.0.9:22/tcp"},
		{in: "10.0.0.53:53/udp", want: "10.0.0.53:53/udp"},
		{in: "[fd00::9]:443", want: "[fd00::9]:443"},
		{in: "fd00::9", want: "fd00::9"},
		{in: "10.0.0.9/tcp", err: true},
		{in: "10.0.0.9:0", err: true},
		{in: "10.0.0.9:70000", err: true},
		{in: "jump:22", err: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseException(tc.in)
			if tc.err {
				assert.ErrorIs(t, err, ErrInvalidTarget)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.String())
			again, err := ParseException(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again, "String round-trips")
		})
	}
}

func FuzzParseException(f *testing.F) {
	for _, s := range []string{"10.0.0.9:22/tcp", "[fd00::9]:443", "10.0.0.0/8", "::", "1.2.3.4:65535/udp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseException(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidTarget) {
				t.Fatalf("error does not match ErrInvalidTarget: %v", err)
			}
			return
		}
		again, err := ParseException(e.String())
		if err != nil || again != e {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, e, e.String(), again, err)
		}
	})
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"10.0.0.5", "fd00::/64", "02:aa:bb:cc:dd:ee", "link:eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidTarget) {
				t.Fatalf("error does not match ErrInvalidTarget: %v", err)
			}
			return
		}
		if tg.IsZero() {
			t.Fatalf("%q parsed to an empty target", s)
		}
		(Policy{ID: "f", Target: tg}).Validate() // must not panic
	})
}

func TestValidate(t *testing.T) {
	ok := Target{Prefix: netip.MustParsePrefix("10.0.0.1/32")}
	for name, p := range map[string]Policy{
		"no id":           {Target: ok},
		"no target":       {ID: "x"},
		"everything":      {ID: "x", Target: Target{Prefix: netip.MustParsePrefix("0.0.0.0/0")}},
		"link and addr":   {ID: "x", Target: Target{Link: "eth0", Prefix: ok.Prefix}},
		"proto w/o port":  {ID: "x", Target: ok, Exceptions: []Exception{{Peer: ok.Prefix, Proto: "tcp"}}},
		"bad proto":       {ID: "x", Target: ok, Exceptions: []Exception{{Peer: ok.Prefix, Port: 1, Proto: "sctp"}}},
		"link exceptions": {ID: "x", Target: Target{Link: "eth0"}, Exceptions: []Exception{{Peer: ok.Prefix}}},
	} {
		assert.ErrorIs(t, p.Validate(), ErrInvalidPolicy, name)
	}
	assert.NoError(t, Policy{ID: "x", Target: ok}.Validate())
}

func TestEvaluate(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	ttl := Policy{ID: "ttl", Expires: t0.Add(time.Hour)}
	confirm := Policy{ID: "confirm", ConfirmBy: t0.Add(5 * time.Minute)}
	confirmed := Policy{ID: "confirmed", ConfirmBy: t0.Add(5 * time.Minute), Confirmed: true}
	both := Policy{ID: "both", ConfirmBy: t0.Add(5 * time.Minute), Expires: t0.Add(2 * time.Minute)}
	forever := Policy{ID: "forever"}
	all := []Policy{ttl, confirm, confirmed, both, forever}

	ids := func(ps []Policy) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	active, ended := Evaluate(all, t0)
	assert.Equal(t, []string{"ttl", "confirm", "confirmed", "both", "forever"}, ids(active))
	assert.Empty(t, ended)
	assert.Equal(t, t0.Add(2*time.Minute), NextDeadline(all, t0))

	active, ended = Evaluate(all, t0.Add(5*time.Minute)) // deadline reached exactly
	assert.Equal(t, []string{"ttl", "confirmed", "forever"}, ids(active))
	require.Len(t, ended, 2)
	assert.Equal(t, Ended{Policy: confirm, Reason: RolledBack, At: t0.Add(5 * time.Minute)}, ended[0])
	assert.Equal(t, Ended{Policy: both, Reason: Expired, At: t0.Add(2 * time.Minute)}, ended[1], "the earlier deadline is the reason")
	assert.Equal(t, t0.Add(time.Hour), NextDeadline(active, t0.Add(5*time.Minute)))

	active, ended = Evaluate(all, t0.Add(2*time.Hour))
	assert.Equal(t, []string{"confirmed", "forever"}, ids(active))
	assert.Len(t, ended, 3)
	assert.True(t, NextDeadline(active, t0.Add(2*time.Hour)).IsZero())
}

// TestCommitConfirm: an unconfirmed isolation rolls itself back at its
// deadline; a confirmed one stays until its TTL.
func TestCommitConfirm(t *testing.T) {
	k, ctl := fakeBridge(t)
	t0 := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	p := polHost
	p.ConfirmBy = t0.Add(2 * time.Minute)
	p.Expires = t0.Add(time.Hour)
	_, err := ctl.Set(State{})
	require.NoError(t, err)
	bare := k.Render()

	rep, ended, err := ctl.Reconcile([]Policy{p}, t0)
	require.NoError(t, err)
	assert.Empty(t, ended)
	assert.NotEmpty(t, rep.Changes)

	rep, ended, err = ctl.Reconcile([]Policy{p}, t0.Add(2*time.Minute))
	require.NoError(t, err)
	require.Len(t, ended, 1)
	assert.Equal(t, RolledBack, ended[0].Reason)
	assert.NotEmpty(t, rep.Changes)
	assert.Equal(t, bare, k.Render(), "rolled back")

	p.Confirmed = true
	_, _, err = ctl.Reconcile([]Policy{p}, t0)
	require.NoError(t, err)
	rep, ended, err = ctl.Reconcile([]Policy{p}, t0.Add(30*time.Minute))
	require.NoError(t, err)
	assert.Empty(t, ended)
	assert.Empty(t, rep.Changes, "confirmed: stays")
	_, ended, err = ctl.Reconcile([]Policy{p}, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, ended, 1)
	assert.Equal(t, Expired, ended[0].Reason)
	assert.Equal(t, bare, k.Render(), "expired")
}

func TestCheck(t *testing.T) {
	env := Environment{
		Gateways:        []netip.Addr{netip.MustParseAddr("10.0.0.1")},
		GatewayMACs:     []net.HardwareAddr{mustMAC("02:00:00:00:00:01")},
		Management:      []netip.Addr{netip.MustParseAddr("10.0.0.250")},
		ManagementLinks: []string{"mgmt0"},
		DNSServers:      []netip.Addr{netip.MustParseAddr("10.0.0.53")},
		DHCPServers:     []netip.Addr{netip.MustParseAddr("10.0.0.2")},
		SharedAddrs:     []netip.Addr{netip.MustParseAddr("10.0.0.100")},
	}
	pfx := func(s string) Target { return Target{Prefix: netip.MustParsePrefix(s)} }
	for _, tc := range []struct {
		target Target
		kinds  []string
	}{
		{target: pfx("10.0.0.5/32")},
		{target: pfx("10.0.0.1/32"), kinds: []string{"gateway"}},
		{target: pfx("10.0.0.250/32"), kinds: []string{"management"}},
		{target: pfx("10.0.0.53/32"), kinds: []string{"dns"}},
		{target: pfx("10.0.0.2/32"), kinds: []string{"dhcp"}},
		{target: pfx("10.0.0.100/32"), kinds: []string{"shared"}},
		{target: pfx("10.0.0.0/24"), kinds: []string{"gateway", "management", "dns", "dhcp", "shared"}},
		{target: pfx("10.0.0.0/16"), kinds: []string{"gateway", "management", "dns", "dhcp", "shared", "wide"}},
		{target: pfx("fd00::/64"), kinds: []string{"wide"}},
		{target: Target{MAC: mustMAC("02:00:00:00:00:01")}, kinds: []string{"gateway"}},
		{target: Target{Link: "mgmt0"}, kinds: []string{"management"}},
	} {
		t.Run(tc.target.String(), func(t *testing.T) {
			p := Policy{ID: "p", Target: tc.target}
			var kinds []string
			for _, c := range Concerns(p, env) {
				kinds = append(kinds, c.Kind)
			}
			assert.Equal(t, tc.kinds, kinds)
			err := Check(p, env)
			if len(tc.kinds) == 0 {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrUnsafe)
			var ue *UnsafeError
			require.ErrorAs(t, err, &ue)
			assert.Len(t, ue.Concerns, len(tc.kinds))
			p.Force = true
			assert.NoError(t, Check(p, env), "forced")
		})
	}
	err := Check(Policy{ID: "gw", Target: pfx("10.0.0.1/32")}, env)
	assert.EqualError(t, err, "isolation gw refused without force: target 10.0.0.1 covers the default gateway 10.0.0.1")
}

func TestFakeRejectsWhatTheKernelRejects(t *testing.T) {
	// The fake must not be kinder than the kernel: one kind and protocol
	// per priority, a qdisc before filters.
	k := nlk.NewFake()
	k.AddDevice("eth1", "02:00:00:00:00:01")
	ctl := newController(Options{Mode: ModeBridge, Ports: []string{"eth1", "eth2"}}, k)
	_, err := ctl.Set(State{})
	assert.Error(t, err, "eth2 does not exist")
}
