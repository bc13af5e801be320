package export

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal/journaltest"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bundle builds a case with two captures and notes, and exports it to a
// fresh folder.
func bundle(t *testing.T) string {
	st := journaltest.New(t)
	book, err := casebook.New(st.Store, st.DB, st.Key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	v, err := vault.Open(filepath.Join(t.TempDir(), "vault"))
	require.NoError(t, err)
	defer v.Close()
	ctx := context.Background()
	id, err := book.Create(ctx, "alice", cases.OpenRequest{Title: "Webshell on web01"})
	require.NoError(t, err)
	for i, data := range []string{"pcap one \x00\x01", strings.Repeat("pcap two ", 10000)} {
		b, err := v.Put(strings.NewReader(data))
		require.NoError(t, err)
		require.NoError(t, book.Do(ctx, "alice", id, func(c *cases.Case) (cases.Change, error) {
			return c.Collect(cases.CollectRequest{Category: cases.EvidencePcap, Format: "pcap", SHA256: b.SHA256, Size: b.Size,
				Source: cases.EvidenceSource{Path: []string{"../../etc/passwd", "客户 capture.pcap"}[i]},
				Method: cases.EvidenceMethod{Tool: "firebreak", Version: "test"}, Collectors: []string{"alice", "bob"}})
		}))
	}
	require.NoError(t, book.Do(ctx, "bob", id, func(c *cases.Case) (cases.Change, error) {
		return c.Note(cases.NoteRequest{Text: "handed to 公安 on site"})
	}))
	// A file collected from a host, an analysis with its EVE output and a
	// module, and what the module found.
	shell, err := v.Put(strings.NewReader("<?php eval($_POST['x']); ?>"))
	require.NoError(t, err)
	eve, err := v.Put(strings.NewReader(`{"event_type":"alert"}` + "\n"))
	require.NoError(t, err)
	var c0 cases.Case
	require.NoError(t, book.View(id, func(c *cases.Case) error { c0 = *c; return nil }))
	pcap := c0.Evidence[1].SHA256
	require.NoError(t, book.Do(ctx, "alice", id, func(c *cases.Case) (cases.Change, error) {
		return c.Collect(cases.CollectRequest{Category: cases.EvidenceFile, Format: "php", SHA256: shell.SHA256, Size: shell.Size,
			Source: cases.EvidenceSource{Host: "web01", Path: "/var/www/html/x.php"}, Method: cases.EvidenceMethod{Tool: "firebreak triage"},
			Collectors: []string{"alice", "bob"}, Witness: "王芳"})
	}))
	require.NoError(t, book.Do(ctx, "alice", id, func(c *cases.Case) (cases.Change, error) {
		return c.Collect(cases.CollectRequest{Category: cases.EvidenceEVE, Format: "eve-json", SHA256: eve.SHA256, Size: eve.Size,
			Source: cases.EvidenceSource{Path: "eve.json"}, Method: cases.EvidenceMethod{Tool: "firebreak analyze"}, DerivedFrom: []string{pcap}})
	}))
	mod := testModule(t)
	require.NoError(t, book.Do(ctx, "alice", id, func(c *cases.Case) (cases.Change, error) {
		return c.CompleteAnalysis(cases.AnalysisCompleted{Inputs: []string{pcap}, Output: eve.SHA256, Tool: cases.EvidenceMethod{Tool: "firebreak analyze", Version: "test"},
			Modules: []cases.ModuleUsed{mod}, Stats: map[string]uint64{"packets": 3}})
	}))
	at := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	require.NoError(t, book.Do(ctx, "alice", id, func(c *cases.Case) (cases.Change, error) {
		return c.RecordFindings(cases.FindingsRecorded{Source: cases.FindingsAnalysis, Inputs: []string{pcap}, Findings: []cases.Finding{
			{Module: mod.Name, ModuleVersion: mod.Version, Signature: "SSH password guessing", Severity: 2, Techniques: []string{"T1110.001"},
				Time: at, LastTime: at.Add(time.Minute), Count: 40, Proto: "TCP", Src: "203.0.113.9", SrcPort: 50000, Dst: "10.0.0.5", DstPort: 22},
			{Module: mod.Name, ModuleVersion: mod.Version, Signature: "DNS tunnel", Severity: 1, Techniques: []string{"T1071.004"},
				Time: at.Add(2 * time.Minute), LastTime: at.Add(3 * time.Minute), Count: 5, Proto: "UDP", Src: "10.0.0.5", SrcPort: 5353,
				Dst: "198.51.100.53", DstPort: 53, Metadata: map[string][]string{"domain": {"evil.example"}}},
		}})
	}))
	// Containment writes to the case journal directly, as the daemon's does.
	_, err = st.Append(ctx, journal.Record{Journal: id, Actor: "alice", Type: "isolation.applied",
		Payload: map[string]string{"id": "iso-1", "ip": "10.0.0.5", "reason": "webshell host"}})
	require.NoError(t, err)
	_, err = st.Append(ctx, journal.Record{Journal: id, Actor: "bob", Type: "cleanup.applied",
		Payload: map[string]string{"host": "web01", "path": "/var/www/html/x.php", "action": "quarantine",
			"before_sha256": shell.SHA256, "after_sha256": ""}})
	require.NoError(t, err)
	var es []journal.Entry
	require.NoError(t, st.Entries(id, 0, func(e journal.Entry) error { es = append(es, e); return nil }))
	var buf bytes.Buffer
	require.NoError(t, book.View(id, func(c *cases.Case) error {
		res, err := Write(&buf, Input{Case: c, Entries: es, Key: st.Key, Appliance: "fb-test", Version: "test", Now: time.Now(), Actor: "alice",
			Open: func(s string) (io.ReadCloser, error) { return v.Open(s) }, Digests: v.Digests,
			Reports: map[string][]byte{"report-en.html": []byte("<html>report</html>")}, Modules: []*modhost.Package{testPackage}})
		require.NoError(t, err)
		assert.Equal(t, 4+len(es)+19, res.Files, "4 exhibits, canonical entries, entries, chain, case, list, manifest, custody, actions, "+
			"two forms, findings, STIX, CASE, report, module (3 files and README), readme, key")
		return nil
	}))
	dir := filepath.Join(t.TempDir(), "bundle")
	require.NoError(t, Extract(&buf, dir))
	return dir
}

// shellCheck runs the checks README.txt gives, with standard tools only.
func shellCheck(t *testing.T, dir string) (string, bool) {
	for _, tool := range []string{"sha256sum", "md5sum", "openssl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	script := `set -u; rc=0
sha256sum --quiet -c MANIFEST.sha256 || rc=1
md5sum --quiet -c MANIFEST.md5 || rc=1
while read -r sum f; do [ "$(openssl dgst -sm3 -r "$f" | cut -d' ' -f1)" = "$sum" ] || { echo "SM3 FAILED: $f"; rc=1; }; done < MANIFEST.sm3
openssl pkeyutl -verify -rawin -pubin -inkey appliance.pub.pem -sigfile MANIFEST.sha256.sig -in MANIFEST.sha256 >/dev/null || { echo "SIGNATURE FAILED"; rc=1; }
prev=0000000000000000000000000000000000000000000000000000000000000000; want=1
while read -r seq hash p; do
  f=journal/canonical/$(printf %06d "$seq").bin
  [ "$seq" = "$want" ] && [ "$p" = "$prev" ] && [ "$(sha256sum "$f" | cut -c1-64)" = "$hash" ] || { echo "CHAIN BROKEN at entry $seq"; rc=1; }
  prev=$hash; want=$((want+1))
done < journal/chain.txt
for f in custody.jsonl actions.jsonl; do
  prev=0000000000000000000000000000000000000000000000000000000000000000; n=0
  while read -r l; do
    n=$((n+1))
    [ "$(printf '%s' "$l" | jq -r .prev)" = "$prev" ] || { echo "BROKEN $f line $n"; rc=1; }
    prev=$(printf '%s' "$l" | sha256sum | cut -c1-64)
  done < "$f"
done
exit $rc`
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func TestBundleVerifiesWithStandardTools(t *testing.T) {
	dir := bundle(t)
	require.NoError(t, Verify(dir))
	out, ok := shellCheck(t, dir)
	require.True(t, ok, out)

	ents, _ := os.ReadDir(filepath.Join(dir, "evidence"))
	require.Len(t, ents, 3, "the EVE output is under analysis/")
	assert.Equal(t, "E001-passwd", ents[0].Name(), "a client's path cannot steer the bundle")
	list, _ := os.ReadFile(filepath.Join(dir, EvidenceList))
	assert.Contains(t, string(list), "alice; bob")
	readme, _ := os.ReadFile(filepath.Join(dir, ReadMe))
	assert.Contains(t, string(readme), "openssl pkeyutl -verify -rawin")
	custody, _ := os.ReadFile(filepath.Join(dir, Custody))
	assert.Equal(t, 4, strings.Count(string(custody), "\n"), "the four exhibits' collection")
	actions, _ := os.ReadFile(filepath.Join(dir, Actions))
	assert.Equal(t, 2, strings.Count(string(actions), "\n"), "the isolation and the clean-up")
	assert.Contains(t, string(actions), `"type":"cleanup.applied"`)
	assert.Contains(t, string(actions), `"change_to_scene":true`)
	form, _ := os.ReadFile(filepath.Join(dir, FormList))
	assert.Contains(t, string(form), "电子数据提取固定清单")
	assert.Contains(t, string(form), "E002")
	record, _ := os.ReadFile(filepath.Join(dir, FormRecord))
	assert.Contains(t, string(record), "见证人")
	assert.Contains(t, string(record), "alice; bob;")
	assert.Contains(t, string(record), "<td>王芳 </td>", "the witness is named in the signature block")
	assert.FileExists(t, filepath.Join(dir, "evidence", "E003-x.php"))
	assert.FileExists(t, filepath.Join(dir, EVEDir, "E004-eve.json"), "analysis output goes under analysis/")
	assert.FileExists(t, filepath.Join(dir, ReportDir, "report-en.html"))
	assert.FileExists(t, filepath.Join(dir, ModulesDir, "bruteforce-1.0.0", "module.wasm"))
}

func problems(t *testing.T, dir string) Problems {
	err := Verify(dir)
	require.ErrorIs(t, err, ErrInvalid)
	var ps Problems
	require.True(t, errors.As(err, &ps))
	return ps
}

func rewrite(t *testing.T, p string, fn func([]byte) []byte) {
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(p, 0o600))
	require.NoError(t, os.WriteFile(p, fn(b), 0o600))
}

func TestTamperingIsNamed(t *testing.T) {
	t.Run("flip a byte", func(t *testing.T) {
		dir := bundle(t)
		f := filepath.Join(dir, "evidence", "E002-___capture.pcap")
		rewrite(t, f, func(b []byte) []byte { b[100] ^= 1; return b })
		ps := problems(t, dir)
		assert.Equal(t, "evidence/E002-___capture.pcap", ps[0].File, "%v", ps)
		out, ok := shellCheck(t, dir)
		assert.False(t, ok)
		assert.Contains(t, out, "E002")
	})
	t.Run("drop a line of custody.jsonl", func(t *testing.T) {
		dir := bundle(t)
		rewrite(t, filepath.Join(dir, Custody), func(b []byte) []byte {
			lines := strings.SplitAfter(string(b), "\n")
			return []byte(strings.Join(append(lines[:0:0], lines[1:]...), ""))
		})
		ps := problems(t, dir)
		var found bool
		for _, p := range ps {
			found = found || (p.File == Custody && p.Line == 1)
		}
		assert.True(t, found, "%v", ps)
		out, ok := shellCheck(t, dir)
		assert.False(t, ok)
		assert.Contains(t, out, "BROKEN custody.jsonl line 1")
	})
	t.Run("drop a journal chain line", func(t *testing.T) {
		dir := bundle(t)
		rewrite(t, filepath.Join(dir, Chain), func(b []byte) []byte {
			lines := strings.SplitAfter(string(b), "\n")
			return []byte(strings.Join(append(lines[:1], lines[2:]...), ""))
		})
		ps := problems(t, dir)
		var chain *Problem
		for i := range ps {
			if ps[i].File == Chain {
				chain = &ps[i]
			}
		}
		require.NotNil(t, chain, "%v", ps)
		assert.Equal(t, 2, chain.Line)
		out, ok := shellCheck(t, dir)
		assert.False(t, ok)
		assert.Contains(t, out, "CHAIN BROKEN at entry 3")
	})
	t.Run("swap two files", func(t *testing.T) {
		dir := bundle(t)
		a, b := filepath.Join(dir, "evidence", "E001-passwd"), filepath.Join(dir, "evidence", "E002-___capture.pcap")
		require.NoError(t, os.Rename(a, a+".x"))
		require.NoError(t, os.Rename(b, a))
		require.NoError(t, os.Rename(a+".x", b))
		ps := problems(t, dir)
		assert.Equal(t, "evidence/E001-passwd", ps[0].File)
		assert.Equal(t, "evidence/E002-___capture.pcap", ps[1].File)
		_, ok := shellCheck(t, dir)
		assert.False(t, ok)
	})
	t.Run("forged manifest", func(t *testing.T) {
		dir := bundle(t)
		rewrite(t, filepath.Join(dir, ManifestSHA256), func(b []byte) []byte { return append(b, []byte("00  extra\n")...) })
		ps := problems(t, dir)
		assert.Equal(t, Signature, ps[0].File)
		out, _ := shellCheck(t, dir)
		assert.Contains(t, out, "SIGNATURE FAILED")
	})
}

func TestExtractRefusesEscapes(t *testing.T) {
	for _, name := range []string{"../evil", "/etc/passwd", "a/../../evil"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
		tw.Close()
		err := Extract(&buf, filepath.Join(t.TempDir(), "out"))
		assert.ErrorContains(t, err, "refused", name)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
	tw.Close()
	assert.ErrorContains(t, Extract(&buf, filepath.Join(t.TempDir(), "out")), "refused")
}

// A vault blob changed on disk is caught while it is copied: the export
// fails and names the exhibit rather than bundle altered evidence.
func TestChangedBlobStopsTheExport(t *testing.T) {
	st := journaltest.New(t)
	book, err := casebook.New(st.Store, st.DB, st.Key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	v, err := vault.Open(filepath.Join(t.TempDir(), "vault"))
	require.NoError(t, err)
	defer v.Close()
	ctx := context.Background()
	id, err := book.Create(ctx, "alice", cases.OpenRequest{Title: "changed blob"})
	require.NoError(t, err)
	b, err := v.Put(strings.NewReader(strings.Repeat("capture ", 1000)))
	require.NoError(t, err)
	require.NoError(t, book.Do(ctx, "alice", id, func(c *cases.Case) (cases.Change, error) {
		return c.Collect(cases.CollectRequest{Category: cases.EvidencePcap, Format: "pcap", SHA256: b.SHA256, Size: b.Size,
			Method: cases.EvidenceMethod{Tool: "firebreak"}})
	}))
	p, _ := v.Path(b.SHA256)
	require.NoError(t, os.Chmod(p, 0o600))
	require.NoError(t, os.WriteFile(p, []byte(strings.Repeat("captur3 ", 1000)), 0o600))
	var es []journal.Entry
	require.NoError(t, st.Entries(id, 0, func(e journal.Entry) error { es = append(es, e); return nil }))
	for _, digests := range []func(string) (vault.Digests, error){v.Digests, nil} {
		require.NoError(t, book.View(id, func(c *cases.Case) error {
			_, err := Write(io.Discard, Input{Case: c, Entries: es, Key: st.Key, Now: time.Now(), Digests: digests,
				Open: func(s string) (io.ReadCloser, error) { return v.Open(s) }})
			assert.ErrorContains(t, err, "E001")
			return nil
		}))
	}
}
