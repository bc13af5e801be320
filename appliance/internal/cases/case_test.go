package cases

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

var update = flag.Bool("update", false, "rewrite golden files")

// story builds a case through most of its life.
func story(t *testing.T) *kase {
	k := newKase(t)
	k.must(k.c.UpdateIntake(Intake{
		Reporter:        Contact{Name: "王伟", Org: "Example Ltd 示例有限公司", Role: "IT manager", Phone: "+86 10 1234 5678", Email: "wang.wei@example.com"},
		Contacts:        []Contact{{Name: "Li Na", Phone: "138 0000 0000"}},
		DiscoveredAt:    t0.Add(-26 * time.Hour),
		ReportedAt:      t0.Add(-2 * time.Hour),
		Symptoms:        []Symptom{SymptomCPUHog, SymptomUnknownAccounts, SymptomOther},
		SymptomsOther:   "file shares show .locked extensions",
		AffectedSystems: []string{"fs01", "10.0.0.5", "财务系统"},
		Description:     "Files on the finance share were encrypted overnight.\nRansom note found.",
	}))
	list, err := ParseAssetsCSV(strings.NewReader("IP地址,主机名,重要性,负责人\n10.0.0.5,fs01,特别重要,王伟\n10.0.0.6,dc01,重要,\n"))
	require.NoError(t, err)
	k.must(k.c.ImportAssets(ImportAssetsRequest{Source: "assets.csv", Assets: list.Assets}))
	k.must(k.c.Join(JoinRequest{Engineer: "alice", Role: RoleLead}))
	k.must(k.c.Join(JoinRequest{Engineer: "bob", Role: RoleMember}))
	k.must(k.c.Milestone(MilestoneRequest{Milestone: MilestoneResponded, At: t0.Add(-90 * time.Minute)}))
	k.must(k.c.Milestone(MilestoneRequest{Milestone: MilestoneOnSite}))
	k.to(PhaseConfirmed, "ransom note and encrypted files")
	k.must(k.c.Classify(ClassifyRequest{
		Category: CatMalware, Subcategory: "ransomware",
		Importance: ImportanceImportant, Loss: LossSerious, Impact: ImpactOrdinary,
		OverrideLevel: LevelII, OverrideReason: "finance system of a listed company; regulator notified",
	}))
	k.commit("capture", Change{Type: "finding.added", Payload: map[string]any{"rule": "smb-mass-rename"}})
	task := k.must(k.c.AddTask(TaskRequest{Title: "Isolate fs01", Assignee: "bob"}))
	k.must(k.c.Note(NoteRequest{Text: "Ransom note names LockBit."}))
	k.to(PhaseContained, "")
	done := TaskDone
	k.must(k.c.UpdateTask(UpdateTaskRequest{ID: task.Seq, Status: &done}))
	k.must(k.c.Leave(LeaveRequest{Engineer: "bob", Reason: "shift ended"}))
	return k
}

func TestStoryProjection(t *testing.T) {
	k := story(t)
	c := k.c
	assert.Equal(t, "IR-2026-001", c.ID)
	assert.Equal(t, t0, c.CreatedAt)
	assert.Equal(t, "alice", c.CreatedBy)
	assert.Equal(t, PhaseContained, c.Phase)
	require.Len(t, c.Assets, 2)
	assert.Equal(t, ImportanceCritical, c.Assets[0].Grade)
	require.NotNil(t, c.Classification)
	assert.Equal(t, LevelIII, c.Classification.Derived)
	assert.Equal(t, LevelII, c.Classification.Level)
	assert.Equal(t, LevelII, c.Classification.Override.Level)
	assert.Contains(t, c.Classification.Rationale.En, "rule III a)")
	require.Len(t, c.Tasks, 1)
	assert.Equal(t, TaskDone, c.Tasks[0].Status)
	assert.Equal(t, "alice", c.Tasks[0].DoneBy)
	require.Len(t, c.Notes, 1)
	assert.Equal(t, "Ransom note names LockBit.", c.Notes[0].Text)
	assert.Equal(t, "alice", c.Lead())
	assert.False(t, c.Engineers[1].Active)
	assert.Equal(t, uint64(len(k.entries)), c.LastSeq)
	assert.Equal(t, k.entries[len(k.entries)-1].Hash, c.HeadHash)
	assert.Equal(t, t0.Add(-2*time.Hour), c.RequestReceived())
}

// TestReplayDeterministic replays the same entries, including their JSON
// round trip through the journal's encoding, and gets the same case.
func TestReplayDeterministic(t *testing.T) {
	k := story(t)
	var stored []journal.Entry
	for _, e := range k.entries {
		b, err := e.MarshalBinary()
		require.NoError(t, err)
		var back journal.Entry
		back.Journal = e.Journal
		require.NoError(t, back.UnmarshalBinary(b))
		stored = append(stored, back)
	}
	a, err := Replay(k.c.ID, stored)
	require.NoError(t, err)
	b, err := Replay(k.c.ID, stored)
	require.NoError(t, err)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	jk, _ := json.Marshal(k.c)
	assert.JSONEq(t, string(jk), string(ja))
	assert.Equal(t, string(ja), string(jb))
}

