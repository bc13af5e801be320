// Command portscan is the Firebreak module that finds port scans in ended
// flows: vertical scans (one source probing many ports of one host) and
// horizontal scans (one source probing one port on many hosts), TCP and
// UDP; and ARP sweeps in ARP requests (one host asking for many addresses
// within seconds). A probe is a flow that exchanged no payload: a SYN answered by a RST
// or by nothing, a connect-and-reset, a UDP datagram with no answer. It
// raises one alert per scan, when the threshold is crossed; it must never
// alert twice for the same scanner and target, so a scan of 65535 ports is
// one alert, not thousands.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o portscan.wasm .
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&scanner{}) }

// Config is the module's config (JSON); zero fields take the defaults.
type Config struct {
	Ports int `json:"ports"` // distinct ports probed on one host: vertical scan (default 5)
	Hosts int `json:"hosts"` // distinct hosts probed on one port: horizontal scan (default 5)
	// MaxSources bounds the memory: sources tracked at once (default 4096).
	MaxSources int `json:"max_sources"`
	// ARPHosts distinct addresses asked for by one host within ARPWindowS
	// seconds of packet time make an ARP sweep (defaults 32 and 10): a
	// gateway resolves many addresses too, but over minutes, not seconds.
	ARPHosts   int `json:"arp_hosts"`
	ARPWindowS int `json:"arp_window_s"`
}

// arpWatch is what one host asked for by ARP in the current window.
type arpWatch struct {
	start   int64 // packet time the window opened, Unix ns
	targets map[netip.Addr]struct{}
}

// Keys hold addresses as 16 bytes, not netip.Addr: hashing a flat array is
// about three times faster in the guest (netip.Addr holds a pointer).
type addr = [16]byte

type pair struct{ src, dst addr }
type svc struct {
	src   addr
	port  uint16
	proto uint8
}

type scanner struct {
	cfg       Config
	ports     map[pair]map[uint16]bool // vertical; a nil set once reported
	hosts     map[svc]map[addr]bool    // horizontal; a nil set once reported
	nsrc      map[addr]bool
	arp       map[netip.Addr]*arpWatch
	alertedA  map[netip.Addr]bool
	overflows int
}

func (s *scanner) Init(config []byte) error {
	if len(config) > 0 {
		if err := json.Unmarshal(config, &s.cfg); err != nil {
			return fmt.Errorf("portscan config: %w", err)
		}
	}
	if s.cfg.Ports <= 0 {
		s.cfg.Ports = 5
	}
	if s.cfg.Hosts <= 0 {
		s.cfg.Hosts = 5
	}
	if s.cfg.MaxSources <= 0 {
		s.cfg.MaxSources = 4096
	}
	if s.cfg.ARPHosts <= 0 {
		s.cfg.ARPHosts = 32
	}
	if s.cfg.ARPWindowS <= 0 {
		s.cfg.ARPWindowS = 10
	}
	s.arp, s.alertedA = map[netip.Addr]*arpWatch{}, map[netip.Addr]bool{}
	s.ports, s.hosts, s.nsrc = map[pair]map[uint16]bool{}, map[svc]map[addr]bool{}, map[addr]bool{}
	return nil
}

// TCP flag bits.
const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
)

// probe reports whether a flow exchanged no payload.
func probe(ev sdk.Event) bool {
	switch ev.Proto() {
	case 6: // the counters come before the flags in the record: read them first
		// Payload without PSH is rare; a few bytes of options are not.
		if ev.Uint(sdk.FieldPktsToServer) > 3 || ev.Uint(sdk.FieldBytesToServer) > 3*80 {
			return false
		}
		return ev.Uint(sdk.FieldTCPFlags)&psh == 0
	case 17:
		return ev.Uint(sdk.FieldPktsToClient) == 0 && ev.Uint(sdk.FieldPktsToServer) <= 2
	}
	return false
}

