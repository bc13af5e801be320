// Command c2 is the Firebreak module that finds malware talking to its
// command-and-control server and fetching its payloads: HTTP to a bare
// public IP address on an unusual port, HTTP POSTs to a bare public IP
// without a referer, TLS without a server name to a public address that
// presents a self-signed certificate, executable downloads, JA3
// fingerprints from a configurable blocklist, and beaconing (a host
// reaching the same server and port at regular intervals). Each alert
// names the infected host as source and the server as destination. It
// must never alert on private or loopback servers for the bare-address
// rules, where appliances and intranet tools are reached by address.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o c2.wasm .
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&c2{}) }

// Config is the module's config (JSON); zero fields take the defaults.
type Config struct {
	// JA3 is a blocklist of JA3 client fingerprints (MD5, hex), each
	// with what it is: {"72a589da586844d7f0818ce684948eea": "Emotet"}.
	JA3 map[string]string `json:"ja3"`
	// WebPorts are the ports on which HTTP to a bare address is usual
	// (default 80, 443, 8000, 8008, 8080, 8443, 8888).
	WebPorts []uint16 `json:"web_ports"`
	// BeaconCount is the connections to one server and port after which
	// their timing is judged (default 8); BeaconJitter the largest
	// coefficient of variation of the intervals (standard deviation over
	// mean) that is still a beacon (default 0.15); BeaconMinPeriod and
	// BeaconMaxPeriod bound the mean interval in seconds (defaults 10
	// and 86400).
	BeaconCount     int     `json:"beacon_count"`
	BeaconJitter    float64 `json:"beacon_jitter"`
	BeaconMinPeriod float64 `json:"beacon_min_period"`
	BeaconMaxPeriod float64 `json:"beacon_max_period"`
	// MaxTracked bounds the (client, server, port) triples followed for
	// beaconing and the alerts remembered (default 8192).
	MaxTracked int `json:"max_tracked"`
}

// Signature IDs.
const (
	sidBareUnusualPort = 1022001
	sidBarePost        = 1022002
	sidSelfSigned      = 1022003
	sidExecutable      = 1022004
	sidJA3             = 1022005
	sidBeacon          = 1022006
)

// Keys hold addresses as 16 bytes, not netip.Addr: hashing a flat array is
// about three times faster in the guest (netip.Addr holds a pointer).
type addr = [16]byte

type target struct {
	src, dst addr
	port     uint16
}

type seenKey struct {
	src, dst addr
	sid      uint32
}

type c2 struct {
	cfg      Config
	webPorts map[uint16]bool
	ja3      map[string]string
	starts   map[target][]int64 // flow start times, Unix ns
	seen     map[seenKey]bool
}

func (c *c2) Init(config []byte) error {
	if len(config) > 0 {
		if err := json.Unmarshal(config, &c.cfg); err != nil {
			return fmt.Errorf("c2 config: %w", err)
		}
	}
	cf := &c.cfg
	if len(cf.WebPorts) == 0 {
		cf.WebPorts = []uint16{80, 443, 8000, 8008, 8080, 8443, 8888}
	}
	if cf.BeaconCount <= 0 {
		cf.BeaconCount = 8
	}
	if cf.BeaconCount < 4 {
		return fmt.Errorf("c2 config: beacon_count %d: at least 4 connections are needed to judge timing", cf.BeaconCount)
	}
	if cf.BeaconJitter <= 0 {
		cf.BeaconJitter = 0.15
	}
	if cf.BeaconMinPeriod <= 0 {
		cf.BeaconMinPeriod = 10
	}
	if cf.BeaconMaxPeriod <= 0 {
		cf.BeaconMaxPeriod = 86400
	}
	if cf.MaxTracked <= 0 {
		cf.MaxTracked = 8192
	}
	c.webPorts = map[uint16]bool{}
	for _, p := range cf.WebPorts {
		c.webPorts[p] = true
	}
	c.ja3 = map[string]string{}
	for h, name := range cf.JA3 {
		h = strings.ToLower(strings.TrimSpace(h))
		if len(h) != 32 || strings.Trim(h, "0123456789abcdef") != "" {
			return fmt.Errorf("c2 config: ja3 %q: want 32 hex digits (an MD5)", h)
		}
		c.ja3[h] = name
	}
	c.starts, c.seen = map[target][]int64{}, map[seenKey]bool{}
	return nil
}

