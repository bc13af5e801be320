package modhost_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

func TestParseManifest(t *testing.T) {
	good := `{"name":"portscan","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"techniques":["T1046"]}`
	m, err := modhost.ParseManifest([]byte(good))
	require.NoError(t, err)
	require.Equal(t, "portscan", m.Name)
	for _, tc := range []struct{ name, doc, field string }{
		{"not json", `{`, "manifest"},
		{"unknown field", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"techniques":["T1046"],"capabilites":["state"]}`, "manifest"},
		{"trailing data", good + `{}`, "manifest"},
		{"bad name", `{"name":"Port Scan","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"techniques":["T1046"]}`, "name"},
		{"bad version", `{"name":"a","version":"1","kind":"detect","subscriptions":[{"event":"flow"}],"techniques":["T1046"]}`, "version"},
		{"bad kind", `{"name":"a","version":"1.0.0","kind":"other","subscriptions":[{"event":"flow"}],"techniques":["T1046"]}`, "kind"},
		{"no subscriptions", `{"name":"a","version":"1.0.0","kind":"detect","techniques":["T1046"]}`, "subscriptions"},
		{"unknown event", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"smtp"}],"techniques":["T1046"]}`, "subscriptions[0].event"},
		{"alert is not an event", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"alert"}],"techniques":["T1046"]}`, "subscriptions[0].event"},
		{"twice", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"dns"},{"event":"dns"}],"techniques":["T1046"]}`, "subscriptions[1].event"},
		{"filter on flow", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow","filter":"tcp"}],"techniques":["T1046"]}`, "subscriptions[0].filter"},
		{"unknown capability", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"capabilities":["root"],"techniques":["T1046"]}`, "capabilities[0]"},
		{"relative mount", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"capabilities":["fs_read:target"],"techniques":["T1046"]}`, "capabilities[0]"},
		{"unclean mount", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"capabilities":["fs_read:/t/../etc"],"techniques":["T1046"]}`, "capabilities[0]"},
		{"root mount", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"capabilities":["fs_read:/"],"techniques":["T1046"]}`, "capabilities[0]"},
		{"propose on detect", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"capabilities":["propose"],"techniques":["T1046"]}`, "capabilities"},
		{"memory", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"limits":{"memory_mb":4096},"techniques":["T1046"]}`, "limits.memory_mb"},
		{"deadline", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"limits":{"deadline_ms":-1},"techniques":["T1046"]}`, "limits.deadline_ms"},
		{"no techniques", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}]}`, "techniques"},
		{"bad technique", `{"name":"a","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"techniques":["1046"]}`, "techniques[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := modhost.ParseManifest([]byte(tc.doc))
			require.ErrorIs(t, err, modhost.ErrManifest)
			var me *modhost.ManifestError
			require.True(t, errors.As(err, &me))
			require.Equal(t, tc.field, me.Field, "%v", err)
		})
	}
}

// FuzzParseManifest: a manifest is untrusted input. Parsing never panics,
// and what it accepts validates and round-trips.
func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{
		`{"name":"portscan","version":"1.0.0","kind":"detect","subscriptions":[{"event":"flow"}],"techniques":["T1046"]}`,
		`{"name":"c","version":"0.1.0-rc.1","kind":"cleanup","subscriptions":[{"event":"file"}],"capabilities":["propose","fs_read:/target","state"],"limits":{"memory_mb":16,"deadline_ms":50,"alerts_per_batch":1,"state_bytes":10}}`,
		`{"name":"p","version":"1.0.0","kind":"detect","subscriptions":[{"event":"packet","filter":"tcp port 80"}],"techniques":["T1071.004"]}`,
		`{}`, `[]`, `null`, `{"name":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := modhost.ParseManifest(data)
		if err != nil {
			require.ErrorIs(t, err, modhost.ErrManifest)
			return
		}
		require.NoError(t, m.Validate())
	})
}