func TestCaseJSONGolden(t *testing.T) {
	k := story(t)
	got, err := json.MarshalIndent(k.c, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	path := filepath.Join("testdata", "case.golden.json")
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	assert.Equal(t, string(want), string(got))
	assert.Contains(t, string(got), `"notes": [`)
}

func TestApplySequence(t *testing.T) {
	k := newKase(t)
	ch, err := k.c.Note(NoteRequest{Text: "x"})
	require.NoError(t, err)
	good := entryFor(t, k.c, "alice", t0, ch)

	tests := []struct {
		name string
		mod  func(e *journal.Entry)
		err  error
	}{
		{"other journal", func(e *journal.Entry) { e.Journal = "IR-2" }, ErrSequence},
		{"gap", func(e *journal.Entry) { e.Seq += 1 }, ErrSequence},
		{"repeat", func(e *journal.Entry) { e.Seq -= 1 }, ErrSequence},
		{"wrong prev", func(e *journal.Entry) { e.Prev[0] ^= 1 }, ErrSequence},
		{"bad payload", func(e *journal.Entry) { e.Payload = []byte(`{"text":1}`) }, ErrBadEntry},
		{"second open", func(e *journal.Entry) { e.Type = TypeCaseOpened }, ErrAlreadyOpen},
		{"unknown task", func(e *journal.Entry) { e.Type, e.Payload = TypeTaskUpdated, []byte(`{"id":99,"status":"done"}`) }, ErrNotFound},
		{"phase from elsewhere", func(e *journal.Entry) {
			e.Type, e.Payload = TypePhaseChanged, []byte(`{"from":"contained","to":"eradicated","direction":"forward"}`)
		}, ErrBadEntry},
		{"unknown phase", func(e *journal.Entry) {
			e.Type, e.Payload = TypePhaseChanged, []byte(`{"from":"intake","to":"triage","direction":"forward"}`)
		}, ErrBadEntry},
		{"engineer not on case", func(e *journal.Entry) { e.Type, e.Payload = TypeEngineerLeft, []byte(`{"engineer":"eve"}`) }, ErrNotFound},
		{"bad level", func(e *journal.Entry) {
			e.Type, e.Payload = TypeClassificationSet, []byte(`{"level":"V","derived_level":"IV"}`)
		}, ErrBadEntry},
		{"bad import mode", func(e *journal.Entry) {
			e.Type, e.Payload = TypeAssetsImported, []byte(`{"mode":"append","assets":[]}`)
		}, ErrBadEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := json.Marshal(k.c)
			e := good
			tt.mod(&e)
			err := k.c.Apply(e)
			require.ErrorIs(t, err, tt.err)
			after, _ := json.Marshal(k.c)
			assert.Equal(t, string(before), string(after), "a failed Apply changes nothing")
		})
	}
	require.NoError(t, k.c.Apply(good))
}

func TestApplyBeforeOpen(t *testing.T) {
	c := New("IR-1")
	e := entryFor(t, c, "alice", t0, Change{Type: TypeNoteAdded, Payload: NoteAdded{Text: "x"}})
	require.ErrorIs(t, c.Apply(e), ErrNotOpen)
	_, err := c.Note(NoteRequest{Text: "x"})
	require.ErrorIs(t, err, ErrNotOpen)
	_, err = c.SetPhase(PhaseRequest{To: PhaseConfirmed})
	require.ErrorIs(t, err, ErrNotOpen)
}

func TestUnknownTypesAdvance(t *testing.T) {
	k := newKase(t)
	before, _ := json.Marshal(k.c.Notes)
	e := k.commit("netctl", Change{Type: "isolation.applied", Payload: map[string]string{"host": "10.0.0.5"}})
	assert.Equal(t, e.Seq, k.c.LastSeq)
	assert.Equal(t, e.Hash, k.c.HeadHash)
	assert.Equal(t, e.Time, k.c.UpdatedAt)
	after, _ := json.Marshal(k.c.Notes)
	assert.Equal(t, before, after)
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name string
		id   string
		req  OpenRequest
		err  error
	}{
		{"ok", "IR-2026-001", OpenRequest{Title: "Web shell"}, nil},
		{"no title", "IR-1", OpenRequest{}, ErrInvalid},
		{"blank title", "IR-1", OpenRequest{Title: "   "}, ErrInvalid},
		{"long title", "IR-1", OpenRequest{Title: strings.Repeat("x", MaxTitle+1)}, ErrInvalid},
		{"newline in title", "IR-1", OpenRequest{Title: "a\nb"}, ErrInvalid},
		{"bidi override in title", "IR-1", OpenRequest{Title: "invoice\u202Efdp.exe"}, ErrInvalid},
		{"bad id", "../etc", OpenRequest{Title: "x"}, ErrInvalid},
		{"empty id", "", OpenRequest{Title: "x"}, ErrInvalid},
		{"bad intake", "IR-1", OpenRequest{Title: "x", Intake: Intake{Symptoms: []Symptom{"aliens"}}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.id).Open(tt.req)
			if tt.err == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.err)
			}
		})
	}
	k := newKase(t)
	_, err := k.c.Open(OpenRequest{Title: "again"})
	require.ErrorIs(t, err, ErrAlreadyOpen)
	assert.Equal(t, DefaultSLATargets, k.c.SLA.Targets)
}

