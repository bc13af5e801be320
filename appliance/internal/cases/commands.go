package cases

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// Change is what a command asks to append to the case journal: an entry
// type and its payload (one of the payload structs of this package). The
// caller adds journal, actor and time, appends it, and applies the
// committed entry.
type Change struct {
	Type    string `json:"type"`
	Payload any    `json:"payload"`
}

// Encode returns the payload as the compact JSON the journal stores.
func (ch Change) Encode() (json.RawMessage, error) {
	b, err := json.Marshal(ch.Payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", ch.Type, err)
	}
	return b, nil
}

func finish(typ string, payload any) (Change, error) {
	ch := Change{Type: typ, Payload: payload}
	b, err := ch.Encode()
	if err != nil {
		return Change{}, err
	}
	if len(b) > journal.MaxPayload {
		return Change{}, fmt.Errorf("%w: %s payload is %d bytes, the journal takes at most %d", ErrTooLarge, typ, len(b), journal.MaxPayload)
	}
	return ch, nil
}

// writable is the check every command but Open and a reopen makes.
func (c *Case) writable() error {
	if !c.IsOpen() {
		return ErrNotOpen
	}
	if c.IsClosed() {
		return fmt.Errorf("%w: reopen it first", ErrClosed)
	}
	return nil
}

// ValidateID checks a case ID: 1 to MaxID letters, digits, '.', '_' or
// '-', not starting with '.' or '-'.
func ValidateID(id string) error {
	if id == "" || len(id) > MaxID {
		return fieldErr("id", "must be 1 to %d characters", MaxID)
	}
	for i, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' ||
			i > 0 && (r == '.' || r == '-')
		if !ok {
			return fieldErr("id", "%q: only letters, digits, '_', and '.' or '-' after the first character", id)
		}
	}
	return nil
}

// OpenRequest opens a case.
type OpenRequest struct {
	Title  string `json:"title"`
	Intake Intake `json:"intake"`
}

// Validate checks the request.
func (r *OpenRequest) Validate() error {
	if err := short("title", r.Title, MaxTitle, true); err != nil {
		return err
	}
	return r.Intake.Validate()
}

// Open returns the case.opened entry of a new case, with the default SLA
// targets.
func (c *Case) Open(r OpenRequest) (Change, error) {
	if c.IsOpen() {
		return Change{}, ErrAlreadyOpen
	}
	if err := ValidateID(c.ID); err != nil {
		return Change{}, err
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	return finish(TypeCaseOpened, CaseOpened{Title: r.Title, Intake: r.Intake.normalized(), Targets: DefaultSLATargets})
}

// UpdateIntake replaces the intake with in.
func (c *Case) UpdateIntake(in Intake) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if err := in.Validate(); err != nil {
		return Change{}, err
	}
	return finish(TypeIntakeUpdated, IntakeUpdated{Intake: in.normalized()})
}

// ImportAssetsRequest adds or replaces the customer's asset list. The API
// builds it from a CSV upload with ParseAssetsCSV, or decodes it as JSON.
type ImportAssetsRequest struct {
	Source string     `json:"source,omitempty"`
	Mode   ImportMode `json:"mode,omitempty"` // default replace
	Assets []Asset    `json:"assets"`
}

// Validate checks the request.
func (r *ImportAssetsRequest) Validate() error {
	if err := short("source", r.Source, MaxShort, false); err != nil {
		return err
	}
	if r.Mode != "" && r.Mode != ImportReplace && r.Mode != ImportMerge {
		return fieldErr("mode", "must be %q or %q, got %q", ImportReplace, ImportMerge, r.Mode)
	}
	if len(r.Assets) == 0 {
		return fieldErr("assets", "is empty")
	}
	if len(r.Assets) > MaxAssets {
		return tooMany("assets", len(r.Assets), MaxAssets)
	}
	seen := map[string]int{}
	for i := range r.Assets {
		if err := r.Assets[i].Validate(); err != nil {
			if fe, ok := err.(*FieldError); ok {
				return &FieldError{Field: fmt.Sprintf("assets[%d].%s", i, fe.Field), Reason: fe.Reason, err: fe.err}
			}
			return err
		}
		k := r.Assets[i].Key()
		if j, dup := seen[k]; dup {
			return fieldErr(fmt.Sprintf("assets[%d]", i), "%s is the same asset as assets[%d]", k, j)
		}
		seen[k] = i
	}
	return nil
}

