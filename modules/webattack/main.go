// Command webattack is the Firebreak module that finds attacks on web
// applications in HTTP requests: SQL injection, cross-site scripting, path
// traversal, command injection, Log4Shell (CVE-2021-44228) and Shellshock
// (CVE-2014-6271), and the user agents of common attack scanners. The URL
// is percent-decoded in the module, then every pattern is searched at once
// by the host's native multi-pattern matcher (sdk.CompilePatterns), so the
// module never scans a request byte by byte itself. It must never alert
// more than once per client, server and attack class: a scanner sending
// thousands of requests is one alert per class, not thousands.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o webattack.wasm .
package main

import (
	"fmt"
	"net/netip"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&web{}) }

type class struct {
	name      string
	sid       uint32
	severity  int
	technique string
	url       []string // patterns searched in the decoded URL
	header    []string // patterns searched in the user agent, referer and host
}

var classes = []class{
	{name: "SQL injection", sid: 1002001, severity: 1, technique: "T1190",
		url: []string{"union select", "union all select", "' or '1'='1", "' or 1=1", "\" or 1=1", "or 1=1--", "' and 1=1",
			"information_schema", "sleep(", "benchmark(", "waitfor delay", "xp_cmdshell", "' or '", "order by 1--", "@@version"}},
	{name: "cross-site scripting", sid: 1002002, severity: 1, technique: "T1190",
		url: []string{"<script", "javascript:", "onerror=", "onload=", "<svg", "<img src", "document.cookie", "alert(", "<iframe"}},
	{name: "path traversal", sid: 1002003, severity: 1, technique: "T1190",
		url: []string{"../", "..\\", "/etc/passwd", "/etc/shadow", "boot.ini", "win.ini", "/proc/self/environ"}},
	{name: "command injection", sid: 1002004, severity: 1, technique: "T1190",
		url: []string{";cat ", "|cat ", ";id", "|id", "`id`", "$(id)", "&& whoami", ";uname", "|uname", "/bin/sh", "/bin/bash",
			"cmd.exe", "nc -e", ";wget ", "|wget ", ";curl "}},
	{name: "Log4Shell (CVE-2021-44228)", sid: 1002005, severity: 1, technique: "T1190",
		url: []string{"${jndi:", "jndi:ldap", "jndi:rmi", "jndi:dns", "${lower:", "${env:"}, header: []string{"${jndi:", "jndi:ldap", "jndi:rmi", "jndi:dns", "${lower:", "${env:"}},
	{name: "Shellshock (CVE-2014-6271)", sid: 1002006, severity: 1, technique: "T1190",
		url: []string{"() {"}, header: []string{"() {"}},
	{name: "attack scanner", sid: 1002007, severity: 2, technique: "T1595.002",
		header: []string{"nikto", "sqlmap", "nmap scripting engine", "masscan", "dirbuster", "wpscan", "acunetix", "nessus", "zgrab"}},
}

type pair struct{ src, dst netip.Addr }

type web struct {
	urlSet, hdrSet sdk.Patterns
	urlClass       []int // pattern index → class
	hdrClass       []int
	seen           map[pair]uint32 // classes alerted (bit per class)
	decoded        []byte          // scratch: the URL decoded once, then twice
	decoded2       []byte
	hits           []uint32
}

func (w *web) Init([]byte) error {
	var url, hdr []string
	for i, c := range classes {
		for _, p := range c.url {
			url, w.urlClass = append(url, p), append(w.urlClass, i)
		}
		for _, p := range c.header {
			hdr, w.hdrClass = append(hdr, p), append(w.hdrClass, i)
		}
	}
	var err error
	if w.urlSet, err = sdk.CompilePatterns(url, sdk.MatchFold); err != nil {
		return fmt.Errorf("url patterns: %w", err)
	}
	if w.hdrSet, err = sdk.CompilePatterns(hdr, sdk.MatchFold); err != nil {
		return fmt.Errorf("header patterns: %w", err)
	}
	w.seen = map[pair]uint32{}
	w.hits = make([]uint32, 0, 32)
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decode percent-decodes (twice, for double encoding) and turns + into a
// space. It works in two scratch buffers, never allocating per request.
func (w *web) decode(s []byte) []byte {
	w.decoded = percentDecode(w.decoded[:0], s)
	w.decoded2 = percentDecode(w.decoded2[:0], w.decoded)
	return w.decoded2
}

func percentDecode(out, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		if c == '+' {
			c = ' '
		}
		out = append(out, c)
	}
	return out
}

func (w *web) Batch(b sdk.Batch) error {
	return b.Each(func(ev sdk.Event) error {
		if ev.Kind() != sdk.KindHTTP {
			return nil
		}
		var found uint32 // classes found in this request
		w.hits = w.urlSet.Match(w.decode(ev.Bytes(sdk.FieldHTTPURL)), w.hits[:0])
		for _, h := range w.hits {
			found |= 1 << w.urlClass[h]
		}
		for _, f := range []sdk.Field{sdk.FieldHTTPUserAgent, sdk.FieldHTTPReferer, sdk.FieldHTTPHost} {
			w.hits = w.hdrSet.Match(ev.Bytes(f), w.hits[:0])
			for _, h := range w.hits {
				found |= 1 << w.hdrClass[h]
			}
		}
		k := pair{ev.Src(), ev.Dst()}
		found &^= w.seen[k]
		if found == 0 {
			return nil
		}
		w.seen[k] |= found
		for i, c := range classes {
			if found&(1<<i) == 0 {
				continue
			}
			url := ev.Str(sdk.FieldHTTPURL)
			if len(url) > 200 {
				url = url[:200]
			}
			a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK web attack: %s in %s %s", c.name, ev.Str(sdk.FieldHTTPMethod), url),
				Category: "Web Application Attack", Severity: c.severity, SignatureID: c.sid, Techniques: []string{c.technique}}
			if err := sdk.EmitAlert(a.On(ev)); err != nil {
				return err
			}
		}
		if len(w.seen) > 65536 {
			clear(w.seen) // bound the memory; a pair may alert again
		}
		return nil
	})
}

func (w *web) Flush() error { return nil }
