// Command accounts is the Firebreak module that finds backdoor accounts in
// a Linux target's /etc/passwd, /etc/shadow and sudoers files: a second
// account with UID 0, a system account (UID below 1000) given a login
// shell, an account sharing another's UID, an empty or weak (DES, MD5)
// password hash, and sudoers rules granting everything without a password.
// It reads only those files and must never report the content of a
// password hash, only its kind.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o accounts.wasm .
package main

import (
	"strings"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&accounts{}) }

// Signature IDs.
const (
	sidUID0        = 1007001
	sidSystemLogin = 1007002
	sidDupUID      = 1007003
	sidEmptyPass   = 1007004
	sidWeakHash    = 1007005
	sidSudoers     = 1007006
)

// Accounts that legitimately have UID 0 or a shell below UID 1000.
var (
	rootNames  = map[string]bool{"root": true}
	shellOK    = map[string]bool{"root": true, "sync": true, "shutdown": true, "halt": true}
	noLogin    = []string{"nologin", "/bin/false", "/usr/bin/false", "/bin/sync", "/sbin/shutdown", "/sbin/halt", "/dev/null"}
	sudoRootOK = map[string]bool{"root": true, "%admin": true, "%sudo": true, "%wheel": true}
)

type accounts struct{}

func (*accounts) Init([]byte) error     { return nil }
func (*accounts) Batch(sdk.Batch) error { return nil }
func (*accounts) Flush() error          { return nil }

func (a *accounts) File(f sdk.Event, content []byte) error {
	path := f.Str(sdk.FieldPath)
	switch {
	case path == "/etc/passwd":
		return passwd(f, path, string(content))
	case path == "/etc/shadow":
		return shadow(f, path, string(content))
	case path == "/etc/sudoers" || strings.HasPrefix(path, "/etc/sudoers.d/"):
		return sudoers(f, path, string(content))
	}
	return nil
}

func emit(f sdk.Event, path string, sid uint32, sev int, technique, sig, line string) error {
	a := sdk.Alert{Signature: "FIREBREAK account: " + sig, Category: "Backdoor account", Severity: sev, SignatureID: sid,
		Techniques: []string{technique}, Time: f.Time(), Metadata: []string{"path=" + path}}
	if line != "" {
		a.Metadata = append(a.Metadata, "line="+line)
	}
	return sdk.EmitAlert(&a)
}

func loginShell(sh string) bool {
	if sh == "" {
		return false
	}
	for _, n := range noLogin {
		if strings.HasSuffix(sh, n) {
			return false
		}
	}
	return true
}

func passwd(f sdk.Event, path, content string) error {
	uids := map[string]string{}
	for _, line := range strings.Split(content, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Split(line, ":")
		if len(fs) < 7 {
			continue
		}
		name, pw, uid, shell := fs[0], fs[1], fs[2], fs[6]
		if uid == "0" && !rootNames[name] {
			if err := emit(f, path, sidUID0, 1, "T1136.001", "second UID 0 account "+name, line); err != nil {
				return err
			}
		} else if len(uid) < 4 && uid != "0" && loginShell(shell) && !shellOK[name] {
			if err := emit(f, path, sidSystemLogin, 2, "T1078.003", "system account "+name+" (UID "+uid+") has login shell "+shell, line); err != nil {
				return err
			}
		}
		if other, ok := uids[uid]; ok && uid != "0" {
			if err := emit(f, path, sidDupUID, 2, "T1136.001", "account "+name+" shares UID "+uid+" with "+other, line); err != nil {
				return err
			}
		} else {
			uids[uid] = name
		}
		if pw == "" {
			if err := emit(f, path, sidEmptyPass, 1, "T1078.003", "account "+name+" has an empty password field in passwd", line); err != nil {
				return err
			}
		}
	}
	return nil
}

func shadow(f sdk.Event, path, content string) error {
	for _, line := range strings.Split(content, "\n") {
		fs := strings.Split(strings.TrimRight(line, "\r"), ":")
		if len(fs) < 2 || fs[0] == "" {
			continue
		}
		name, h := fs[0], fs[1]
		switch {
		case h == "":
			if err := emit(f, path, sidEmptyPass, 1, "T1078.003", "account "+name+" has an empty password (no password needed)", ""); err != nil {
				return err
			}
		case strings.HasPrefix(h, "!") || strings.HasPrefix(h, "*"):
			// locked
		case strings.HasPrefix(h, "$1$"):
			if err := emit(f, path, sidWeakHash, 2, "T1078.003", "account "+name+" has a weak MD5-crypt password hash", ""); err != nil {
				return err
			}
		case !strings.HasPrefix(h, "$") && len(h) == 13:
			if err := emit(f, path, sidWeakHash, 2, "T1078.003", "account "+name+" has a weak DES-crypt password hash", ""); err != nil {
				return err
			}
		}
	}
	return nil
}

func sudoers(f sdk.Event, path, content string) error {
	for _, line := range strings.Split(content, "\n") {
		l := strings.TrimSpace(line)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "Defaults") {
			continue
		}
		up := strings.ToUpper(l)
		if strings.Contains(up, "NOPASSWD") && strings.HasSuffix(strings.TrimSpace(up), "ALL") {
			who := strings.Fields(l)[0]
			if !sudoRootOK[who] {
				if err := emit(f, path, sidSudoers, 1, "T1548.003", who+" may run anything as root without a password", l); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
