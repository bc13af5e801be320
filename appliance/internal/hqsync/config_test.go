package hqsync

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
	}{
		{"all", `{"version":3,"sync":{"max_rate":1024,"interval":"10m"},"modules":{"portscan":false}}`, ""},
		{"version only", `{"version":1}`, ""},
		{"no version", `{"sync":{"max_rate":1}}`, "version is required"},
		{"unknown top", `{"version":1,"capture":{}}`, `unknown setting "capture"`},
		{"unknown nested", `{"version":1,"sync":{"bandwidth":1}}`, `unknown setting "bandwidth"`},
		{"negative rate", `{"version":1,"sync":{"max_rate":-1}}`, "negative"},
		{"short interval", `{"version":1,"sync":{"interval":"1s"}}`, "not between"},
		{"interval not a string", `{"version":1,"sync":{"interval":600}}`, "duration is a string"},
		{"bad module", `{"version":1,"modules":{"../x":true}}`, "module name"},
		{"trailing", `{"version":1} {}`, "data after"},
		{"not json", `version=1`, "invalid HQ configuration"},
		{"empty", ``, "invalid HQ configuration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.in))
			if tc.err == "" {
				require.NoError(t, err)
				assert.NotEmpty(t, c.SHA256)
				return
			}
			require.ErrorIs(t, err, ErrConfigInvalid)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

func TestVerifyConfig(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	trust := modhost.NewTrustStore()
	require.NoError(t, trust.Add("hq", pub))
	v2 := []byte(`{"version":2,"sync":{"max_rate":1024}}`)
	applied, err := ParseConfig(v2)
	require.NoError(t, err)
	v1 := []byte(`{"version":1}`)
	v3 := []byte(`{"version":3}`)
	for _, tc := range []struct {
		name      string
		data, sig []byte
		check     func(error) bool
	}{
		{"newer", v3, modhost.SignFeed(key, ConfigName, v3), func(err error) bool { return err == nil }},
		{"the applied one", v2, modhost.SignFeed(key, ConfigName, v2), func(err error) bool { return err == ErrUnchanged }},
		{"older", v1, modhost.SignFeed(key, ConfigName, v1), func(err error) bool { return errors.Is(err, ErrConfigStale) }},
		{"tampered", []byte(`{"version":9}`), modhost.SignFeed(key, ConfigName, v3), modhost.IsTrustError},
		{"unknown key", v3, modhost.SignFeed(other, ConfigName, v3), modhost.IsTrustError},
		{"unsigned", v3, nil, modhost.IsTrustError},
		{"a feed's signature", v3, modhost.SignFeed(key, "config", v3), modhost.IsTrustError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := VerifyConfig(trust, tc.data, tc.sig, applied)
			assert.True(t, tc.check(err), "%v", err)
		})
	}
}

// ApplyConfig changes the cap of connections already open.
func TestLimiterSet(t *testing.T) {
	l := newLimiter(0)
	assert.Zero(t, l.take(1<<30), "no cap")
	l.set(1 << 20)
	assert.Equal(t, (1<<20)/20, l.piece())
	assert.InDelta(t, float64(time.Second), float64(l.take(1<<20+(1<<20)/20)), float64(50*time.Millisecond))
	l.set(0)
	assert.Zero(t, l.take(1<<30))
}

// FuzzParseConfig feeds the parser what a bucket could hold: it never
// panics, and what it accepts has a version and valid values.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"version":3,"sync":{"max_rate":1024,"interval":"10m"},"modules":{"portscan":false}}`))
	f.Add([]byte(`{"version":1,"sync":{"interval":"-5m"}}`))
	f.Add([]byte(`{"version":18446744073709551615,"modules":{"a":true,"a":false}}`))
	f.Add([]byte(`{"version":1,"x":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			if c != nil {
				t.Fatal("a refused configuration came back")
			}
			return
		}
		if c.Version == 0 {
			t.Fatal("accepted without a version")
		}
		if s := c.Sync; s != nil && ((s.MaxRate != nil && *s.MaxRate < 0) ||
			(s.Interval != nil && (time.Duration(*s.Interval) < minInterval || time.Duration(*s.Interval) > maxInterval))) {
			t.Fatalf("accepted %+v", s)
		}
		for name := range c.Modules {
			if !publishName.MatchString(name) {
				t.Fatalf("accepted module name %q", name)
			}
		}
	})
}
