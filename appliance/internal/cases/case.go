package cases

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// Entry types this package writes and projects. Entries of other types
// (findings, evidence, isolation, ...) are left to their own packages: Apply
// skips them but still advances LastSeq and HeadHash.
const (
	TypeCaseOpened        = "case.opened"        // CaseOpened
	TypeIntakeUpdated     = "intake.updated"     // IntakeUpdated
	TypeAssetsImported    = "assets.imported"    // AssetsImported
	TypeClassificationSet = "classification.set" // ClassificationSet
	TypePhaseChanged      = "phase.changed"      // PhaseChanged
	TypeSLATargetsSet     = "sla.targets_set"    // SLATargetsSet
	TypeSLAMilestone      = "sla.milestone"      // MilestoneReached
	TypeNoteAdded         = "note.added"         // NoteAdded
	TypeTaskAdded         = "task.added"         // TaskAdded
	TypeTaskUpdated       = "task.updated"       // TaskUpdated
	TypeEngineerJoined    = "engineer.joined"    // EngineerJoined
	TypeEngineerLeft      = "engineer.left"      // EngineerLeft
)

// Payloads, one per entry type. They are what a Change carries and what
// the journal stores; their JSON is a compatibility promise to every
// journal already written, so fields are only ever added.

// CaseOpened is the payload of case.opened, the first entry of a case.
type CaseOpened struct {
	Title   string     `json:"title"`
	Intake  Intake     `json:"intake"`
	Targets SLATargets `json:"sla_targets"`
}

// IntakeUpdated is the payload of intake.updated: the whole new intake.
type IntakeUpdated struct {
	Intake Intake `json:"intake"`
}

// AssetsImported is the payload of assets.imported.
type AssetsImported struct {
	Source string     `json:"source,omitempty"` // file name or where the list came from
	Mode   ImportMode `json:"mode"`
	Assets []Asset    `json:"assets"`
}

// ClassificationSet is the payload of classification.set: the category,
// the factors, the level they give with its rationale, and an engineer's
// override if any. Level is the level in force: Override.Level when
// overridden, else Derived.
type ClassificationSet struct {
	Category    Category       `json:"category"`
	Subcategory string         `json:"subcategory,omitempty"`
	Factors     Factors        `json:"factors"`
	Derived     Level          `json:"derived_level"`
	Rationale   Label          `json:"rationale"`
	Override    *LevelOverride `json:"override,omitempty"`
	Level       Level          `json:"level"`
}

// LevelOverride is an engineer's decision to grade differently from the
// rules.
type LevelOverride struct {
	Level  Level  `json:"level"`
	Reason string `json:"reason"`
}

// PhaseChanged is the payload of phase.changed.
type PhaseChanged struct {
	From      Phase     `json:"from"`
	To        Phase     `json:"to"`
	Direction Direction `json:"direction"`
	Reason    string    `json:"reason,omitempty"`
}

// SLATargetsSet is the payload of sla.targets_set: the full new targets.
type SLATargetsSet struct {
	Targets SLATargets `json:"targets"`
	Reason  string     `json:"reason,omitempty"`
}

// MilestoneReached is the payload of sla.milestone. A zero At means the
// entry's own time.
type MilestoneReached struct {
	Milestone Milestone `json:"milestone"`
	At        time.Time `json:"at,omitzero"`
	Note      string    `json:"note,omitempty"`
}

// NoteAdded is the payload of note.added.
type NoteAdded struct {
	Text string `json:"text"`
}

// TaskAdded is the payload of task.added. The task's ID is the entry's seq.
type TaskAdded struct {
	Title    string `json:"title"`
	Assignee string `json:"assignee,omitempty"`
}

// TaskUpdated is the payload of task.updated; nil fields are unchanged.
type TaskUpdated struct {
	ID       uint64      `json:"id"`
	Assignee *string     `json:"assignee,omitempty"` // "" unassigns
	Status   *TaskStatus `json:"status,omitempty"`
}

// EngineerJoined is the payload of engineer.joined. Joining again changes
// the role. A new lead makes the previous lead (named in Replaces) a
// member.
type EngineerJoined struct {
	Engineer string `json:"engineer"`
	Role     Role   `json:"role"`
	Replaces string `json:"replaces,omitempty"`
}

