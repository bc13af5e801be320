package contain

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/firebreak-ir/firebreak/netctl"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Facts is a source of what the appliance knows about the segment, merged
// into the netctl.Environment of every safety check. The box itself is one
// source (its routing table and addresses); the capture engine will be
// another (the DNS and DHCP servers it sees answering, addresses seen with
// many MACs, the gateway's MAC). Environment is called on every add and
// plan, so it must be cheap and safe for concurrent use.
type Facts interface {
	Environment() netctl.Environment
}

// FactsFunc adapts a function to Facts.
type FactsFunc func() netctl.Environment

// Environment implements Facts.
func (f FactsFunc) Environment() netctl.Environment { return f() }

// Flow is a live flow a plan would cut, as the capture engine sees it.
type Flow struct {
	Proto   string `json:"proto"`
	SrcIP   string `json:"src_ip"`
	SrcPort uint16 `json:"src_port,omitempty"`
	DestIP  string `json:"dest_ip"`
	DstPort uint16 `json:"dest_port,omitempty"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	App     string `json:"app_proto,omitempty"`
	Last    string `json:"last_seen,omitempty"`
	Spared  bool   `json:"spared,omitempty"` // an exception lets it through
}

// Flows is the capture engine's live flow table, as a plan needs it.
type Flows interface {
	// FlowsOf returns the live flows from or to the target.
	FlowsOf(t netctl.Target) ([]Flow, error)
}

// box reads the safety facts from the appliance's own kernel: its default
// gateways and its own addresses, in the daemon's namespace and in the
// managed one.
type box struct {
	listen netip.Addr
	// handles: the daemon's namespace first, then the managed one if it
	// is another.
	handles []*netlink.Handle
}

func newBox(listen string, nsPath string) (*box, error) {
	b := &box{}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
			b.listen = a.Unmap()
		}
	}
	own, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	b.handles = append(b.handles, own)
	if nsPath != "" {
		ns, err := netns.GetFromPath(nsPath)
		if err != nil {
			b.close()
			return nil, fmt.Errorf("open netns %s: %w", nsPath, err)
		}
		h, err := netlink.NewHandleAt(ns)
		ns.Close()
		if err != nil {
			b.close()
			return nil, fmt.Errorf("netlink in %s: %w", nsPath, err)
		}
		b.handles = append(b.handles, h)
	}
	return b, nil
}

func (b *box) close() {
	for _, h := range b.handles {
		h.Close()
	}
	b.handles = nil
}

// dump retries a netlink dump the kernel interrupted (the table changed
// while it was read).
func dump[T any](f func() ([]T, error)) ([]T, error) {
	var err error
	for range 5 {
		var out []T
		if out, err = f(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}

// Environment implements Facts: gateways are the next hops of default
// routes; the management addresses are every address of the appliance
// (in either namespace) and the --listen address; the management links
// are those that carry the daemon's default routes.
func (b *box) Environment() netctl.Environment {
	var env netctl.Environment
	if b.listen.IsValid() && !b.listen.IsLoopback() {
		env.Management = append(env.Management, b.listen)
	}
	for i, h := range b.handles {
		for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			routes, err := dump(func() ([]netlink.Route, error) {
				return h.RouteListFiltered(fam, &netlink.Route{Table: 254}, netlink.RT_FILTER_TABLE)
			})
			if err != nil {
				continue
			}
			for _, r := range routes {
				if r.Dst != nil {
					if ones, _ := r.Dst.Mask.Size(); ones != 0 {
						continue
					}
				}
				gws := []net.IP{r.Gw}
				for _, nh := range r.MultiPath {
					gws = append(gws, nh.Gw)
				}
				for _, gw := range gws {
					if a, ok := netip.AddrFromSlice(gw); ok && !a.IsUnspecified() {
						env.Gateways = appendAddr(env.Gateways, a.Unmap())
					}
				}
				if i == 0 && r.LinkIndex > 0 {
					if l, err := h.LinkByIndex(r.LinkIndex); err == nil && !slices.Contains(env.ManagementLinks, l.Attrs().Name) {
						env.ManagementLinks = append(env.ManagementLinks, l.Attrs().Name)
					}
				}
			}
		}
		addrs, err := dump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_ALL) })
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() {
				continue
			}
			env.Management = appendAddr(env.Management, ip)
		}
	}
	return env
}

// neighbours returns the MACs the appliance's neighbour tables hold for
// addr: a hint for the engineer, never applied on its own.
func (b *box) neighbours(addr netip.Addr) []string {
	var out []string
	for _, h := range b.handles {
		ns, err := dump(func() ([]netlink.Neigh, error) { return h.NeighList(0, netlink.FAMILY_ALL) })
		if err != nil {
			continue
		}
		for _, n := range ns {
			a, ok := netip.AddrFromSlice(n.IP)
			if !ok || a.Unmap() != addr || len(n.HardwareAddr) != 6 {
				continue
			}
			if m := n.HardwareAddr.String(); !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

func appendAddr(list []netip.Addr, a netip.Addr) []netip.Addr {
	if slices.Contains(list, a) {
		return list
	}
	return append(list, a)
}

// merge adds src's facts to dst.
func merge(dst *netctl.Environment, src netctl.Environment) {
	for _, a := range src.Gateways {
		dst.Gateways = appendAddr(dst.Gateways, a)
	}
	for _, a := range src.Management {
		dst.Management = appendAddr(dst.Management, a)
	}
	for _, a := range src.DNSServers {
		dst.DNSServers = appendAddr(dst.DNSServers, a)
	}
	for _, a := range src.DHCPServers {
		dst.DHCPServers = appendAddr(dst.DHCPServers, a)
	}
	for _, a := range src.SharedAddrs {
		dst.SharedAddrs = appendAddr(dst.SharedAddrs, a)
	}
	dst.GatewayMACs = append(dst.GatewayMACs, src.GatewayMACs...)
	for _, l := range src.ManagementLinks {
		if !slices.Contains(dst.ManagementLinks, l) {
			dst.ManagementLinks = append(dst.ManagementLinks, l)
		}
	}
	if src.MaxHosts > 0 && (dst.MaxHosts == 0 || src.MaxHosts < dst.MaxHosts) {
		dst.MaxHosts = src.MaxHosts
	}
}