// cgnat is carrier-grade NAT space (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// public reports whether a is an address on the internet: not private,
// loopback, link-local, multicast, unspecified or carrier-grade NAT.
func public(a netip.Addr) bool {
	if !a.IsValid() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	return !cgnat.Contains(a)
}

// bareAddr reports whether an HTTP Host is an IP address literal, with or
// without a port. Names are told apart by their characters first, so the
// common case allocates nothing in the guest.
func bareAddr(host string) bool {
	if strings.HasPrefix(host, "[") { // [v6] or [v6]:port
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return false
		}
		_, err := netip.ParseAddr(host[1:end])
		return err == nil
	}
	if strings.Count(host, ":") == 1 { // v4:port or name:port
		host, _, _ = strings.Cut(host, ":")
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '.' || c == ':') {
			return false
		}
	}
	_, err := netip.ParseAddr(host)
	return host != "" && err == nil
}

// namedReferer reports whether a Referer is a URL on a named site (some
// malware sends its own URL, on the bare address, as referer).
func namedReferer(ref string) bool {
	_, rest, ok := strings.Cut(ref, "://")
	if !ok {
		return false
	}
	host, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 { // user info
		host = host[i+1:]
	}
	return host != "" && !bareAddr(host)
}

// Content types and path extensions of programs.
var (
	execTypes = []string{"application/x-dosexec", "application/x-msdownload", "application/x-msdos-program",
		"application/vnd.microsoft.portable-executable", "application/x-executable", "application/x-elf",
		"application/hta", "application/x-ms-shortcut"}
	execExts = []string{".exe", ".dll", ".scr", ".msi", ".ps1", ".hta", ".vbs", ".jar", ".bat", ".elf"}
)

// executable reports whether an HTTP transaction delivered a program: by
// its content type, or by the extension of the path it asked for.
func executable(contentType, url string) (string, bool) {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(ct)
	for _, t := range execTypes {
		if strings.EqualFold(ct, t) {
			return t, true
		}
	}
	path := url
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	for _, ext := range execExts {
		if len(path) >= len(ext) && strings.EqualFold(path[len(path)-len(ext):], ext) {
			return ext, true
		}
	}
	return "", false
}

func (c *c2) emit(ev sdk.Event, a sdk.Alert) error {
	k := seenKey{ev.Src().As16(), ev.Dst().As16(), a.SignatureID}
	if c.seen[k] {
		return nil
	}
	if len(c.seen) < c.cfg.MaxTracked {
		c.seen[k] = true
	}
	if a.Category == "" {
		a.Category = "A Network Trojan was detected"
	}
	return sdk.EmitAlert(a.On(ev))
}

func (c *c2) Batch(b sdk.Batch) error {
	return b.Each(func(ev sdk.Event) error {
		switch ev.Kind() {
		case sdk.KindHTTP:
			return c.http(ev)
		case sdk.KindTLS:
			return c.tls(ev)
		case sdk.KindFlow:
			return c.flow(ev)
		}
		return nil
	})
}

func (c *c2) http(ev sdk.Event) error {
	host, port := ev.Str(sdk.FieldHTTPHost), ev.DstPort()
	if bareAddr(host) && public(ev.Dst()) {
		if !c.webPorts[port] {
			if err := c.emit(ev, sdk.Alert{Signature: fmt.Sprintf("FIREBREAK C2: HTTP to a bare IP address on unusual port %d", port),
				SignatureID: sidBareUnusualPort, Severity: 1, Techniques: []string{"T1071.001", "T1571"},
				Metadata: []string{"host=" + host, "port=" + strconv.Itoa(int(port))}}); err != nil {
				return err
			}
		}
		if ev.Str(sdk.FieldHTTPMethod) == "POST" && !namedReferer(ev.Str(sdk.FieldHTTPReferer)) {
			if err := c.emit(ev, sdk.Alert{Signature: "FIREBREAK C2: HTTP POST to a bare IP address, no referer from a named site",
				SignatureID: sidBarePost, Severity: 2, Techniques: []string{"T1071.001", "T1041"},
				Metadata: []string{"host=" + host, "url=" + ev.Str(sdk.FieldHTTPURL), "user_agent=" + ev.Str(sdk.FieldHTTPUserAgent)}}); err != nil {
				return err
			}
		}
	}
	if what, ok := executable(ev.Str(sdk.FieldHTTPContentType), ev.Str(sdk.FieldHTTPURL)); ok && ev.Uint(sdk.FieldHTTPStatus) == 200 {
		sev := 2
		if bareAddr(host) {
			sev = 1
		}
		return c.emit(ev, sdk.Alert{Signature: "FIREBREAK payload download: executable (" + what + ") over HTTP",
			SignatureID: sidExecutable, Severity: sev, Techniques: []string{"T1105"},
			Metadata: []string{"host=" + host, "url=" + ev.Str(sdk.FieldHTTPURL)}})
	}
	return nil
}

