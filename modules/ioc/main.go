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

// domain finds name or one of its parent domains among the indicators.
func (m *matcher) domain(name string) (int, bool) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for name != "" {
		if i, ok := m.domains[name]; ok {
			return i, true
		}
		dot := strings.IndexByte(name, '.')
		if dot < 0 {
			break
		}
		name = name[dot+1:]
	}
	return 0, false
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
			for _, a := range []netip.Addr{ev.Dst(), ev.Src()} {
				if i, ok := m.ips[a]; ok {
					if err := m.hit(ev, i, "a flow"); err != nil {
						return err
					}
				}
			}
		case sdk.KindDNS:
			if typ := ev.Str(sdk.FieldDNSType); typ != "request" && typ != "query" && typ != "" {
				return nil // the answer repeats the question
			}
			if i, ok := m.domain(ev.Str(sdk.FieldDNSRRName)); ok {
				return m.hit(ev, i, "a DNS query")
			}
		case sdk.KindHTTP:
			if i, ok := m.domain(ev.Str(sdk.FieldHTTPHost)); ok {
				return m.hit(ev, i, "an HTTP host")
			}
			url := ev.Str(sdk.FieldHTTPURL)
			for _, u := range []string{ev.Str(sdk.FieldHTTPHost) + url, "http://" + ev.Str(sdk.FieldHTTPHost) + url, url} {
				if i, ok := m.urls[u]; ok {
					return m.hit(ev, i, "an HTTP request")
				}
			}
		case sdk.KindTLS:
			if i, ok := m.domain(ev.Str(sdk.FieldTLSSNI)); ok {
				return m.hit(ev, i, "a TLS server name")
			}
			for _, f := range []sdk.Field{sdk.FieldTLSJA3, sdk.FieldTLSJA3S, sdk.FieldTLSJA4} {
				if i, ok := m.hashes[strings.ToLower(ev.Str(f))]; ok && ev.Str(f) != "" {
					return m.hit(ev, i, "a TLS fingerprint")
				}
			}
		}
		return nil
	})
}

func (m *matcher) Flush() error { return nil }