func (s *scanner) Batch(b sdk.Batch) error {
	return b.Each(func(ev sdk.Event) error {
		if ev.Kind() == sdk.KindPacket {
			return s.arpRequest(ev)
		}
		if ev.Kind() != sdk.KindFlow || !probe(ev) {
			return nil
		}
		src, dst := ev.Src(), ev.Dst()
		if !src.IsValid() || !dst.IsValid() {
			return nil
		}
		src16, dst16 := src.As16(), dst.As16()
		if !s.nsrc[src16] {
			if len(s.nsrc) >= s.cfg.MaxSources {
				s.overflows++
				return nil
			}
			s.nsrc[src16] = true
		}
		p := pair{src16, dst16}
		if set, ok := s.ports[p]; !ok || set != nil {
			if set == nil {
				set = map[uint16]bool{}
				s.ports[p] = set
			}
			set[ev.DstPort()] = true
			if len(set) >= s.cfg.Ports {
				s.ports[p] = nil // reported: never again
				a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK port scan: %s probed %d+ %s ports of %s", src, s.cfg.Ports, protoName(ev.Proto()), dst),
					Category: "Attempted Information Leak", Severity: 2, SignatureID: 1000001, Techniques: []string{"T1046"},
					Metadata: []string{"scan_type=vertical"}}
				if err := sdk.EmitAlert(a.On(ev)); err != nil {
					return err
				}
			}
		}
		k := svc{src16, ev.DstPort(), ev.Proto()}
		if set, ok := s.hosts[k]; !ok || set != nil {
			if set == nil {
				set = map[addr]bool{}
				s.hosts[k] = set
			}
			set[dst16] = true
			if len(set) >= s.cfg.Hosts {
				s.hosts[k] = nil // reported: never again
				a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK port sweep: %s probed %s port %d on %d+ hosts", src, protoName(ev.Proto()), k.port, s.cfg.Hosts),
					Category: "Attempted Information Leak", Severity: 2, SignatureID: 1000002, Techniques: []string{"T1046"},
					Metadata: []string{"scan_type=horizontal"}}
				if err := sdk.EmitAlert(a.On(ev)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// arpRequest follows ARP requests (who-has) per sender and reports a
// sweep: ARP is how a scanner on the segment finds every live host, and
// hosts that drop every probe still answer it.
func (s *scanner) arpRequest(ev sdk.Event) error {
	p := ev.Bytes(sdk.FieldPayload)
	// Ethernet/IPv4 ARP: htype 1, ptype 0x0800, hlen 6, plen 4, oper 1 (request).
	if ev.Uint(sdk.FieldEtherType) != 0x0806 || len(p) < 28 || binary.BigEndian.Uint16(p) != 1 ||
		binary.BigEndian.Uint16(p[2:]) != 0x0800 || p[4] != 6 || p[5] != 4 || binary.BigEndian.Uint16(p[6:]) != 1 {
		return nil
	}
	sender, target := netip.AddrFrom4([4]byte(p[14:18])), netip.AddrFrom4([4]byte(p[24:28]))
	if sender.IsUnspecified() || sender == target || s.alertedA[sender] {
		return nil // an address probe (RFC 5227) or a gratuitous announcement
	}
	w := s.arp[sender]
	if w == nil || ev.Time()-w.start > int64(s.cfg.ARPWindowS)*1e9 {
		if w == nil && len(s.arp) >= s.cfg.MaxSources {
			s.overflows++
			return nil
		}
		w = &arpWatch{start: ev.Time(), targets: map[netip.Addr]struct{}{}}
		s.arp[sender] = w
	}
	w.targets[target] = struct{}{}
	if len(w.targets) < s.cfg.ARPHosts {
		return nil
	}
	s.alertedA[sender] = true
	delete(s.arp, sender)
	a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK ARP sweep: %s asked for %d+ addresses within %d s", sender, s.cfg.ARPHosts, s.cfg.ARPWindowS),
		Category: "Attempted Information Leak", Severity: 2, SignatureID: 1000003, Techniques: []string{"T1046", "T1018"},
		Metadata: []string{"scan_type=arp"}}
	a.On(ev)
	a.Src = sender
	return sdk.EmitAlert(&a)
}

func (s *scanner) Flush() error {
	if s.overflows > 0 {
		sdk.Log(sdk.LevelWarn, fmt.Sprintf("%d probes not tracked: more than %d sources", s.overflows, s.cfg.MaxSources))
	}
	return nil
}

func protoName(p uint8) string {
	if p == 17 {
		return "UDP"
	}
	return "TCP"
}
