// Command authlog is the Firebreak module that reads a host's
// authentication logs (auth.log, secure, and the host's rendering of wtmp
// records) and finds password guessing (many failures from one address in
// a few minutes), a successful login from an address that failed many
// times first, and a login from an address the account had not used
// before. Lines it does not understand are skipped; it must never report
// a password, even one typed into the user-name prompt, beyond the user
// name sshd logged.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o authlog.wasm .
package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(newAuth()) }

// Signature IDs.
const (
	sidBruteForce = 1009001
	sidSuccess    = 1009002
	sidNewAddr    = 1009003
)

// Thresholds: Threshold failures from one address within Window is
// password guessing; SuccessAfter failures before a success is a success
// after guessing.
const (
	Threshold    = 10
	Window       = 10 * time.Minute
	SuccessAfter = 5
)

// Kinds of lines.
const (
	kindNone = iota
	kindFail
	kindAccept
)

// entry is what one log line says.
type entry struct {
	kind   int
	time   time.Time
	user   string
	addr   string
	method string // password, publickey, wtmp
}

type source struct {
	// sshd and pam_unix each log a failed password: counted apart, the
	// larger is the number of attempts.
	sshd, pam  series
	users      map[string]bool
	first      time.Time
	last       time.Time
	file       string
	successful bool
}

// series counts failures of one kind and the most in any Window.
type series struct {
	failures  int
	window    []time.Time
	peak      int
	peakStart time.Time
}

func (s *series) add(t time.Time) {
	s.failures++
	s.window = append(s.window, t)
	for len(s.window) > 0 && t.Sub(s.window[0]) > Window {
		s.window = s.window[1:]
	}
	if len(s.window) > s.peak {
		s.peak, s.peakStart = len(s.window), s.window[0]
	}
}

func (s *source) best() *series {
	if s.pam.failures > s.sshd.failures {
		return &s.pam
	}
	return &s.sshd
}

type auth struct {
	bySrc map[string]*source
	addrs map[string]map[string]bool // user → addresses with successful logins
}

func newAuth() *auth { return &auth{} }

func (a *auth) Init([]byte) error {
	a.bySrc, a.addrs = map[string]*source{}, map[string]map[string]bool{}
	return nil
}

func (a *auth) Batch(b sdk.Batch) error {
	return b.Each(func(ev sdk.Event) error {
		if ev.Kind() != sdk.KindAuthLog {
			return nil
		}
		// A copy: the names and addresses parsed from it are kept in maps
		// past this batch, whose buffer the host reuses.
		e, ok := parse(strings.Clone(ev.Str(sdk.FieldLine)), ev.Time())
		if !ok {
			return nil
		}
		return a.add(e, strings.Clone(ev.Str(sdk.FieldSource)))
	})
}

func (a *auth) add(e entry, file string) error {
	if e.addr == "" {
		return nil
	}
	s := a.bySrc[e.addr]
	if s == nil {
		s = &source{users: map[string]bool{}, first: e.time, file: file}
		a.bySrc[e.addr] = s
	}
	switch e.kind {
	case kindFail:
		s.last = e.time
		if len(s.users) < 1000 && e.user != "" {
			s.users[e.user] = true
		}
		if e.method == "pam" {
			s.pam.add(e.time)
		} else {
			s.sshd.add(e.time)
		}
	case kindAccept:
		if n := s.best().failures; n >= SuccessAfter && !s.successful {
			s.successful = true
			al := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK auth: %s logged in from %s after %d failed attempts", e.user, e.addr, n),
				Category: "Successful Credential Guessing", Severity: 1, SignatureID: sidSuccess, Techniques: []string{"T1110.001"},
				Time: e.time.UnixNano(), Metadata: []string{"path=" + file, "src=" + e.addr, "user=" + e.user, "method=" + e.method,
					"failures=" + strconv.Itoa(n)}}
			if err := sdk.EmitAlert(&al); err != nil {
				return err
			}
		}
		known := a.addrs[e.user]
		if known == nil {
			known = map[string]bool{}
			a.addrs[e.user] = known
		}
		if len(known) > 0 && !known[e.addr] {
			al := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK auth: %s logged in from a new address %s", e.user, e.addr),
				Category: "Suspicious Login", Severity: 2, SignatureID: sidNewAddr, Techniques: []string{"T1078"},
				Time: e.time.UnixNano(), Metadata: []string{"path=" + file, "src=" + e.addr, "user=" + e.user, "method=" + e.method}}
			if err := sdk.EmitAlert(&al); err != nil {
				return err
			}
		}
		if len(known) < 10000 {
			known[e.addr] = true
		}
	}
	return nil
}

