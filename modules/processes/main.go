// Command processes is the Firebreak module that reads the volatile data
// the appliance collects from a live Linux host (the output of ps, of
// ls -l /proc/*/exe, of the /proc listing and of ss, delivered as files
// under /.firebreak-volatile/) and finds the strange processes of the
// seeds' "sustained CPU by strange processes": cryptocurrency miners,
// processes whose executable was deleted or lives in /tmp, /var/tmp or
// /dev/shm, reverse shells, shells and interpreters listening on the
// network, processes present in /proc but hidden from ps (a rootkit), and
// processes holding most of a CPU. It never sees a disk target's files
// (they are not volatile data) and never proposes killing anything itself.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o processes.wasm .
package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&procs{}) }

// Signature IDs.
const (
	sidMiner      = 1011001
	sidDeletedExe = 1011002
	sidTempExe    = 1011003
	sidReverse    = 1011004
	sidListener   = 1011005
	sidHidden     = 1011006
	sidCPU        = 1011007
)

// CPUHog is the share of a CPU above which a process is reported.
const CPUHog = 80.0

var minerSigns = []string{"xmrig", "stratum+tcp", "stratum+ssl", "minerd", "cpuminer", "kdevtmpfsi", "kinsing", "--donate-level",
	"cryptonight", "nicehash", "monero", "xmr-stak", "ethminer", "nanopool", "supportxmr"}

var reverseSigns = []string{"/dev/tcp/", "/dev/udp/", "bash -i", "sh -i", "nc -e", "ncat -e", "nc -c", "socat exec", "socat tcp",
	"pty.spawn", "socket.socket", "fsockopen", "mkfifo", "telnet "}

var tempDirs = []string{"/tmp/", "/var/tmp/", "/dev/shm/"}

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "nc": true, "ncat": true, "netcat": true,
	"socat": true, "python": true, "python3": true, "perl": true, "php": true, "ruby": true, "busybox": true}

type procs struct {
	minerSet, reverseSet sdk.Patterns
	psPIDs               map[int]string // pid → command, from ps
	maxPID               int
	hits                 []uint32
}

func (p *procs) Init([]byte) error {
	var err error
	if p.minerSet, err = sdk.CompilePatterns(minerSigns, sdk.MatchFold); err != nil {
		return err
	}
	if p.reverseSet, err = sdk.CompilePatterns(reverseSigns, sdk.MatchFold); err != nil {
		return err
	}
	p.psPIDs = map[int]string{}
	p.hits = make([]uint32, 0, 8)
	return nil
}

func (*procs) Batch(sdk.Batch) error { return nil }
func (*procs) Flush() error          { return nil }

func emit(f sdk.Event, sid uint32, sev int, technique, sig string, md ...string) error {
	path := f.Str(sdk.FieldPath)
	a := sdk.Alert{Signature: "FIREBREAK process: " + sig, Category: "Suspicious Process", Severity: sev, SignatureID: sid,
		Techniques: []string{technique}, Time: f.Time(), Metadata: append([]string{"path=" + path}, md...)}
	return sdk.EmitAlert(&a)
}

func (p *procs) File(f sdk.Event, content []byte) error {
	path := f.Str(sdk.FieldPath)
	if !strings.HasPrefix(path, "/.firebreak-volatile/") {
		return nil
	}
	text := string(content)
	switch {
	case strings.HasSuffix(path, "-processes"):
		return p.ps(f, text)
	case strings.HasSuffix(path, "-process-executables"):
		return p.exes(f, text)
	case strings.HasSuffix(path, "-process-ids"):
		return p.hidden(f, text)
	case strings.HasSuffix(path, "-network-connections"):
		return p.listeners(f, text)
	}
	return nil
}

