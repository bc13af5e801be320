package report

import (
	"fmt"
	"html/template"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
)

// techniqueNames are the ATT&CK names of the techniques the first-party
// modules report; another ID is shown as it is.
var techniqueNames = map[string][2]string{
	"T1014": {"Rootkit", "Rootkit"}, "T1037.004": {"RC Scripts", "RC 启动脚本"},
	"T1046":     {"Network Service Discovery", "网络服务发现"},
	"T1048":     {"Exfiltration Over Alternative Protocol", "经替代协议外传数据"},
	"T1053.003": {"Scheduled Task/Job: Cron", "计划任务: Cron"}, "T1071": {"Application Layer Protocol", "应用层协议通信"},
	"T1071.004": {"Application Layer Protocol: DNS", "应用层协议: DNS"}, "T1078": {"Valid Accounts", "有效账户"},
	"T1078.003": {"Valid Accounts: Local Accounts", "有效账户: 本地账户"}, "T1098.004": {"SSH Authorized Keys", "SSH 授权密钥"},
	"T1110": {"Brute Force", "暴力破解"}, "T1110.001": {"Brute Force: Password Guessing", "暴力破解: 密码猜测"},
	"T1110.003": {"Brute Force: Password Spraying", "暴力破解: 密码喷洒"}, "T1136.001": {"Create Account: Local Account", "创建本地账户"},
	"T1189": {"Drive-by Compromise", "水坑/路过式攻击"}, "T1190": {"Exploit Public-Facing Application", "利用面向公众的应用"},
	"T1505.003": {"Server Software Component: Web Shell", "服务器组件: WebShell"},
	"T1543.002": {"Systemd Service", "Systemd 服务"}, "T1546.004": {"Unix Shell Configuration Modification", "Shell 配置修改"},
	"T1548.001": {"Setuid and Setgid", "Setuid/Setgid"}, "T1548.003": {"Sudo and Sudo Caching", "Sudo 提权"},
	"T1574.006": {"Dynamic Linker Hijacking", "动态链接器劫持"}, "T1595.002": {"Vulnerability Scanning", "漏洞扫描"},
}

// recommendations by technique family: what to do about what was found.
var recommendations = []struct {
	prefixes []string
	text     [2]string
}{
	{[]string{"T1110", "T1078"}, [2]string{
		"Brute force and account abuse were seen: enforce account lockout and multi-factor authentication on the targeted services, rotate the passwords of the targeted accounts, and restrict the services to management networks.",
		"发现暴力破解或账户滥用: 对受攻击服务启用账户锁定和多因素认证, 重置相关账户口令, 并将服务限制在管理网段访问。"}},
	{[]string{"T1190", "T1595", "T1189"}, [2]string{
		"Attacks on a public-facing application were seen: patch the application and its framework, put it behind a web application firewall, and review its logs for the same requests.",
		"发现针对对外应用的攻击: 修补应用及其框架漏洞, 部署 Web 应用防火墙, 并在应用日志中排查同类请求。"}},
	{[]string{"T1505"}, [2]string{
		"A web shell was found: remove it after preserving it, search the web roots for files changed around the same time, and make the web root read-only to the web server.",
		"发现 WebShell: 固定证据后清除, 排查同时段被修改的网站文件, 并将网站目录设为 Web 服务只读。"}},
	{[]string{"T1071", "T1048"}, [2]string{
		"Command-and-control or exfiltration over DNS or another protocol was seen: allow DNS only through the internal resolvers, log and filter outbound DNS, and block the domains and addresses listed as indicators.",
		"发现经 DNS 或其他协议的远控/外传: 仅允许经内部解析器出网解析, 记录并过滤出站 DNS, 封禁所列失陷指标中的域名和地址。"}},
	{[]string{"T1046"}, [2]string{
		"Network scanning from inside was seen: segment the network so that hosts reach only the services they need, and find out why the scanning host scanned.",
		"发现内网扫描: 进行网络分段, 使主机只能访问所需服务, 并查明扫描主机的原因。"}},
	{[]string{"T1053", "T1543", "T1037", "T1546", "T1098", "T1574", "T1548", "T1014", "T1136"}, [2]string{
		"Persistence or privilege escalation on a host was found: rebuild the host from a known-good image where possible, otherwise remove each item found, and review accounts, keys, services and scheduled tasks on hosts of the same role.",
		"发现主机持久化或提权痕迹: 尽可能用可信镜像重建主机, 否则逐项清除, 并排查同类主机的账户、密钥、服务和计划任务。"}},
}

