// Command ioc is the Firebreak module that matches traffic against
// indicators of compromise given in its config: IP addresses, domains
// (and their subdomains), URLs, TLS JA3/JA3S hashes and JA4 fingerprints.
// It looks at flow endpoints, DNS queries, HTTP hosts and URLs, and TLS
// SNI and fingerprints, and reports each indicator once per client and
// server. It must never report a match it did not see on the wire: no
// lookups, no guessing from partial names.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ioc.wasm .
package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&matcher{}) }

// Indicator is one entry of the config's indicator list.
type Indicator struct {
	Type      string `json:"type"` // ip, domain, url, ja3, ja4
	Value     string `json:"value"`
	Name      string `json:"name,omitempty"`      // what it is: "Emotet C2", a feed's label
	Technique string `json:"technique,omitempty"` // ATT&CK ID; default T1071
}

// Config is the module's own config format: {"indicators": [...]}. STIX
// 2.1 bundles, MISP events and CSV are read too (feeds.go).
type Config struct {
	Indicators []Indicator `json:"indicators"`
}

type seenKey struct {
	src, dst netip.Addr
	ind      int
}

type matcher struct {
	inds    []Indicator
	ips     map[netip.Addr]int
	domains map[string]int
	urls    map[string]int
	hashes  map[string]int
	files   map[string]int // file hashes: kept, not matched in traffic
	seen    map[seenKey]bool
	buf     []byte // scratch for lowercased names and joined URLs: no allocation per event
}

func (m *matcher) Init(config []byte) error {
	f, err := parseFeed(config)
	if err != nil {
		return err
	}
	m.inds = f.Indicators
	m.ips, m.domains, m.urls, m.hashes = map[netip.Addr]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	m.files = map[string]int{}
	m.seen = map[seenKey]bool{}
	for i, ind := range f.Indicators {
		v := strings.TrimSpace(ind.Value)
		switch ind.Type {
		case "ip":
			a, err := netip.ParseAddr(v)
			if err != nil {
				return fmt.Errorf("ioc indicator %d: %w", i, err)
			}
			m.ips[a.Unmap()] = i
		case "domain":
			m.domains[strings.TrimSuffix(strings.ToLower(v), ".")] = i
		case "url":
			m.urls[v] = i
		case "ja3", "ja4":
			m.hashes[strings.ToLower(v)] = i
		case "sha256", "sha1", "md5":
			m.files[strings.ToLower(v)] = i
		default:
			return fmt.Errorf("ioc indicator %d: unknown type %q (ip, domain, url, ja3, ja4, sha256, sha1, md5)", i, ind.Type)
		}
	}
	msg := fmt.Sprintf("%d indicators loaded (%s)", len(f.Indicators), f.Format)
	if f.Skipped > 0 {
		msg += fmt.Sprintf(", %d feed entries skipped (not matchable)", f.Skipped)
	}
	if len(m.files) > 0 {
		msg += fmt.Sprintf(", %d file hashes kept (traffic records carry none)", len(m.files))
	}
	sdk.Log(sdk.LevelInfo, msg)
	return nil
}

// lower is s in lower case, in the scratch buffer (valid until the next
// call). Names on the wire are ASCII (IDNs travel as punycode).
func (m *matcher) lower(s string) []byte {
	m.buf = m.buf[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		m.buf = append(m.buf, c)
	}
	return m.buf
}

// domain finds name or one of its parent domains among the indicators.
func (m *matcher) domain(name string) (int, bool) {
	if len(m.domains) == 0 || name == "" {
		return 0, false
	}
	b := m.lower(strings.TrimSuffix(name, "."))
	for len(b) > 0 {
		if i, ok := m.domains[string(b)]; ok { // the conversion does not allocate
			return i, true
		}
		dot := bytes.IndexByte(b, '.')
		if dot < 0 {
			break
		}
		b = b[dot+1:]
	}
	return 0, false
}

// url finds the request among the URL indicators: host and path with or
// without the scheme, or the path alone.
func (m *matcher) url(host, path string) (int, bool) {
	if len(m.urls) == 0 {
		return 0, false
	}
	m.buf = append(append(append(m.buf[:0], "http://"...), host...), path...)
	for _, u := range [][]byte{m.buf[len("http://"):], m.buf} {
		if i, ok := m.urls[string(u)]; ok {
			return i, true
		}
	}
	i, ok := m.urls[path]
	return i, ok
}

func (m *matcher) hit(ev sdk.Event, i int, where string) error {
	k := seenKey{ev.Src(), ev.Dst(), i}
	if m.seen[k] {
		return nil
	}
	m.seen[k] = true
	ind := m.inds[i]
	tech := ind.Technique
	if tech == "" {
		tech = "T1071"
	}
	name := ind.Name
	if name == "" {
		name = "indicator"
	}
	a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK IOC %s: %s %s in %s", name, ind.Type, ind.Value, where),
		Category: "Known Bad Indicator", Severity: 1, SignatureID: 1004001, Techniques: []string{tech},
		Metadata: []string{"ioc_type=" + ind.Type, "ioc_value=" + ind.Value}}
	return sdk.EmitAlert(a.On(ev))
}

func (m *matcher) Batch(b sdk.Batch) error {
	return b.Each(func(ev sdk.Event) error {
		switch ev.Kind() {
		case sdk.KindFlow:
			if len(m.ips) == 0 {
				return nil
			}
			for _, a := range []netip.Addr{ev.Dst(), ev.Src()} {
				if i, ok := m.ips[a]; ok {
					if err := m.hit(ev, i, "a flow"); err != nil {
						return err
					}
				}
			}
		case sdk.KindDNS:
			if len(m.domains) == 0 {
				return nil
			}
			if typ := ev.Str(sdk.FieldDNSType); typ != "request" && typ != "query" && typ != "" {
				return nil // the answer repeats the question
			}
			if i, ok := m.domain(ev.Str(sdk.FieldDNSRRName)); ok {
				return m.hit(ev, i, "a DNS query")
			}
		case sdk.KindHTTP:
			host := ev.Str(sdk.FieldHTTPHost)
			if i, ok := m.domain(host); ok {
				return m.hit(ev, i, "an HTTP host")
			}
			if i, ok := m.url(host, ev.Str(sdk.FieldHTTPURL)); ok {
				return m.hit(ev, i, "an HTTP request")
			}
		case sdk.KindTLS:
			if i, ok := m.domain(ev.Str(sdk.FieldTLSSNI)); ok {
				return m.hit(ev, i, "a TLS server name")
			}
			if len(m.hashes) == 0 {
				return nil
			}
			for _, f := range []sdk.Field{sdk.FieldTLSJA3, sdk.FieldTLSJA3S, sdk.FieldTLSJA4} {
				if v := ev.Str(f); v != "" {
					if i, ok := m.hashes[string(m.lower(v))]; ok {
						return m.hit(ev, i, "a TLS fingerprint")
					}
				}
			}
		}
		return nil
	})
}

func (m *matcher) Flush() error { return nil }
