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

// What has been reported for a client and domain (bits of done).
const (
	exfilReported  = 1 << iota // the one-query exfiltration alert
	tunnelReported             // the tunnel alert
)

type tunnels struct {
	cfg   Config
	count map[key]*int
	done  map[key]uint8 // one lookup per query tells both
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
	t.count, t.done = map[key]*int{}, map[key]uint8{}
	return nil
}

// clog2[c] is c·log2(c), so that entropy needs one logarithm per label,
// not one per distinct character (logarithms are slow in the guest).
var clog2 = func() (t [256]float64) {
	for c := 1; c < len(t); c++ {
		t[c] = float64(c) * math.Log2(float64(c))
	}
	return t
}()

// entropy is the Shannon entropy of s in bits per byte:
// log2(n) − Σ c·log2(c) / n over the count c of each distinct byte.
func entropy(s string) float64 {
	if len(s) == 0 || len(s) >= len(clog2) {
		return 0 // a DNS label is at most 63 bytes
	}
	var n [256]uint8
	for i := 0; i < len(s); i++ {
		n[s[i]]++
	}
	sum := 0.0
	for i := 0; i < len(s); i++ {
		if c := n[s[i]]; c > 0 {
			sum += clog2[c]
			n[s[i]] = 0
		}
	}
	return math.Log2(float64(len(s))) - sum/float64(len(s))
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
// It walks the labels in place: the guest allocates nothing per query.
func (t *tunnels) longestRandom(name string) int {
	longest := 0
	for name != "" {
		l, rest, _ := strings.Cut(name, ".")
		if len(l) >= t.cfg.LongLabel && len(l) > longest && entropy(l) >= t.cfg.Entropy {
			longest = len(l)
		}
		name = rest
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
		k := key{ev.Src(), dom}
		done := t.done[k]
		if done == exfilReported|tunnelReported {
			return nil // both alerts raised: nothing left to find for this pair
		}
		sub := strings.TrimSuffix(strings.TrimSuffix(name, "."), dom) // the labels under the domain
		random := t.longestRandom(strings.TrimSuffix(sub, "."))
		if random >= t.cfg.ExfilLabel && done&exfilReported == 0 && len(t.done) < t.cfg.MaxTracked {
			t.done[key{k.src, strings.Clone(dom)}] = done | exfilReported
			a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK DNS exfiltration: %d-character random label in a query for %s", random, dom),
				Category: "Potential Corporate Privacy Violation", Severity: 1, SignatureID: 1001001,
				Techniques: []string{"T1048"}, Metadata: []string{"domain=" + dom, "rrtype=" + rrtype}}
			if err := sdk.EmitAlert(a.On(ev)); err != nil {
				return err
			}
		}
		if done&tunnelReported != 0 || random == 0 && rrtype != "NULL" && len(name) < 100 {
			return nil
		}
		// The domain aliases the batch: a key is stored only as a copy, and
		// the count is raised through its pointer (assigning to an existing
		// key would store the caller's key again).
		c := t.count[k]
		if c == nil {
			if len(t.count) >= t.cfg.MaxTracked {
				return nil
			}
			c = new(int)
			t.count[key{k.src, strings.Clone(dom)}] = c
		}
		if *c++; *c < t.cfg.Queries {
			return nil
		}
		delete(t.count, k)
		t.done[key{k.src, strings.Clone(dom)}] = done | tunnelReported
		a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK DNS tunnel: %d+ encoded or %s queries to %s", t.cfg.Queries, rrtype, dom),
			Category: "Potential Corporate Privacy Violation", Severity: 1, SignatureID: 1001002,
			Techniques: []string{"T1071.004", "T1048"}, Metadata: []string{"domain=" + dom, "rrtype=" + rrtype}}
		return sdk.EmitAlert(a.On(ev))
	})
}

func (t *tunnels) Flush() error { return nil }
