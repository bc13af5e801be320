// Command weblog is the Firebreak module that reads the requests of a web
// server's access log (the host turns each line into an http record) and
// finds scanner runs, one finding per client: a scanner's user agent
// (Nikto, sqlmap, w3af, masscan, Acunetix, Netsparker, ...), or many
// requests of which many answer 404, or repeated injection, traversal or
// probing URLs matched by the host's native multi-pattern matcher. It must
// never report one finding per request: a scan of thousands of requests is
// one finding with its counts. Given the webshells the file scan found (its
// config), it names the first request that reached each: the entry point
// for the root-cause section.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o weblog.wasm .
package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&weblog{}) }

// Signature IDs.
const (
	sidScanner    = 1010001
	sidEntryPoint = 1010002 // the first request that reached a webshell
)

// config names the webshells the file scan found (paths in the target), so
// that the requests reaching them are named: the entry point for the
// root-cause section.
type config struct {
	Webshells []string `json:"webshells"`
}

// shellHits are the requests that reached one webshell.
type shellHits struct {
	first    int64
	request  string
	src      string
	status   uint64
	requests int
	clients  map[string]bool
}

// A client is a scanner when its user agent says so, or when it made at
// least MinRequests requests and either MinNotFound of them found nothing
// or MinAttacks carried attack patterns.
const (
	MinRequests = 50
	MinNotFound = 25
	MinAttacks  = 5
)

var agents = []string{"nikto", "sqlmap", "w3af", "masscan", "zgrab", "nmap", "acunetix", "netsparker", "wpscan", "dirbuster",
	"gobuster", "nuclei", "openvas", "nessus", "zmeu", "morfeus", "havij", "jorgee", "fimap", "arachni", "wfuzz", "ffuf"}

var attacks = []string{"union select", "union all select", "' or '1'='1", "' or 1=1", "<script", "javascript:", "onerror=",
	"../", "..\\", "/etc/passwd", "win.ini", "${jndi:", "() {", "cmd.exe", "/bin/sh", ";cat ", "|id", "$(id)", "sleep(",
	"benchmark(", "waitfor delay", "xp_cmdshell", ".git/config", ".svn/", ".env", "wp-config.php.", "phpmyadmin",
	"/cgi-bin/", "invokefunction", "eval-stdin.php", "<?php", "base64_decode(", "acunetix", "netsparker", "w3af"}

type client struct {
	requests, notFound, attacks int
	agent                       string
	first, last                 int64
	sample                      string
	source                      string // the access log it was first seen in
}

type weblog struct {
	agentSet, attackSet sdk.Patterns
	clients             map[string]*client
	hits                []uint32
	shells              []string
	shellHits           map[string]*shellHits
}

