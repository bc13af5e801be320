package cases

import (
	"fmt"
	"strings"
)

// Level is an incident level of GB/T 20986-2023.
type Level string

// The four levels, most severe first.
const (
	LevelI   Level = "I"   // Ⅰ级 特别重大事件
	LevelII  Level = "II"  // Ⅱ级 重大事件
	LevelIII Level = "III" // Ⅲ级 较大事件
	LevelIV  Level = "IV"  // Ⅳ级 一般事件
)

var levelRank = map[Level]int{LevelI: 1, LevelII: 2, LevelIII: 3, LevelIV: 4}

var levelLabels = map[Level]Label{
	LevelI:   {"Level I (extraordinarily serious)", "Ⅰ级(特别重大事件)"},
	LevelII:  {"Level II (serious)", "Ⅱ级(重大事件)"},
	LevelIII: {"Level III (relatively serious)", "Ⅲ级(较大事件)"},
	LevelIV:  {"Level IV (ordinary)", "Ⅳ级(一般事件)"},
}

// Levels returns the levels, most severe first.
func Levels() []Level { return []Level{LevelI, LevelII, LevelIII, LevelIV} }

// Valid reports whether l is one of the four levels.
func (l Level) Valid() bool { _, ok := levelRank[l]; return ok }

// Label returns the level's name.
func (l Level) Label() Label {
	if x, ok := levelLabels[l]; ok {
		return x
	}
	return Label{string(l), string(l)}
}

// Numeral returns the level as the standard writes it: Ⅰ, Ⅱ, Ⅲ or Ⅳ.
func (l Level) Numeral() string {
	return map[Level]string{LevelI: "Ⅰ", LevelII: "Ⅱ", LevelIII: "Ⅲ", LevelIV: "Ⅳ"}[l]
}

// MoreSevere reports whether l is more severe than m.
func (l Level) MoreSevere(m Level) bool { return levelRank[l] < levelRank[m] }

// Importance is the importance of the affected object (事件影响对象的重要程度).
type Importance string

// The three importance grades.
const (
	ImportanceCritical  Importance = "critical"  // 特别重要
	ImportanceImportant Importance = "important" // 重要
	ImportanceOrdinary  Importance = "ordinary"  // 一般
)

// Loss is the loss the affected object suffered (业务/系统损失).
type Loss string

// The four loss grades.
const (
	LossExtreme      Loss = "extreme"      // 特别严重
	LossSerious      Loss = "serious"      // 严重
	LossConsiderable Loss = "considerable" // 较大
	LossMinor        Loss = "minor"        // 较小
)

// Impact is the social impact of the incident (社会影响/危害).
type Impact string

// The four social-impact grades.
const (
	ImpactExtraordinary Impact = "extraordinary" // 特别重大
	ImpactMajor         Impact = "major"         // 重大
	ImpactConsiderable  Impact = "considerable"  // 较大
	ImpactOrdinary      Impact = "ordinary"      // 一般
)

var importanceLabels = map[Importance]Label{
	ImportanceCritical:  {"critically important", "特别重要"},
	ImportanceImportant: {"important", "重要"},
	ImportanceOrdinary:  {"ordinary", "一般"},
}

var lossLabels = map[Loss]Label{
	LossExtreme:      {"extremely serious", "特别严重"},
	LossSerious:      {"serious", "严重"},
	LossConsiderable: {"considerable", "较大"},
	LossMinor:        {"minor", "较小"},
}

var impactLabels = map[Impact]Label{
	ImpactExtraordinary: {"extraordinarily serious", "特别重大"},
	ImpactMajor:         {"major", "重大"},
	ImpactConsiderable:  {"considerable", "较大"},
	ImpactOrdinary:      {"ordinary", "一般"},
}

// Importances returns the importance grades, most severe first.
func Importances() []Importance {
	return []Importance{ImportanceCritical, ImportanceImportant, ImportanceOrdinary}
}

// Losses returns the loss grades, most severe first.
func Losses() []Loss { return []Loss{LossExtreme, LossSerious, LossConsiderable, LossMinor} }

// Impacts returns the social-impact grades, most severe first.
func Impacts() []Impact {
	return []Impact{ImpactExtraordinary, ImpactMajor, ImpactConsiderable, ImpactOrdinary}
}

// Valid reports whether i is a known grade.
func (i Importance) Valid() bool { _, ok := importanceLabels[i]; return ok }

// Label returns the grade's name.
func (i Importance) Label() Label { return importanceLabels[i] }

// Valid reports whether l is a known grade.
func (l Loss) Valid() bool { _, ok := lossLabels[l]; return ok }

// Label returns the grade's name.
func (l Loss) Label() Label { return lossLabels[l] }

// Valid reports whether i is a known grade.
func (i Impact) Valid() bool { _, ok := impactLabels[i]; return ok }

// Label returns the grade's name.
func (i Impact) Label() Label { return impactLabels[i] }

// Factors are the three grading factors of GB/T 20986-2023 section 6.
type Factors struct {
	Importance Importance `json:"importance"`
	Loss       Loss       `json:"loss"`
	Impact     Impact     `json:"social_impact"`
}

