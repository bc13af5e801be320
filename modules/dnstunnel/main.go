// Command dnstunnel is the Firebreak module that finds DNS tunnels and
// exfiltration over DNS: query names whose labels are long and random
// (high entropy), record types that carry bulk data (NULL, and TXT in
// volume), and the volume of such queries per domain. One long, random
// query name is reported as exfiltration (T1048); a stream of them to one
// domain as a tunnel (T1071.004). It must never alert more than once per
// client and domain for each of the two.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o dnstunnel.wasm .
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&tunnels{}) }

// Config is the module's config (JSON); zero fields take the defaults.
type Config struct {
	// LongLabel is the length from which a random label is suspicious
	// (default 24); ExfilLabel the length from which one query is
	// reported as exfiltration (default 40).
	LongLabel  int `json:"long_label"`
	ExfilLabel int `json:"exfil_label"`
	// Entropy is the Shannon entropy, bits per character, from which a
	// long label is random (default 3.3: hex and base32/64 encodings).
	Entropy float64 `json:"entropy"`
	// Queries is how many suspicious queries from one client to one
	// domain make a tunnel (default 10).
	Queries int `json:"queries"`
	// MaxTracked bounds the (client, domain) pairs tracked (default 8192).
	MaxTracked int `json:"max_tracked"`
}

type key struct {
	src    netip.Addr
	domain string
}

type tunnels struct {
	cfg     Config
	count   map[key]int
	alerted map[key]bool
	exfil   map[key]bool
}

func (t *tunnels) Init(config []byte) error {
	if len(config) > 0 {
		if err := json.Unmarshal(config, &t.cfg); err != nil {
			return fmt.Errorf("dnstunnel config: %w", err)
		}
	}
	c := &t.cfg
	if c.LongLabel <= 0 {
		c.LongLabel = 24
	}
	if c.ExfilLabel <= 0 {
		c.ExfilLabel = 40
	}
	if c.Entropy <= 0 {
		c.Entropy = 3.3
	}
	if c.Queries <= 0 {
		c.Queries = 10
	}
	if c.MaxTracked <= 0 {
		c.MaxTracked = 8192
	}
	t.count, t.alerted, t.exfil = map[key]int{}, map[key]bool{}, map[key]bool{}
	return nil
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var n [256]int
	for i := 0; i < len(s); i++ {
		n[s[i]]++
	}
	h := 0.0
	for _, c := range n {
		if c > 0 {
			p := float64(c) / float64(len(s))
			h -= p * math.Log2(p)
		}
	}
	return h
}

// domain is the name's last two labels (a simple stand-in for the
// registered domain; a tunnel under a public suffix such as co.uk still
// groups by client).
func domain(name string) string {
	name = strings.TrimSuffix(name, ".")
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return name
	}
	if j := strings.LastIndexByte(name[:i], '.'); j >= 0 {
		return name[j+1:]
	}
	return name
}

// longestRandom is the length of the longest label that is long and random.
func (t *tunnels) longestRandom(name string) int {
	longest := 0
	for _, l := range strings.Split(name, ".") {
		if len(l) >= t.cfg.LongLabel && len(l) > longest && entropy(l) >= t.cfg.Entropy {
			longest = len(l)
		}
	}
	return longest
}

func (t *tunnels) Batch(b sdk.Batch) error {
	return b.Each(func(ev sdk.Event) error {
		if ev.Kind() != sdk.KindDNS {
			return nil
		}
		if typ := ev.Str(sdk.FieldDNSType); typ != "request" && typ != "query" {
			return nil
		}
		name, rrtype := ev.Str(sdk.FieldDNSRRName), ev.Str(sdk.FieldDNSRRType)
		if name == "" {
			return nil
		}
		dom := domain(name)
		random := t.longestRandom(strings.TrimSuffix(name, "."+dom))
		if k := (key{ev.Src(), dom}); random >= t.cfg.ExfilLabel && !t.exfil[k] && len(t.exfil) < t.cfg.MaxTracked {
			t.exfil[key{k.src, strings.Clone(dom)}] = true
			a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK DNS exfiltration: %d-character random label in a query for %s", random, dom),
				Category: "Potential Corporate Privacy Violation", Severity: 1, SignatureID: 1001001,
				Techniques: []string{"T1048"}, Metadata: []string{"domain=" + dom, "rrtype=" + rrtype}}
			if err := sdk.EmitAlert(a.On(ev)); err != nil {
				return err
			}
		}
		if random == 0 && rrtype != "NULL" && len(name) < 100 {
			return nil
		}
		k := key{ev.Src(), dom}
		if t.alerted[k] {
			return nil
		}
		if _, ok := t.count[k]; !ok && len(t.count) >= t.cfg.MaxTracked {
			return nil
		}
		t.count[key{k.src, strings.Clone(dom)}]++
		if t.count[k] < t.cfg.Queries {
			return nil
		}
		t.alerted[key{k.src, strings.Clone(dom)}] = true
		delete(t.count, k)
		a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK DNS tunnel: %d+ encoded or %s queries to %s", t.cfg.Queries, rrtype, dom),
			Category: "Potential Corporate Privacy Violation", Severity: 1, SignatureID: 1001002,
			Techniques: []string{"T1071.004", "T1048"}, Metadata: []string{"domain=" + dom, "rrtype=" + rrtype}}
		return sdk.EmitAlert(a.On(ev))
	})
}

func (t *tunnels) Flush() error { return nil }
