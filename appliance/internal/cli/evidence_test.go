package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sharedTestdata(t *testing.T) string {
	dir := filepath.Join("..", "..", "..", "..", "shared", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("../shared/testdata is absent; the test captures come from there")
	}
	return dir
}

// A customer's capture handed to a case is sealed, analysed, exported as a
// bundle that verifies, and a changed bundle is caught and named.
func TestAnalyzeCaseExportVerify(t *testing.T) {
	pcap := filepath.Join(sharedTestdata(t), "pcap", "ssh-hassh.pcap")
	dir := t.TempDir()
	d := startDaemon(t, dir)
	defer d.Close()
	id := mustFB(t, dir, "case", "new", "--title", "SSH brute force reported")

	eve := filepath.Join(t.TempDir(), "eve.json")
	mustFB(t, dir, "analyze", "--quiet", "--case", id, "--eve", eve, pcap)
	b, err := os.ReadFile(eve)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"event_type":"ssh"`)
	code, _, errs := fb(t, dir, "analyze", "--case", id, "--eve", eve, pcap)
	assert.Equal(t, ExitFail, code, "output files are not overwritten")
	assert.Contains(t, errs, "not overwriting")

	list := mustFB(t, dir, "evidence", "list", id)
	assert.Contains(t, list, "E001")
	assert.Contains(t, list, "ssh-hassh.pcap")

	out := filepath.Join(t.TempDir(), "bundle")
	assert.Contains(t, mustFB(t, dir, "evidence", "export", id, "--out", out), "verified")
	assert.Contains(t, mustFB(t, dir, "evidence", "verify", out), "verified")
	assert.Contains(t, mustFB(t, dir, "case", "log", id), "custody.exported", "the export is a custody event")

	f := filepath.Join(out, "evidence", "E001-ssh-hassh.pcap")
	require.NoError(t, os.Chmod(f, 0o600))
	data, _ := os.ReadFile(f)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(f, data, 0o600))
	code, stdout, errs := fb(t, dir, "evidence", "verify", out)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, stdout, "FAILED evidence/E001-ssh-hassh.pcap")
	assert.Contains(t, errs, "first: evidence/E001-ssh-hassh.pcap")

	code, _, errs = fb(t, dir, "evidence", "export", id)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errs, "--out DIR or --archive FILE")
}

func TestProgressBar(t *testing.T) {
	var b strings.Builder
	bar := progressBar(&b)
	bar("/x/big.pcap", 1<<20, 4<<20)
	bar("/x/big.pcap", 4<<20, 4<<20)
	assert.Contains(t, b.String(), "big.pcap")
	assert.Contains(t, b.String(), " 25% of 4 MiB")
	assert.Contains(t, b.String(), "[##############################] 100% of 4 MiB\n")
	assert.False(t, isTerminal(&b))
}
