package modhost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/capture"

	"github.com/firebreak-ir/firebreak/sdk"
)

// Manifest describes a module: what it is, what it subscribes to, what it
// may do, and its limits. It is manifest.json beside the module's wasm.
type Manifest struct {
	Name          string         `json:"name"`
	Version       string         `json:"version"`
	Kind          string         `json:"kind"` // detect or cleanup
	Description   string         `json:"description,omitempty"`
	Subscriptions []Subscription `json:"subscriptions"`
	// Capabilities: "state" (key-value state), "propose" (proposed
	// actions, cleanup modules), "fs_read:/GUESTPATH" (a read-only mount
	// the engineer maps to a host directory). "net" is known and never
	// granted.
	Capabilities []string `json:"capabilities,omitempty"`
	Limits       Limits   `json:"limits,omitempty"`
	Techniques   []string `json:"techniques,omitempty"` // ATT&CK IDs
}

// Subscription is one kind of event the module receives.
type Subscription struct {
	Event  string `json:"event"`            // an ABI kind name: flow, dns, http, ...
	Filter string `json:"filter,omitempty"` // packet filter (packet events only)
}

// Limits bound a module. Zero fields take the defaults.
type Limits struct {
	MemoryMB       int `json:"memory_mb,omitempty"`        // default 64, at most 1024
	DeadlineMS     int `json:"deadline_ms,omitempty"`      // per call, default 500, at most 10000
	AlertsPerBatch int `json:"alerts_per_batch,omitempty"` // default 256
	StateBytes     int `json:"state_bytes,omitempty"`      // default 1 MiB
}

// Defaults of Limits.
const (
	DefaultMemoryMB       = 64
	DefaultDeadline       = 500 * time.Millisecond
	DefaultAlertsPerBatch = 256
	DefaultStateBytes     = 1 << 20
)

func (l Limits) memoryPages() uint32 {
	mb := l.MemoryMB
	if mb == 0 {
		mb = DefaultMemoryMB
	}
	return uint32(mb) * 16 // 64 KiB pages
}

func (l Limits) deadline() time.Duration {
	if l.DeadlineMS == 0 {
		return DefaultDeadline
	}
	return time.Duration(l.DeadlineMS) * time.Millisecond
}

func (l Limits) alerts() int {
	if l.AlertsPerBatch == 0 {
		return DefaultAlertsPerBatch
	}
	return l.AlertsPerBatch
}

func (l Limits) state() int {
	if l.StateBytes == 0 {
		return DefaultStateBytes
	}
	return l.StateBytes
}

var (
	nameRE      = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	versionRE   = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]{1,32})?$`)
	techniqueRE = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
)

// maxManifest bounds the manifest file.
const maxManifest = 64 << 10

// ParseManifest decodes and validates a manifest. Unknown fields are
// refused, so a typo in a capability or limit is not silently ignored.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > maxManifest {
		return nil, &ManifestError{"manifest", fmt.Sprintf("longer than %d bytes", maxManifest)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, &ManifestError{"manifest", err.Error()}
	}
	if dec.More() {
		return nil, &ManifestError{"manifest", "trailing data after the JSON object"}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks every field.
func (m *Manifest) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &ManifestError{field, fmt.Sprintf(format, args...)}
	}
	if !nameRE.MatchString(m.Name) {
		return bad("name", "%q: want 1–32 of a-z, 0-9, _ and -, starting with a letter", m.Name)
	}
	if !versionRE.MatchString(m.Version) {
		return bad("version", "%q: want semantic version MAJOR.MINOR.PATCH", m.Version)
	}
	if m.Kind != "detect" && m.Kind != "cleanup" {
		return bad("kind", "%q: want detect or cleanup", m.Kind)
	}
	if len(m.Description) > 1024 {
		return bad("description", "longer than 1024 bytes")
	}
	if len(m.Subscriptions) == 0 {
		return bad("subscriptions", "the module subscribes to nothing")
	}
	seen := map[string]bool{}
	for i, s := range m.Subscriptions {
		k, ok := sdk.KindByName(s.Event)
		if !ok || k >= sdk.KindAlert {
			return bad(fmt.Sprintf("subscriptions[%d].event", i), "%q: not an event kind of ABI v1", s.Event)
		}
		if seen[s.Event] {
			return bad(fmt.Sprintf("subscriptions[%d].event", i), "%q listed twice", s.Event)
		}
		seen[s.Event] = true
		if s.Filter != "" && k != sdk.KindPacket {
			return bad(fmt.Sprintf("subscriptions[%d].filter", i), "only packet subscriptions take a filter")
		}
		if len(s.Filter) > 1024 {
			return bad(fmt.Sprintf("subscriptions[%d].filter", i), "longer than 1024 bytes")
		}
		if err := capture.CheckFilter(s.Filter); err != nil {
			return bad(fmt.Sprintf("subscriptions[%d].filter", i), "%v", err)
		}
	}
	caps := map[string]bool{}
	for i, c := range m.Capabilities {
		field := fmt.Sprintf("capabilities[%d]", i)
		switch {
		case c == "state" || c == "propose" || c == "net":
		case strings.HasPrefix(c, "fs_read:"):
			p := strings.TrimPrefix(c, "fs_read:")
			if !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" || strings.ContainsAny(p, "\x00\\") {
				return bad(field, "%q: want fs_read:/ABSOLUTE/CLEAN/PATH (not /)", c)
			}
		default:
			return bad(field, "%q: unknown capability (state, propose, fs_read:/PATH, net)", c)
		}
		if caps[c] {
			return bad(field, "%q listed twice", c)
		}
		caps[c] = true
	}
	if caps["propose"] && m.Kind != "cleanup" {
		return bad("capabilities", "propose is for cleanup modules")
	}
	l := m.Limits
	switch {
	case l.MemoryMB < 0 || l.MemoryMB > 1024:
		return bad("limits.memory_mb", "%d: want 0 (default %d) to 1024", l.MemoryMB, DefaultMemoryMB)
	case l.DeadlineMS < 0 || l.DeadlineMS > 10000:
		return bad("limits.deadline_ms", "%d: want 0 (default %d) to 10000", l.DeadlineMS, DefaultDeadline.Milliseconds())
	case l.AlertsPerBatch < 0 || l.AlertsPerBatch > 10000:
		return bad("limits.alerts_per_batch", "%d: want 0 (default %d) to 10000", l.AlertsPerBatch, DefaultAlertsPerBatch)
	case l.StateBytes < 0 || l.StateBytes > 64<<20:
		return bad("limits.state_bytes", "%d: want 0 (default %d) to 64 MiB", l.StateBytes, DefaultStateBytes)
	}
	if m.Kind == "detect" && len(m.Techniques) == 0 {
		return bad("techniques", "a detection module names the ATT&CK techniques it covers")
	}
	for i, t := range m.Techniques {
		if !techniqueRE.MatchString(t) {
			return bad(fmt.Sprintf("techniques[%d]", i), "%q: want an ATT&CK ID like T1046 or T1071.004", t)
		}
	}
	return nil
}

// Has reports whether the manifest asks for capability c.
func (m *Manifest) Has(c string) bool {
	for _, x := range m.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// Mounts are the guest paths of the fs_read capabilities.
func (m *Manifest) Mounts() []string {
	var out []string
	for _, c := range m.Capabilities {
		if p, ok := strings.CutPrefix(c, "fs_read:"); ok {
			out = append(out, p)
		}
	}
	return out
}
