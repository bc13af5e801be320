package sdk

import (
	"errors"
	"net/netip"
	"strings"
)

// Module is what a module implements. The host calls Init once with the
// config from the engineer (may be empty), then Batch for each batch of the
// events the manifest subscribes to, then Flush at the end of the input (a
// capture file, or when the appliance stops), where a module reports what
// it still holds. An error stops the module: the host journals it and
// restarts or disables the module.
type Module interface {
	Init(config []byte) error
	Batch(b Batch) error
	Flush() error
}

var registered Module

// Register makes m the module. Call it from the main package's init.
func Register(m Module) { registered = m }

// Alert is what a detection module reports. Signature is required; the
// rest is optional. On copies the addresses, ports, protocol, flow and time
// of the event the alert is about.
type Alert struct {
	Signature   string   // what was seen, one line: "TCP port scan of 1000 ports"
	Category    string   // Suricata-style class: "Attempted Information Leak"
	Severity    int      // 1 high, 2 medium, 3 low (default 2)
	SignatureID uint32   // the module's own number for the signature
	Techniques  []string // ATT&CK technique IDs: "T1046"
	Metadata    []string // extra "key=value" pairs, shown in alert.metadata

	Time             int64 // Unix nanoseconds (packet time)
	FlowID           uint64
	Proto            uint8
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
}

// On sets the alert's context (time, flow, addresses, ports, protocol)
// from ev and returns the alert, for chaining.
func (a *Alert) On(ev Event) *Alert {
	a.Time, a.FlowID, a.Proto = ev.Time(), ev.FlowID(), ev.Proto()
	a.Src, a.Dst, a.SrcPort, a.DstPort = ev.Src(), ev.Dst(), ev.SrcPort(), ev.DstPort()
	return a
}

// Action is a proposed action of a clean-up module. The host checks it
// against the module's capabilities and an engineer approves it; a module
// never acts by itself.
type Action struct {
	Type   string // "quarantine_file", "disable_account", ...
	Target string // what it applies to, inside the granted target root
	Reason string
	Time   int64
	// Detail says exactly what to change when Target is not enough: the
	// line to remove from a file, the account to remove.
	Detail string
	// Answers are the IDs of the findings the action answers (from
	// Findings of the file record).
	Answers []string
}

var emitBuf Builder

// Append writes the alert as a KindAlert record.
func (a *Alert) Append(b *Builder) {
	b.Begin(Header{Kind: KindAlert, Proto: a.Proto, Time: a.Time, FlowID: a.FlowID,
		Src: a.Src, Dst: a.Dst, SrcPort: a.SrcPort, DstPort: a.DstPort})
	b.Str(FieldSignature, a.Signature)
	b.Str(FieldCategory, a.Category)
	sev := a.Severity
	if sev < 1 || sev > 3 {
		sev = 2
	}
	b.Uint(FieldSeverity, uint64(sev))
	if a.SignatureID != 0 {
		b.Uint(FieldSignatureID, uint64(a.SignatureID))
	}
	for _, t := range a.Techniques {
		b.Str(FieldTechnique, t)
	}
	for _, m := range a.Metadata {
		b.Str(FieldMetadata, m)
	}
	b.End()
}

// DecodeAlert reads a KindAlert record. The strings are copies.
func DecodeAlert(ev Event) Alert {
	a := Alert{Signature: strings.Clone(ev.Str(FieldSignature)), Category: strings.Clone(ev.Str(FieldCategory)),
		Severity: int(ev.Uint(FieldSeverity)), SignatureID: uint32(ev.Uint(FieldSignatureID)),
		Time: ev.Time(), FlowID: ev.FlowID(), Proto: ev.Proto(), Src: ev.Src(), Dst: ev.Dst(),
		SrcPort: ev.SrcPort(), DstPort: ev.DstPort()}
	ev.All(FieldTechnique, func(v []byte) { a.Techniques = append(a.Techniques, string(v)) })
	ev.All(FieldMetadata, func(v []byte) { a.Metadata = append(a.Metadata, string(v)) })
	return a
}