// EngineerLeft is the payload of engineer.left.
type EngineerLeft struct {
	Engineer string `json:"engineer"`
	Reason   string `json:"reason,omitempty"`
}

// Role is an engineer's role on a case.
type Role string

// Roles.
const (
	RoleLead   Role = "lead"
	RoleMember Role = "member"
)

var roleLabels = map[Role]Label{RoleLead: {"Lead", "负责人"}, RoleMember: {"Member", "成员"}}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { _, ok := roleLabels[r]; return ok }

// Label returns the role's name.
func (r Role) Label() Label { return roleLabels[r] }

// TaskStatus is the state of a task.
type TaskStatus string

// Task states.
const (
	TaskOpen TaskStatus = "open"
	TaskDone TaskStatus = "done"
)

// Valid reports whether s is a known status.
func (s TaskStatus) Valid() bool { return s == TaskOpen || s == TaskDone }

// Case is the projection of one case journal. The API returns it as JSON.
// It is not safe for concurrent use; callers that share one hold a lock.
type Case struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`

	Phase        Phase         `json:"phase"`
	ClosedFrom   Phase         `json:"closed_from,omitempty"` // the phase a closed case was closed from
	PhaseHistory []PhaseRecord `json:"phase_history"`

	Intake         Intake               `json:"intake"`
	Classification *ClassificationState `json:"classification,omitempty"`
	SLA            SLA                  `json:"sla"`
	Notes          []Note               `json:"notes"`
	Tasks          []Task               `json:"tasks"`
	Engineers      []Engineer           `json:"engineers"`
	Assets         []Asset              `json:"assets"`
	Evidence       []EvidenceItem       `json:"evidence"`
	Analyses       []AnalysisRecord     `json:"analyses"`
	Findings       []FindingRecord      `json:"findings"`
	Triage         TriageState          `json:"triage,omitzero"` // host triage: collections and cleanup plans

	LastSeq  uint64       `json:"last_seq"`
	HeadHash journal.Hash `json:"head_hash"`
}

// PhaseRecord is one phase change.
type PhaseRecord struct {
	PhaseChanged
	Actor string    `json:"actor"`
	At    time.Time `json:"at"`
	Seq   uint64    `json:"seq"`
}

// ClassificationState is the classification in force and who set it.
type ClassificationState struct {
	ClassificationSet
	SetBy string    `json:"set_by"`
	SetAt time.Time `json:"set_at"`
	Seq   uint64    `json:"seq"`
}

// Note is a free-text note on the case.
type Note struct {
	Seq   uint64    `json:"seq"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Text  string    `json:"text"`
}