func (c *c2) tls(ev sdk.Event) error {
	if name, ok := c.ja3[strings.ToLower(ev.Str(sdk.FieldTLSJA3))]; ok {
		if err := c.emit(ev, sdk.Alert{Signature: "FIREBREAK C2: blocklisted JA3 fingerprint of " + name,
			SignatureID: sidJA3, Severity: 1, Techniques: []string{"T1573", "T1071.001"},
			Metadata: []string{"ja3=" + ev.Str(sdk.FieldTLSJA3)}}); err != nil {
			return err
		}
	}
	subject := ev.Str(sdk.FieldTLSSubject)
	if ev.Str(sdk.FieldTLSSNI) == "" && subject != "" && subject == ev.Str(sdk.FieldTLSIssuer) && public(ev.Dst()) {
		return c.emit(ev, sdk.Alert{Signature: "FIREBREAK C2: TLS without server name to a self-signed certificate",
			SignatureID: sidSelfSigned, Severity: 1, Techniques: []string{"T1573", "T1071.001"},
			Metadata: []string{"subject=" + subject}})
	}
	return nil
}

// flow follows connection start times per client, server and port and
// reports a beacon when their intervals are regular.
func (c *c2) flow(ev sdk.Event) error {
	start := int64(ev.Uint(sdk.FieldFlowStart))
	if start <= 0 || ev.Proto() != 6 && ev.Proto() != 17 || ev.DstPort() == 53 {
		return nil // DNS lookups repeat on their own schedule (TTLs)
	}
	k := target{ev.Src().As16(), ev.Dst().As16(), ev.DstPort()}
	if c.seen[seenKey{k.src, k.dst, sidBeacon}] {
		return nil // reported: its timing need not be followed any more
	}
	ts, ok := c.starts[k]
	if !ok && len(c.starts) >= c.cfg.MaxTracked {
		return nil
	}
	n := c.cfg.BeaconCount
	if ts == nil {
		ts = make([]int64, 0, 2*n+1) // one allocation per target
	}
	// Flows end, and are reported, out of order: insert in order, keep the
	// latest 2n.
	i, _ := slices.BinarySearch(ts, start)
	ts = slices.Insert(ts, i, start)
	if len(ts) > 2*n {
		ts = slices.Delete(ts, 0, len(ts)-2*n)
	}
	c.starts[k] = ts
	if len(ts) < n {
		return nil
	}
	s := ts[len(ts)-n:]
	mean, sd := intervals(s)
	if mean < c.cfg.BeaconMinPeriod || mean > c.cfg.BeaconMaxPeriod || sd/mean > c.cfg.BeaconJitter {
		return nil
	}
	return c.emit(ev, sdk.Alert{
		Signature:   fmt.Sprintf("FIREBREAK C2 beacon: %d connections to port %d every %.0f s (jitter %.0f%%)", n, k.port, mean, 100*sd/mean),
		SignatureID: sidBeacon, Severity: 2, Techniques: []string{"T1071"},
		Metadata: []string{"period_seconds=" + strconv.FormatFloat(mean, 'f', 1, 64),
			"jitter=" + strconv.FormatFloat(sd/mean, 'f', 3, 64)}})
}

// intervals is the mean and standard deviation, in seconds, of the gaps
// between sorted times in nanoseconds.
func intervals(ts []int64) (mean, sd float64) {
	var sum, sq float64
	n := float64(len(ts) - 1)
	for i := 1; i < len(ts); i++ {
		d := float64(ts[i]-ts[i-1]) / 1e9
		sum += d
		sq += d * d
	}
	mean = sum / n
	return mean, math.Sqrt(max(sq/n-mean*mean, 0))
}

func (c *c2) Flush() error { return nil }