// Append writes the action as a KindAction record.
func (a *Action) Append(b *Builder) {
	b.Begin(Header{Kind: KindAction, Time: a.Time})
	b.Str(FieldActionType, a.Type)
	b.Str(FieldTarget, a.Target)
	b.Str(FieldReason, a.Reason)
	b.Str(FieldDetail, a.Detail)
	for _, id := range a.Answers {
		b.Str(FieldAnswers, id)
	}
	b.End()
}

// DecodeAction reads a KindAction record. The strings are copies.
func DecodeAction(ev Event) Action {
	a := Action{Type: strings.Clone(ev.Str(FieldActionType)), Target: strings.Clone(ev.Str(FieldTarget)),
		Reason: strings.Clone(ev.Str(FieldReason)), Detail: strings.Clone(ev.Str(FieldDetail)), Time: ev.Time()}
	ev.All(FieldAnswers, func(v []byte) { a.Answers = append(a.Answers, string(v)) })
	return a
}

// EmitAlert sends an alert to the host.
func EmitAlert(a *Alert) error {
	emitBuf.Reset()
	a.Append(&emitBuf)
	return status(hostEmit(emitBuf.Bytes()))
}

// EmitAction sends a proposed action to the host; the module needs the
// "propose" capability.
func EmitAction(a *Action) error {
	emitBuf.Reset()
	a.Append(&emitBuf)
	return status(hostEmit(emitBuf.Bytes()))
}

// Log levels.
const (
	LevelDebug = 0
	LevelInfo  = 1
	LevelWarn  = 2
	LevelError = 3
)

// Log writes a line to the appliance's log, scoped to the module. The host
// rate-limits and cuts long lines.
func Log(level int, msg string) { hostLog(int32(level), msg) }

// Errors of the host functions.
var (
	ErrNotFound  = errors.New("sdk: no such key")
	ErrQuota     = errors.New("sdk: state quota exceeded")
	ErrInvalid   = errors.New("sdk: invalid argument")
	ErrLimit     = errors.New("sdk: limit reached")
	ErrForbidden = errors.New("sdk: capability not granted")
)

func status(code int32) error {
	switch {
	case code >= 0:
		return nil
	case code == StatusNotFound:
		return ErrNotFound
	case code == StatusQuota:
		return ErrQuota
	case code == StatusLimit:
		return ErrLimit
	case code == StatusForbidden:
		return ErrForbidden
	default:
		return ErrInvalid
	}
}

// Get appends the value of key in the module's state to dst. The state
// outlives a restart of the module, bounded by the manifest's state quota.
func Get(key string, dst []byte) ([]byte, error) {
	for {
		n := hostKVGet(key, dst[len(dst):cap(dst)])
		if n >= 0 {
			return dst[:len(dst)+int(n)], nil
		}
		if n != StatusTooSmall {
			return dst, status(n)
		}
		grown := make([]byte, len(dst), 2*cap(dst)+64)
		copy(grown, dst)
		dst = grown
	}
}

// Set stores value under key in the module's state.
func Set(key string, value []byte) error { return status(hostKVSet(key, value)) }

// Delete removes key from the module's state.
func Delete(key string) error { return status(hostKVDelete(key)) }

// Patterns is a set of byte patterns compiled by the host into a native
// multi-pattern matcher (Aho–Corasick): one call scans a payload for all
// of them at native speed.
type Patterns uint32

// MatchFold makes matching ASCII case-insensitive.
const MatchFold = 1

// CompilePatterns registers a pattern set with the host, usually in Init.
// Patterns are at most 255 bytes; a set holds at most 4096 patterns.
func CompilePatterns(patterns []string, flags uint32) (Patterns, error) {
	var b []byte
	for _, p := range patterns {
		if len(p) == 0 || len(p) > 255 {
			return 0, ErrInvalid
		}
		b = append(b, byte(len(p)))
		b = append(b, p...)
	}
	id := hostMatchCompile(b, flags)
	if id < 0 {
		return 0, status(id)
	}
	return Patterns(id), nil
}

// Match appends to hits the indexes (into the slice given to
// CompilePatterns) of the patterns found in data, each once, in order of
// first occurrence, up to cap(hits).
func (p Patterns) Match(data []byte, hits []uint32) []uint32 {
	n := hostMatch(uint32(p), data, hits[len(hits):cap(hits)])
	if n < 0 {
		return hits
	}
	return hits[:len(hits)+int(n)]
}
