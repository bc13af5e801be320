// Command covert is the Firebreak module that finds covert channels in
// ICMP from flow records: a two-way ICMP flow that lasts, whose packets
// are much larger on average than ping's (a tunnel carries data in the
// echo payload), or whose packet rate is far above ping's one a second.
// Ping itself, ICMP errors (one way) and short bursts must never be
// reported.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o covert.wasm .
package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&covert{}) }

// Config is the module's config (JSON); zero fields take the defaults.
type Config struct {
	// MeanBytes is the mean frame size, bytes per packet, from which an
	// ICMP flow carries more than ping does (default 150: ping sends 98
	// bytes on Linux, 74 on Windows, 118 over IPv6).
	MeanBytes int `json:"mean_bytes"`
	// MinPackets and MinSeconds make a flow long-lived (defaults 50 and
	// 30): a few large pings (a path MTU test) are not a channel.
	MinPackets int `json:"min_packets"`
	MinSeconds int `json:"min_seconds"`
	// RatePackets is the packets per second, both ways, from which a
	// long ICMP flow is not ping (default 10; ping sends 2: one request,
	// one reply); RateMinPackets the packets it needs (default 1000).
	RatePackets    float64 `json:"rate_packets"`
	RateMinPackets int     `json:"rate_min_packets"`
}

// Signature IDs.
const (
	sidPayload = 1021001
	sidRate    = 1021002
)

type pair struct{ src, dst netip.Addr }

type covert struct {
	cfg     Config
	alerted map[pair]bool
}

func (c *covert) Init(config []byte) error {
	if len(config) > 0 {
		if err := json.Unmarshal(config, &c.cfg); err != nil {
			return fmt.Errorf("covert config: %w", err)
		}
	}
	cf := &c.cfg
	if cf.MeanBytes <= 0 {
		cf.MeanBytes = 150
	}
	if cf.MinPackets <= 0 {
		cf.MinPackets = 50
	}
	if cf.MinSeconds <= 0 {
		cf.MinSeconds = 30
	}
	if cf.RatePackets <= 0 {
		cf.RatePackets = 10
	}
	if cf.RateMinPackets <= 0 {
		cf.RateMinPackets = 1000
	}
	c.alerted = map[pair]bool{}
	return nil
}

func (c *covert) Batch(b sdk.Batch) error {
	return b.Each(func(ev sdk.Event) error {
		if ev.Kind() != sdk.KindFlow || ev.Proto() != 1 && ev.Proto() != 58 {
			return nil
		}
		up, down := ev.Uint(sdk.FieldPktsToServer), ev.Uint(sdk.FieldPktsToClient)
		if up == 0 || down == 0 { // errors and unanswered probes go one way; a channel needs both
			return nil
		}
		pkts := up + down
		bytes := ev.Uint(sdk.FieldBytesToServer) + ev.Uint(sdk.FieldBytesToClient)
		secs := 0.0
		if start := int64(ev.Uint(sdk.FieldFlowStart)); start > 0 && ev.Time() > start {
			secs = float64(ev.Time()-start) / 1e9
		}
		mean := bytes / pkts
		var a sdk.Alert
		switch {
		case pkts >= uint64(c.cfg.MinPackets) && secs >= float64(c.cfg.MinSeconds) && mean >= uint64(c.cfg.MeanBytes):
			a = sdk.Alert{Signature: fmt.Sprintf("FIREBREAK ICMP tunnel: %d packets averaging %d bytes over %.0f s, unlike ping", pkts, mean, secs),
				SignatureID: sidPayload, Severity: 1}
		case pkts >= uint64(c.cfg.RateMinPackets) && secs >= float64(c.cfg.MinSeconds) && float64(pkts)/secs >= c.cfg.RatePackets:
			a = sdk.Alert{Signature: fmt.Sprintf("FIREBREAK ICMP tunnel: %d packets at %.0f a second over %.0f s, unlike ping", pkts, float64(pkts)/secs, secs),
				SignatureID: sidRate, Severity: 2}
		default:
			return nil
		}
		k := pair{ev.Src(), ev.Dst()}
		if c.alerted[k] {
			return nil
		}
		c.alerted[k] = true
		a.Category = "Potential Corporate Privacy Violation"
		a.Techniques = []string{"T1095", "T1572"}
		a.Metadata = []string{"packets=" + strconv.FormatUint(pkts, 10), "bytes=" + strconv.FormatUint(bytes, 10),
			"seconds=" + strconv.FormatFloat(secs, 'f', 0, 64)}
		return sdk.EmitAlert(a.On(ev))
	})
}

func (c *covert) Flush() error { return nil }
