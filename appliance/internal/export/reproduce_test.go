package export

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/detect"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal/journaltest"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
	"github.com/firebreak-ir/firebreak/capture"
)

// detectPackages are the embedded first-party detection modules of those
// names (compiling every module would make the test slow).
func detectPackages(t *testing.T, names ...string) []*modhost.Package {
	all, err := firstparty.Packages()
	if err != nil {
		t.Skipf("%v: run make modules first", err)
	}
	var out []*modhost.Package
	for _, p := range all {
		if m, err := modhost.ParseManifest(p.Manifest); err == nil && m.Kind == "detect" && slices.Contains(names, m.Name) {
			out = append(out, p)
		}
	}
	return out
}

// A capture analysed with the real first-party modules, the way the
// daemon does, is exported; the bundle's analysis re-runs from the bundle
// alone to the same findings, and a record that differs is named.
func TestReproduceFromTheBundle(t *testing.T) {
	pcapPath := filepath.Join("..", "..", "..", "..", "shared", "testdata", "pcap", "malicious", "zeek-sshguess.pcap")
	if _, err := os.Stat(pcapPath); err != nil {
		t.Skip("../shared/testdata is absent; the test captures come from there")
	}
	pkgs := detectPackages(t, "bruteforce", "portscan")
	require.NotEmpty(t, pkgs)
	ctx := context.Background()
	cache := t.TempDir()

	// The analysis, as the daemon runs it: one flow engine, every event
	// through the modules, the EVE output kept.
	det, err := detect.New(detect.Options{Packages: pkgs, CacheDir: cache})
	require.NoError(t, err)
	var eve bytes.Buffer
	ew := capture.NewEVEWriter(&eve)
	run, err := det.Start(ctx, ew.Write)
	require.NoError(t, err)
	_, err = capture.Analyze(ctx, capture.Options{Workers: 1}, []string{pcapPath}, run.Emit)
	require.NoError(t, err)
	_, err = run.Finish()
	require.NoError(t, err)
	require.NoError(t, ew.Flush())
	found := run.Findings()
	require.NotEmpty(t, found, "the modules find the password guessing")

	st := journaltest.New(t)
	book, err := casebook.New(st.Store, st.DB, st.Key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	v, err := vault.Open(filepath.Join(t.TempDir(), "vault"))
	require.NoError(t, err)
	defer v.Close()
	id, err := book.Create(ctx, "alice", cases.OpenRequest{Title: "SSH password guessing"})
	require.NoError(t, err)
	raw, err := os.ReadFile(pcapPath)
	require.NoError(t, err)
	pb, err := v.Put(bytes.NewReader(raw))
	require.NoError(t, err)
	eb, err := v.Put(bytes.NewReader(eve.Bytes()))
	require.NoError(t, err)
	do := func(fn func(c *cases.Case) (cases.Change, error)) { require.NoError(t, book.Do(ctx, "alice", id, fn)) }
	do(func(c *cases.Case) (cases.Change, error) {
		return c.Collect(cases.CollectRequest{Category: cases.EvidencePcap, Format: "pcap", SHA256: pb.SHA256, Size: pb.Size,
			Source: cases.EvidenceSource{Path: "zeek-sshguess.pcap"}, Method: cases.EvidenceMethod{Tool: "firebreak"}, Collectors: []string{"alice", "bob"}})
	})
	do(func(c *cases.Case) (cases.Change, error) {
		return c.Collect(cases.CollectRequest{Category: cases.EvidenceEVE, Format: "eve-json", SHA256: eb.SHA256, Size: eb.Size,
			Source: cases.EvidenceSource{Path: "eve.json"}, Method: cases.EvidenceMethod{Tool: "firebreak analyze"}, DerivedFrom: []string{pb.SHA256}})
	})
	do(func(c *cases.Case) (cases.Change, error) {
		return c.CompleteAnalysis(cases.AnalysisCompleted{Inputs: []string{pb.SHA256}, Output: eb.SHA256, Modules: run.Modules(),
			Tool: cases.EvidenceMethod{Tool: "firebreak analyze", Args: []string{"stream_depth=0", "midstream=false"}}})
	})
	do(func(c *cases.Case) (cases.Change, error) {
		return c.RecordFindings(cases.FindingsRecorded{Source: cases.FindingsAnalysis, Inputs: []string{pb.SHA256}, Findings: found})
	})
	var es []journal.Entry
	require.NoError(t, st.Entries(id, 0, func(e journal.Entry) error { es = append(es, e); return nil }))
	var buf bytes.Buffer
	require.NoError(t, book.View(id, func(c *cases.Case) error {
		_, err := Write(&buf, Input{Case: c, Entries: es, Key: st.Key, Appliance: "fb-test", Version: "test", Now: time.Now(),
			Open: func(s string) (io.ReadCloser, error) { return v.Open(s) }, Digests: v.Digests, Modules: pkgs})
		return err
	}))
	dir := filepath.Join(t.TempDir(), "bundle")
	require.NoError(t, ExtractChecked(&buf, dir))
	require.NoError(t, Verify(dir))

	res, err := Reproduce(ctx, dir, ReproduceOptions{CacheDir: cache})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, len(found), res[0].Findings)
	assert.Equal(t, []string{"evidence/E001-zeek-sshguess.pcap"}, res[0].Inputs)
	assert.Len(t, res[0].Modules, len(run.Modules()))

	// A finding changed in the record is named, both ways.
	p := filepath.Join(dir, CaseFile)
	var c cases.Case
	b, _ := os.ReadFile(p)
	require.NoError(t, json.Unmarshal(b, &c))
	c.Findings[0].Dst = "10.9.9.9"
	b, _ = json.Marshal(c)
	require.NoError(t, os.Chmod(p, 0o600))
	require.NoError(t, os.WriteFile(p, b, 0o600))
	require.ErrorIs(t, Verify(dir), ErrInvalid, "the changed record no longer verifies")
	_, err = Reproduce(ctx, dir, ReproduceOptions{CacheDir: cache})
	var mm *Mismatch
	require.ErrorAs(t, err, &mm)
	require.ErrorIs(t, err, ErrNotReproduced)
	require.Len(t, mm.Recorded, 1)
	assert.Contains(t, mm.Recorded[0], "10.9.9.9")
	assert.Contains(t, err.Error(), "found again, not recorded")

	// A module binary swapped in the bundle is not run.
	mods, _ := filepath.Glob(filepath.Join(dir, ModulesDir, "*", "module.wasm"))
	require.NotEmpty(t, mods)
	require.NoError(t, os.Chmod(mods[0], 0o600))
	require.NoError(t, os.WriteFile(mods[0], []byte("\x00asm\x01\x00\x00\x00"), 0o600))
	_, err = Reproduce(ctx, dir, ReproduceOptions{CacheDir: cache})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not hold")
}
