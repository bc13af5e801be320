package cases

// The categories and subcategories of GB/T 20986-2023 (信息安全技术 网络安全
// 事件分类分级指南), section 5.2 and Annex B.
//
// Source: the printed standard was not available to us. The ten top-level
// categories are those named by the standard's preface (分类由7类增加至10类)
// and the project's issue. The subcategories and their Annex B codes follow
// a published seed table of the 2023 classification (an event_category SQL
// table in a public repository, rows 1-76: MP 10, NA 21, DS 12, IC 8, DE 5,
// RO 8, SHE 3, AB 3, FOC 5, OTH), whose counts agree with independent
// summaries of the revision (malware 7→10, network attack 7→21, data security
// 5→12). The English labels are ours. Check the codes against the printed
// standard before quoting them to an authority.
//
// Keys are stable: they are stored in the journal. Never rename one; add a
// new key and keep the old one valid.

// Category is a top-level incident category.
type Category string

// The ten top-level categories of GB/T 20986-2023.
const (
	CatMalware          Category = "malware"           // 恶意程序事件 MP
	CatNetworkAttack    Category = "network_attack"    // 网络攻击事件 NA
	CatDataSecurity     Category = "data_security"     // 数据安全事件 DS
	CatContentSecurity  Category = "content_security"  // 信息内容安全事件 IC
	CatEquipmentFailure Category = "equipment_failure" // 设备设施故障事件 DE
	CatViolation        Category = "violation"         // 违规操作事件 RO
	CatSecurityHazard   Category = "security_hazard"   // 安全隐患事件 SHE
	CatAbnormalBehavior Category = "abnormal_behavior" // 异常行为事件 AB
	CatForceMajeure     Category = "force_majeure"     // 不可抗力事件 FOC
	CatOther            Category = "other"             // 其他事件 OTH
)

// CategoryInfo describes one category and its subcategories.
type CategoryInfo struct {
	Key           Category          `json:"key"`
	Code          string            `json:"code"` // Annex B code
	Label         Label             `json:"label"`
	Subcategories []SubcategoryInfo `json:"subcategories"`
}

// SubcategoryInfo describes one subcategory.
type SubcategoryInfo struct {
	Key   string `json:"key"`
	Code  string `json:"code"` // Annex B code
	Label Label  `json:"label"`
}

type sub = SubcategoryInfo

