package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
)

// What the modules find in a case's captures becomes the case's findings,
// in the journal, named by the analysis that found them.
func TestAnalysisRecordsFindings(t *testing.T) {
	if _, err := firstparty.Packages(); err != nil {
		t.Skipf("%v: run make modules first", err)
	}
	mal := filepath.Join(sharedTestdata(t), "pcap", "malicious")
	dir := t.TempDir()
	d := startDaemon(t, dir)
	defer d.Close()
	id := mustFB(t, dir, "case", "new", "--title", "SSH password guessing reported")

	code, _, errs := fb(t, dir, "analyze", "--case", id, "--eve", os.DevNull, filepath.Join(mal, "zeek-sshguess.pcap"))
	require.Equal(t, ExitOK, code, errs)
	assert.Contains(t, errs, "findings recorded in the case")

	var fs []cases.FindingRecord
	require.NoError(t, json.Unmarshal([]byte(mustFB(t, dir, "case", "findings", id, "--json")), &fs))
	require.NotEmpty(t, fs)
	var brute *cases.FindingRecord
	for i := range fs {
		if fs[i].Module == "bruteforce" && fs[i].Src == "192.168.56.1" && fs[i].Dst == "192.168.56.103" {
			brute = &fs[i]
		}
	}
	require.NotNil(t, brute, "findings: %+v", fs)
	assert.Equal(t, cases.FindingsAnalysis, brute.Source)
	assert.Len(t, brute.Inputs, 1, "the finding names the capture it came from")
	assert.NotEmpty(t, brute.Techniques)

	table := mustFB(t, dir, "case", "findings", id, "--module", "bruteforce")
	assert.Contains(t, table, brute.ID)
	assert.Contains(t, table, "192.168.56.1")
	log := mustFB(t, dir, "case", "log", id)
	assert.Contains(t, log, "findings.recorded")
	assert.Contains(t, log, `"sha256":"`, "the analysis names its modules by hash")
	mustFB(t, dir, "case", "verify", id)

	// Without modules the same capture adds an analysis and no findings.
	code, _, errs = fb(t, dir, "analyze", "--case", id, "--modules", "none", "--eve", os.DevNull, filepath.Join(mal, "ndpi-synscan.pcap"))
	require.Equal(t, ExitOK, code, errs)
	assert.Contains(t, errs, "no detection modules ran")
	require.NoError(t, json.Unmarshal([]byte(mustFB(t, dir, "case", "findings", id, "--json")), &fs))
	for _, f := range fs {
		assert.NotEqual(t, "portscan", f.Module)
	}
}