// Flush reports each guessing source once, with its totals.
func (a *auth) Flush() error {
	var addrs []string
	for addr, s := range a.bySrc {
		if s.best().peak >= Threshold {
			addrs = append(addrs, addr)
		}
	}
	sort.Strings(addrs)
	for _, addr := range addrs {
		s := a.bySrc[addr]
		b := s.best()
		sig := fmt.Sprintf("FIREBREAK auth: password guessing from %s: %d failures for %d accounts (at most %d in %s)",
			addr, b.failures, len(s.users), b.peak, Window)
		technique := "T1110.001"
		if len(s.users) > 3 {
			technique = "T1110.003" // many accounts: spraying
		}
		al := sdk.Alert{Signature: sig, Category: "Brute Force", Severity: 2, SignatureID: sidBruteForce, Techniques: []string{technique},
			Time: b.peakStart.UnixNano(), Metadata: []string{"path=" + s.file, "src=" + addr, "failures=" + strconv.Itoa(b.failures),
				"accounts=" + strconv.Itoa(len(s.users)), "first=" + s.first.UTC().Format(time.RFC3339), "last=" + s.last.UTC().Format(time.RFC3339)}}
		if s.successful {
			al.Severity = 1
		}
		if err := sdk.EmitAlert(&al); err != nil {
			return err
		}
	}
	a.bySrc = map[string]*source{}
	return nil
}

var months = map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}

// parse reads one line: a syslog line of sshd or pam_unix (classic
// "Mon DD HH:MM:SS host prog[pid]: msg" or RFC 3339 time), or a wtmp
// record as the host renders it ("wtmp login USER LINE HOST"). def is the
// record's time, used when the line has none a year can be given to.
// btmp records (failed logins) come as "btmp failed USER LINE HOST".
func parse(line string, def int64) (entry, bool) {
	var e entry
	if rest, ok := strings.CutPrefix(line, "wtmp login "); ok {
		f := strings.Fields(rest)
		if len(f) < 3 || f[2] == "-" {
			return e, false
		}
		e.kind, e.user, e.addr, e.method, e.time = kindAccept, f[0], f[2], "wtmp", time.Unix(0, def).UTC()
		return e, true
	}
	if rest, ok := strings.CutPrefix(line, "btmp failed "); ok {
		f := strings.Fields(rest)
		if len(f) < 3 || f[2] == "-" {
			return e, false
		}
		e.kind, e.user, e.addr, e.method, e.time = kindFail, f[0], f[2], "btmp", time.Unix(0, def).UTC()
		return e, true
	}
	t, msg, ok := syslog(line)
	if !ok {
		return e, false
	}
	if t.IsZero() {
		t = time.Unix(0, def).UTC()
	}
	e.time = t
	switch {
	case strings.HasPrefix(msg, "Failed password for ") || strings.HasPrefix(msg, "Failed publickey for ") ||
		strings.HasPrefix(msg, "Failed keyboard-interactive/pam for ") || strings.HasPrefix(msg, "Failed none for "):
		rest := msg[strings.Index(msg, " for ")+5:]
		rest = strings.TrimPrefix(rest, "invalid user ")
		user, addr, ok := userFrom(rest)
		if !ok {
			return e, false
		}
		e.kind, e.user, e.addr, e.method = kindFail, user, addr, strings.Fields(msg)[1]
	case strings.HasPrefix(msg, "Invalid user "):
		user, addr, ok := userFrom(msg[len("Invalid user "):])
		if !ok {
			return e, false
		}
		e.kind, e.user, e.addr = kindNone, user, addr // the failure that follows is counted
	case strings.HasPrefix(msg, "Accepted "):
		f := strings.SplitN(msg, " ", 4) // Accepted METHOD for REST
		if len(f) < 4 || f[2] != "for" {
			return e, false
		}
		user, addr, ok := userFrom(f[3])
		if !ok {
			return e, false
		}
		e.kind, e.user, e.addr, e.method = kindAccept, user, addr, f[1]
	case strings.Contains(msg, "authentication failure;") && strings.Contains(msg, "rhost="):
		e.kind = kindFail
		for _, kv := range strings.Fields(msg) {
			if v, ok := strings.CutPrefix(kv, "rhost="); ok {
				e.addr = v
			}
			if v, ok := strings.CutPrefix(kv, "user="); ok {
				e.user = v
			}
		}
		if e.addr == "" {
			return e, false
		}
		e.method = "pam"
	default:
		return e, false
	}
	return e, true
}

// userFrom reads "USER from ADDR port N ..." (a user name may hold spaces).
func userFrom(s string) (user, addr string, ok bool) {
	i := strings.LastIndex(s, " from ")
	if i < 0 {
		return "", "", false
	}
	user = s[:i]
	f := strings.Fields(s[i+6:])
	if len(f) == 0 || len(f[0]) > 64 {
		return "", "", false
	}
	return user, f[0], true
}

// syslog splits a syslog line into its time (zero if it has no usable
// time) and the message after "prog[pid]: ".
func syslog(line string) (time.Time, string, bool) {
	var t time.Time
	rest := line
	if len(line) >= 16 && line[3] == ' ' && line[6] == ' ' && line[9] == ':' {
		if m, ok := months[line[:3]]; ok {
			day, _ := strconv.Atoi(strings.TrimSpace(line[4:6]))
			h, _ := strconv.Atoi(line[7:9])
			mi, _ := strconv.Atoi(line[10:12])
			sec, _ := strconv.Atoi(line[13:15])
			t = time.Date(2000, m, day, h, mi, sec, 0, time.UTC) // syslog has no year: times are relative
		}
		rest = line[15:]
	} else if sp := strings.IndexByte(line, ' '); sp > 0 {
		if pt, err := time.Parse(time.RFC3339Nano, line[:sp]); err == nil {
			t, rest = pt.UTC(), line[sp:]
		}
	}
	i := strings.Index(rest, ": ")
	if i < 0 {
		return t, "", false
	}
	return t, rest[i+2:], true
}