// ImportAssets returns the assets.imported entry. In merge mode, assets
// with the Key of one already on the case replace it.
func (c *Case) ImportAssets(r ImportAssetsRequest) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	mode := r.Mode
	if mode == "" {
		mode = ImportReplace
	}
	if mode == ImportMerge && len(mergeAssets(c.Assets, r.Assets, mode)) > MaxAssets {
		return Change{}, fmt.Errorf("%w: the merged list would hold more than %d assets", ErrTooLarge, MaxAssets)
	}
	return finish(TypeAssetsImported, AssetsImported{Source: r.Source, Mode: mode, Assets: append([]Asset{}, r.Assets...)})
}

// ClassifyRequest sets the category and the grading factors, and
// optionally overrides the level the factors give.
type ClassifyRequest struct {
	Category       Category   `json:"category"`
	Subcategory    string     `json:"subcategory,omitempty"`
	Importance     Importance `json:"importance"`
	Loss           Loss       `json:"loss"`
	Impact         Impact     `json:"social_impact"`
	OverrideLevel  Level      `json:"override_level,omitempty"`
	OverrideReason string     `json:"override_reason,omitempty"`
}

// Factors returns the request's grading factors.
func (r *ClassifyRequest) Factors() Factors {
	return Factors{Importance: r.Importance, Loss: r.Loss, Impact: r.Impact}
}

// Validate checks the request.
func (r *ClassifyRequest) Validate() error {
	if !r.Category.Valid() {
		return fieldErr("category", "unknown category %q", r.Category)
	}
	if r.Subcategory != "" {
		if _, ok := r.Category.Subcategory(r.Subcategory); !ok {
			return fieldErr("subcategory", "%q is not a subcategory of %s", r.Subcategory, r.Category)
		}
	}
	if err := r.Factors().Validate(); err != nil {
		return err
	}
	if r.OverrideLevel == "" {
		if r.OverrideReason != "" {
			return fieldErr("override_reason", "is set without override_level")
		}
		return nil
	}
	if !r.OverrideLevel.Valid() {
		return fieldErr("override_level", "must be I, II, III or IV, got %q", r.OverrideLevel)
	}
	return text("override_reason", r.OverrideReason, MaxReason, true)
}

// Classify derives the level from the factors and returns the
// classification.set entry. An override must differ from the derived level
// and give a reason; the entry keeps both levels.
func (c *Case) Classify(r ClassifyRequest) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	derived, why, err := DeriveLevel(r.Factors())
	if err != nil {
		return Change{}, err
	}
	p := ClassificationSet{
		Category: r.Category, Subcategory: r.Subcategory, Factors: r.Factors(),
		Derived: derived, Rationale: why, Level: derived,
	}
	if r.OverrideLevel != "" {
		if r.OverrideLevel == derived {
			return Change{}, fieldErr("override_level", "is the derived level %s; leave it empty", derived)
		}
		p.Override = &LevelOverride{Level: r.OverrideLevel, Reason: r.OverrideReason}
		p.Level = r.OverrideLevel
	}
	return finish(TypeClassificationSet, p)
}

// PhaseRequest moves the case to another phase.
type PhaseRequest struct {
	To     Phase  `json:"to"`
	Reason string `json:"reason,omitempty"`
}

// Validate checks the request on its own; whether the move is allowed
// depends on the case (SetPhase).
func (r *PhaseRequest) Validate() error {
	if !r.To.Valid() {
		return fieldErr("to", "unknown phase %q", r.To)
	}
	return text("reason", r.Reason, MaxReason, false)
}

