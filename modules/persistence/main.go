// Command persistence is the Firebreak module that finds how an intruder
// stays on a Linux host: cron entries, systemd units, timers and drop-ins,
// rc.local and shell profiles whose commands open a reverse shell, fetch
// and run code, or run it from /tmp or /dev/shm; LD_PRELOAD in a unit or
// any entry in /etc/ld.so.preload; SSH authorized keys (root's as a
// finding to review, keys forcing a command as suspicious); set-user-ID
// files outside the system's binary directories; and files that known
// rootkits leave (a short built-in list, extended by the config's
// "rootkit_files"). Each line is matched with the host's native
// multi-pattern matcher; the module never reports a whole file's content.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o persistence.wasm .
package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&persist{}) }

// Signature IDs.
const (
	sidCron        = 1008001
	sidUnit        = 1008002
	sidRCLocal     = 1008003
	sidProfile     = 1008004
	sidAuthKey     = 1008005
	sidPreload     = 1008006
	sidSUID        = 1008007
	sidRootkit     = 1008008
	sidUnitPreload = 1008009
)

// Commands that open a shell to elsewhere, fetch code, or run it from a
// place only an intruder writes to.
var bad = []string{
	"/dev/tcp/", "/dev/udp/", "nc -e", "ncat -e", "nc -c", "bash -i", "sh -i", "/bin/nc ", "/bin/ncat ", "nc.traditional",
	"mkfifo", "mknod ", "socat ", "telnet ", "python -c", "python3 -c", "perl -e", "php -r", "ruby -rsocket",
	"curl ", "wget ", "| sh", "|sh", "| bash", "|bash", "base64 -d", "base64 --decode",
	"/tmp/", "/dev/shm/", "/var/tmp/", "xmrig", "stratum+tcp", "kinsing", "kdevtmpfsi",
	"ld_preload=",
}

// Set-user-ID files are expected only under these directories.
var suidOK = []string{"/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/lib/", "/usr/lib64/", "/usr/libexec/", "/lib/", "/lib64/", "/snap/", "/opt/google/chrome/"}

// A few files that rootkits are known to leave (config adds more).
var rootkitFiles = []string{"/dev/.udev/rules.d/", "/usr/bin/.sshd", "/etc/rc.d/init.d/selinux", "/lib/libext-2.so.7",
	"/usr/lib/libkeyutils.so.1.9", "/lib64/libkeyutils.so.1.9", "/dev/shm/.x", "/etc/cron.hourly/gcc.sh", "/lib/libudev.so.6"}

type config struct {
	RootkitFiles []string `json:"rootkit_files"`
}

type persist struct {
	badSet  sdk.Patterns
	rootkit map[string]bool
	prefix  []string
	hits    []uint32
}

