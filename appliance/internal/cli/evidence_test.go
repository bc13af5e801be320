package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
	"github.com/firebreak-ir/firebreak/appliance/internal/export"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
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

// A case analysed with the first-party modules exports a bundle holding the
// modules that ran, the findings as STIX and CASE/UCO, and the report; the
// bundle's analysis re-runs from the bundle alone to the same alerts, and a
// changed record is named.
func TestBundleReproducesTheAnalysis(t *testing.T) {
	if _, err := firstparty.Packages(); err != nil {
		t.Skipf("%v: run make modules first", err)
	}
	pcap := filepath.Join(sharedTestdata(t), "pcap", "malicious", "zeek-sshguess.pcap")
	dir := t.TempDir()
	d := startDaemon(t, dir)
	defer d.Close()
	id := mustFB(t, dir, "case", "new", "--title", "SSH password guessing reported")

	code, _, errs := fb(t, dir, "analyze", "--quiet", "--case", id, "--collector", "alice", "--collector", "alice", "--eve", os.DevNull, pcap)
	assert.Equal(t, ExitFail, code, "one collector named twice is not two")
	assert.Contains(t, errs, "named twice")
	code, _, errs = fb(t, dir, "analyze", "--quiet", "--case", id, "--collector", "alice", "--eve", os.DevNull, pcap)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "at least two distinct collectors")
	mustFB(t, dir, "analyze", "--quiet", "--case", id, "--collector", "alice", "--collector", "bob", "--witness", "王芳", "--eve", os.DevNull, pcap)
	shell := filepath.Join(t.TempDir(), "x.php")
	require.NoError(t, os.WriteFile(shell, []byte("<?php eval($_POST['x']); ?>"), 0o600))
	code, _, errs = fb(t, dir, "evidence", "collect", id, shell, "--collector", "alice", "--collector", "bob", "--witness", "bob")
	assert.Equal(t, ExitFail, code, "a collector cannot witness")
	assert.Contains(t, errs, "witness must be someone else")
	assert.Contains(t, mustFB(t, dir, "evidence", "collect", id, shell, "--host", "web01", "--collector", "carol", "--collector", "dave",
		"--witness", "王芳"), "as exhibit E")

	out := filepath.Join(t.TempDir(), "bundle")
	code, stdout, errs := fb(t, dir, "evidence", "export", id, "--out", out, "--no-pdf")
	require.Equal(t, ExitOK, code, errs)
	assert.Contains(t, stdout, "verified")
	assert.Regexp(t, `export: .* of evidence \(100%\)`, errs, "progress is printed")

	man, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	require.NoError(t, err)
	assert.Contains(t, string(man), `"collectors": [
        "alice",
        "bob"
      ],
      "witness": "王芳"`)
	form, _ := os.ReadFile(filepath.Join(out, "forms", "extraction-record.html"))
	assert.Contains(t, string(form), "<td>alice</td><th>提取人 Collector 2</th><td>bob</td>")
	wasm, _ := filepath.Glob(filepath.Join(out, "modules", "*", "module.wasm"))
	assert.NotEmpty(t, wasm, "the modules that ran are in the bundle")
	stix, _ := os.ReadFile(filepath.Join(out, "analysis", "stix-bundle.json"))
	assert.Contains(t, string(stix), `"type": "sighting"`)
	assert.Contains(t, string(stix), "192.168.56.1")
	for _, f := range []string{"report-zh.html", "report-en.html", "report-zh.md", "report-en.md"} {
		assert.FileExists(t, filepath.Join(out, "report", f))
	}

	stdout = mustFB(t, dir, "evidence", "reproduce", out)
	assert.Contains(t, stdout, "the same as recorded")
	assert.Contains(t, stdout, "bruteforce@")

	// A record whose findings differ from what the modules find is named:
	// through the CLI the changed case.json fails verification first; the
	// comparison itself names the finding.
	var c cases.Case
	b, _ := os.ReadFile(filepath.Join(out, "case.json"))
	require.NoError(t, json.Unmarshal(b, &c))
	require.NotEmpty(t, c.Findings)
	c.Findings[0].Count++
	b, _ = json.Marshal(c)
	p := filepath.Join(out, "case.json")
	require.NoError(t, os.Chmod(p, 0o600))
	require.NoError(t, os.WriteFile(p, b, 0o600))
	code, _, errs = fb(t, dir, "evidence", "reproduce", out)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "case.json")
	_, err = export.Reproduce(context.Background(), out, export.ReproduceOptions{CacheDir: filepath.Join(dir, "modcache")})
	var mm *export.Mismatch
	require.ErrorAs(t, err, &mm)
	require.Len(t, mm.Recorded, 1, "%v", err)
	require.Len(t, mm.Rerun, 1, "%v", err)
	assert.Contains(t, mm.Recorded[0], fmt.Sprintf("count=%d", c.Findings[0].Count))
	assert.Contains(t, mm.Rerun[0], fmt.Sprintf("count=%d", c.Findings[0].Count-1))
}

