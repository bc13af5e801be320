package modhost_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/capture"
)

// TestConformance runs the same module written in Go with the SDK and in
// WebAssembly text against the ABI alone, over the same captures: their
// alerts must be identical.
func TestConformance(t *testing.T) {
	needTestdata(t)
	wat, err := os.ReadFile("testdata/conformance.wasm")
	require.NoError(t, err)
	if path, err := exec.LookPath("wat2wasm"); err == nil {
		out := filepath.Join(t.TempDir(), "c.wasm")
		cmd := exec.Command(path, "testdata/conformance.wat", "-o", out)
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", b)
		fresh, err := os.ReadFile(out)
		require.NoError(t, err)
		require.True(t, bytes.Equal(fresh, wat), "testdata/conformance.wasm is stale: run wat2wasm testdata/conformance.wat -o testdata/conformance.wasm")
	} else {
		t.Log("wat2wasm not installed (Debian: wabt): using the checked-in testdata/conformance.wasm")
	}
	pcaps := []string{testdata + "/pcap/malicious/ndpi-synscan.pcap", testdata + "/pcap/community-id-ipv6.pcap", testdata + "/pcap/malicious/ndpi-tcp_scan.pcapng"}
	run := func(name string, wasm []byte) []string {
		h, _ := newHost(t, modhost.Options{})
		m, err := h.Load(context.Background(), signed(manifest(name, func(m *modhost.Manifest) { m.Limits.AlertsPerBatch = 1000 }), wasm), nil)
		require.NoError(t, err)
		events, p := analyze(t, h, []*modhost.Module{m}, false, pcaps...)
		require.Zero(t, p.Stats[name].Faults, p.Stats[name].LastFault)
		var out []string
		for _, a := range alerts(events) {
			delete(a.Alert.Metadata, "firebreak_module")
			b, err := json.Marshal(a)
			require.NoError(t, err)
			out = append(out, string(b))
		}
		return out
	}
	goAlerts := run("conf-go", wasmOf(t, conformanceDir))
	watAlerts := run("conf-wat", wat)
	require.Greater(t, len(goAlerts), 2000, "one alert per flow and the total")
	require.Equal(t, goAlerts, watAlerts)
	var last capture.Event
	require.NoError(t, json.Unmarshal([]byte(goAlerts[len(goAlerts)-1]), &last))
	require.Equal(t, "conformance total", last.Alert.Signature)
	t.Logf("%d identical alerts; last: %s", len(goAlerts), goAlerts[len(goAlerts)-1])
}