func TestIntakeValidate(t *testing.T) {
	tests := []struct {
		name  string
		in    Intake
		field string // "" means valid
	}{
		{"empty", Intake{}, ""},
		{"full", Intake{Reporter: Contact{Name: "a", Email: "a@b.c"}, Symptoms: []Symptom{SymptomCPUHog}}, ""},
		{"reporter without name", Intake{Reporter: Contact{Phone: "123"}}, "reporter.name"},
		{"bad email", Intake{Reporter: Contact{Name: "a", Email: "not-an-email"}}, "reporter.email"},
		{"phone without digits", Intake{Reporter: Contact{Name: "a", Phone: "call me"}}, "reporter.phone"},
		{"contact without name", Intake{Contacts: []Contact{{Name: "a"}, {}}}, "contacts[1].name"},
		{"too many contacts", Intake{Contacts: make([]Contact, MaxContacts+1)}, "contacts"},
		{"unknown symptom", Intake{Symptoms: []Symptom{"slow"}}, "symptoms[0]"},
		{"duplicate symptom", Intake{Symptoms: []Symptom{SymptomCPUHog, SymptomCPUHog}}, "symptoms[1]"},
		{"other without text", Intake{Symptoms: []Symptom{SymptomOther}}, "symptoms_other"},
		{"text without other", Intake{SymptomsOther: "x"}, "symptoms_other"},
		{"discovered after reported", Intake{DiscoveredAt: t0, ReportedAt: t0.Add(-time.Hour)}, "discovered_at"},
		{"year 1900", Intake{ReportedAt: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, "reported_at"},
		{"empty affected system", Intake{AffectedSystems: []string{""}}, "affected_systems[0]"},
		{"control char in description", Intake{Description: "a\x00b"}, "description"},
		{"multi-line description", Intake{Description: "a\nb\tc"}, ""},
		{"invalid utf-8", Intake{Description: "a\xffb"}, "description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalid)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field)
		})
	}
}

func TestClassify(t *testing.T) {
	base := ClassifyRequest{Category: CatNetworkAttack, Subcategory: "credential_attack", Importance: ImportanceOrdinary, Loss: LossMinor, Impact: ImpactOrdinary}
	with := func(f func(r *ClassifyRequest)) ClassifyRequest { r := base; f(&r); return r }
	tests := []struct {
		name  string
		req   ClassifyRequest
		level Level
		err   error
	}{
		{"derived", base, LevelIV, nil},
		{"no subcategory", with(func(r *ClassifyRequest) { r.Subcategory = "" }), LevelIV, nil},
		{"override", with(func(r *ClassifyRequest) { r.OverrideLevel, r.OverrideReason = LevelIII, "hospital" }), LevelIII, nil},
		{"override without reason", with(func(r *ClassifyRequest) { r.OverrideLevel = LevelIII }), "", ErrInvalid},
		{"reason without override", with(func(r *ClassifyRequest) { r.OverrideReason = "x" }), "", ErrInvalid},
		{"override equal to derived", with(func(r *ClassifyRequest) { r.OverrideLevel, r.OverrideReason = LevelIV, "x" }), "", ErrInvalid},
		{"bad override level", with(func(r *ClassifyRequest) { r.OverrideLevel, r.OverrideReason = "V", "x" }), "", ErrInvalid},
		{"subcategory of another category", with(func(r *ClassifyRequest) { r.Subcategory = "ransomware" }), "", ErrInvalid},
		{"unknown category", with(func(r *ClassifyRequest) { r.Category = "hack" }), "", ErrInvalid},
		{"missing factor", with(func(r *ClassifyRequest) { r.Loss = "" }), "", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKase(t)
			ch, err := k.c.Classify(tt.req)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			k.must(ch, err)
			assert.Equal(t, tt.level, k.c.Classification.Level)
			assert.Equal(t, LevelIV, k.c.Classification.Derived)
			assert.Equal(t, "alice", k.c.Classification.SetBy)
		})
	}
}

