package report

// texts are the report's fixed words, in English and Chinese.
var texts = map[string][2]string{
	"title":         {"Incident response report", "网络安全事件应急响应报告"},
	"case":          {"Case", "案件编号"},
	"generated":     {"Generated", "生成时间"},
	"appliance":     {"Appliance", "应急设备"},
	"s.summary":     {"1. Summary", "一、事件概况"},
	"s.intake":      {"2. Request for help", "二、接收请求"},
	"s.grading":     {"3. Confirmation and grading", "三、事件确认与定级"},
	"s.course":      {"4. Course of the response", "四、处置过程"},
	"s.containment": {"5. Containment", "五、事件抑制"},
	"s.evidence":    {"6. Evidence", "六、证据清单"},
	"s.analysis":    {"7. Traffic analysis", "七、流量分析"},
	"s.sla":         {"8. Service times", "八、服务时限"},
	"s.notes":       {"9. Notes and tasks", "九、备注与任务"},
	"s.integrity":   {"10. Integrity of this record", "十、记录完整性"},
	"phase":         {"Phase", "当前阶段"},
	"level":         {"Level", "事件级别"},
	"category":      {"Category", "事件类别"},
	"engineers":     {"Engineers", "应急人员"},
	"reporter":      {"Reporter", "报告人"},
	"contacts":      {"Contacts", "联系人"},
	"discovered":    {"Discovered", "发现时间"},
	"reported":      {"Reported", "报告时间"},
	"symptoms":      {"Symptoms reported", "报告的异常现象"},
	"affected":      {"Affected systems", "受影响系统"},
	"description":   {"Description", "情况描述"},
	"assets":        {"Assets on the customer's list", "客户资产清单中的资产"},
	"factors":       {"Grading factors", "定级要素"},
	"importance":    {"Importance of the affected object", "事件影响对象重要程度"},
	"loss":          {"Loss", "损失程度"},
	"impact":        {"Social impact", "社会影响"},
	"derived":       {"Derived level", "推导级别"},
	"rationale":     {"Rationale", "定级依据"},
	"override":      {"Overridden by the engineer", "人工调整"},
	"notgraded":     {"Not yet graded.", "尚未定级。"},
	"seq":           {"#", "序号"},
	"time":          {"Time", "时间"},
	"actor":         {"By", "操作人"},
	"what":          {"What", "内容"},
	"none":          {"None recorded.", "无记录。"},
	"exhibit":       {"Exhibit", "编号"},
	"kind":          {"Category / format", "类别/格式"},
	"size":          {"Bytes", "大小(字节)"},
	"source":        {"Source", "来源"},
	"collected":     {"Collected", "提取时间"},
	"inputs":        {"Captures", "分析对象"},
	"stats":         {"Counts", "统计"},
	"milestone":     {"Milestone", "节点"},
	"target":        {"Target", "时限"},
	"state":         {"State", "状态"},
	"met":           {"Reached", "达成时间"},
	"tasks":         {"Tasks", "任务"},
	"notes":         {"Notes", "备注"},
	"entries":       {"Journal entries", "日志条目数"},
	"head":          {"Journal head (SHA-256)", "日志链头(SHA-256)"},
	"verifyhint":    {"Every statement above comes from the case journal, a hash chain the appliance signs. Check it with `firebreak case verify`; the evidence bundle lets anyone check it with standard tools.", "以上内容均来自案件日志(由设备签名的哈希链)。可用 `firebreak case verify` 校验;证据包可用标准工具独立校验。"},
	"ev.opened":     {"Case opened", "立案"},
	"ev.phase":      {"Phase", "阶段变更"},
	"ev.classified": {"Graded", "定级"},
	"ev.note":       {"Note", "备注"},
	"ev.evidence":   {"Evidence", "证据"},
	"ev.milestone":  {"SLA milestone", "服务节点"},
	"ev.assets":     {"Asset list imported, assets", "导入资产清单,资产数"},
	"ev.joined":     {"Engineer joined", "应急人员加入"},
	"ev.task":       {"Task", "任务"},
	"ev.analysis":   {"Traffic analysed", "流量分析"},
	"ev.exported":   {"Evidence exported", "证据导出"},
	"tz":            {"Times are Beijing time (UTC+8).", "时间均为北京时间(UTC+8)。"},
}

func text(lang, key string) string {
	t, ok := texts[key]
	if !ok {
		return key
	}
	if lang == "zh" {
		return t[1]
	}
	return t[0]
}
