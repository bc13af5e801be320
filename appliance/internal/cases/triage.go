package cases

import (
	"fmt"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// Entry types of host triage: collection from a target, cleanup plans,
// and each step's approval, application, failure and undoing.
const (
	TypeTriageCollected    = "triage.collected"     // TriageCollected
	TypeTriagePlanned      = "triage.planned"       // TriagePlanned
	TypeTriageStepApproved = "triage.step_approved" // TriageStepRef
	TypeTriageStepApplied  = "triage.step_applied"  // TriageStepResult
	TypeTriageStepFailed   = "triage.step_failed"   // TriageStepResult
	TypeTriageStepUndone   = "triage.step_undone"   // TriageStepResult
)

// Status of a cleanup step.
const (
	StepProposed = "proposed"
	StepRefused  = "refused" // the host refused the module's proposal; never applied
	StepApproved = "approved"
	StepApplied  = "applied"
	StepFailed   = "failed"
	StepUndone   = "undone"
)

// TriageFile is one file collected from a target, as it was before
// anything touched it.
type TriageFile struct {
	Path      string    `json:"path"` // inside the target, starting with "/"
	Size      int64     `json:"size"` // the file's size on the target
	SHA256    string    `json:"sha256,omitempty"`
	Kept      int64     `json:"kept"`                // bytes kept in the vault (less than Size when cut)
	Truncated bool      `json:"truncated,omitempty"` // SHA256 is of the first Kept bytes only
	Mode      uint32    `json:"mode"`                // Unix st_mode
	UID       uint32    `json:"uid"`
	GID       uint32    `json:"gid"`
	Inode     uint64    `json:"inode,omitempty"`
	Links     uint64    `json:"links,omitempty"`
	MTime     time.Time `json:"mtime,omitzero"`
	CTime     time.Time `json:"ctime,omitzero"`
	ATime     time.Time `json:"atime,omitzero"`
	Link      string    `json:"link,omitempty"`     // a symbolic link's target; never followed
	Volatile  bool      `json:"volatile,omitempty"` // a command's output (processes, connections)
	Command   string    `json:"command,omitempty"`  // the command that produced volatile data
	Note      string    `json:"note,omitempty"`
}

// TriageSkip is something the collection refused or could not read.
type TriageSkip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// TriageCollected is the payload of triage.collected: one part of a
// collection from a target. A large collection is several entries with the
// same Collection ID and Part numbers.
type TriageCollected struct {
	Collection string       `json:"collection"` // ID shared by the parts
	Part       int          `json:"part"`
	Last       bool         `json:"last"`
	Target     string       `json:"target"` // what the engineer named: a directory, an archive, ssh://user@host
	Kind       string       `json:"kind"`   // directory, archive, ssh
	HostKey    string       `json:"host_key,omitempty"`
	Order      string       `json:"order,omitempty"` // the order of volatility followed
	Files      []TriageFile `json:"files"`
	Skipped    []TriageSkip `json:"skipped,omitempty"`
}

// TriageStep is one proposed cleanup step.
type TriageStep struct {
	ID      string   `json:"id"` // "S<seq>.<n>"
	Module  string   `json:"module"`
	Type    string   `json:"type"`
	Target  string   `json:"target"`
	Detail  string   `json:"detail,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	Answers []string `json:"answers,omitempty"` // finding IDs
	Refused string   `json:"refused,omitempty"` // why the host refused it
}

// TriagePlanned is the payload of triage.planned.
type TriagePlanned struct {
	Target string       `json:"target"`
	Steps  []TriageStep `json:"steps"`
}

// TriageStepRef names a step: the payload of triage.step_approved.
type TriageStepRef struct {
	Step string `json:"step"`
}

// TriageChange is what a step did to one file: its hashes before and
// after ("" for absent), the vault blob keeping the original, and the
// metadata an undo restores.
type TriageChange struct {
	Path     string    `json:"path"`
	Before   string    `json:"before,omitempty"`
	After    string    `json:"after,omitempty"`
	Original string    `json:"original,omitempty"` // vault SHA-256 of the original bytes
	Link     string    `json:"link,omitempty"`     // the original was a symbolic link to this
	Mode     uint32    `json:"mode,omitempty"`
	UID      uint32    `json:"uid"`
	GID      uint32    `json:"gid"`
	MTime    time.Time `json:"mtime,omitzero"`
	ATime    time.Time `json:"atime,omitzero"`
}

// TriageStepResult is the payload of triage.step_applied, .step_failed and
// .step_undone. For a failure, Changes are the files fully changed and
// Untouched those left as they were: no file is ever half-written.
type TriageStepResult struct {
	Step      string         `json:"step"`
	Changes   []TriageChange `json:"changes"`
	Untouched []string       `json:"untouched,omitempty"`
	Error     string         `json:"error,omitempty"`
}

// TriageState is the triage part of a case.
type TriageState struct {
	Collections []TriageCollection `json:"collections"`
	Plans       []TriagePlan       `json:"plans"`
}

// TriageCollection is a collection, its parts joined.
type TriageCollection struct {
	ID       string       `json:"id"`
	Target   string       `json:"target"`
	Kind     string       `json:"kind"`
	HostKey  string       `json:"host_key,omitempty"`
	Complete bool         `json:"complete"`
	Seq      uint64       `json:"seq"`
	At       time.Time    `json:"at"`
	Files    []TriageFile `json:"files"`
	Skipped  []TriageSkip `json:"skipped,omitempty"`
}

// TriagePlan is a plan and the state of its steps.
type TriagePlan struct {
	Seq    uint64          `json:"seq"`
	At     time.Time       `json:"at"`
	By     string          `json:"by"`
	Target string          `json:"target"`
	Steps  []TriageStepRec `json:"steps"`
}

// TriageStepRec is a step with its state.
type TriageStepRec struct {
	TriageStep
	Status     string         `json:"status"`
	ApprovedBy string         `json:"approved_by,omitempty"`
	Changes    []TriageChange `json:"changes,omitempty"` // of the last application
	Error      string         `json:"error,omitempty"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

// TriageStepByID returns the step, or nil.
func (c *Case) TriageStepByID(id string) (*TriagePlan, *TriageStepRec) {
	for i := range c.Triage.Plans {
		p := &c.Triage.Plans[i]
		for j := range p.Steps {
			if p.Steps[j].ID == id {
				return p, &p.Steps[j]
			}
		}
	}
	return nil, nil
}

// LatestCollection returns the last complete collection from target, or nil.
func (c *Case) LatestCollection(target string) *TriageCollection {
	for i := len(c.Triage.Collections) - 1; i >= 0; i-- {
		if col := &c.Triage.Collections[i]; col.Target == target && col.Complete {
			return col
		}
	}
	return nil
}

// CollectTriage returns a triage.collected entry.
func (c *Case) CollectTriage(p TriageCollected) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if p.Collection == "" || p.Target == "" {
		return Change{}, fieldErr("target", "a collection names its target")
	}
	for i, f := range p.Files {
		if f.SHA256 != "" && !validSHA256(f.SHA256) {
			return Change{}, fieldErr(fmt.Sprintf("files[%d].sha256", i), "is not a SHA-256")
		}
	}
	return finish(TypeTriageCollected, p)
}

// PlanTriage returns a triage.planned entry. Every step answers findings
// of the case.
func (c *Case) PlanTriage(p TriagePlanned) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if p.Target == "" {
		return Change{}, fieldErr("target", "is required")
	}
	if len(p.Steps) == 0 {
		return Change{}, fieldErr("steps", "the plan has no steps")
	}
	for i, s := range p.Steps {
		for _, id := range s.Answers {
			if c.FindingByID(id) == nil {
				return Change{}, fieldErr(fmt.Sprintf("steps[%d].answers", i), "%s is not a finding of this case", id)
			}
		}
	}
	return finish(TypeTriagePlanned, p)
}