// TechniqueRow is one line of the ATT&CK table.
type TechniqueRow struct {
	ID, Name    string
	Findings    int
	Alerts      int
	Modules     []string
	First, Last time.Time
}

// Step is one step of the reconstructed attack path.
type Step struct {
	At          time.Time
	What        string
	Src, Dst    string
	Techniques  []string
	Finding     string
	Alerts      int
	Containment bool
}

// Notification is a duty to notify and what the case shows of it.
type Notification struct {
	To, Rule, Deadline, Status string
}

// analysisView is what the report derives from the findings.
type analysisView struct {
	Findings    []cases.FindingRecord
	Techniques  []TechniqueRow
	Path        []Step
	RootCause   string
	EntryPoint  string
	IOCs        []string
	Affected    []string
	Severity    [4]int // alerts by severity 1..3
	Recommend   []string
	Notify      []Notification
	Limitations []string
	FindingsSVG template.HTML
	CourseSVG   template.HTML
}

func (v *view) analyse(lang string) {
	a := &v.A
	a.Findings = append([]cases.FindingRecord{}, v.C.Findings...)
	sort.SliceStable(a.Findings, func(i, j int) bool { return a.Findings[i].Time.Before(a.Findings[j].Time) })
	tech := map[string]*TechniqueRow{}
	iocs, affected := map[string]bool{}, map[string]bool{}
	for _, f := range a.Findings {
		if f.Severity >= 1 && f.Severity <= 3 {
			a.Severity[f.Severity] += max(f.Count, 1)
		}
		for _, t := range f.Techniques {
			r := tech[t]
			if r == nil {
				r = &TechniqueRow{ID: t, Name: techniqueName(t, lang), First: f.Time}
				tech[t] = r
			}
			r.Findings++
			r.Alerts += max(f.Count, 1)
			if !contains(r.Modules, f.Module) {
				r.Modules = append(r.Modules, f.Module)
			}
			if f.Time.Before(r.First) {
				r.First = f.Time
			}
			if f.LastTime.After(r.Last) {
				r.Last = f.LastTime
			}
		}
		for _, ip := range []string{f.Src, f.Dst} {
			if addr, err := netip.ParseAddr(ip); err == nil {
				if addr.IsPrivate() || addr.IsLoopback() {
					affected[ip] = true
				} else {
					iocs["ip "+ip] = true
				}
			}
		}
		if f.Host != "" {
			affected[f.Host] = true
		}
		for _, d := range f.Metadata["domain"] {
			iocs["domain "+d] = true
		}
		if t := f.Metadata["ioc_type"]; len(t) > 0 {
			for _, val := range f.Metadata["ioc_value"] {
				iocs[t[0]+" "+val] = true
			}
		}
		if f.Path != "" {
			iocs["file "+f.Host+":"+f.Path] = true
		}
	}
	for _, r := range tech {
		a.Techniques = append(a.Techniques, *r)
	}
	sort.Slice(a.Techniques, func(i, j int) bool { return a.Techniques[i].First.Before(a.Techniques[j].First) })
	a.IOCs, a.Affected = keys(iocs), keys(affected)

	// The attack path: the first finding of each signature, in time order,
	// with the containment steps placed among them.
	seen := map[string]bool{}
	for _, f := range a.Findings {
		k := f.Module + "\x00" + f.Signature
		if seen[k] {
			continue
		}
		seen[k] = true
		a.Path = append(a.Path, Step{At: f.Time, What: f.Signature, Src: endpoint(f.Src, f.SrcPort, f.Host), Dst: endpoint(f.Dst, f.DstPort, f.Path),
			Techniques: f.Techniques, Finding: f.ID, Alerts: max(f.Count, 1)})
	}
	for _, e := range v.Containment {
		a.Path = append(a.Path, Step{At: e.At, What: e.What, Containment: true})
	}
	sort.SliceStable(a.Path, func(i, j int) bool { return a.Path[i].At.Before(a.Path[j].At) })

	if len(a.Findings) > 0 {
		f := a.Findings[0]
		a.EntryPoint = fmt.Sprintf("%s (%s) — %s → %s, %s", f.Signature, f.ID, endpoint(f.Src, f.SrcPort, f.Host), endpoint(f.Dst, f.DstPort, f.Path), f.Time.In(beijing).Format("2006-01-02 15:04:05"))
		var names []string
		for _, t := range a.Techniques {
			names = append(names, t.ID+" "+t.Name)
		}
		if lang == "zh" {
			a.RootCause = fmt.Sprintf("最早的发现为 %s: %s 于 %s 针对 %s, 共 %d 次告警。此后依次出现的攻击技术为: %s。共 %d 项发现, 涉及 %d 个内部主机。",
				f.Signature, endpoint(f.Src, f.SrcPort, f.Host), f.Time.In(beijing).Format("2006-01-02 15:04:05"), endpoint(f.Dst, f.DstPort, f.Path),
				max(f.Count, 1), strings.Join(names, "; "), len(a.Findings), len(a.Affected))
		} else {
			a.RootCause = fmt.Sprintf("The earliest finding is %s: %s against %s at %s, %d alerts. The techniques seen after it, in order: %s. %d findings in all, involving %d internal hosts.",
				f.Signature, endpoint(f.Src, f.SrcPort, f.Host), endpoint(f.Dst, f.DstPort, f.Path), f.Time.In(beijing).Format("2006-01-02 15:04:05"),
				max(f.Count, 1), strings.Join(names, "; "), len(a.Findings), len(a.Affected))
		}
	}

	li := 0
	if lang == "zh" {
		li = 1
	}
	for _, r := range recommendations {
		for _, t := range a.Techniques {
			if hasPrefix(t.ID, r.prefixes) {
				a.Recommend = append(a.Recommend, r.text[li])
				break
			}
		}
	}
	if len(a.IOCs) > 0 {
		a.Recommend = append(a.Recommend, [2]string{
			fmt.Sprintf("Block and watch for the %d indicators of compromise listed in section 8 (also in the evidence bundle as STIX 2.1).", len(a.IOCs)),
			fmt.Sprintf("封禁并持续监测第八节所列 %d 个失陷指标(证据包中另附 STIX 2.1 格式)。", len(a.IOCs))}[li])
	}
	if len(v.Containment) > 0 {
		a.Recommend = append(a.Recommend, [2]string{
			"Release each isolated host only after it has been cleaned and checked; the isolations are listed in section 6.",
			"被隔离主机须在清理并复查后方可解除隔离, 隔离记录见第六节。"}[li])
	}
	a.notifications(v, lang)
	a.limitations(v, lang)
	a.FindingsSVG = findingsChart(a.Findings, v.Containment, lang)
	a.CourseSVG = courseChart(v.Timeline, lang)
}

