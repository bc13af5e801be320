package cases

import (
	"fmt"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// Entry types of evidence and analysis.
const (
	TypeEvidenceCollected = "evidence.collected" // EvidenceCollected
	TypeAnalysisCompleted = "analysis.completed" // AnalysisCompleted
)

// Evidence categories.
const (
	EvidencePcap       = "pcap"
	EvidenceLog        = "log"
	EvidenceFile       = "file"
	EvidenceMemory     = "memory"
	EvidenceScreenshot = "screenshot"
	EvidenceVideo      = "video"
	EvidenceEVE        = "eve" // analysis output derived from other items
)

var evidenceCategories = map[string]bool{
	EvidencePcap: true, EvidenceLog: true, EvidenceFile: true, EvidenceMemory: true,
	EvidenceScreenshot: true, EvidenceVideo: true, EvidenceEVE: true,
}

// EvidenceSource says where an item came from.
type EvidenceSource struct {
	Host      string `json:"host,omitempty"`      // the host or appliance it was taken from
	Interface string `json:"interface,omitempty"` // for live captures
	Path      string `json:"path,omitempty"`      // the original path or file name
}

// EvidenceMethod says how an item was made, so the collection can be
// repeated.
type EvidenceMethod struct {
	Tool    string   `json:"tool"`
	Version string   `json:"version,omitempty"`
	Args    []string `json:"args,omitempty"`
	Filter  string   `json:"filter,omitempty"`
}

// CollectRequest records an item stored in the vault as evidence of the
// case. The vault has already stored the bytes; SHA256 and Size name them.
type CollectRequest struct {
	Category    string         `json:"category"`
	Format      string         `json:"format"`
	SHA256      string         `json:"sha256"`
	Size        int64          `json:"size"`
	Source      EvidenceSource `json:"source"`
	Method      EvidenceMethod `json:"method"`
	Collectors  []string       `json:"collectors,omitempty"`
	Witness     string         `json:"witness,omitempty"`
	Start       time.Time      `json:"start,omitzero"` // first packet, or when collection began
	End         time.Time      `json:"end,omitzero"`
	Packets     uint64         `json:"packets,omitempty"`           // for captures
	KernelDrops *uint64        `json:"kernel_drops,omitempty"`      // for live captures: packets the kernel dropped meanwhile
	NotSeized   string         `json:"not_seized_reason,omitempty"` // why the original medium was not seized
	DerivedFrom []string       `json:"derived_from,omitempty"`      // SHA-256 of the items it was made from
	Description string         `json:"description,omitempty"`
}

// Validate checks the request.
func (r *CollectRequest) Validate() error {
	if !evidenceCategories[r.Category] {
		return fieldErr("category", "unknown evidence category %q", r.Category)
	}
	if !validSHA256(r.SHA256) {
		return fieldErr("sha256", "must be 64 lower-case hex digits")
	}
	if r.Size < 0 {
		return fieldErr("size", "is negative")
	}
	for _, f := range []struct{ name, v string }{
		{"format", r.Format}, {"source.host", r.Source.Host}, {"source.interface", r.Source.Interface},
		{"source.path", r.Source.Path}, {"method.tool", r.Method.Tool}, {"method.version", r.Method.Version},
		{"method.filter", r.Method.Filter}, {"witness", r.Witness},
	} {
		if err := short(f.name, f.v, MaxShort, false); err != nil {
			return err
		}
	}
	if r.Method.Tool == "" {
		return fieldErr("method.tool", "is required")
	}
	if len(r.Method.Args) > 64 || len(r.Collectors) > 16 || len(r.DerivedFrom) > 1024 {
		return fieldErr("method", "too many arguments, collectors or sources")
	}
	for _, a := range r.Method.Args {
		if err := text("method.args", a, MaxShort, false); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, c := range r.Collectors {
		if err := short("collectors", c, MaxShort, true); err != nil {
			return err
		}
		if seen[c] {
			return fieldErr("collectors", "%q is named twice", c)
		}
		seen[c] = true
	}
	if r.Witness != "" && seen[r.Witness] {
		return fieldErr("witness", "%q is also a collector; the witness must be someone else", r.Witness)
	}
	for _, d := range r.DerivedFrom {
		if !validSHA256(d) {
			return fieldErr("derived_from", "%q is not a SHA-256", d)
		}
	}
	if err := text("not_seized_reason", r.NotSeized, MaxReason, false); err != nil {
		return err
	}
	return text("description", r.Description, MaxText, false)
}

// CheckCollectors checks collectors named for a collection: at least two
// distinct people (两高一部 2016 rules on electronic data, art. 14), none of
// them the witness.
func CheckCollectors(collectors []string, witness string) error {
	distinct := map[string]bool{}
	for _, c := range collectors {
		if c == "" {
			return fieldErr("collectors", "a collector has no name")
		}
		if distinct[c] {
			return fieldErr("collectors", "%q is named twice", c)
		}
		distinct[c] = true
	}
	if len(distinct) < 2 {
		return fieldErr("collectors", "name at least two distinct collectors, as the rules on electronic evidence require")
	}
	if witness != "" && distinct[witness] {
		return fieldErr("witness", "%q is also a collector; the witness must be someone else", witness)
	}
	return nil
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// EvidenceCollected is the payload of evidence.collected: the item with the
// exhibit number the case gave it.
type EvidenceCollected struct {
	Exhibit string `json:"exhibit"`
	CollectRequest
}

// EvidenceItem is one item of a case's evidence list.
type EvidenceItem struct {
	EvidenceCollected
	Seq         uint64    `json:"seq"`
	CollectedAt time.Time `json:"collected_at"`
	CollectedBy string    `json:"collected_by"`
}

// Collect returns the evidence.collected entry of a new item, numbered
// after the case's last exhibit. An item already on the case (same SHA-256
// and category) is refused with ErrNoChange.
func (c *Case) Collect(r CollectRequest) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	if it := c.EvidenceByHash(r.SHA256); it != nil && it.Category == r.Category {
		return Change{}, fmt.Errorf("%w: %s is already exhibit %s", ErrNoChange, r.SHA256, it.Exhibit)
	}
	for _, d := range r.DerivedFrom {
		if c.EvidenceByHash(d) == nil {
			return Change{}, fieldErr("derived_from", "%s is not evidence of this case", d)
		}
	}
	return finish(TypeEvidenceCollected, EvidenceCollected{Exhibit: exhibit(len(c.Evidence) + 1), CollectRequest: r})
}

func exhibit(n int) string { return fmt.Sprintf("E%03d", n) }

// EvidenceByHash returns the case's first item with that SHA-256, or nil.
func (c *Case) EvidenceByHash(sum string) *EvidenceItem {
	for i := range c.Evidence {
		if c.Evidence[i].SHA256 == sum {
			return &c.Evidence[i]
		}
	}
	return nil
}

// AnalysisCompleted is the payload of analysis.completed: which items were
// analysed, where the output is, and what the analysis counted.
type AnalysisCompleted struct {
	Inputs   []string          `json:"inputs"` // SHA-256 of the analysed items, in order
	Output   string            `json:"output"` // SHA-256 of the EVE output item
	Tool     EvidenceMethod    `json:"tool"`
	Modules  []ModuleUsed      `json:"modules,omitempty"` // the detection modules the analysis ran
	Stats    map[string]uint64 `json:"stats"`
	Warnings []string          `json:"warnings,omitempty"` // the first warnings, for the record
}

// AnalysisRecord is one analysis run on the case.
type AnalysisRecord struct {
	AnalysisCompleted
	Seq   uint64    `json:"seq"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
}

// CompleteAnalysis returns the analysis.completed entry. Inputs and output
// must be evidence of the case.
func (c *Case) CompleteAnalysis(a AnalysisCompleted) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	if len(a.Inputs) == 0 {
		return Change{}, fieldErr("inputs", "is empty")
	}
	for _, s := range append(append([]string{}, a.Inputs...), a.Output) {
		if c.EvidenceByHash(s) == nil {
			return Change{}, fieldErr("inputs", "%s is not evidence of this case", s)
		}
	}
	if len(a.Warnings) > 100 {
		a.Warnings = a.Warnings[:100]
	}
	return finish(TypeAnalysisCompleted, a)
}

func (c *Case) applyEvidence(e journal.Entry) error {
	at := e.Time.UTC()
	switch e.Type {
	case TypeEvidenceCollected:
		var p EvidenceCollected
		if err := decode(e, &p); err != nil {
			return err
		}
		if p.Exhibit != exhibit(len(c.Evidence)+1) || !validSHA256(p.SHA256) {
			return fmt.Errorf("exhibit %q out of order or without a hash", p.Exhibit)
		}
		c.Evidence = append(c.Evidence, EvidenceItem{EvidenceCollected: p, Seq: e.Seq, CollectedAt: at, CollectedBy: e.Actor})
	case TypeAnalysisCompleted:
		var p AnalysisCompleted
		if err := decode(e, &p); err != nil {
			return err
		}
		c.Analyses = append(c.Analyses, AnalysisRecord{AnalysisCompleted: p, Seq: e.Seq, At: at, Actor: e.Actor})
	}
	return nil
}
