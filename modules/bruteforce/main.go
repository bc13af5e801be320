// Command bruteforce is the Firebreak module that finds password guessing
// against login services (SSH, FTP, Telnet, RDP, SMB, VNC, databases and
// mail) in ended flows: many short sessions from one client to one service
// within a window of packet time. A guessing tool opens a connection per
// attempt or per few attempts, each short in time and bytes, where a user
// who logs in once keeps one long session. Over HTTP, where one connection
// carries many attempts, it counts requests instead: answers 401 (HTTP
// authentication refused) and POSTs to a login form. It must never alert
// more than once per client and service.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bruteforce.wasm .
package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&guesses{}) }

// services are the login services by port; app_proto ssh and ftp count on
// any port.
var services = map[uint16]string{21: "FTP", 22: "SSH", 23: "Telnet", 110: "POP3", 143: "IMAP", 445: "SMB",
	1433: "MSSQL", 3306: "MySQL", 3389: "RDP", 5432: "PostgreSQL", 5900: "VNC", 993: "IMAPS", 995: "POP3S"}

// Config is the module's config (JSON); zero fields take the defaults.
type Config struct {
	Sessions int `json:"sessions"`  // short sessions in the window that make an attack (default 10)
	WindowS  int `json:"window_s"`  // the window, seconds of packet time (default 300)
	MaxBytes int `json:"max_bytes"` // a short session sends at most this many bytes (default 20000)
	MaxAgeS  int `json:"max_age_s"` // and lasts at most this long (default 60)
	// MaxTracked bounds the (client, service) pairs tracked (default 8192).
	MaxTracked int `json:"max_tracked"`
}

// Keys hold addresses as 16 bytes, not netip.Addr: hashing a flat array is
// about three times faster in the guest (netip.Addr holds a pointer).
type key struct {
	src, dst [16]byte
	port     uint16
}

// What is counted for a client and service.
const (
	shortSessions = iota
	httpRefused   // HTTP 401 answers
	loginPosts    // POSTs to a login form
)

type attempts struct {
	key
	what int
}

type guesses struct {
	cfg     Config
	starts  map[attempts][]int64 // times of recent attempts
	alerted map[attempts]bool
}

func (g *guesses) Init(config []byte) error {
	if len(config) > 0 {
		if err := json.Unmarshal(config, &g.cfg); err != nil {
			return fmt.Errorf("bruteforce config: %w", err)
		}
	}
	c := &g.cfg
	if c.Sessions <= 0 {
		c.Sessions = 10
	}
	if c.WindowS <= 0 {
		c.WindowS = 300
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 20000
	}
	if c.MaxAgeS <= 0 {
		c.MaxAgeS = 60
	}
	if c.MaxTracked <= 0 {
		c.MaxTracked = 8192
	}
	g.starts, g.alerted = map[attempts][]int64{}, map[attempts]bool{}
	return nil
}

func (g *guesses) Batch(b sdk.Batch) error {
	return b.Each(func(ev sdk.Event) error {
		switch ev.Kind() {
		case sdk.KindFlow:
			return g.flow(ev)
		case sdk.KindHTTP:
			return g.http(ev)
		}
		return nil
	})
}

func (g *guesses) flow(ev sdk.Event) error {
	if ev.Proto() != 6 {
		return nil
	}
	name, ok := services[ev.DstPort()]
	switch ev.Str(sdk.FieldAppProto) {
	case "ssh":
		name, ok = "SSH", true
	case "ftp":
		name, ok = "FTP", true
	}
	if !ok || ev.Uint(sdk.FieldPktsToClient) == 0 {
		return nil // no service answered: a scan, not a login attempt
	}
	start := int64(ev.Uint(sdk.FieldFlowStart))
	if start == 0 {
		start = ev.Time()
	}
	if ev.Uint(sdk.FieldBytesToServer) > uint64(g.cfg.MaxBytes) || ev.Time()-start > int64(g.cfg.MaxAgeS)*1e9 {
		return nil
	}
	k := attempts{key{ev.Src().As16(), ev.Dst().As16(), ev.DstPort()}, shortSessions}
	if !g.attempt(k, start) {
		return nil
	}
	return g.alert(ev, k, fmt.Sprintf("%d+ short %s sessions", g.cfg.Sessions, name), "service="+name)
}

// loginPaths are parts of the paths of login forms.
var loginPaths = []string{"login", "logon", "signin", "sign-in", "sign_in", "auth", "session", "wp-login.php", "xmlrpc.php"}

func (g *guesses) http(ev sdk.Event) error {
	k := attempts{key: key{ev.Src().As16(), ev.Dst().As16(), ev.DstPort()}}
	var what string
	switch {
	case ev.Uint(sdk.FieldHTTPStatus) == 401:
		k.what, what = httpRefused, fmt.Sprintf("%d+ HTTP authentications refused (401)", g.cfg.Sessions)
	case ev.Str(sdk.FieldHTTPMethod) == "POST" && loginForm(ev.Str(sdk.FieldHTTPURL)):
		k.what, what = loginPosts, fmt.Sprintf("%d+ POSTs to the login form", g.cfg.Sessions)
	default:
		return nil
	}
	if !g.attempt(k, ev.Time()) {
		return nil
	}
	return g.alert(ev, k, what, "service=HTTP", "host="+ev.Str(sdk.FieldHTTPHost))
}

// loginForm reports whether a request path is a login form's.
func loginForm(url string) bool {
	path, _, _ := strings.Cut(url, "?")
	for _, p := range loginPaths {
		for i := 0; i+len(p) <= len(path); i++ {
			if strings.EqualFold(path[i:i+len(p)], p) {
				return true
			}
		}
	}
	return false
}

// attempt records one attempt at time t and reports whether the attempts
// within the window now make an attack not reported yet.
func (g *guesses) attempt(k attempts, t int64) bool {
	if g.alerted[k] {
		return false
	}
	if _, ok := g.starts[k]; !ok && len(g.starts) >= g.cfg.MaxTracked {
		return false
	}
	window := int64(g.cfg.WindowS) * 1e9
	recent := g.starts[k][:0]
	for _, s := range g.starts[k] {
		if t-s <= window && s-t <= window {
			recent = append(recent, s)
		}
	}
	recent = append(recent, t)
	g.starts[k] = recent
	if len(recent) < g.cfg.Sessions {
		return false
	}
	g.alerted[k] = true
	delete(g.starts, k)
	return true
}

func (g *guesses) alert(ev sdk.Event, k attempts, what string, metadata ...string) error {
	a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK brute force: %s from %s to %s:%d within %ds", what, ev.Src(), ev.Dst(), k.port, g.cfg.WindowS),
		Category: "Attempted User Privilege Gain", Severity: 1, SignatureID: 1003001 + uint32(k.what), Techniques: []string{"T1110"},
		Metadata: metadata}
	return sdk.EmitAlert(a.On(ev))
}

func (g *guesses) Flush() error { return nil }
