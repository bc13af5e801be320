package export

import (
	"bytes"
	"html/template"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
)

// The forms police receive with the evidence (两高一部 2016 rules on
// electronic data, art. 14–15): the extraction record and the extraction
// list, filled in from the case and left to be signed by the two
// collectors, the data holder and the witness.
const (
	FormRecord = "forms/extraction-record.html" // 电子数据提取笔录
	FormList   = "forms/extraction-list.html"   // 电子数据提取固定清单
)

var formFuncs = template.FuncMap{
	"nth": func(s []string, i int) string {
		if i < len(s) {
			return s[i]
		}
		return ""
	},
	"bj": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(beijing).Format("2006年01月02日 15:04:05")
	},
}

var recordTmpl = template.Must(template.New("record").Funcs(formFuncs).Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>电子数据提取笔录 {{.C.ID}}</title>
<style>body{font-family:"Noto Serif CJK SC","Noto Sans CJK SC",serif;margin:2em;font-size:11pt}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #000;padding:4px 6px;text-align:left;vertical-align:top}
.sign td{height:3em}</style></head><body>
<h1 style="text-align:center">电子数据提取笔录</h1>
<p style="text-align:center">Electronic data extraction record</p>
<table>
<tr><th>案件编号 Case</th><td>{{.C.ID}}</td></tr>
<tr><th>案件名称 Title</th><td>{{.C.Title}}</td></tr>
<tr><th>提取时间 Time (北京时间)</th><td>{{bj .First}} 至 {{bj .Last}}</td></tr>
<tr><th>提取地点 Place</th><td>{{range .C.Intake.AffectedSystems}}{{.}}; {{end}}{{.C.Intake.Reporter.Org}}</td></tr>
<tr><th>提取设备 Appliance</th><td>Firebreak {{.Version}}, {{.Appliance}}</td></tr>
<tr><th>提取人 Collectors</th><td>{{range .Collectors}}{{.}}; {{end}}</td></tr>
<tr><th>见证人 Witness</th><td>{{range .Witnesses}}{{.}}; {{end}}</td></tr>
<tr><th>电子数据持有人/提供人 Data holder</th><td>{{.C.Intake.Reporter.Name}} {{.C.Intake.Reporter.Org}} {{.C.Intake.Reporter.Phone}}</td></tr>
<tr><th>未扣押原始存储介质的原因 Why the original medium was not seized</th><td>{{range .NotSeized}}{{.}}<br>{{end}}</td></tr>
<tr><th>提取方法与过程 Method</th><td>{{range .C.Evidence}}{{.Exhibit}}: {{.Method.Tool}} {{.Method.Version}} {{range .Method.Args}}{{.}} {{end}}{{if .Method.Filter}}(filter {{.Method.Filter}}){{end}}<br>{{end}}
各项数据提取时即计算SHA-256校验值, 存入只读证据库, 每一步记入以设备密钥签名的哈希链日志。Each item was hashed (SHA-256) while it was taken, stored read-only, and every step recorded in the case journal, a hash chain signed by the appliance key.</td></tr>
<tr><th>提取数据及完整性校验值 Items and integrity values</th><td>共 {{len .C.Evidence}} 项, 见《电子数据提取固定清单》。{{len .C.Evidence}} items, see the extraction list.</td></tr>
<tr><th>对现场的操作 Changes to the scene</th><td>见 actions.jsonl ({{.Actions}} 条记录)。See actions.jsonl ({{.Actions}} records).</td></tr>
</table>
<h3>签名 Signatures</h3>
<table class="sign">
<tr><th>提取人 Collector 1</th><td>{{nth .Collectors 0}}</td><th>提取人 Collector 2</th><td>{{nth .Collectors 1}}</td></tr>
<tr><th>持有人/提供人 Data holder</th><td>{{.C.Intake.Reporter.Name}}</td><th>见证人 Witness</th><td>{{range .Witnesses}}{{.}} {{end}}</td></tr>
<tr><th>日期 Date</th><td></td><th></th><td></td></tr>
</table>
</body></html>
`))

var listTmpl = template.Must(template.New("list").Funcs(formFuncs).Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>电子数据提取固定清单 {{.C.ID}}</title>
<style>body{font-family:"Noto Serif CJK SC","Noto Sans CJK SC",serif;margin:2em;font-size:10pt}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #000;padding:3px 5px;text-align:left;vertical-align:top}
td.h{font-family:monospace;font-size:8pt;word-break:break-all}.sign td{height:3em}</style></head><body>
<h1 style="text-align:center">电子数据提取固定清单</h1>
<p style="text-align:center">Electronic data extraction list — {{.C.ID}} {{.C.Title}}</p>
<table>
<tr><th>序号 No.</th><th>名称 File</th><th>类别/格式 Type</th><th>大小 Bytes</th><th>完整性校验值 Integrity values</th><th>来源 Source</th><th>提取时间 Collected</th><th>提取人/见证人 Collectors / witness</th><th>备注 Remarks</th></tr>
{{range .Items}}<tr><td>{{.Exhibit}}</td><td>{{.File}}</td><td>{{.Category}} / {{.Format}}</td><td>{{.Size}}</td>
<td class="h">SHA-256 {{.SHA256}}<br>SM3 {{.SM3}}<br>MD5 {{.MD5}}</td><td>{{.Source.Host}} {{.Source.Interface}} {{.Source.Path}}</td><td>{{bj .CollectedAt}}</td><td>{{range .Collectors}}{{.}}; {{end}}{{with .Witness}}见证 {{.}}{{end}}</td><td>{{.Description}}</td></tr>
{{end}}</table>
<h3>签名 Signatures</h3>
<table class="sign">
<tr><th>提取人 Collector 1</th><td>{{nth .Collectors 0}}</td><th>提取人 Collector 2</th><td>{{nth .Collectors 1}}</td></tr>
<tr><th>持有人/提供人 Data holder</th><td>{{.C.Intake.Reporter.Name}}</td><th>见证人 Witness</th><td>{{range .Witnesses}}{{.}} {{end}}</td></tr>
</table>
</body></html>
`))