var categoryTable = []CategoryInfo{
	{CatMalware, "MP", Label{"Malicious program incident", "恶意程序事件"}, []sub{
		{"computer_virus", "MPEVIR", Label{"Computer virus", "计算机病毒事件"}},
		{"worm", "MPWORM", Label{"Network worm", "网络蠕虫事件"}},
		{"trojan", "MPTROJ", Label{"Trojan horse", "特洛伊木马事件"}},
		{"botnet", "MPZOMB", Label{"Botnet", "僵尸网络事件"}},
		{"web_embedded_malicious_code", "MPWEB", Label{"Malicious code embedded in web pages", "恶意代码内嵌网页事件"}},
		{"malicious_code_host_site", "MPHOST", Label{"Malicious code hosting site", "恶意代码宿主站点事件"}},
		{"ransomware", "MPRANS", Label{"Ransomware", "勒索软件事件"}},
		{"cryptominer", "MPMINER", Label{"Cryptocurrency mining malware", "挖矿病毒事件"}},
		{"blended_attack", "MPHYBR", Label{"Blended attack program", "混合攻击程序事件"}},
		{"other_malware", "MPOTH", Label{"Other malicious program", "其他恶意程序事件"}},
	}},
	{CatNetworkAttack, "NA", Label{"Network attack incident", "网络攻击事件"}, []sub{
		{"scanning", "NASCAN", Label{"Network scanning and probing", "网络扫描探测事件"}},
		{"phishing", "NAPHISH", Label{"Phishing", "网络钓鱼事件"}},
		{"exploit", "NAEXPLOIT", Label{"Vulnerability exploitation", "漏洞利用事件"}},
		{"backdoor_use", "NABACKDOOR", Label{"Backdoor exploitation", "后门利用事件"}},
		{"backdoor_implant", "NABACKIMPL", Label{"Backdoor implantation", "后门植入事件"}},
		{"credential_attack", "NACRED", Label{"Credential attack", "凭据攻击事件"}},
		{"signal_interference", "NASIGINT", Label{"Signal interference", "信号干扰事件"}},
		{"denial_of_service", "NADOS", Label{"Denial of service", "拒绝服务事件"}},
		{"web_defacement", "NAWEBMOD", Label{"Web page defacement", "网页篡改事件"}},
		{"hidden_link_implant", "NALINK", Label{"Hidden link implantation", "暗链植入事件"}},
		{"domain_hijack", "NADNSHIJ", Label{"Domain name hijacking", "域名劫持事件"}},
		{"domain_redirection", "NATRANSFER", Label{"Domain name redirection (转嫁)", "域名转嫁事件"}},
		{"dns_poisoning", "NADNSPOLL", Label{"DNS pollution", "DNS污染事件"}},
		{"wlan_hijack", "NAWLANH", Label{"WLAN hijacking", "WLAN劫持事件"}},
		{"traffic_hijack", "NATRAFHIJ", Label{"Traffic hijacking", "流量劫持事件"}},
		{"bgp_hijack", "NABGPATT", Label{"BGP hijacking", "BGP劫持攻击事件"}},
		{"broadcast_spoofing", "NABRDCAST", Label{"Broadcast spoofing", "广播欺诈事件"}},
		{"compromised_host", "NAHACKED", Label{"Compromised host", "失陷主机事件"}},
		{"supply_chain", "NASUPPLY", Label{"Supply-chain attack", "供应链攻击事件"}},
		{"apt", "NAAPT", Label{"Advanced persistent threat", "APT事件"}},
		{"other_network_attack", "NAOTH", Label{"Other network attack", "其他网络攻击事件"}},
	}},
	{CatDataSecurity, "DS", Label{"Data security incident", "数据安全事件"}, []sub{
		{"data_tampering", "DSDATAALTER", Label{"Data tampering", "数据篡改事件"}},
		{"data_forgery", "DSDATAFAKE", Label{"Data forgery", "数据假冒事件"}},
		{"data_leak", "DSDATALEAK", Label{"Data leak", "数据泄露事件"}},
		{"social_engineering", "DSSOCENG", Label{"Social engineering", "社会工程事件"}},
		{"data_theft", "DSDATASTEAL", Label{"Data theft", "数据窃取事件"}},
		{"data_interception", "DSDATAINTER", Label{"Data interception", "数据拦截事件"}},
		{"location_detection", "DSLOCDETECT", Label{"Location detection", "位置检测事件"}},
		{"data_poisoning", "DSDATAPOLL", Label{"Data poisoning", "数据投毒事件"}},
		{"data_abuse", "DSDATAABUSE", Label{"Data abuse", "数据滥用事件"}},
		{"privacy_violation", "DSPRIVACY", Label{"Privacy violation", "隐私侵犯事件"}},
		{"data_loss", "DSDATALOSS", Label{"Data loss", "数据损失事件"}},
		{"other_data_security", "DSOTH", Label{"Other data security incident", "其他数据安全事件"}},
	}},
	{CatContentSecurity, "IC", Label{"Information content security incident", "信息内容安全事件"}, []sub{
		{"subversive_propaganda", "ICRADICAL", Label{"Subversive propaganda", "反动宣传事件"}},
		{"terrorism_promotion", "ICTERROR", Label{"Promotion of violence and terrorism", "暴恐宣扬事件"}},
		{"pornography", "ICPORN", Label{"Spreading pornography", "色情传播事件"}},
		{"disinformation", "ICFAKENEWS", Label{"Spreading false information", "虚假信息传播事件"}},
		{"rights_infringement", "ICRIGHTS", Label{"Infringement of rights", "权益侵害事件"}},
		{"spam", "ICSPAM", Label{"Unsolicited messages (spam)", "信息滥发事件"}},
		{"online_fraud", "ICFRAUD", Label{"Online fraud", "网络欺诈事件"}},
		{"other_content_security", "ICOTH", Label{"Other content security incident", "其他信息内容安全事件"}},
	}},
	{CatEquipmentFailure, "DE", Label{"Equipment and facility failure incident", "设备设施故障事件"}, []sub{
		{"technical_failure", "DETECH", Label{"Technical failure", "技术故障事件"}},
		{"supporting_facility_failure", "DEACCFAC", Label{"Supporting facility failure", "配套设施故障事件"}},
		{"physical_damage", "DEPHYS", Label{"Physical damage", "物理损害事件"}},
		{"radiation_interference", "DERADINT", Label{"Radiation interference", "辐射干扰事件"}},
		{"other_equipment_failure", "DEOTH", Label{"Other equipment or facility failure", "其他设备设施故障事件"}},
	}},
	{CatViolation, "RO", Label{"Non-compliant operation incident", "违规操作事件"}, []sub{
		{"privilege_abuse", "ROPABUSE", Label{"Abuse of privileges", "权限滥用事件"}},
		{"privilege_forgery", "ROPFAKE", Label{"Forged privileges", "权限伪造事件"}},
		{"repudiation", "ROPDENY", Label{"Repudiation of actions", "行为抵赖事件"}},
		{"intentional_violation", "ROPINTENT", Label{"Intentional non-compliant operation", "故意违规操作事件"}},
		{"operator_error", "ROPMISTAKE", Label{"Operator error", "误操作事件"}},
		{"staff_unavailability", "ROPUAVAIL", Label{"Staff availability compromised", "人员可用性破坏事件"}},
		{"unauthorized_resource_use", "ROPNOUNAUTH", Label{"Unauthorized use of resources", "资源未授权使用事件"}},
		{"other_violation", "ROPO", Label{"Other non-compliant operation", "其他违规操作事件"}},
	}},
	{CatSecurityHazard, "SHE", Label{"Security hazard incident", "安全隐患事件"}, []sub{
		{"vulnerability", "SHEVULN", Label{"Network vulnerability", "网络漏洞事件"}},
		{"configuration_defect", "SHECONFIG", Label{"Non-compliant network configuration", "网络配置合规缺陷事件"}},
		{"other_security_hazard", "SHEOTH", Label{"Other security hazard", "其他安全隐患事件"}},
	}},
	{CatAbnormalBehavior, "AB", Label{"Abnormal behaviour incident", "异常行为事件"}, []sub{
		{"access_anomaly", "ABACCESS", Label{"Access anomaly", "访问异常事件"}},
		{"traffic_anomaly", "ABTRAFFIC", Label{"Traffic anomaly", "流量异常事件"}},
		{"other_abnormal_behavior", "ABOTH", Label{"Other abnormal behaviour", "其他异常行为事件"}},
	}},
	{CatForceMajeure, "FOC", Label{"Force majeure incident", "不可抗力事件"}, []sub{
		{"natural_disaster", "FOCDISASTER", Label{"Natural disaster", "自然灾害事件"}},
		{"accident_disaster", "FOCACCIDENT", Label{"Accident or disaster", "事故灾难事件"}},
		{"public_health", "FOCHEALTH", Label{"Public health emergency", "公共卫生事件"}},
		{"social_security", "FOCSOCIALSEC", Label{"Social security emergency", "社会安全事件"}},
		{"other_force_majeure", "FOCOTH", Label{"Other force majeure", "其他不可抗力事件"}},
	}},
	{CatOther, "OTH", Label{"Other incident", "其他事件"}, nil},
}