// ApproveTriageStep returns a triage.step_approved entry: for a proposed
// step, or again for one undone or failed, since every application needs
// an approval of its own.
func (c *Case) ApproveTriageStep(id string) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	_, s := c.TriageStepByID(id)
	switch {
	case s == nil:
		return Change{}, fmt.Errorf("step %s: %w", id, ErrNotFound)
	case s.Status == StepRefused:
		return Change{}, fieldErr("step", "%s was refused by the appliance (%s) and cannot be approved", id, s.Refused)
	case s.Status == StepApproved || s.Status == StepApplied:
		return Change{}, fmt.Errorf("step %s is %s: %w", id, s.Status, ErrNoChange)
	}
	return finish(TypeTriageStepApproved, TriageStepRef{Step: id})
}

// TriageStepDone returns the entry recording a step's application
// (TypeTriageStepApplied, TypeTriageStepFailed) or undoing.
func (c *Case) TriageStepDone(typ string, r TriageStepResult) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	_, s := c.TriageStepByID(r.Step)
	if s == nil {
		return Change{}, fmt.Errorf("step %s: %w", r.Step, ErrNotFound)
	}
	switch typ {
	case TypeTriageStepApplied, TypeTriageStepFailed:
		if s.Status != StepApproved {
			return Change{}, fieldErr("step", "%s is %s; only an approved step is applied (each time)", r.Step, s.Status)
		}
	case TypeTriageStepUndone:
		if s.Status != StepApplied && s.Status != StepFailed {
			return Change{}, fieldErr("step", "%s is %s; only an applied step is undone", r.Step, s.Status)
		}
	default:
		return Change{}, fieldErr("type", "%q is not a step result", typ)
	}
	return finish(typ, r)
}