func (p *persist) Init(cfg []byte) error {
	var c config
	if len(cfg) > 0 {
		if err := json.Unmarshal(cfg, &c); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	var err error
	if p.badSet, err = sdk.CompilePatterns(bad, sdk.MatchFold); err != nil {
		return fmt.Errorf("patterns: %w", err)
	}
	p.rootkit = map[string]bool{}
	for _, f := range append(rootkitFiles, c.RootkitFiles...) {
		if strings.HasSuffix(f, "/") {
			p.prefix = append(p.prefix, f)
		} else {
			p.rootkit[f] = true
		}
	}
	p.hits = make([]uint32, 0, 16)
	return nil
}

func (*persist) Batch(sdk.Batch) error { return nil }
func (*persist) Flush() error          { return nil }

func emit(f sdk.Event, path string, sid uint32, sev int, technique, sig, line string) error {
	a := sdk.Alert{Signature: "FIREBREAK persistence: " + sig, Category: "Persistence", Severity: sev, SignatureID: sid,
		Techniques: []string{technique}, Time: f.Time(), Metadata: []string{"path=" + path}}
	if line != "" {
		a.Metadata = append(a.Metadata, "line="+line)
	}
	return sdk.EmitAlert(&a)
}

func (p *persist) File(f sdk.Event, content []byte) error {
	path := f.Str(sdk.FieldPath)
	mode := f.Uint(sdk.FieldMode)
	if p.rootkit[path] || hasPrefix(path, p.prefix) {
		if err := emit(f, path, sidRootkit, 1, "T1014", "file known from rootkits: "+path, ""); err != nil {
			return err
		}
	}
	if mode&sdk.ModeSetuid != 0 && mode&sdk.ModeTypeMsk == sdk.ModeTypeReg && !hasPrefix(path, suidOK) {
		if err := emit(f, path, sidSUID, 1, "T1548.001", fmt.Sprintf("set-user-ID file out of place: %s (mode %o)", path, mode&0o7777), ""); err != nil {
			return err
		}
	}
	switch {
	case path == "/etc/ld.so.preload":
		for _, l := range meaningful(content) {
			if err := emit(f, path, sidPreload, 1, "T1574.006", "library preloaded into every process: "+l, l); err != nil {
				return err
			}
		}
	case path == "/etc/crontab" || strings.HasPrefix(path, "/etc/cron.d/") || strings.HasPrefix(path, "/var/spool/cron/") ||
		strings.HasPrefix(path, "/etc/cron.hourly/") || strings.HasPrefix(path, "/etc/cron.daily/"):
		return p.lines(f, path, content, sidCron, "T1053.003", "cron entry")
	case strings.HasPrefix(path, "/etc/systemd/") || strings.HasPrefix(path, "/lib/systemd/system/") ||
		strings.HasPrefix(path, "/usr/lib/systemd/system/") || strings.Contains(path, "/.config/systemd/") ||
		strings.HasPrefix(path, "/etc/tmpfiles.d/") || strings.HasPrefix(path, "/run/systemd/"):
		return p.unit(f, path, content)
	case path == "/etc/rc.local" || path == "/etc/rc.d/rc.local":
		return p.lines(f, path, content, sidRCLocal, "T1037.004", "rc.local command")
	case path == "/etc/profile" || path == "/etc/bash.bashrc" || strings.HasPrefix(path, "/etc/profile.d/") ||
		strings.HasSuffix(path, "/.bashrc") || strings.HasSuffix(path, "/.bash_profile") || strings.HasSuffix(path, "/.profile") ||
		strings.HasSuffix(path, "/.zshrc"):
		return p.lines(f, path, content, sidProfile, "T1546.004", "shell profile command")
	case strings.HasSuffix(path, "/.ssh/authorized_keys") || strings.HasSuffix(path, "/.ssh/authorized_keys2"):
		return p.keys(f, path, content)
	}
	return nil
}

func hasPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// meaningful are the lines that are neither blank nor comments.
func meaningful(content []byte) []string {
	var out []string
	for _, l := range strings.Split(string(content), "\n") {
		l = strings.TrimRight(l, "\r")
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		out = append(out, l)
	}
	return out
}

func (p *persist) lines(f sdk.Event, path string, content []byte, sid uint32, technique, what string) error {
	for _, l := range meaningful(content) {
		if h := p.badSet.Match([]byte(l), p.hits[:0]); len(h) > 0 {
			if err := emit(f, path, sid, 1, technique, fmt.Sprintf("%s in %s runs %q", what, path, strings.TrimSpace(bad[h[0]])), l); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *persist) unit(f sdk.Event, path string, content []byte) error {
	for _, l := range meaningful(content) {
		t := strings.TrimSpace(l)
		low := strings.ToLower(t)
		if strings.HasPrefix(low, "environment=") && strings.Contains(low, "ld_preload=") {
			if err := emit(f, path, sidUnitPreload, 1, "T1574.006", "systemd unit "+path+" preloads a library", l); err != nil {
				return err
			}
			continue
		}
		// Commands, and the files a service's input and output are tied
		// to (a shell reading a FIFO in /tmp is a reverse shell too).
		exec := strings.HasPrefix(low, "exec") || strings.HasPrefix(low, "standardinput=") ||
			strings.HasPrefix(low, "standardoutput=") || strings.HasPrefix(low, "listenfifo=") ||
			strings.HasPrefix(path, "/etc/tmpfiles.d/")
		if !exec {
			continue
		}
		if h := p.badSet.Match([]byte(t), p.hits[:0]); len(h) > 0 {
			if err := emit(f, path, sidUnit, 1, "T1543.002", fmt.Sprintf("systemd unit %s runs %q", path, strings.TrimSpace(bad[h[0]])), l); err != nil {
				return err
			}
			return nil // one finding per unit file
		}
	}
	return nil
}

func (p *persist) keys(f sdk.Event, path string, content []byte) error {
	root := strings.HasPrefix(path, "/root/")
	for _, l := range meaningful(content) {
		fields := strings.Fields(l)
		comment := ""
		if len(fields) >= 3 && strings.HasPrefix(fields[len(fields)-2], "AAAA") {
			comment = fields[len(fields)-1]
		}
		forced := strings.Contains(l, "command=")
		switch {
		case forced && len(p.badSet.Match([]byte(l), p.hits[:0])) > 0:
			if err := emit(f, path, sidAuthKey, 1, "T1098.004", "authorized key in "+path+" forces a suspicious command", l); err != nil {
				return err
			}
		case root:
			if err := emit(f, path, sidAuthKey, 2, "T1098.004", "key authorized to log in as root ("+comment+"): confirm with the customer", l); err != nil {
				return err
			}
		}
	}
	return nil
}