var (
	categoryIndex    = map[Category]int{}
	subcategoryIndex = map[Category]map[string]int{}
)

func init() {
	for i, c := range categoryTable {
		categoryIndex[c.Key] = i
		m := map[string]int{}
		for j, s := range c.Subcategories {
			m[s.Key] = j
		}
		subcategoryIndex[c.Key] = m
	}
}

// Categories returns the categories and their subcategories in the order of
// the standard. The result is a copy.
func Categories() []CategoryInfo {
	out := make([]CategoryInfo, len(categoryTable))
	for i, c := range categoryTable {
		c.Subcategories = append([]SubcategoryInfo(nil), c.Subcategories...)
		out[i] = c
	}
	return out
}

// Valid reports whether c is one of the ten categories.
func (c Category) Valid() bool { _, ok := categoryIndex[c]; return ok }

// Label returns the category's name; an unknown key is returned as is.
func (c Category) Label() Label {
	if i, ok := categoryIndex[c]; ok {
		return categoryTable[i].Label
	}
	return Label{string(c), string(c)}
}

// Code returns the category's Annex B code, or "" for an unknown key.
func (c Category) Code() string {
	if i, ok := categoryIndex[c]; ok {
		return categoryTable[i].Code
	}
	return ""
}

// Subcategory returns the subcategory key of category c, and whether it
// exists.
func (c Category) Subcategory(key string) (SubcategoryInfo, bool) {
	j, ok := subcategoryIndex[c][key]
	if !ok {
		return SubcategoryInfo{}, false
	}
	return categoryTable[categoryIndex[c]].Subcategories[j], true
}
