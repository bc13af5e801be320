package sdk

// Host triage: a module that subscribes to "file" implements FileModule and
// receives each file of the target root, one call per file (fb_file), with
// the file's leading bytes. Auth-log lines arrive in ordinary batches
// (KindAuthLog, FieldLine).

// FileModule is implemented by a module subscribing to "file" events. The
// host calls File once per file with the file record (KindFile: path,
// size, SHA-256, mode, owner, times) and the file's first bytes: content
// is cut when Size is larger than len(content). Alerts emitted during the
// call are about that file; a cleanup module's proposed actions answer the
// findings the record carries (FieldFinding).
type FileModule interface {
	Module
	File(f Event, content []byte) error
}

// File mode bits carried in FieldMode (the Unix st_mode).
const (
	ModeSetuid  = 0o4000
	ModeSetgid  = 0o2000
	ModeTypeReg = 0o100000
	ModeTypeDir = 0o040000
	ModeTypeLnk = 0o120000
	ModeTypeMsk = 0o170000
)

// FileContent splits what fb_file delivered, buffer[0:n], into the file
// record and the content that follows it. ok is false if the record is
// malformed.
func FileContent(buf []byte) (rec Event, content []byte, ok bool) {
	ev, rest, ok := Batch(buf).Next()
	if !ok || ev.Kind() != KindFile {
		return nil, nil, false
	}
	return ev, rest, true
}

// Finding is one finding a cleanup module is asked to answer, as the host
// encodes it in a file record's FieldFinding: ID, module, signature ID,
// signature and the line the finding quotes (its "line=" metadata, may be
// empty), separated by FindingSep.
type Finding struct {
	ID, Module, Signature, Line string
	SignatureID                 uint32
}

// FindingSep separates the parts of a FieldFinding value (ASCII unit
// separator: it occurs in no text a finding quotes).
const FindingSep = '\x1f'

// Findings decodes the FieldFinding values of a file record.
func Findings(ev Event) []Finding {
	var out []Finding
	ev.All(FieldFinding, func(v []byte) {
		parts := splitN(string(v), FindingSep, 5)
		if len(parts) != 5 {
			return
		}
		var sid uint32
		for _, c := range parts[2] {
			if c < '0' || c > '9' {
				sid = 0
				break
			}
			sid = sid*10 + uint32(c-'0')
		}
		out = append(out, Finding{ID: parts[0], Module: parts[1], SignatureID: sid, Signature: parts[3], Line: parts[4]})
	})
	return out
}

func splitN(s string, sep byte, n int) []string {
	var out []string
	for len(out) < n-1 {
		i := -1
		for j := 0; j < len(s); j++ {
			if s[j] == sep {
				i = j
				break
			}
		}
		if i < 0 {
			break
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
	return append(out, s)
}