// ps reads "pid ppid user pcpu pmem lstart(5 words) stat args...".
func (p *procs) ps(f sdk.Event, text string) error {
	for _, line := range strings.Split(text, "\n") {
		fs := strings.Fields(line)
		if len(fs) < 12 {
			continue
		}
		pid, err := strconv.Atoi(fs[0])
		if err != nil {
			continue
		}
		args := strings.Join(fs[11:], " ")
		if strings.HasPrefix(args, "ps -eo pid,ppid,user,pcpu") {
			continue // the appliance's own listing
		}
		p.psPIDs[pid] = args
		p.maxPID = max(p.maxPID, pid)
		who := fmt.Sprintf("pid %d (%s, user %s)", pid, cut(args, 120), fs[2])
		md := []string{"pid=" + fs[0], "user=" + fs[2], "cmdline=" + cut(args, 400)}
		if h := p.minerSet.Match([]byte(args), p.hits[:0]); len(h) > 0 {
			if err := emit(f, sidMiner, 1, "T1496", "cryptocurrency miner "+who, md...); err != nil {
				return err
			}
			continue
		}
		if h := p.reverseSet.Match([]byte(args), p.hits[:0]); len(h) > 0 {
			if err := emit(f, sidReverse, 1, "T1059.004", "reverse shell "+who, md...); err != nil {
				return err
			}
			continue
		}
		exe := fs[11]
		for _, d := range tempDirs {
			if strings.HasPrefix(exe, d) {
				if err := emit(f, sidTempExe, 1, "T1059.004", "process running from "+d+": "+who, md...); err != nil {
					return err
				}
			}
		}
		if cpu, err := strconv.ParseFloat(fs[3], 64); err == nil && cpu >= CPUHog {
			if err := emit(f, sidCPU, 3, "T1496", fmt.Sprintf("process holding %.0f%% of a CPU: %s", cpu, who), md...); err != nil {
				return err
			}
		}
	}
	return nil
}

// exes reads "ls -l /proc/PID/exe" lines: "... /proc/42/exe -> /path (deleted)".
func (p *procs) exes(f sdk.Event, text string) error {
	for _, line := range strings.Split(text, "\n") {
		i := strings.Index(line, "/proc/")
		j := strings.Index(line, " -> ")
		if i < 0 || j < i {
			continue
		}
		pid := strings.TrimSuffix(strings.TrimPrefix(line[i:j], "/proc/"), "/exe")
		target := line[j+4:]
		if strings.HasSuffix(target, " (deleted)") {
			if err := emit(f, sidDeletedExe, 1, "T1070.004", "pid "+pid+" runs a deleted executable "+target, "pid="+pid, "exe="+target); err != nil {
				return err
			}
			continue
		}
		for _, d := range tempDirs {
			if strings.HasPrefix(target, d) {
				if err := emit(f, sidTempExe, 1, "T1059.004", "pid "+pid+" runs "+target, "pid="+pid, "exe="+target); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// hidden compares the /proc listing (taken after ps) with ps: a process
// older than the newest ps saw but missing from ps is hidden from it.
func (p *procs) hidden(f sdk.Event, text string) error {
	if len(p.psPIDs) == 0 {
		return nil
	}
	var missing []int
	for _, line := range strings.Split(text, "\n") {
		pid, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "/proc/"))
		if err != nil || pid >= p.maxPID {
			continue
		}
		if _, ok := p.psPIDs[pid]; !ok {
			missing = append(missing, pid)
		}
	}
	sort.Ints(missing)
	for _, pid := range missing {
		if err := emit(f, sidHidden, 1, "T1014", fmt.Sprintf("pid %d is in /proc but hidden from ps", pid), "pid="+strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// listeners reads ss -tunap: a shell or interpreter listening is a bind
// shell.
func (p *procs) listeners(f sdk.Event, text string) error {
	for _, line := range strings.Split(text, "\n") {
		fs := strings.Fields(line)
		if len(fs) < 7 || fs[1] != "LISTEN" && !(fs[0] == "udp" && fs[1] == "UNCONN") {
			continue
		}
		users := strings.Join(fs[6:], " ")
		i := strings.Index(users, `(("`)
		if i < 0 {
			continue
		}
		name := users[i+3:]
		if j := strings.IndexByte(name, '"'); j >= 0 {
			name = name[:j]
		}
		if shells[name] {
			if err := emit(f, sidListener, 1, "T1571", fmt.Sprintf("%s listens on %s", name, fs[4]), "local="+fs[4], "process="+name); err != nil {
				return err
			}
		}
	}
	return nil
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
