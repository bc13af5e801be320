package cases

import (
	"fmt"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// TypeFindingsRecorded is the entry type of FindingsRecorded.
const TypeFindingsRecorded = "findings.recorded"

// Where findings come from.
const (
	FindingsAnalysis = "analysis" // modules run over sealed captures
	FindingsLive     = "live"     // modules run over the traffic as it is captured
	FindingsTriage   = "triage"   // host triage modules run over a target's files and logs
)

// MaxFindingsPerEntry bounds one findings.recorded entry; findings beyond
// it are counted in Dropped and stay in the analysis output.
const MaxFindingsPerEntry = 1000

// Finding is one thing a detection module found, on the network or on a
// host. Identical alerts (same module, signature and endpoints) are folded
// into one finding with a count and a time span.
type Finding struct {
	Module        string              `json:"module"`
	ModuleVersion string              `json:"module_version,omitempty"`
	Signature     string              `json:"signature"`
	Category      string              `json:"category,omitempty"`
	Severity      int                 `json:"severity"` // 1 high, 2 medium, 3 low
	SignatureID   uint32              `json:"signature_id,omitempty"`
	Techniques    []string            `json:"techniques,omitempty"` // ATT&CK technique IDs
	Metadata      map[string][]string `json:"metadata,omitempty"`

	Time     time.Time `json:"time"`      // first seen (packet or file time)
	LastTime time.Time `json:"last_time"` // last seen
	Count    int       `json:"count"`

	// Network findings.
	Proto       string `json:"proto,omitempty"`
	Src         string `json:"src,omitempty"`
	SrcPort     uint16 `json:"src_port,omitempty"`
	Dst         string `json:"dst,omitempty"`
	DstPort     uint16 `json:"dst_port,omitempty"`
	FlowID      uint64 `json:"flow_id,omitempty"`
	CommunityID string `json:"community_id,omitempty"`

	// Host findings: the target and the file in it.
	Host string `json:"host,omitempty"`
	Path string `json:"path,omitempty"`
}

// FindingsRecorded is the payload of findings.recorded: what one run of
// the modules found, and the evidence it looked at.
type FindingsRecorded struct {
	Source   string    `json:"source"`           // FindingsAnalysis, FindingsLive or FindingsTriage
	Inputs   []string  `json:"inputs,omitempty"` // SHA-256 of the evidence items examined
	Findings []Finding `json:"findings"`
	Dropped  int       `json:"dropped,omitempty"` // findings beyond MaxFindingsPerEntry
}

// FindingRecord is a finding as the case holds it. Its ID names the entry
// that recorded it and its place there: "F12.3".
type FindingRecord struct {
	Finding
	ID         string    `json:"id"`
	Seq        uint64    `json:"seq"`
	RecordedAt time.Time `json:"recorded_at"`
	Source     string    `json:"source"`
	Inputs     []string  `json:"inputs,omitempty"`
}

// ModuleUsed names a module an analysis ran, exactly: the SHA-256 of its
// WebAssembly binary and who signed it, so the analysis can be repeated.
type ModuleUsed struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Signer  string `json:"signer,omitempty"`
}

// RecordFindings returns the findings.recorded entry. Inputs must be
// evidence of the case; findings past MaxFindingsPerEntry are counted, not
// kept.
func (c *Case) RecordFindings(p FindingsRecorded) (Change, error) {
	if err := c.writable(); err != nil {
		return Change{}, err
	}
	switch p.Source {
	case FindingsAnalysis, FindingsLive, FindingsTriage:
	default:
		return Change{}, fieldErr("source", "%q is not analysis, live or triage", p.Source)
	}
	for _, s := range p.Inputs {
		if c.EvidenceByHash(s) == nil {
			return Change{}, fieldErr("inputs", "%s is not evidence of this case", s)
		}
	}
	if len(p.Findings) == 0 {
		return Change{}, fieldErr("findings", "is empty")
	}
	for i, f := range p.Findings {
		if f.Module == "" || f.Signature == "" {
			return Change{}, fieldErr(fmt.Sprintf("findings[%d]", i), "has no module or signature")
		}
	}
	if n := len(p.Findings); n > MaxFindingsPerEntry {
		p.Dropped += n - MaxFindingsPerEntry
		p.Findings = p.Findings[:MaxFindingsPerEntry]
	}
	return finish(TypeFindingsRecorded, p)
}

func (c *Case) applyFindings(e journal.Entry) error {
	var p FindingsRecorded
	if err := decode(e, &p); err != nil {
		return err
	}
	for i, f := range p.Findings {
		c.Findings = append(c.Findings, FindingRecord{Finding: f, ID: fmt.Sprintf("F%d.%d", e.Seq, i+1),
			Seq: e.Seq, RecordedAt: e.Time.UTC(), Source: p.Source, Inputs: p.Inputs})
	}
	return nil
}

// FindingByID returns the finding with that ID, or nil.
func (c *Case) FindingByID(id string) *FindingRecord {
	for i := range c.Findings {
		if c.Findings[i].ID == id {
			return &c.Findings[i]
		}
	}
	return nil
}
