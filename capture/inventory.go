package capture

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Host is one address seen in traffic, with what the traffic says about it.
type Host struct {
	IP        string     `json:"ip"`
	Private   bool       `json:"private"` // RFC 1918, unique-local, link-local or loopback
	MACs      []string   `json:"macs,omitempty"`
	Names     []HostName `json:"names,omitempty"`
	Services  []Service  `json:"services,omitempty"` // what it answered as a server
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
	Flows     uint64     `json:"flows"`     // flows it took part in
	BytesOut  uint64     `json:"bytes_out"` // bytes it sent
	BytesIn   uint64     `json:"bytes_in"`  // bytes it received
}

// HostName is a name a host went by, and where the traffic said so.
type HostName struct {
	Name   string `json:"name"`
	Source string `json:"source"` // dns, dhcp, tls-sni (served certificate names), http-host
}

// Service is a port a host answered on.
type Service struct {
	Proto    string `json:"proto"`
	Port     uint16 `json:"port"`
	AppProto string `json:"app_proto,omitempty"`
	Flows    uint64 `json:"flows"`
}

// Inventory builds the list of hosts from the events of an analysis. It
// keeps at most MaxHosts hosts and a bounded number of names and services
// each, so hostile traffic cannot grow it without limit. It is not safe for
// concurrent use.
type Inventory struct {
	hosts map[netip.Addr]*Host
	// Dropped counts hosts not kept because the inventory was full.
	Dropped uint64
}

// Limits of an Inventory.
const (
	MaxHosts        = 65536
	maxNamesPerHost = 32
	maxServices     = 64
	maxMACs         = 8
)

// NewInventory returns an empty inventory.
func NewInventory() *Inventory { return &Inventory{hosts: map[netip.Addr]*Host{}} }

const eveTime = "2006-01-02T15:04:05.999999-0700"

func (inv *Inventory) host(ip string, at time.Time) *Host {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil
	}
	a = a.Unmap()
	if a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return nil
	}
	h, ok := inv.hosts[a]
	if !ok {
		if len(inv.hosts) >= MaxHosts {
			inv.Dropped++
			return nil
		}
		h = &Host{IP: a.String(), Private: a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast(), FirstSeen: at, LastSeen: at}
		inv.hosts[a] = h
	}
	if !at.IsZero() {
		if at.Before(h.FirstSeen) || h.FirstSeen.IsZero() {
			h.FirstSeen = at
		}
		if at.After(h.LastSeen) {
			h.LastSeen = at
		}
	}
	return h
}

func (h *Host) addName(name, source string) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if name == "" || len(name) > 253 {
		return
	}
	for _, n := range h.Names {
		if n.Name == name && n.Source == source {
			return
		}
	}
	if len(h.Names) < maxNamesPerHost {
		h.Names = append(h.Names, HostName{Name: name, Source: source})
	}
}

func (h *Host) addMAC(mac string) {
	mac = strings.ToLower(mac)
	if mac == "" || slices.Contains(h.MACs, mac) || len(h.MACs) >= maxMACs {
		return
	}
	h.MACs = append(h.MACs, mac)
}

// Observe takes one event into the inventory.
func (inv *Inventory) Observe(ev *Event) {
	at, _ := time.Parse(eveTime, ev.Timestamp)
	switch {
	case ev.Flow != nil:
		src, dst := inv.host(ev.SrcIP, at), inv.host(ev.DestIP, at)
		f := ev.Flow
		if src != nil {
			src.Flows++
			src.BytesOut += f.BytesToServer
			src.BytesIn += f.BytesToClient
		}
		if dst != nil {
			dst.Flows++
			dst.BytesOut += f.BytesToClient
			dst.BytesIn += f.BytesToServer
			// A server that answered offers the service.
			if f.PktsToClient > 0 && ev.DestPort != nil && (ev.Proto == "TCP" || ev.Proto == "UDP") {
				dst.addService(ev.Proto, *ev.DestPort, ev.AppProto)
			}
		}
	case ev.DNS != nil && ev.DNS.Type == "response":
		for _, a := range ev.DNS.Answers {
			if (a.RRType == "A" || a.RRType == "AAAA") && a.RData != nil {
				if h := inv.host(*a.RData, at); h != nil {
					h.addName(a.RRName, "dns")
				}
			}
		}
	case ev.DHCP != nil:
		ip := ev.DHCP.AssignedIP
		if ip == "" || ip == "0.0.0.0" {
			ip = ev.DHCP.ClientIP
		}
		if h := inv.host(ip, at); h != nil && ip != "0.0.0.0" {
			h.addMAC(ev.DHCP.ClientMAC)
			if ev.DHCP.Hostname != nil {
				h.addName(*ev.DHCP.Hostname, "dhcp")
			}
		}
	case ev.TLS != nil && ev.TLS.SNI != "":
		if h := inv.host(ev.DestIP, at); h != nil {
			h.addName(ev.TLS.SNI, "tls-sni")
		}
	case ev.HTTP != nil && ev.HTTP.Hostname != "":
		if _, err := netip.ParseAddr(ev.HTTP.Hostname); err != nil {
			if h := inv.host(ev.DestIP, at); h != nil {
				h.addName(ev.HTTP.Hostname, "http-host")
			}
		}
	}
}

func (h *Host) addService(proto string, port uint16, app string) {
	for i := range h.Services {
		s := &h.Services[i]
		if s.Proto == proto && s.Port == port {
			s.Flows++
			if s.AppProto == "" || s.AppProto == "failed" {
				s.AppProto = app
			}
			return
		}
	}
	if len(h.Services) < maxServices {
		h.Services = append(h.Services, Service{Proto: proto, Port: port, AppProto: app, Flows: 1})
	}
}

// Hosts returns the hosts in address order; private addresses first.
func (inv *Inventory) Hosts() []Host {
	keys := make([]netip.Addr, 0, len(inv.hosts))
	for a := range inv.hosts {
		keys = append(keys, a)
	}
	slices.SortFunc(keys, func(a, b netip.Addr) int {
		pa, pb := inv.hosts[a].Private, inv.hosts[b].Private
		if pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		return a.Compare(b)
	})
	out := make([]Host, len(keys))
	for i, a := range keys {
		h := *inv.hosts[a]
		h.MACs, h.Names, h.Services = slices.Clone(h.MACs), slices.Clone(h.Names), slices.Clone(h.Services)
		slices.SortFunc(h.Services, func(x, y Service) int { return int(x.Port) - int(y.Port) })
		out[i] = h
	}
	return out
}