func (c *Case) applyTriage(e journal.Entry) error {
	at := e.Time.UTC()
	switch e.Type {
	case TypeTriageCollected:
		var p TriageCollected
		if err := decode(e, &p); err != nil {
			return err
		}
		var col *TriageCollection
		if n := len(c.Triage.Collections); n > 0 && c.Triage.Collections[n-1].ID == p.Collection {
			col = &c.Triage.Collections[n-1]
		} else {
			c.Triage.Collections = append(c.Triage.Collections, TriageCollection{ID: p.Collection, Target: p.Target,
				Kind: p.Kind, HostKey: p.HostKey, Seq: e.Seq, At: at})
			col = &c.Triage.Collections[len(c.Triage.Collections)-1]
		}
		col.Files = append(col.Files, p.Files...)
		col.Skipped = append(col.Skipped, p.Skipped...)
		col.Complete = p.Last
	case TypeTriagePlanned:
		var p TriagePlanned
		if err := decode(e, &p); err != nil {
			return err
		}
		plan := TriagePlan{Seq: e.Seq, At: at, By: e.Actor, Target: p.Target}
		for _, s := range p.Steps {
			st := StepProposed
			if s.Refused != "" {
				st = StepRefused
			}
			plan.Steps = append(plan.Steps, TriageStepRec{TriageStep: s, Status: st, UpdatedAt: at})
		}
		c.Triage.Plans = append(c.Triage.Plans, plan)
	case TypeTriageStepApproved:
		var p TriageStepRef
		if err := decode(e, &p); err != nil {
			return err
		}
		_, s := c.TriageStepByID(p.Step)
		if s == nil {
			return fmt.Errorf("step %s: %w", p.Step, ErrNotFound)
		}
		s.Status, s.ApprovedBy, s.UpdatedAt = StepApproved, e.Actor, at
	case TypeTriageStepApplied, TypeTriageStepFailed, TypeTriageStepUndone:
		var p TriageStepResult
		if err := decode(e, &p); err != nil {
			return err
		}
		_, s := c.TriageStepByID(p.Step)
		if s == nil {
			return fmt.Errorf("step %s: %w", p.Step, ErrNotFound)
		}
		s.UpdatedAt, s.Error = at, p.Error
		switch e.Type {
		case TypeTriageStepApplied:
			s.Status, s.Changes = StepApplied, p.Changes
		case TypeTriageStepFailed:
			s.Status, s.Changes = StepFailed, p.Changes
		case TypeTriageStepUndone:
			s.Status = StepUndone
		}
	}
	return nil
}