// Task is a piece of work on the case. Its ID is the seq of the entry that
// added it.
type Task struct {
	ID        uint64     `json:"id"`
	Title     string     `json:"title"`
	Assignee  string     `json:"assignee,omitempty"`
	Status    TaskStatus `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	UpdatedAt time.Time  `json:"updated_at"`
	DoneAt    time.Time  `json:"done_at,omitzero"`
	DoneBy    string     `json:"done_by,omitempty"`
}

// Engineer is someone who worked on the case. Engineers who left stay in
// the list with Active false, for the report.
type Engineer struct {
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Active   bool      `json:"active"`
	JoinedAt time.Time `json:"joined_at"`
	LeftAt   time.Time `json:"left_at,omitzero"`
}

// New returns the empty projection of case id, before its first entry.
func New(id string) *Case {
	return &Case{
		ID:           id,
		Phase:        PhaseIntake,
		PhaseHistory: []PhaseRecord{},
		Intake:       Intake{}.normalized(),
		SLA:          SLA{Targets: DefaultSLATargets, Reached: map[Milestone]MilestoneRecord{}},
		Notes:        []Note{},
		Tasks:        []Task{},
		Engineers:    []Engineer{},
		Assets:       []Asset{},
		Evidence:     []EvidenceItem{},
		Analyses:     []AnalysisRecord{},
		Findings:     []FindingRecord{},
	}
}

// Replay builds the projection of case id from its entries in order.
func Replay(id string, entries []journal.Entry) (*Case, error) {
	c := New(id)
	for i := range entries {
		if err := c.Apply(entries[i]); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// IsOpen reports whether the case has its case.opened entry.
func (c *Case) IsOpen() bool { return c.LastSeq > 0 }

// IsClosed reports whether the case is closed.
func (c *Case) IsClosed() bool { return c.Phase == PhaseClosed }

// Apply applies one committed entry. It checks that the entry follows the
// projection (journal, seq, prev hash) and that the payload makes sense,
// and either applies all of it or, on error, nothing. It does not re-check
// policy (skipping phases, changes to a closed case): the command
// constructors did that before the entry was appended, and an old journal
// must replay under a newer policy.
func (c *Case) Apply(e journal.Entry) error {
	if e.Journal != c.ID {
		return fmt.Errorf("%w: entry of journal %q applied to case %q", ErrSequence, e.Journal, c.ID)
	}
	if e.Seq != c.LastSeq+1 {
		return fmt.Errorf("%w: case %s is at seq %d, entry has seq %d", ErrSequence, c.ID, c.LastSeq, e.Seq)
	}
	if e.Prev != c.HeadHash {
		return fmt.Errorf("%w: entry %d prev %s is not the head %s", ErrSequence, e.Seq, e.Prev, c.HeadHash)
	}
	if err := c.apply(e); err != nil {
		return &EntryError{Seq: e.Seq, Type: e.Type, Err: err}
	}
	c.LastSeq, c.HeadHash, c.UpdatedAt = e.Seq, e.Hash, e.Time.UTC()
	return nil
}

func decode(e journal.Entry, v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("decode payload: %w", err)
	}
	return nil
}

func (c *Case) apply(e journal.Entry) error {
	at := e.Time.UTC()
	if !c.IsOpen() && e.Type != TypeCaseOpened {
		return ErrNotOpen
	}
	switch e.Type {
	case TypeCaseOpened:
		if c.IsOpen() {
			return ErrAlreadyOpen
		}
		var p CaseOpened
		if err := decode(e, &p); err != nil {
			return err
		}
		c.Title, c.CreatedAt, c.CreatedBy = p.Title, at, e.Actor
		c.Intake = p.Intake.normalized()
		if p.Targets != (SLATargets{}) {
			c.SLA.Targets = p.Targets
		}

	case TypeIntakeUpdated:
		var p IntakeUpdated
		if err := decode(e, &p); err != nil {
			return err
		}
		c.Intake = p.Intake.normalized()

	case TypeAssetsImported:
		var p AssetsImported
		if err := decode(e, &p); err != nil {
			return err
		}
		if p.Mode != ImportReplace && p.Mode != ImportMerge {
			return fmt.Errorf("unknown import mode %q", p.Mode)
		}
		c.Assets = mergeAssets(c.Assets, p.Assets, p.Mode)

	case TypeClassificationSet:
		var p ClassificationSet
		if err := decode(e, &p); err != nil {
			return err
		}
		if !p.Level.Valid() || !p.Derived.Valid() {
			return fmt.Errorf("unknown level %q (derived %q)", p.Level, p.Derived)
		}
		c.Classification = &ClassificationState{ClassificationSet: p, SetBy: e.Actor, SetAt: at, Seq: e.Seq}

	case TypePhaseChanged:
		var p PhaseChanged
		if err := decode(e, &p); err != nil {
			return err
		}
		if !p.To.Valid() {
			return fmt.Errorf("unknown phase %q", p.To)
		}
		if p.From != c.Phase {
			return fmt.Errorf("change from %s but the case is in %s", p.From, c.Phase)
		}
		if p.To == PhaseClosed {
			c.ClosedFrom = p.From
		} else {
			c.ClosedFrom = ""
		}
		c.Phase = p.To
		c.PhaseHistory = append(c.PhaseHistory, PhaseRecord{PhaseChanged: p, Actor: e.Actor, At: at, Seq: e.Seq})
		if m, ok := phaseMilestone[p.To]; ok && p.Direction == Forward {
			if _, met := c.SLA.Reached[m]; !met {
				c.SLA.Reached[m] = MilestoneRecord{At: at, Actor: e.Actor, Seq: e.Seq, Auto: true}
			}
		}

	case TypeSLATargetsSet:
		var p SLATargetsSet
		if err := decode(e, &p); err != nil {
			return err
		}
		c.SLA.Targets = p.Targets

	case TypeSLAMilestone:
		var p MilestoneReached
		if err := decode(e, &p); err != nil {
			return err
		}
		if !p.Milestone.Valid() || p.Milestone == MilestoneRequestReceived {
			return fmt.Errorf("milestone %q cannot be recorded", p.Milestone)
		}
		when := at
		if !p.At.IsZero() {
			when = p.At.UTC()
		}
		c.SLA.Reached[p.Milestone] = MilestoneRecord{At: when, Actor: e.Actor, Seq: e.Seq, Note: p.Note}

	case TypeNoteAdded:
		var p NoteAdded
		if err := decode(e, &p); err != nil {
			return err
		}
		c.Notes = append(c.Notes, Note{Seq: e.Seq, At: at, Actor: e.Actor, Text: p.Text})

	case TypeTaskAdded:
		var p TaskAdded
		if err := decode(e, &p); err != nil {
			return err
		}
		c.Tasks = append(c.Tasks, Task{
			ID: e.Seq, Title: p.Title, Assignee: p.Assignee, Status: TaskOpen,
			CreatedAt: at, CreatedBy: e.Actor, UpdatedAt: at,
		})

	case TypeTaskUpdated:
		var p TaskUpdated
		if err := decode(e, &p); err != nil {
			return err
		}
		i := c.task(p.ID)
		if i < 0 {
			return fmt.Errorf("task %d: %w", p.ID, ErrNotFound)
		}
		if p.Status != nil && !p.Status.Valid() {
			return fmt.Errorf("unknown task status %q", *p.Status)
		}
		t := c.Tasks[i]
		if p.Assignee != nil {
			t.Assignee = *p.Assignee
		}
		if p.Status != nil && *p.Status != t.Status {
			t.Status = *p.Status
			if t.Status == TaskDone {
				t.DoneAt, t.DoneBy = at, e.Actor
			} else {
				t.DoneAt, t.DoneBy = time.Time{}, ""
			}
		}
		t.UpdatedAt = at
		c.Tasks[i] = t

	case TypeEngineerJoined:
		var p EngineerJoined
		if err := decode(e, &p); err != nil {
			return err
		}
		if !p.Role.Valid() || p.Engineer == "" {
			return fmt.Errorf("engineer %q with role %q", p.Engineer, p.Role)
		}
		if p.Role == RoleLead {
			for i := range c.Engineers {
				if c.Engineers[i].Active && c.Engineers[i].Role == RoleLead && c.Engineers[i].Name != p.Engineer {
					c.Engineers[i].Role = RoleMember
				}
			}
		}
		if i := c.engineer(p.Engineer); i >= 0 {
			en := &c.Engineers[i]
			if !en.Active {
				en.JoinedAt, en.LeftAt = at, time.Time{}
			}
			en.Role, en.Active = p.Role, true
		} else {
			c.Engineers = append(c.Engineers, Engineer{Name: p.Engineer, Role: p.Role, Active: true, JoinedAt: at})
		}

	case TypeEvidenceCollected, TypeAnalysisCompleted:
		return c.applyEvidence(e)

	case TypeFindingsRecorded:
		return c.applyFindings(e)

	case TypeTriageCollected, TypeTriagePlanned, TypeTriageStepApproved, TypeTriageStepApplied, TypeTriageStepFailed, TypeTriageStepUndone:
		return c.applyTriage(e)

	case TypeEngineerLeft:
		var p EngineerLeft
		if err := decode(e, &p); err != nil {
			return err
		}
		i := c.engineer(p.Engineer)
		if i < 0 || !c.Engineers[i].Active {
			return fmt.Errorf("engineer %q: %w", p.Engineer, ErrNotFound)
		}
		c.Engineers[i].Active, c.Engineers[i].LeftAt = false, at
	}
	return nil
}

func (c *Case) task(id uint64) int {
	for i := range c.Tasks {
		if c.Tasks[i].ID == id {
			return i
		}
	}
	return -1
}

func (c *Case) engineer(name string) int {
	for i := range c.Engineers {
		if c.Engineers[i].Name == name {
			return i
		}
	}
	return -1
}

// Lead returns the active lead engineer's name, or "".
func (c *Case) Lead() string {
	for _, e := range c.Engineers {
		if e.Active && e.Role == RoleLead {
			return e.Name
		}
	}
	return ""
}
