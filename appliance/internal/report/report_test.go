package report

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal/journaltest"
)

// workedCase is a case worked from intake to containment and clean-up, with
// captures, an analysis, findings and an export.
func workedCase(t *testing.T) Input {
	st := journaltest.New(t)
	book, err := casebook.New(st.Store, st.DB, st.Key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	ctx := context.Background()
	discovered := time.Date(2026, 11, 23, 13, 10, 0, 0, time.UTC)
	id, err := book.Create(ctx, "alice", cases.OpenRequest{Title: "Web server web01 compromised", Intake: cases.Intake{
		Reporter: cases.Contact{Name: "王芳", Org: "示例公司", Phone: "+86 10 5555 0100"}, DiscoveredAt: discovered,
		Symptoms: []cases.Symptom{cases.SymptomVirusInfection, cases.SymptomUnknownLogins}, AffectedSystems: []string{"web01 (10.0.0.5)"},
		Description: "homepage defaced; unknown SSH logins"}})
	require.NoError(t, err)
	do := func(actor string, fn func(c *cases.Case) (cases.Change, error)) {
		t.Helper()
		require.NoError(t, book.Do(ctx, actor, id, fn))
	}
	do("alice", func(c *cases.Case) (cases.Change, error) {
		return c.Join(cases.JoinRequest{Engineer: "alice", Role: cases.RoleLead})
	})
	do("alice", func(c *cases.Case) (cases.Change, error) {
		return c.Classify(cases.ClassifyRequest{Category: cases.CatNetworkAttack, Importance: cases.ImportanceImportant,
			Loss: cases.LossSerious, Impact: cases.ImpactConsiderable})
	})
	pcap := strings.Repeat("a", 64)
	eve := strings.Repeat("b", 64)
	do("alice", func(c *cases.Case) (cases.Change, error) {
		return c.Collect(cases.CollectRequest{Category: cases.EvidencePcap, Format: "pcapng", SHA256: pcap, Size: 90921,
			Source: cases.EvidenceSource{Host: "fb-1", Interface: "eth1", Path: "web01.pcapng"}, Method: cases.EvidenceMethod{Tool: "firebreak capture"},
			Collectors: []string{"alice", "bob"}, Witness: "王芳"})
	})
	do("alice", func(c *cases.Case) (cases.Change, error) {
		return c.Collect(cases.CollectRequest{Category: cases.EvidenceEVE, Format: "eve-json", SHA256: eve, Size: 5000,
			Method: cases.EvidenceMethod{Tool: "firebreak analyze"}, DerivedFrom: []string{pcap}})
	})
	do("alice", func(c *cases.Case) (cases.Change, error) {
		return c.CompleteAnalysis(cases.AnalysisCompleted{Inputs: []string{pcap}, Output: eve, Tool: cases.EvidenceMethod{Tool: "firebreak analyze"},
			Modules: []cases.ModuleUsed{{Name: "bruteforce", Version: "0.1.0", SHA256: strings.Repeat("c", 64)}},
			Stats:   map[string]uint64{"packets": 1200, "flows": 40, "stream_gaps": 2}})
	})
	at := discovered.Add(-2 * time.Hour)
	do("alice", func(c *cases.Case) (cases.Change, error) {
		return c.RecordFindings(cases.FindingsRecorded{Source: cases.FindingsAnalysis, Inputs: []string{pcap}, Findings: []cases.Finding{
			{Module: "bruteforce", ModuleVersion: "0.1.0", Signature: "SSH password guessing", Severity: 2, Techniques: []string{"T1110.001"},
				Time: at, LastTime: at.Add(20 * time.Minute), Count: 120, Proto: "TCP", Src: "203.0.113.9", SrcPort: 50000, Dst: "10.0.0.5", DstPort: 22},
			{Module: "dnstunnel", ModuleVersion: "0.1.0", Signature: "DNS tunnel to evil.example", Severity: 1, Techniques: []string{"T1071.004", "T1048"},
				Time: at.Add(40 * time.Minute), LastTime: at.Add(70 * time.Minute), Count: 30, Proto: "UDP", Src: "10.0.0.5", SrcPort: 5353,
				Dst: "198.51.100.53", DstPort: 53, Metadata: map[string][]string{"domain": {"evil.example"}}},
		}})
	})
	_, err = st.Append(ctx, journal.Record{Journal: id, Actor: "alice", Type: "isolation.applied",
		Payload: map[string]string{"id": "iso-1", "ip": "10.0.0.5", "reason": "DNS tunnel from web01"}})
	require.NoError(t, err)
	_, err = st.Append(ctx, journal.Record{Journal: id, Actor: "bob", Type: "cleanup.applied",
		Payload: map[string]string{"host": "web01", "path": "/var/www/html/x.php", "action": "quarantine", "before_sha256": strings.Repeat("d", 64)}})
	require.NoError(t, err)
	do("alice", func(c *cases.Case) (cases.Change, error) {
		return c.Note(cases.NoteRequest{Text: "web01 unplugged by the customer"})
	})
	var es []journal.Entry
	require.NoError(t, st.Entries(id, 0, func(e journal.Entry) error { es = append(es, e); return nil }))
	var c cases.Case
	require.NoError(t, book.View(id, func(cs *cases.Case) error { c = *cs; return nil }))
	return Input{Case: &c, Entries: es, Appliance: "fb-test", Version: "test", Now: discovered.Add(5 * time.Hour)}
}

// Every section of the report is there, filled from the case, in both
// languages and in HTML and Markdown.
func TestReportSectionsFromCaseData(t *testing.T) {
	in := workedCase(t)
	for _, lang := range []string{"zh", "en"} {
		in.Lang = lang
		var html, md bytes.Buffer
		require.NoError(t, HTML(&html, in))
		require.NoError(t, Markdown(&md, in))
		for _, key := range []string{"s.control", "s.summary", "s.intake", "s.grading", "s.course", "s.containment", "s.evidence",
			"s.analysis", "s.rootcause", "s.impact", "s.recommend", "s.notify", "s.sla", "s.limits", "s.findings", "s.integrity"} {
			assert.Contains(t, html.String(), text(lang, key), "%s HTML lacks %s", lang, key)
			assert.Contains(t, md.String(), "# "+text(lang, key), "%s Markdown lacks %s", lang, key)
		}
		for _, out := range []string{html.String(), md.String()} {
			assert.Contains(t, out, "T1110.001", "ATT&CK table")
			assert.Contains(t, out, techniqueName("T1071.004", lang))
			assert.Contains(t, out, "203.0.113.9:50000", "attack path and entry point")
			assert.Contains(t, out, "evil.example", "indicators")
			assert.Contains(t, out, recommendations[0].text[map[string]int{"en": 0, "zh": 1}[lang]][:20], "brute force was seen: its recommendation")
			assert.Contains(t, out, "2026-11-24 01:10", "level III: report within 4 hours of the discovery at 21:10 Beijing time")
			assert.Contains(t, out, "cleanup.applied", "the clean-up step")
			assert.Contains(t, out, "sha256=dddddddd", "with its hash")
		}
		assert.NotContains(t, html.String(), recommendations[4].text[0][:30], "no scan was seen: no segmentation advice")
		assert.Equal(t, 2, strings.Count(html.String(), "<svg"), "the course and the alerts are drawn")
		assert.Contains(t, html.String(), `stroke="#c0392b"`, "the isolation is marked on the alert chart")
		assert.NotContains(t, html.String(), "<script")
	}
}

// A case with nothing found says so rather than inventing a root cause.
func TestReportWithoutFindings(t *testing.T) {
	in := workedCase(t)
	in.Case.Findings = nil
	in.Lang = "en"
	var html bytes.Buffer
	require.NoError(t, HTML(&html, in))
	assert.Contains(t, html.String(), text("en", "nofindings"))
	assert.NotContains(t, html.String(), "The earliest finding")
}

// The PDF renders with headless Chromium, Chinese included; its pages are
// turned into PNG images (pdftoppm) to be looked at: set
// FIREBREAK_REPORT_PNG=DIR to keep them.
func TestReportPDFPages(t *testing.T) {
	for _, tool := range []string{"pdftoppm", "pdffonts", "pdftotext"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package poppler-utils)", tool)
		}
	}
	in := workedCase(t)
	for _, lang := range []string{"zh", "en"} {
		in.Lang = lang
		var html bytes.Buffer
		require.NoError(t, HTML(&html, in))
		pdf, err := PDFBytes(context.Background(), html.Bytes())
		if err == ErrNoRenderer {
			t.Skip(err)
		}
		require.NoError(t, err)
		dir := os.Getenv("FIREBREAK_REPORT_PNG")
		if dir == "" {
			dir = t.TempDir()
		}
		p := filepath.Join(dir, "report-"+lang+".pdf")
		require.NoError(t, os.WriteFile(p, pdf, 0o644))
		fonts, err := exec.Command("pdffonts", p).CombinedOutput()
		require.NoError(t, err, "%s", fonts)
		assert.NotRegexp(t, `(?m) no +(yes|no) +(yes|no) +\d+ +\d+$`, string(fonts), "every font is embedded")
		txt, err := exec.Command("pdftotext", p, "-").CombinedOutput()
		require.NoError(t, err, "%s", txt)
		assert.Contains(t, string(txt), text(lang, "title"), "the title reads back from the PDF")
		assert.Contains(t, string(txt), text(lang, "s.limits"))
		out, err := exec.Command("pdftoppm", "-png", "-r", "60", p, filepath.Join(dir, "page-"+lang)).CombinedOutput()
		require.NoError(t, err, "%s", out)
		pages, _ := filepath.Glob(filepath.Join(dir, "page-"+lang+"-*.png"))
		assert.GreaterOrEqual(t, len(pages), 3, "%s", lang)
	}
}