// notifications lists the duties to notify that the level brings, with the
// deadline counted from discovery, and what the journal shows was done.
func (a *analysisView) notifications(v *view, lang string) {
	zh := lang == "zh"
	start := v.C.Intake.DiscoveredAt
	if start.IsZero() {
		start = v.C.RequestReceived()
	}
	var exported, transferred []string
	for _, e := range v.Custody {
		if strings.HasPrefix(e.What, text(lang, "ev.exported")) || strings.Contains(e.What, "custody.transferred") {
			exported = append(exported, e.At.In(beijing).Format("2006-01-02 15:04")+" "+e.Actor)
		}
		if strings.Contains(e.What, "custody.transferred") {
			transferred = append(transferred, e.At.In(beijing).Format("2006-01-02 15:04"))
		}
	}
	cl := v.C.Classification
	switch {
	case cl == nil:
		a.Notify = append(a.Notify, Notification{To: pick(zh, "Regulator (网信部门)", "网信部门及行业主管部门"),
			Rule: pick(zh, "depends on the level; the case is not graded yet", "取决于事件级别; 本案尚未定级"), Deadline: "—", Status: "—"})
	case cl.Level == cases.LevelI || cl.Level == cases.LevelII || cl.Level == cases.LevelIII:
		due := start.Add(4 * time.Hour)
		a.Notify = append(a.Notify, Notification{To: pick(zh, "Regulator (网信部门) and the sector authority", "属地网信部门及行业主管部门"),
			Rule: pick(zh, "level "+cl.Level.Numeral()+": report within 4 hours of discovery (1 hour for critical information infrastructure)",
				cl.Level.Numeral()+"级事件: 发现后 4 小时内报告(关键信息基础设施 1 小时内)"),
			Deadline: due.In(beijing).Format("2006-01-02 15:04"), Status: pick(zh, "not recorded in the case journal", "案件日志中无报告记录")})
	default:
		a.Notify = append(a.Notify, Notification{To: pick(zh, "Regulator (网信部门)", "网信部门"),
			Rule:     pick(zh, "level "+cl.Level.Numeral()+": no mandatory report; keep the record", cl.Level.Numeral()+"级事件: 无强制报告要求, 留存记录备查"),
			Deadline: "—", Status: "—"})
	}
	st := pick(zh, "no evidence handed over yet", "尚未移交证据")
	if len(transferred) > 0 {
		st = pick(zh, "evidence handed over: ", "已移交证据: ") + strings.Join(transferred, ", ")
	} else if len(exported) > 0 {
		st = pick(zh, "evidence bundle exported: ", "已导出证据包: ") + strings.Join(exported, ", ")
	}
	a.Notify = append(a.Notify, Notification{To: pick(zh, "Police (公安机关)", "公安机关"),
		Rule: pick(zh, "where a crime is suspected: hand over the evidence bundle with its extraction record and list",
			"涉嫌违法犯罪的: 移交证据包及电子数据提取笔录、固定清单"), Deadline: "—", Status: st})
}