// SetPhase returns the phase.changed entry that moves the case to r.To.
// Allowed: one step forward on intake → confirmed → contained → eradicated
// → recovered → hardened → reported → closed; intake → not_incident →
// closed; one step back (closed goes back only to the phase it was closed
// from, which is a reopen). Going back, reopening and not_incident need a
// reason. A closed case refuses every other change.
func (c *Case) SetPhase(r PhaseRequest) (Change, error) {
	if !c.IsOpen() {
		return Change{}, ErrNotOpen
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	dir, err := transition(c.Phase, c.ClosedFrom, r.To)
	if err != nil {
		if c.IsClosed() {
			return Change{}, fmt.Errorf("%w: %w", ErrClosed, err)
		}
		return Change{}, err
	}
	if r.Reason == "" {
		switch {
		case dir == Back:
			return Change{}, fieldErr("reason", "is required to go back a phase")
		case dir == Reopen:
			return Change{}, fieldErr("reason", "is required to reopen a case")
		case r.To == PhaseNotIncident:
			return Change{}, fieldErr("reason", "is required to find that this is not an incident")
		}
	}
	return finish(TypePhaseChanged, PhaseChanged{From: c.Phase, To: r.To, Direction: dir, Reason: r.Reason})
}

// Reopen returns the phase.changed entry that reopens a closed case, back to
// the phase it was closed from.
func (c *Case) Reopen(reason string) (Change, error) {
	if !c.IsClosed() {
		return Change{}, &TransitionError{From: c.Phase, To: c.Phase, Reason: "only a closed case can be reopened"}
	}
	return c.SetPhase(PhaseRequest{To: c.ClosedFrom, Reason: reason})
}

// SLATargetsRequest changes SLA targets; nil fields keep their value.
type SLATargetsRequest struct {
	Responded       *Duration `json:"responded,omitempty"`
	OnSite          *Duration `json:"on_site,omitempty"`
	Contained       *Duration `json:"contained,omitempty"`
	ReportDelivered *Duration `json:"report_delivered,omitempty"`
	Reason          string    `json:"reason,omitempty"`
}

// Validate checks the request.
func (r *SLATargetsRequest) Validate() error {
	if r.Responded == nil && r.OnSite == nil && r.Contained == nil && r.ReportDelivered == nil {
		return fieldErr("targets", "no target given")
	}
	t := r.apply(DefaultSLATargets)
	if err := t.validate(); err != nil {
		return err
	}
	return text("reason", r.Reason, MaxReason, false)
}

func (r *SLATargetsRequest) apply(t SLATargets) SLATargets {
	for _, f := range []struct {
		src *Duration
		dst *Duration
	}{{r.Responded, &t.Responded}, {r.OnSite, &t.OnSite}, {r.Contained, &t.Contained}, {r.ReportDelivered, &t.ReportDelivered}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	return t
}

// SetSLATargets returns the sla.targets_set entry with the full new targets.
func (c *Case) SetSLATargets(r SLATargetsRequest) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	t := r.apply(c.SLA.Targets)
	if err := t.validate(); err != nil {
		return Change{}, err
	}
	if t == c.SLA.Targets {
		return Change{}, ErrNoChange
	}
	return finish(TypeSLATargetsSet, SLATargetsSet{Targets: t, Reason: r.Reason})
}

// MilestoneRequest records that a milestone was reached, at At or, when At
// is zero, at the time of the entry.
type MilestoneRequest struct {
	Milestone Milestone `json:"milestone"`
	At        time.Time `json:"at,omitzero"`
	Note      string    `json:"note,omitempty"`
}

// Validate checks the request.
func (r *MilestoneRequest) Validate() error {
	if r.Milestone == MilestoneRequestReceived {
		return fieldErr("milestone", "request_received is the intake's reported_at; update the intake instead")
	}
	if !r.Milestone.Valid() {
		return fieldErr("milestone", "unknown milestone %q", r.Milestone)
	}
	if err := checkTime("at", r.At, false); err != nil {
		return err
	}
	return text("note", r.Note, MaxReason, false)
}

// Milestone returns the sla.milestone entry. Recording a milestone that is
// already met corrects it and needs a note saying why.
func (c *Case) Milestone(r MilestoneRequest) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	if !r.At.IsZero() && r.At.Before(c.RequestReceived()) {
		return Change{}, fieldErr("at", "%s is before the request was received (%s)",
			r.At.UTC().Format(time.RFC3339), c.RequestReceived().Format(time.RFC3339))
	}
	if _, met := c.SLA.Reached[r.Milestone]; met && r.Note == "" {
		return Change{}, fieldErr("note", "%s is already recorded; say why it is corrected", r.Milestone)
	}
	p := MilestoneReached{Milestone: r.Milestone, Note: r.Note}
	if !r.At.IsZero() {
		p.At = r.At.UTC()
	}
	return finish(TypeSLAMilestone, p)
}

// NoteRequest adds a note.
type NoteRequest struct {
	Text string `json:"text"`
}

// Validate checks the request.
func (r *NoteRequest) Validate() error { return text("text", r.Text, MaxText, true) }

// Note returns the note.added entry.
func (c *Case) Note(r NoteRequest) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	if len(c.Notes) >= MaxNoteCount {
		return Change{}, tooMany("notes", len(c.Notes)+1, MaxNoteCount)
	}
	return finish(TypeNoteAdded, NoteAdded(r))
}

