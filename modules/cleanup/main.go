// Command cleanup is the Firebreak cleanup module for host triage. The
// host hands it each file that detection modules flagged, with the
// findings about it; it proposes one action per finding that has a safe,
// reversible remedy: quarantine a webshell or rootkit file, remove a
// backdoor account, remove the one line of a cron table, rc.local, shell
// profile, ld.so.preload, sudoers or authorized_keys file that a finding
// quotes, or disable a systemd unit. It never acts itself: the host checks
// every proposal against the target root, an engineer approves it, and the
// host applies it, keeping the original in the evidence vault so that the
// step can be undone. It never proposes anything for findings that only
// record what happened (log findings).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o cleanup.wasm .
package main

import (
	"strings"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&cleanup{}) }

// Action types the host applies.
const (
	Quarantine    = "quarantine_file"
	RemoveLine    = "remove_line"
	RemoveAccount = "remove_account"
	DisableUnit   = "disable_unit"
)

type cleanup struct{}

func (*cleanup) Init([]byte) error     { return nil }
func (*cleanup) Batch(sdk.Batch) error { return nil }
func (*cleanup) Flush() error          { return nil }

func (*cleanup) File(f sdk.Event, content []byte) error {
	path := f.Str(sdk.FieldPath)
	for _, fd := range sdk.Findings(f) {
		a := propose(path, fd)
		if a == nil {
			continue
		}
		a.Answers = []string{fd.ID}
		a.Time = f.Time()
		if err := sdk.EmitAction(a); err != nil {
			return err
		}
	}
	return nil
}

// propose is the remedy for one finding, nil if there is none to propose.
func propose(path string, fd sdk.Finding) *sdk.Action {
	reason := fd.Signature
	switch fd.Module {
	case "webshell":
		return &sdk.Action{Type: Quarantine, Target: path, Reason: reason}
	case "accounts":
		switch fd.SignatureID {
		case 1007001, 1007002, 1007003: // UID 0, system account with a shell, shared UID
			name, _, _ := strings.Cut(fd.Line, ":")
			if name == "" || path != "/etc/passwd" {
				return nil
			}
			return &sdk.Action{Type: RemoveAccount, Target: path, Detail: name, Reason: reason}
		case 1007006: // sudoers rule
			if fd.Line == "" {
				return nil
			}
			return &sdk.Action{Type: RemoveLine, Target: path, Detail: fd.Line, Reason: reason}
		}
	case "persistence":
		switch fd.SignatureID {
		case 1008001, 1008003, 1008004, 1008005, 1008006: // cron, rc.local, profile, authorized key, preload
			if fd.Line == "" {
				return nil
			}
			return &sdk.Action{Type: RemoveLine, Target: path, Detail: fd.Line, Reason: reason}
		case 1008002, 1008009: // systemd unit, unit preloading a library
			return &sdk.Action{Type: DisableUnit, Target: path, Reason: reason}
		case 1008007, 1008008: // set-user-ID file out of place, rootkit file
			return &sdk.Action{Type: Quarantine, Target: path, Reason: reason}
		}
	}
	return nil
}