type formView struct {
	Input
	C           *cases.Case
	First, Last time.Time
	Collectors  []string
	Witnesses   []string
	NotSeized   []string
	Actions     int
	Items       []manifestItem
}

func newFormView(c *cases.Case, in Input) formView {
	v := formView{Input: in, C: c}
	seen := map[string]bool{}
	for _, it := range c.Evidence {
		if v.First.IsZero() || it.CollectedAt.Before(v.First) {
			v.First = it.CollectedAt
		}
		if it.CollectedAt.After(v.Last) {
			v.Last = it.CollectedAt
		}
		for _, who := range it.Collectors {
			if !seen["c"+who] {
				seen["c"+who] = true
				v.Collectors = append(v.Collectors, who)
			}
		}
		if it.Witness != "" && !seen["w"+it.Witness] {
			seen["w"+it.Witness] = true
			v.Witnesses = append(v.Witnesses, it.Witness)
		}
		if it.NotSeized != "" && !seen["n"+it.NotSeized] {
			seen["n"+it.NotSeized] = true
			v.NotSeized = append(v.NotSeized, it.NotSeized)
		}
	}
	_, actions := chains(in.Entries)
	v.Actions = bytes.Count(actions, []byte("\n"))
	return v
}

func formRecord(c *cases.Case, in Input) []byte {
	var b bytes.Buffer
	recordTmpl.Execute(&b, newFormView(c, in))
	return b.Bytes()
}

func formList(c *cases.Case, names map[string]string, s map[string]sums, in Input) []byte {
	v := newFormView(c, in)
	for _, it := range c.Evidence {
		f := names[it.SHA256]
		v.Items = append(v.Items, manifestItem{EvidenceItem: it, File: f, SM3: s[f].sm3, MD5: s[f].md5})
	}
	var b bytes.Buffer
	listTmpl.Execute(&b, v)
	return b.Bytes()
}