// TaskRequest adds a task.
type TaskRequest struct {
	Title    string `json:"title"`
	Assignee string `json:"assignee,omitempty"`
}

// Validate checks the request.
func (r *TaskRequest) Validate() error {
	if err := short("title", r.Title, MaxTitle, true); err != nil {
		return err
	}
	return short("assignee", r.Assignee, MaxShort, false)
}

// AddTask returns the task.added entry. The task's ID will be the seq the
// entry is committed at.
func (c *Case) AddTask(r TaskRequest) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	if len(c.Tasks) >= MaxTaskCount {
		return Change{}, tooMany("tasks", len(c.Tasks)+1, MaxTaskCount)
	}
	return finish(TypeTaskAdded, TaskAdded(r))
}

// UpdateTaskRequest assigns a task or marks it done or open again; nil
// fields are unchanged, an empty assignee unassigns.
type UpdateTaskRequest struct {
	ID       uint64      `json:"id"`
	Assignee *string     `json:"assignee,omitempty"`
	Status   *TaskStatus `json:"status,omitempty"`
}

// Validate checks the request.
func (r *UpdateTaskRequest) Validate() error {
	if r.ID == 0 {
		return fieldErr("id", "is required")
	}
	if r.Assignee == nil && r.Status == nil {
		return fieldErr("status", "nothing to update: give assignee or status")
	}
	if r.Assignee != nil {
		if err := short("assignee", *r.Assignee, MaxShort, false); err != nil {
			return err
		}
	}
	if r.Status != nil && !r.Status.Valid() {
		return fieldErr("status", "must be %q or %q, got %q", TaskOpen, TaskDone, *r.Status)
	}
	return nil
}

// UpdateTask returns the task.updated entry, with only the fields that
// change.
func (c *Case) UpdateTask(r UpdateTaskRequest) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	i := c.task(r.ID)
	if i < 0 {
		return Change{}, fmt.Errorf("task %d: %w", r.ID, ErrNotFound)
	}
	t := c.Tasks[i]
	p := TaskUpdated{ID: r.ID}
	if r.Assignee != nil && *r.Assignee != t.Assignee {
		a := *r.Assignee
		p.Assignee = &a
	}
	if r.Status != nil && *r.Status != t.Status {
		s := *r.Status
		p.Status = &s
	}
	if p.Assignee == nil && p.Status == nil {
		return Change{}, fmt.Errorf("task %d: %w", r.ID, ErrNoChange)
	}
	return finish(TypeTaskUpdated, p)
}

// JoinRequest puts an engineer on the case, or changes their role.
type JoinRequest struct {
	Engineer string `json:"engineer"`
	Role     Role   `json:"role"`
}

// Validate checks the request.
func (r *JoinRequest) Validate() error {
	if err := short("engineer", r.Engineer, journal.MaxActor, true); err != nil {
		return err
	}
	if !r.Role.Valid() {
		return fieldErr("role", "must be %q or %q, got %q", RoleLead, RoleMember, r.Role)
	}
	return nil
}

// Join returns the engineer.joined entry. Joining as lead makes the
// current lead a member.
func (c *Case) Join(r JoinRequest) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	if i := c.engineer(r.Engineer); i >= 0 && c.Engineers[i].Active && c.Engineers[i].Role == r.Role {
		return Change{}, fmt.Errorf("%s is already %s: %w", r.Engineer, r.Role, ErrNoChange)
	}
	p := EngineerJoined{Engineer: r.Engineer, Role: r.Role}
	if lead := c.Lead(); r.Role == RoleLead && lead != r.Engineer {
		p.Replaces = lead
	}
	return finish(TypeEngineerJoined, p)
}

// LeaveRequest takes an engineer off the case.
type LeaveRequest struct {
	Engineer string `json:"engineer"`
	Reason   string `json:"reason,omitempty"`
}

// Validate checks the request.
func (r *LeaveRequest) Validate() error {
	if err := short("engineer", r.Engineer, journal.MaxActor, true); err != nil {
		return err
	}
	return text("reason", r.Reason, MaxReason, false)
}

// Leave returns the engineer.left entry.
func (c *Case) Leave(r LeaveRequest) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	if i := c.engineer(r.Engineer); i < 0 || !c.Engineers[i].Active {
		return Change{}, fmt.Errorf("engineer %q is not on the case: %w", r.Engineer, ErrNotFound)
	}
	return finish(TypeEngineerLeft, EngineerLeft(r))
}
