package cases

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeriveLevelMatrix checks every cell of importance × loss × social
// impact. The expected levels are written out by hand from the rules in
// level.go (GB/Z 20986-2007 4.3.2 as carried into GB/T 20986-2023 6.2):
// the level is the more severe of the object×loss level and the social
// impact level.
func TestDeriveLevelMatrix(t *testing.T) {
	const (
		C, I, O    = ImportanceCritical, ImportanceImportant, ImportanceOrdinary
		LX, LS, LC = LossExtreme, LossSerious, LossConsiderable
		LM         = LossMinor
		SX, SM, SC = ImpactExtraordinary, ImpactMajor, ImpactConsiderable
		SO         = ImpactOrdinary
		L1, L2, L3 = LevelI, LevelII, LevelIII
		L4         = LevelIV
	)
	tests := []struct {
		imp  Importance
		loss Loss
		soc  Impact
		want Level
	}{
		// critical object
		{C, LX, SX, L1}, {C, LX, SM, L1}, {C, LX, SC, L1}, {C, LX, SO, L1},
		{C, LS, SX, L1}, {C, LS, SM, L2}, {C, LS, SC, L2}, {C, LS, SO, L2},
		{C, LC, SX, L1}, {C, LC, SM, L2}, {C, LC, SC, L3}, {C, LC, SO, L3},
		{C, LM, SX, L1}, {C, LM, SM, L2}, {C, LM, SC, L3}, {C, LM, SO, L4},
		// important object
		{I, LX, SX, L1}, {I, LX, SM, L2}, {I, LX, SC, L2}, {I, LX, SO, L2},
		{I, LS, SX, L1}, {I, LS, SM, L2}, {I, LS, SC, L3}, {I, LS, SO, L3},
		{I, LC, SX, L1}, {I, LC, SM, L2}, {I, LC, SC, L3}, {I, LC, SO, L4},
		{I, LM, SX, L1}, {I, LM, SM, L2}, {I, LM, SC, L3}, {I, LM, SO, L4},
		// ordinary object
		{O, LX, SX, L1}, {O, LX, SM, L2}, {O, LX, SC, L3}, {O, LX, SO, L3},
		{O, LS, SX, L1}, {O, LS, SM, L2}, {O, LS, SC, L3}, {O, LS, SO, L4},
		{O, LC, SX, L1}, {O, LC, SM, L2}, {O, LC, SC, L3}, {O, LC, SO, L4},
		{O, LM, SX, L1}, {O, LM, SM, L2}, {O, LM, SC, L3}, {O, LM, SO, L4},
	}
	require.Len(t, tests, 48)
	seen := map[Factors]bool{}
	for _, tt := range tests {
		f := Factors{Importance: tt.imp, Loss: tt.loss, Impact: tt.soc}
		require.False(t, seen[f], "duplicate cell %+v", f)
		seen[f] = true
		t.Run(string(tt.imp)+"/"+string(tt.loss)+"/"+string(tt.soc), func(t *testing.T) {
			got, why, err := DeriveLevel(f)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Contains(t, why.En, "Level "+string(tt.want)+" by rule "+string(tt.want))
			assert.Contains(t, why.Zh, "定为"+tt.want.Numeral()+"级")
			assert.Contains(t, why.En, "GB/T 20986-2023")
		})
	}
}

func TestDeriveLevelRationale(t *testing.T) {
	tests := []struct {
		name   string
		f      Factors
		en, zh []string
	}{
		{
			name: "object and loss decide",
			f:    Factors{ImportanceCritical, LossSerious, ImpactOrdinary},
			en:   []string{"Level II by rule II a): the affected object is critically important and the loss serious", "social impact (ordinary) alone would give Level IV"},
			zh:   []string{"定为Ⅱ级", "Ⅱ级a)条:特别重要的事件影响对象遭受严重的损失", "仅按社会影响(一般)为Ⅳ级"},
		},
		{
			name: "social impact decides",
			f:    Factors{ImportanceOrdinary, LossMinor, ImpactMajor},
			en:   []string{"Level II by rule II b): major social impact", "object and loss alone would give Level IV"},
			zh:   []string{"Ⅱ级b)条:产生重大的社会影响", "仅按对象重要程度和损失为Ⅳ级"},
		},
		{
			name: "both rules agree",
			f:    Factors{ImportanceCritical, LossExtreme, ImpactExtraordinary},
			en:   []string{"rule I a)", "rule I b)"},
			zh:   []string{"Ⅰ级a)条", "Ⅰ级b)条"},
		},
		{
			name: "important with minor loss is named as interpreted",
			f:    Factors{ImportanceImportant, LossMinor, ImpactOrdinary},
			en:   []string{"not listed under any level"},
			zh:   []string{"不满足以上条件"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, why, err := DeriveLevel(tt.f)
			require.NoError(t, err)
			for _, s := range tt.en {
				assert.Contains(t, why.En, s)
			}
			for _, s := range tt.zh {
				assert.Contains(t, why.Zh, s)
			}
		})
	}
}