// Validate checks that every factor is a known grade.
func (f Factors) Validate() error {
	if !f.Importance.Valid() {
		return fieldErr("importance", "must be one of critical, important, ordinary; got %q", f.Importance)
	}
	if !f.Loss.Valid() {
		return fieldErr("loss", "must be one of extreme, serious, considerable, minor; got %q", f.Loss)
	}
	if !f.Impact.Valid() {
		return fieldErr("social_impact", "must be one of extraordinary, major, considerable, ordinary; got %q", f.Impact)
	}
	return nil
}

// The level rules.
//
// Which text: GB/T 20986-2023 section 6.2. We could not read the printed
// 2023 text. Its preface says that, for grading, the revision only renamed
// "信息系统" (information system) to "事件影响对象" (affected object); so the
// rules below are those of GB/Z 20986-2007 section 4.3.2 (quoted from a
// public excerpt), with that rename. Each level has two alternative
// conditions, a) object importance × loss and b) social impact:
//
//	Ⅰ  a) 特别重要 object, 特别严重 loss                     b) 特别重大 social impact
//	Ⅱ  a) 特别重要 + 严重, or 重要 + 特别严重                  b) 重大
//	Ⅲ  a) 特别重要 + 较大, 重要 + 严重, or 一般 + 特别严重       b) 较大
//	Ⅳ  a) 特别重要 + 较小, 重要 + 较大, 一般 + 严重 or below     b) 一般
//
// Interpretations (ours, not the standard's words):
//   - The conditions are alternatives: the level is the most severe level
//     whose a) or b) holds. The standard lists them as "包括以下情况" without
//     saying how they combine; taking the most severe is what "能够导致..."
//     implies and what responders do.
//   - 重要 object with 较小 loss is not listed under any level's a). Ⅳ is
//     defined as "不满足以上条件的信息安全事件" (everything not above), so
//     it is Ⅳ.
var objectLossLevel = map[Importance]map[Loss]Level{
	ImportanceCritical:  {LossExtreme: LevelI, LossSerious: LevelII, LossConsiderable: LevelIII, LossMinor: LevelIV},
	ImportanceImportant: {LossExtreme: LevelII, LossSerious: LevelIII, LossConsiderable: LevelIV, LossMinor: LevelIV},
	ImportanceOrdinary:  {LossExtreme: LevelIII, LossSerious: LevelIV, LossConsiderable: LevelIV, LossMinor: LevelIV},
}

var impactLevel = map[Impact]Level{
	ImpactExtraordinary: LevelI, ImpactMajor: LevelII, ImpactConsiderable: LevelIII, ImpactOrdinary: LevelIV,
}

// LevelRule is the written basis of every level derivation.
const LevelRule = "GB/T 20986-2023 6.2 (rules of GB/Z 20986-2007 4.3.2, 信息系统 read as 事件影响对象)"

// DeriveLevel returns the level the three factors give and a rationale that
// names the rule that fired, in English and Chinese.
func DeriveLevel(f Factors) (Level, Label, error) {
	if err := f.Validate(); err != nil {
		return "", Label{}, err
	}
	byObject := objectLossLevel[f.Importance][f.Loss]
	byImpact := impactLevel[f.Impact]
	level := byObject
	if byImpact.MoreSevere(byObject) {
		level = byImpact
	}

	ruleA := func() (string, string) {
		en := fmt.Sprintf("rule %s a): the affected object is %s and the loss %s", byObject, f.Importance.Label().En, f.Loss.Label().En)
		zh := fmt.Sprintf("%s级a)条:%s的事件影响对象遭受%s的损失", byObject.Numeral(), f.Importance.Label().Zh, f.Loss.Label().Zh)
		if f.Importance == ImportanceImportant && f.Loss == LossMinor {
			en += " (not listed under any level; Level IV covers all that is not above)"
			zh += "(未在各级列出,按Ⅳ级\"不满足以上条件\"归入)"
		}
		return en, zh
	}
	ruleB := func() (string, string) {
		return fmt.Sprintf("rule %s b): %s social impact", byImpact, f.Impact.Label().En),
			fmt.Sprintf("%s级b)条:产生%s的社会影响", byImpact.Numeral(), f.Impact.Label().Zh)
	}

	var en, zh []string
	switch {
	case byObject == byImpact:
		aEn, aZh := ruleA()
		bEn, bZh := ruleB()
		en = append(en, aEn, bEn)
		zh = append(zh, aZh, bZh)
	case level == byObject:
		aEn, aZh := ruleA()
		en = append(en, aEn)
		zh = append(zh, aZh)
		en = append(en, fmt.Sprintf("social impact (%s) alone would give Level %s", f.Impact.Label().En, byImpact))
		zh = append(zh, fmt.Sprintf("仅按社会影响(%s)为%s级", f.Impact.Label().Zh, byImpact.Numeral()))
	default:
		bEn, bZh := ruleB()
		en = append(en, bEn)
		zh = append(zh, bZh)
		en = append(en, fmt.Sprintf("object and loss alone would give Level %s", byObject))
		zh = append(zh, fmt.Sprintf("仅按对象重要程度和损失为%s级", byObject.Numeral()))
	}
	return level, Label{
		En: fmt.Sprintf("Level %s by %s. Per %s.", level, strings.Join(en, "; "), LevelRule),
		Zh: fmt.Sprintf("定为%s级,依据%s。依据%s。", level.Numeral(), strings.Join(zh, ";"), LevelRule),
	}, nil
}
