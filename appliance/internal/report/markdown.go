package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
)

// mdEscape keeps case and traffic text from acting as Markdown or HTML
// when the report is rendered by a Markdown viewer.
var mdEscape = strings.NewReplacer("\\", "\\\\", "|", "\\|", "*", "\\*", "_", "\\_", "`", "\\`", "[", "\\[", "]", "\\]",
	"<", "&lt;", ">", "&gt;", "#", "\\#", "\r", " ", "\n", " ")

var mdTmpl = template.Must(template.New("report.md").Funcs(template.FuncMap{
	"label": func(l cases.Label, lang string) string { return mdEscape.Replace(l.In(lang)) },
	"t":     func(lang, key string) string { return text(lang, key) },
	"e":     func(v any) string { return mdEscape.Replace(fmt.Sprint(v)) },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(beijing).Format("2006-01-02 15:04:05")
	},
	"short": func(t time.Time) string { return t.In(beijing).Format("01-02 15:04:05") },
	"dur":   func(d cases.Duration) string { return time.Duration(d).Round(time.Minute).String() },
	"join":  func(s []string) string { return mdEscape.Replace(strings.Join(s, ", ")) },
}).Parse(`{{- $l := .Lang -}}
# {{t $l "title"}}

{{t $l "case"}}: {{e .C.ID}} — {{e .C.Title}}  
{{t $l "generated"}}: {{when .Now}} (UTC+8) · {{t $l "appliance"}}: {{e .Appliance}} · Firebreak {{e .Version}}

## {{t $l "s.control"}}

| | |
|---|---|
| {{t $l "version"}} | {{.C.LastSeq}} |
| {{t $l "basis"}} | #{{.C.LastSeq}} ` + "`{{.C.HeadHash}}`" + ` |
| {{t $l "author"}} | {{range .C.Engineers}}{{e .Name}} ({{label .Role.Label $l}}) {{end}} |
| {{t $l "distribution"}} | {{t $l "distlist"}} |

## {{t $l "s.summary"}}

{{with .A.RootCause}}{{e .}}

{{end}}| | |
|---|---|
| {{t $l "phase"}} | {{label .C.Phase.Label $l}} |
| {{t $l "level"}} | {{with .C.Classification}}{{label .Level.Label $l}}{{else}}{{t $l "notgraded"}}{{end}} |
| {{t $l "category"}} | {{with .C.Classification}}{{label .Category.Label $l}}{{else}}—{{end}} |
| {{t $l "findingsn"}} | {{len .A.Findings}} ({{t $l "sev"}}: {{index .A.Severity 1}} / {{index .A.Severity 2}} / {{index .A.Severity 3}}) |
| {{t $l "isolatedhosts"}} | {{.Isolated}} |

## {{t $l "s.intake"}}

| | |
|---|---|
| {{t $l "reporter"}} | {{e .C.Intake.Reporter.Name}} {{e .C.Intake.Reporter.Org}} {{e .C.Intake.Reporter.Phone}} |
| {{t $l "discovered"}} | {{when .C.Intake.DiscoveredAt}} |
| {{t $l "reported"}} | {{when .C.RequestReceived}} |
| {{t $l "symptoms"}} | {{range .C.Intake.Symptoms}}{{label .Label $l}}; {{end}}{{e .C.Intake.SymptomsOther}} |
| {{t $l "affected"}} | {{join .C.Intake.AffectedSystems}} |
| {{t $l "description"}} | {{e .C.Intake.Description}} |

## {{t $l "s.grading"}}

{{with .C.Classification}}| | |
|---|---|
| {{t $l "category"}} | {{label .Category.Label $l}}{{if .Subcategory}} / {{e .Subcategory}}{{end}} |
| {{t $l "importance"}} | {{label .Factors.Importance.Label $l}} |
| {{t $l "loss"}} | {{label .Factors.Loss.Label $l}} |
| {{t $l "impact"}} | {{label .Factors.Impact.Label $l}} |
| {{t $l "rationale"}} | {{label .Rationale $l}} |
| {{t $l "level"}} | **{{label .Level.Label $l}}** |
{{else}}{{t $l "notgraded"}}
{{end}}
## {{t $l "s.course"}}

{{t $l "tz"}}

| {{t $l "seq"}} | {{t $l "time"}} | {{t $l "actor"}} | {{t $l "what"}} |
|---|---|---|---|
{{range .Timeline}}| {{.Seq}} | {{short .At}} | {{e .Actor}} | {{e .What}} |
{{end}}
## {{t $l "s.containment"}}

{{if .Containment}}| {{t $l "seq"}} | {{t $l "time"}} | {{t $l "actor"}} | {{t $l "what"}} |
|---|---|---|---|
{{range .Containment}}| {{.Seq}} | {{short .At}} | {{e .Actor}} | {{e .What}} |
{{end}}{{else}}{{t $l "none"}}
{{end}}
## {{t $l "s.evidence"}}

{{if .C.Evidence}}| {{t $l "exhibit"}} | {{t $l "kind"}} | {{t $l "size"}} | SHA-256 | {{t $l "source"}} | {{t $l "collected"}} |
|---|---|---|---|---|---|
{{range .C.Evidence}}| {{.Exhibit}} | {{e .Category}} / {{e .Format}} | {{.Size}} | ` + "`{{.SHA256}}`" + ` | {{e .Source.Host}} {{e .Source.Path}} | {{when .CollectedAt}} {{join .Collectors}} |
{{end}}{{else}}{{t $l "none"}}
{{end}}
## {{t $l "s.analysis"}}

{{if .A.Findings}}### {{t $l "entry"}}

{{e .A.EntryPoint}}

### {{t $l "path"}}

| {{t $l "time"}} | {{t $l "what"}} | {{t $l "from"}} | {{t $l "to"}} | ATT&CK |
|---|---|---|---|---|
{{range .A.Path}}| {{short .At}} | {{e .What}}{{with .Finding}} ({{.}}){{end}} | {{e .Src}} | {{e .Dst}} | {{join .Techniques}} |
{{end}}
### {{t $l "iocs"}}

{{range .A.IOCs}}- {{e .}}
{{end}}
### {{t $l "attack"}}

| {{t $l "technique"}} | {{t $l "findingsn"}} | {{t $l "alerts"}} | {{t $l "modules"}} | {{t $l "first"}} |
|---|---|---|---|---|
{{range .A.Techniques}}| {{.ID}} {{e .Name}} | {{.Findings}} | {{.Alerts}} | {{join .Modules}} | {{short .First}} |
{{end}}{{else}}{{t $l "nofindings"}}
{{end}}
## {{t $l "s.rootcause"}}

{{if .A.RootCause}}{{e .A.RootCause}}{{else}}{{t $l "nofindings"}}{{end}}

## {{t $l "s.impact"}}

- {{t $l "phasenow"}}: {{label .C.Phase.Label $l}}
- {{t $l "affectedhosts"}}: {{join .A.Affected}}
- {{t $l "isolatedhosts"}}: {{.Isolated}}

## {{t $l "s.recommend"}}

{{range $i, $r := .A.Recommend}}{{$i}}. {{e $r}}
{{else}}{{t $l "none"}}
{{end}}
## {{t $l "s.notify"}}

| {{t $l "notifyto"}} | {{t $l "rule"}} | {{t $l "deadline"}} | {{t $l "status"}} |
|---|---|---|---|
{{range .A.Notify}}| {{e .To}} | {{e .Rule}} | {{e .Deadline}} | {{e .Status}} |
{{end}}
## {{t $l "s.sla"}}

| {{t $l "milestone"}} | {{t $l "target"}} | {{t $l "state"}} | {{t $l "met"}} |
|---|---|---|---|
{{range .Timers}}| {{label .Milestone.Label $l}} | {{dur .Target}} | {{.State}} | {{when .MetAt}} |
{{end}}
## {{t $l "s.limits"}}

{{range .A.Limitations}}- {{e .}}
{{end}}
## {{t $l "s.appendix"}}

### {{t $l "s.findings"}}

{{range .A.Findings}}- {{.ID}} {{short .Time}} {{e .Signature}} — {{e .Src}} → {{e .Dst}}{{if .DstPort}}:{{.DstPort}}{{end}}{{e .Path}} ×{{.Count}} ({{e .Module}} {{e .ModuleVersion}})
{{else}}{{t $l "nofindings"}}
{{end}}
### {{t $l "s.integrity"}}

{{t $l "entries"}}: {{.C.LastSeq}} · {{t $l "head"}}: ` + "`{{.C.HeadHash}}`" + `
`))

// Markdown writes the report as Markdown, with the same sections as HTML
// (the charts are left out: Markdown has no drawing).
func Markdown(w io.Writer, in Input) error {
	if !validLang(in.Lang) {
		return fmt.Errorf("report language %q: want zh or en", in.Lang)
	}
	var buf bytes.Buffer
	if err := mdTmpl.Execute(&buf, build(in)); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