func TestDeriveLevelInvalid(t *testing.T) {
	for _, f := range []Factors{
		{},
		{"very", LossMinor, ImpactOrdinary},
		{ImportanceCritical, "huge", ImpactOrdinary},
		{ImportanceCritical, LossMinor, "global"},
	} {
		_, _, err := DeriveLevel(f)
		require.ErrorIs(t, err, ErrInvalid, "%+v", f)
	}
}

func TestCategories(t *testing.T) {
	cats := Categories()
	require.Len(t, cats, 10)
	wantZh := []string{"恶意程序事件", "网络攻击事件", "数据安全事件", "信息内容安全事件", "设备设施故障事件",
		"违规操作事件", "安全隐患事件", "异常行为事件", "不可抗力事件", "其他事件"}
	wantSubs := []int{10, 21, 12, 8, 5, 8, 3, 3, 5, 0}
	keys := map[string]bool{}
	codes := map[string]bool{}
	for i, c := range cats {
		assert.Equal(t, wantZh[i], c.Label.Zh)
		assert.NotEmpty(t, c.Label.En)
		assert.Len(t, c.Subcategories, wantSubs[i], c.Key)
		assert.True(t, c.Key.Valid())
		for _, s := range c.Subcategories {
			assert.False(t, keys[s.Key], "subcategory key %s reused", s.Key)
			assert.False(t, codes[s.Code], "code %s reused", s.Code)
			keys[s.Key], codes[s.Code] = true, true
			got, ok := c.Key.Subcategory(s.Key)
			assert.True(t, ok)
			assert.Equal(t, s, got)
			assert.NotEmpty(t, s.Label.En)
			assert.NotEmpty(t, s.Label.Zh)
		}
	}
	_, ok := CatMalware.Subcategory("phishing")
	assert.False(t, ok, "a subcategory belongs to one category")
	assert.Equal(t, "勒索软件事件", func() string { s, _ := CatMalware.Subcategory("ransomware"); return s.Label.Zh }())
	cats[0].Subcategories[0].Key = "changed"
	_, ok = CatMalware.Subcategory("computer_virus")
	assert.True(t, ok, "Categories returns a copy")
}

func TestLabels(t *testing.T) {
	assert.Equal(t, "不明进程长期占用CPU", SymptomCPUHog.Label().Zh)
	assert.Equal(t, "Sustained CPU use by strange processes", SymptomCPUHog.Label().In("en"))
	assert.Equal(t, "不明进程长期占用CPU", SymptomCPUHog.Label().In("zh-CN"))
	for _, s := range Symptoms() {
		assert.NotEmpty(t, s.Label().En)
		assert.NotEmpty(t, s.Label().Zh)
	}
	for _, p := range Phases() {
		assert.True(t, p.Valid())
		assert.NotEqual(t, string(p), p.Label().Zh)
	}
	for _, l := range Levels() {
		assert.NotEmpty(t, l.Numeral())
		assert.NotEqual(t, string(l), l.Label().En)
	}
	for _, m := range Milestones() {
		assert.NotEmpty(t, m.Label().Zh)
	}
	assert.Equal(t, "Ⅰ级(特别重大事件)", LevelI.Label().Zh)
	assert.Equal(t, "Ⅳ级(一般事件)", LevelIV.Label().Zh)
}

func TestVocabulary(t *testing.T) {
	v := Vocabulary()
	assert.Len(t, v.Phases, 9)
	assert.Len(t, v.Symptoms, 8)
	assert.Len(t, v.Categories, 10)
	assert.Len(t, v.Levels, 4)
	assert.Len(t, v.Importances, 3)
	assert.Len(t, v.Losses, 4)
	assert.Len(t, v.Impacts, 4)
	assert.Len(t, v.Milestones, 5)
	for _, list := range [][]Term{v.Phases, v.Symptoms, v.Levels, v.Importances, v.Losses, v.Impacts, v.Milestones, v.Roles} {
		for _, term := range list {
			assert.NotEmpty(t, term.Label.En, term.Key)
			assert.NotEmpty(t, term.Label.Zh, term.Key)
		}
	}
	assert.Equal(t, Term{Key: "cpu_hog", Label: Label{"Sustained CPU use by strange processes", "不明进程长期占用CPU"}}, v.Symptoms[0])
}