func TestTasks(t *testing.T) {
	k := newKase(t)
	e := k.must(k.c.AddTask(TaskRequest{Title: "Image dc01"}))
	id := e.Seq
	str := func(s string) *string { return &s }
	st := func(s TaskStatus) *TaskStatus { return &s }

	tests := []struct {
		name string
		req  UpdateTaskRequest
		err  error
		want Task
	}{
		{"no id", UpdateTaskRequest{Status: st(TaskDone)}, ErrInvalid, Task{}},
		{"nothing", UpdateTaskRequest{ID: id}, ErrInvalid, Task{}},
		{"unknown task", UpdateTaskRequest{ID: 99, Status: st(TaskDone)}, ErrNotFound, Task{}},
		{"bad status", UpdateTaskRequest{ID: id, Status: st("blocked")}, ErrInvalid, Task{}},
		{"already open", UpdateTaskRequest{ID: id, Status: st(TaskOpen)}, ErrNoChange, Task{}},
		{"assign", UpdateTaskRequest{ID: id, Assignee: str("bob")}, nil, Task{Assignee: "bob", Status: TaskOpen}},
		{"done", UpdateTaskRequest{ID: id, Status: st(TaskDone)}, nil, Task{Assignee: "bob", Status: TaskDone, DoneBy: "alice"}},
		{"done again", UpdateTaskRequest{ID: id, Status: st(TaskDone)}, ErrNoChange, Task{}},
		{"reopen and unassign", UpdateTaskRequest{ID: id, Status: st(TaskOpen), Assignee: str("")}, nil, Task{Status: TaskOpen}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := k.c.UpdateTask(tt.req)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			k.must(ch, err)
			got := k.c.Tasks[0]
			assert.Equal(t, tt.want.Assignee, got.Assignee)
			assert.Equal(t, tt.want.Status, got.Status)
			assert.Equal(t, tt.want.DoneBy, got.DoneBy)
			assert.Equal(t, tt.want.Status == TaskDone, !got.DoneAt.IsZero())
		})
	}
	_, err := k.c.AddTask(TaskRequest{})
	require.ErrorIs(t, err, ErrInvalid)
}

func TestEngineers(t *testing.T) {
	k := newKase(t)
	k.must(k.c.Join(JoinRequest{Engineer: "alice", Role: RoleLead}))
	k.must(k.c.Join(JoinRequest{Engineer: "bob", Role: RoleMember}))

	_, err := k.c.Join(JoinRequest{Engineer: "bob", Role: RoleMember})
	require.ErrorIs(t, err, ErrNoChange)
	_, err = k.c.Join(JoinRequest{Engineer: "bob", Role: "boss"})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = k.c.Join(JoinRequest{Role: RoleMember})
	require.ErrorIs(t, err, ErrInvalid)

	ch, err := k.c.Join(JoinRequest{Engineer: "bob", Role: RoleLead})
	require.NoError(t, err)
	assert.Equal(t, "alice", ch.Payload.(EngineerJoined).Replaces)
	k.must(ch, err)
	assert.Equal(t, "bob", k.c.Lead())
	assert.Equal(t, RoleMember, k.c.Engineers[0].Role, "the old lead is a member now")

	k.must(k.c.Leave(LeaveRequest{Engineer: "alice"}))
	_, err = k.c.Leave(LeaveRequest{Engineer: "alice"})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = k.c.Leave(LeaveRequest{Engineer: "carol"})
	require.ErrorIs(t, err, ErrNotFound)

	k.must(k.c.Join(JoinRequest{Engineer: "alice", Role: RoleMember}))
	assert.True(t, k.c.Engineers[0].Active)
	assert.True(t, k.c.Engineers[0].LeftAt.IsZero())
	assert.Len(t, k.c.Engineers, 2)
}

func TestNotes(t *testing.T) {
	k := newKase(t)
	for _, tt := range []struct {
		text string
		err  error
	}{
		{"", ErrInvalid},
		{"  \n ", ErrInvalid},
		{strings.Repeat("x", MaxText+1), ErrInvalid},
		{"bell\a", ErrInvalid},
		{"line one\nline two", nil},
		{"中文备注", nil},
	} {
		_, err := k.c.Note(NoteRequest{Text: tt.text})
		if tt.err == nil {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, tt.err, "%q", tt.text)
		}
	}
}

func TestChangeTooLarge(t *testing.T) {
	k := newKase(t)
	assets := make([]Asset, MaxAssets)
	long := strings.Repeat("x", MaxShort)
	for i := range assets {
		assets[i] = Asset{Hostname: fmt.Sprintf("%s%06d", long[:MaxShort-6], i), Owner: long, Role: long, OS: long}
	}
	_, err := k.c.ImportAssets(ImportAssetsRequest{Assets: assets})
	require.ErrorIs(t, err, ErrTooLarge)
}