func (w *weblog) Init(cfg []byte) error {
	var c config
	if len(cfg) > 0 {
		if err := json.Unmarshal(cfg, &c); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	w.shells, w.shellHits = c.Webshells, map[string]*shellHits{}
	var err error
	if w.agentSet, err = sdk.CompilePatterns(agents, sdk.MatchFold); err != nil {
		return fmt.Errorf("agent patterns: %w", err)
	}
	if w.attackSet, err = sdk.CompilePatterns(attacks, sdk.MatchFold); err != nil {
		return fmt.Errorf("attack patterns: %w", err)
	}
	w.clients = map[string]*client{}
	w.hits = make([]uint32, 0, 8)
	return nil
}

func (w *weblog) Batch(b sdk.Batch) error {
	return b.Each(func(ev sdk.Event) error {
		// Only requests read from an access log (they name their log):
		// requests seen on the wire are the webattack module's.
		if ev.Kind() != sdk.KindHTTP || !ev.Src().IsValid() || !ev.Has(sdk.FieldSource) {
			return nil
		}
		src := ev.Src().String()
		c := w.clients[src]
		if c == nil {
			if len(w.clients) >= 100000 {
				return nil
			}
			c = &client{first: ev.Time(), source: strings.Clone(ev.Str(sdk.FieldSource))}
			w.clients[src] = c
		}
		c.requests++
		c.last = ev.Time()
		if ev.Uint(sdk.FieldHTTPStatus) == 404 {
			c.notFound++
		}
		if c.agent == "" {
			if h := w.agentSet.Match([]byte(ev.Str(sdk.FieldHTTPUserAgent)), w.hits[:0]); len(h) > 0 {
				c.agent = agents[h[0]]
			}
		}
		u := ev.Str(sdk.FieldHTTPURL)
		if d, err := url.QueryUnescape(u); err == nil {
			u = d
		}
		w.shellRequest(ev, src, u)
		if h := w.attackSet.Match([]byte(u), w.hits[:0]); len(h) > 0 {
			c.attacks++
			if c.sample == "" {
				c.sample = ev.Str(sdk.FieldHTTPMethod) + " " + ev.Str(sdk.FieldHTTPURL)
				if len(c.sample) > 200 {
					c.sample = c.sample[:200]
				}
			}
		}
		return nil
	})
}

// shellRequest notes a request whose path is a webshell's path (the end
// of the file's path inside the target, from a "/" on).
func (w *weblog) shellRequest(ev sdk.Event, src, u string) {
	if len(w.shells) == 0 {
		return
	}
	p, _, _ := strings.Cut(u, "?")
	if len(p) < 2 || p[0] != '/' {
		return
	}
	for _, sh := range w.shells {
		if !strings.HasSuffix(sh, p) {
			continue
		}
		h := w.shellHits[sh]
		if h == nil {
			h = &shellHits{first: ev.Time(), clients: map[string]bool{}}
			w.shellHits[sh] = h
		}
		h.requests++
		if len(h.clients) < 10000 {
			h.clients[src] = true
		}
		if h.request == "" || ev.Time() < h.first {
			h.first, h.src, h.status = ev.Time(), src, ev.Uint(sdk.FieldHTTPStatus)
			h.request = ev.Str(sdk.FieldHTTPMethod) + " " + ev.Str(sdk.FieldHTTPURL)
			if len(h.request) > 200 {
				h.request = h.request[:200]
			}
		}
		return
	}
}

func (w *weblog) Flush() error {
	shells := make([]string, 0, len(w.shellHits))
	for sh := range w.shellHits {
		shells = append(shells, sh)
	}
	sort.Strings(shells)
	for _, sh := range shells {
		h := w.shellHits[sh]
		a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK web log: first request to webshell %s: %s from %s at %s (status %d); %d requests from %d clients",
			sh, h.request, h.src, time.Unix(0, h.first).UTC().Format(time.RFC3339), h.status, h.requests, len(h.clients)),
			Category: "Web Shell", Severity: 1, SignatureID: sidEntryPoint, Techniques: []string{"T1505.003", "T1190"}, Time: h.first,
			Metadata: []string{"path=" + sh, "src=" + h.src, "request=" + h.request, "requests=" + strconv.Itoa(h.requests)}}
		if err := sdk.EmitAlert(&a); err != nil {
			return err
		}
	}
	w.shellHits = map[string]*shellHits{}
	var srcs []string
	for s := range w.clients {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		c := w.clients[src]
		why := ""
		switch {
		case c.agent != "":
			why = "user agent " + c.agent
		case c.requests >= MinRequests && c.notFound >= MinNotFound:
			why = fmt.Sprintf("%d requests for pages that do not exist", c.notFound)
		case c.requests >= MinRequests && c.attacks >= MinAttacks:
			why = fmt.Sprintf("%d attack requests", c.attacks)
		default:
			continue
		}
		a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK web log: scanner run from %s (%s): %d requests, %d not found, %d attacks",
			src, why, c.requests, c.notFound, c.attacks), Category: "Attempted Information Leak", Severity: 2, SignatureID: sidScanner,
			Techniques: []string{"T1595.002"}, Time: c.first, Metadata: []string{"path=" + c.source, "src=" + src, "requests=" + strconv.Itoa(c.requests),
				"not_found=" + strconv.Itoa(c.notFound), "attacks=" + strconv.Itoa(c.attacks),
				"first=" + time.Unix(0, c.first).UTC().Format(time.RFC3339), "last=" + time.Unix(0, c.last).UTC().Format(time.RFC3339)}}
		if c.sample != "" {
			a.Metadata = append(a.Metadata, "sample="+c.sample)
		}
		if c.attacks > 0 {
			a.Techniques = append(a.Techniques, "T1190")
		}
		if err := sdk.EmitAlert(&a); err != nil {
			return err
		}
	}
	w.clients = map[string]*client{}
	return nil
}