// BenchmarkExportLarge exports 2 GiB of evidence (FIREBREAK_EXPORT_BYTES to
// change it) with `firebreak evidence export --out` and compares it with
// sha256sum over the same vault files, in the same run. The export must
// reach 70% of sha256sum's speed. make bench runs it.
func BenchmarkExportLarge(b *testing.B) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		b.Skip("sha256sum is not installed")
	}
	total := int64(2 << 30)
	if s := os.Getenv("FIREBREAK_EXPORT_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		require.NoError(b, err)
		total = n
	}
	const part = 256 << 20
	dir := b.TempDir()
	d, err := daemon.Start(daemon.Options{DataDir: dir, Version: "bench", Logger: discardLogger()})
	require.NoError(b, err)
	defer d.Close()
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string {
		if k == "FIREBREAK_DATA" {
			return dir
		}
		return ""
	}}
	f := e.newFlags("bench", "", "")
	c := f.client()
	var cs struct{ ID string }
	require.NoError(b, c.call("POST", "/cases", map[string]string{"title": "export benchmark"}, &cs))
	var blobs []string
	rng := rand.NewChaCha8([32]byte{7}) // incompressible, like captures
	for i := int64(0); i*part < total; i++ {
		n := min(part, total-i*part)
		var it cases.EvidenceItem
		q := url.Values{"category": {"pcap"}, "name": {fmt.Sprintf("segment-%03d.pcapng", i)}}
		require.NoError(b, c.upload("/cases/"+cs.ID+"/evidence?"+q.Encode(), "application/octet-stream", io.LimitReader(rng, n), &it))
		p, err := d.Vault.Path(it.SHA256)
		require.NoError(b, err)
		blobs = append(blobs, p)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		start := time.Now()
		out, err := exec.Command("sha256sum", blobs...).CombinedOutput()
		require.NoError(b, err, "%s", out)
		peer := time.Since(start)
		bundle := filepath.Join(b.TempDir(), "bundle")
		var progress bytes.Buffer
		e.stderr = &progress
		b.StartTimer()
		start = time.Now()
		code := e.run([]string{"evidence", "export", cs.ID, "--out", bundle, "--no-pdf"})
		took := time.Since(start)
		b.StopTimer()
		require.Equal(b, ExitOK, code, progress.String())
		require.Contains(b, progress.String(), "(100%)", "progress is printed")
		mbs := func(d time.Duration) float64 { return float64(total) / d.Seconds() / (1 << 20) }
		ratio := peer.Seconds() / took.Seconds()
		b.Logf("%d MiB: export %.0f MiB/s (%.1fs), sha256sum %.0f MiB/s (%.1fs), ratio %.2f; progress lines: %d",
			total>>20, mbs(took), took.Seconds(), mbs(peer), peer.Seconds(), ratio, strings.Count(progress.String(), "\n"))
		b.ReportMetric(mbs(took), "export-MiB/s")
		b.ReportMetric(mbs(peer), "sha256sum-MiB/s")
		b.ReportMetric(ratio, "ratio")
		if ratio < 0.7 {
			b.Errorf("export ran at %.0f%% of sha256sum's speed; at least 70%% is required", ratio*100)
		}
		b.StartTimer()
	}
}
