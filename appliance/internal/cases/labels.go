package cases

// Label is a human-readable name in the two languages the report and the
// console use.
type Label struct {
	En string `json:"en"`
	Zh string `json:"zh"`
}

// In returns the label in lang ("zh" or anything starting with "zh-"),
// falling back to English.
func (l Label) In(lang string) string {
	if lang == "zh" || len(lang) > 3 && lang[:3] == "zh-" {
		return l.Zh
	}
	return l.En
}

// Symptom is what the customer reported seeing, from the intake checklist.
type Symptom string

// The intake symptom checklist. Keys are stable: they are stored in the
// journal.
const (
	SymptomCPUHog          Symptom = "cpu_hog"
	SymptomNetworkDegraded Symptom = "network_degraded"
	SymptomUnknownLogins   Symptom = "unknown_logins"
	SymptomVirusInfection  Symptom = "virus_infection"
	SymptomRepeatedLogins  Symptom = "repeated_forced_logins"
	SymptomUnknownAccounts Symptom = "unknown_accounts"
	SymptomExternalWarning Symptom = "external_warning"
	SymptomOther           Symptom = "other"
)

var symptomOrder = []Symptom{
	SymptomCPUHog, SymptomNetworkDegraded, SymptomUnknownLogins, SymptomVirusInfection,
	SymptomRepeatedLogins, SymptomUnknownAccounts, SymptomExternalWarning, SymptomOther,
}

var symptomLabels = map[Symptom]Label{
	SymptomCPUHog:          {"Sustained CPU use by strange processes", "不明进程长期占用CPU"},
	SymptomNetworkDegraded: {"Network degradation", "网络性能下降"},
	SymptomUnknownLogins:   {"Unknown logins in system logs", "系统日志中出现不明登录"},
	SymptomVirusInfection:  {"Virus infection", "感染病毒"},
	SymptomRepeatedLogins:  {"Repeated forced login attempts", "反复出现强制登录尝试"},
	SymptomUnknownAccounts: {"New unknown accounts", "出现新的不明账号"},
	SymptomExternalWarning: {"Warning from another site's administrator", "收到其他站点管理员的警告"},
	SymptomOther:           {"Other (see description)", "其他(见说明)"},
}

// Symptoms returns the checklist in display order.
func Symptoms() []Symptom { return append([]Symptom(nil), symptomOrder...) }

// Valid reports whether s is on the checklist.
func (s Symptom) Valid() bool { _, ok := symptomLabels[s]; return ok }

// Label returns the symptom's name; an unknown key is returned as is.
func (s Symptom) Label() Label {
	if l, ok := symptomLabels[s]; ok {
		return l
	}
	return Label{string(s), string(s)}
}

// Term is one value of a vocabulary with its labels.
type Term struct {
	Key   string `json:"key"`
	Label Label  `json:"label"`
}

// Vocab is every enumerated value of the case model with its labels, in
// display order: what the console and the report need to render a case
// in English or Chinese.
type Vocab struct {
	Phases       []Term         `json:"phases"`
	Symptoms     []Term         `json:"symptoms"`
	Categories   []CategoryInfo `json:"categories"`
	Levels       []Term         `json:"levels"`
	Importances  []Term         `json:"importances"`
	Losses       []Term         `json:"losses"`
	Impacts      []Term         `json:"social_impacts"`
	Milestones   []Term         `json:"milestones"`
	Roles        []Term         `json:"roles"`
	LevelRuleRef string         `json:"level_rule"`
}

func terms[T ~string](keys []T, label func(T) Label) []Term {
	out := make([]Term, len(keys))
	for i, k := range keys {
		out[i] = Term{Key: string(k), Label: label(k)}
	}
	return out
}

// Vocabulary returns the vocabulary. The result is a fresh copy.
func Vocabulary() Vocab {
	return Vocab{
		Phases:       terms(Phases(), Phase.Label),
		Symptoms:     terms(Symptoms(), Symptom.Label),
		Categories:   Categories(),
		Levels:       terms(Levels(), Level.Label),
		Importances:  terms(Importances(), Importance.Label),
		Losses:       terms(Losses(), Loss.Label),
		Impacts:      terms(Impacts(), Impact.Label),
		Milestones:   terms(Milestones(), Milestone.Label),
		Roles:        terms([]Role{RoleLead, RoleMember}, Role.Label),
		LevelRuleRef: LevelRule,
	}
}
