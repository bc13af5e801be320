// Package report renders a case's incident-response report (应急响应报告)
// in Chinese or English from the case and its journal: intake, grading,
// the course of the response, containment, evidence, analysis, SLA, notes
// and the integrity of the record. Its output is one self-contained HTML
// page; PDF renders that page in headless Chromium.
//
// Every value comes from the case data: the report never states a fact the
// journal does not hold, and never lets text from a case or from traffic
// act as markup (html/template escapes it).
package report

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// ErrNoRenderer means no Chromium was found to render a PDF.
var ErrNoRenderer = errors.New("no Chromium to render PDF (install the chromium package, or use HTML)")

// Input is what a report is made from.
type Input struct {
	Case      *cases.Case
	Entries   []journal.Entry
	Appliance string
	Version   string
	Now       time.Time
	Lang      string // "zh" or "en"
}

//go:embed report.html.tmpl
var files embed.FS

var tmpl = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"label": func(l cases.Label, lang string) string { return l.In(lang) },
	"t":     func(lang, key string) string { return text(lang, key) },
	"when": func(t time.Time, lang string) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(beijing).Format("2006-01-02 15:04:05") + " (UTC+8) / " + t.UTC().Format("15:04:05Z")
	},
	"short": func(t time.Time) string { return t.In(beijing).Format("01-02 15:04:05") },
	"dur":   func(d cases.Duration) string { return time.Duration(d).Round(time.Minute).String() },
}).ParseFS(files, "report.html.tmpl"))

var beijing = time.FixedZone("CST", 8*3600)

// Event is one line of the report's timeline.
type Event struct {
	Seq   uint64
	At    time.Time
	Actor string
	What  string
}

// view is what the template renders.
type view struct {
	Input
	C           *cases.Case
	Timers      []cases.Timer
	Timeline    []Event
	Containment []Event
	Custody     []Event
	A           analysisView
	Isolated    int // hosts isolated at some point
}

// Valid languages.
func validLang(l string) bool { return l == "zh" || l == "en" }

// HTML writes the report as one HTML page.
func HTML(w io.Writer, in Input) error {
	if !validLang(in.Lang) {
		return fmt.Errorf("report language %q: want zh or en", in.Lang)
	}
	v := build(in)
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// build derives everything the report shows from the case and its journal.
func build(in Input) *view {
	v := &view{Input: in, C: in.Case, Timers: in.Case.Timers(in.Now)}
	isolated := map[string]bool{}
	for _, e := range in.Entries {
		ev := Event{Seq: e.Seq, At: e.Time, Actor: e.Actor, What: describe(e, in.Lang)}
		switch {
		case strings.HasPrefix(e.Type, "isolation.") || strings.HasPrefix(e.Type, "cleanup."):
			v.Containment = append(v.Containment, ev)
			if e.Type == "isolation.applied" {
				var p map[string]any
				json.Unmarshal(e.Payload, &p)
				isolated[fmt.Sprint(p["ip"], p["mac"], p["host"])] = true
			}
		case strings.HasPrefix(e.Type, "custody.") || e.Type == cases.TypeEvidenceCollected:
			v.Custody = append(v.Custody, ev)
		}
		v.Timeline = append(v.Timeline, ev)
	}
	v.Isolated = len(isolated)
	sort.SliceStable(v.Timeline, func(i, j int) bool { return v.Timeline[i].Seq < v.Timeline[j].Seq })
	v.analyse(in.Lang)
	return v
}

// describe says in one line what an entry recorded.
func describe(e journal.Entry, lang string) string {
	var p map[string]any
	json.Unmarshal(e.Payload, &p)
	str := func(k string) string { s, _ := p[k].(string); return s }
	switch e.Type {
	case cases.TypeCaseOpened:
		return text(lang, "ev.opened") + ": " + str("title")
	case cases.TypePhaseChanged:
		s := cases.Phase(str("from")).Label().In(lang) + " → " + cases.Phase(str("to")).Label().In(lang)
		if r := str("reason"); r != "" {
			s += " (" + r + ")"
		}
		return text(lang, "ev.phase") + ": " + s
	case cases.TypeClassificationSet:
		return text(lang, "ev.classified") + ": " + cases.Level(str("level")).Label().In(lang)
	case cases.TypeNoteAdded:
		return text(lang, "ev.note") + ": " + str("text")
	case cases.TypeEvidenceCollected:
		return fmt.Sprintf("%s %s: %s %s, sha256 %s", text(lang, "ev.evidence"), str("exhibit"), str("category"), str("format"), str("sha256"))
	case cases.TypeSLAMilestone:
		return text(lang, "ev.milestone") + ": " + cases.Milestone(str("milestone")).Label().In(lang)
	case cases.TypeAssetsImported:
		n, _ := p["assets"].([]any)
		return fmt.Sprintf("%s: %d", text(lang, "ev.assets"), len(n))
	case cases.TypeEngineerJoined:
		return text(lang, "ev.joined") + ": " + str("engineer") + " (" + cases.Role(str("role")).Label().In(lang) + ")"
	case cases.TypeTaskAdded:
		return text(lang, "ev.task") + ": " + str("title")
	case cases.TypeAnalysisCompleted:
		st, _ := p["stats"].(map[string]any)
		return fmt.Sprintf("%s: %v packets, %v flows, %v events", text(lang, "ev.analysis"), st["packets"], st["flows"], st["events"])
	case "custody.exported":
		return text(lang, "ev.exported") + ": manifest sha256 " + str("manifest_sha256")
	case cases.TypeFindingsRecorded:
		fs, _ := p["findings"].([]any)
		var sigs []string
		for i, f := range fs {
			if m, ok := f.(map[string]any); ok && i < 3 {
				sigs = append(sigs, fmt.Sprint(m["signature"]))
			}
		}
		if len(fs) > 3 {
			sigs = append(sigs, "…")
		}
		return fmt.Sprintf("%s (%s): %d — %s", text(lang, "ev.findings"), str("source"), len(fs), strings.Join(sigs, "; "))
	}
	if strings.HasPrefix(e.Type, "isolation.") || strings.HasPrefix(e.Type, "cleanup.") {
		var parts []string
		for _, k := range []string{"ip", "mac", "host", "target", "path", "action", "mode", "reason", "before_sha256", "after_sha256", "error"} {
			if s := fmt.Sprint(p[k]); p[k] != nil && s != "" {
				parts = append(parts, k+"="+s)
			}
		}
		return text(lang, "ev.isolation") + " " + e.Type + ": " + strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(p)
	s := e.Type + " " + string(b)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// PDF renders an HTML report to a PDF file with headless Chromium.
func PDF(ctx context.Context, html []byte, out string) error {
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		return ErrNoRenderer
	}
	dir, err := os.MkdirTemp("", "firebreak-report")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, html, 0o600); err != nil {
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--no-pdf-header-footer", "--print-to-pdf="+abs, "file://"+page)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("chromium: %v: %s", err, lastLine(b))
	}
	if fi, err := os.Stat(abs); err != nil || fi.Size() == 0 {
		return fmt.Errorf("chromium wrote no PDF")
	}
	return nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// PDFBytes renders an HTML report as PDF with headless Chromium and
// returns the PDF.
func PDFBytes(ctx context.Context, html []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "firebreak-pdf")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "report.pdf")
	if err := PDF(ctx, html, out); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}