func (a *analysisView) limitations(v *view, lang string) {
	zh := lang == "zh"
	for _, an := range v.C.Analyses {
		if n := an.Stats["stream_gaps"]; n > 0 {
			a.Limitations = append(a.Limitations, fmt.Sprintf(pick(zh, "Analysis of %s: %d TCP stream gaps (packets missing from the capture).", "%s 的分析: TCP 流缺失 %d 处(抓包不完整)。"), an.At.In(beijing).Format("01-02 15:04"), n))
		}
		if n := an.Stats["warnings"]; n > 0 {
			a.Limitations = append(a.Limitations, fmt.Sprintf(pick(zh, "Analysis of %s: %d damaged or unreadable records.", "%s 的分析: %d 条损坏或无法解析的记录。"), an.At.In(beijing).Format("01-02 15:04"), n))
		}
		if len(an.Modules) == 0 {
			a.Limitations = append(a.Limitations, fmt.Sprintf(pick(zh, "Analysis of %s ran no detection modules.", "%s 的分析未运行检测模块。"), an.At.In(beijing).Format("01-02 15:04")))
		}
	}
	for _, it := range v.C.Evidence {
		if it.KernelDrops != nil && *it.KernelDrops > 0 {
			a.Limitations = append(a.Limitations, fmt.Sprintf(pick(zh, "Exhibit %s: the kernel dropped %d packets during capture.", "证据 %s: 抓包期间内核丢包 %d 个。"), it.Exhibit, *it.KernelDrops))
		}
	}
	if len(v.C.Analyses) == 0 {
		a.Limitations = append(a.Limitations, pick(zh, "No traffic was analysed on the appliance.", "本设备未进行流量分析。"))
	}
	a.Limitations = append(a.Limitations, pick(zh,
		"Findings are what the detection modules recognised in the evidence collected; activity outside the captured segments and periods, or not matched by a module, is not covered.",
		"发现结果仅限检测模块在所采集证据中识别到的内容; 未采集的网段和时段, 以及模块未覆盖的行为, 不在本报告范围内。"))
}

func pick(zh bool, en, z string) string {
	if zh {
		return z
	}
	return en
}

func techniqueName(id, lang string) string {
	if n, ok := techniqueNames[id]; ok {
		if lang == "zh" {
			return n[1]
		}
		return n[0]
	}
	return ""
}

func endpoint(ip string, port uint16, alt string) string {
	switch {
	case ip != "" && port != 0:
		if strings.Contains(ip, ":") {
			return fmt.Sprintf("[%s]:%d", ip, port)
		}
		return fmt.Sprintf("%s:%d", ip, port)
	case ip != "":
		return ip
	}
	return alt
}

func hasPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// findingsChart draws the alerts over the capture's time as bars, with the
// containment steps as red lines: what happened around the key events.
func findingsChart(fs []cases.FindingRecord, containment []Event, lang string) template.HTML {
	if len(fs) == 0 {
		return ""
	}
	t0, t1 := fs[0].Time, fs[0].LastTime
	for _, f := range fs {
		if f.Time.Before(t0) {
			t0 = f.Time
		}
		if f.LastTime.After(t1) {
			t1 = f.LastTime
		}
	}
	// Containment within a day of the last alert is drawn too.
	for _, e := range containment {
		if e.At.After(t1) && e.At.Sub(t1) < 24*time.Hour {
			t1 = e.At
		}
	}
	const buckets, w, h, left, bottom = 40, 640.0, 160.0, 40.0, 30.0
	span := t1.Sub(t0)
	if span <= 0 {
		span = time.Second
	}
	var counts [buckets]int
	for _, f := range fs {
		// A folded finding spreads its alerts over its time span.
		n := max(f.Count, 1)
		for k := 0; k < n && k < 1000; k++ {
			at := f.Time
			if n > 1 {
				at = f.Time.Add(time.Duration(int64(f.LastTime.Sub(f.Time)) * int64(k) / int64(n-1)))
			}
			i := int(int64(at.Sub(t0)) * buckets / int64(span))
			counts[min(max(i, 0), buckets-1)] += 1
		}
	}
	peak := 1
	for _, c := range counts {
		peak = max(peak, c)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img"><title>%s</title>`, w, h, w, h,
		template.HTMLEscapeString(pick(lang == "zh", "Alerts over time", "告警时间分布")))
	bw := (w - left - 10) / buckets
	for i, c := range counts {
		bh := (h - bottom - 10) * float64(c) / float64(peak)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#4a78b5"/>`, left+float64(i)*bw, h-bottom-bh, bw-1, bh)
	}
	for _, e := range containment {
		if e.At.Before(t0) || e.At.After(t1) {
			continue
		}
		x := left + (w-left-10)*float64(e.At.Sub(t0))/float64(span)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="5" x2="%.1f" y2="%.0f" stroke="#c0392b" stroke-width="2"/>`, x, x, h-bottom)
	}
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333"/>`, left, h-bottom, w-10, h-bottom)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="10">%s</text>`, left, h-12, t0.In(beijing).Format("01-02 15:04:05"))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="10" text-anchor="end">%s</text>`, w-10, h-12, t1.In(beijing).Format("01-02 15:04:05"))
	fmt.Fprintf(&b, `<text x="2" y="14" font-size="10">%d</text><text x="2" y="%.0f" font-size="10">0</text>`, peak, h-bottom)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// courseChart draws the response's journal entries on a time line, one
// mark per entry, coloured by kind.
func courseChart(tl []Event, lang string) template.HTML {
	if len(tl) < 2 {
		return ""
	}
	t0, t1 := tl[0].At, tl[0].At
	for _, e := range tl {
		if e.At.Before(t0) {
			t0 = e.At
		}
		if e.At.After(t1) {
			t1 = e.At
		}
	}
	span := t1.Sub(t0)
	if span <= 0 {
		span = time.Second
	}
	const w, h, left = 640.0, 70.0, 10.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img"><title>%s</title>`, w, h, w, h,
		template.HTMLEscapeString(pick(lang == "zh", "Course of the response", "处置过程时间线")))
	fmt.Fprintf(&b, `<line x1="%.0f" y1="30" x2="%.0f" y2="30" stroke="#333"/>`, left, w-10)
	for _, e := range tl {
		x := left + (w-left-10)*float64(e.At.Sub(t0))/float64(span)
		colour := "#7f8c8d"
		switch {
		case strings.Contains(e.What, "isolation.") || strings.HasPrefix(e.What, text(lang, "ev.isolation")):
			colour = "#c0392b"
		case strings.HasPrefix(e.What, text(lang, "ev.evidence")) || strings.HasPrefix(e.What, text(lang, "ev.exported")):
			colour = "#27ae60"
		case strings.HasPrefix(e.What, text(lang, "ev.findings")) || strings.HasPrefix(e.What, text(lang, "ev.analysis")):
			colour = "#e67e22"
		case strings.HasPrefix(e.What, text(lang, "ev.phase")):
			colour = "#2c3e50"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="30" r="4" fill="%s"/>`, x, colour)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="55" font-size="10">%s</text>`, left, t0.In(beijing).Format("01-02 15:04"))
	fmt.Fprintf(&b, `<text x="%.0f" y="55" font-size="10" text-anchor="end">%s</text>`, w-10, t1.In(beijing).Format("01-02 15:04"))
	fmt.Fprintf(&b, `<text x="%.0f" y="12" font-size="10">%s</text>`, left, template.HTMLEscapeString(pick(lang == "zh",
		"● phase  ● evidence  ● analysis/findings  ● containment", "● 阶段  ● 证据  ● 分析/发现  ● 隔离")))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
