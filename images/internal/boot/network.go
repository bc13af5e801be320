package boot

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
)

// mgmtState is the management port and, once it has one, its address.
type mgmtState struct {
	mac  net.HardwareAddr
	mu   *sync.Mutex
	addr *netip.Prefix
	how  *string
}

func (m mgmtState) address() netip.Prefix {
	m.mu.Lock()
	defer m.mu.Unlock()
	return *m.addr
}

func (m mgmtState) describe() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.addr.IsValid() {
		return "none yet (" + *m.how + ")"
	}
	return m.addr.String() + " (" + *m.how + ")"
}

// port is a physical network port: a link with a device behind it.
type port struct {
	name string
	dev  string // the device's sysfs path, which orders ports as the bus does
	mac  net.HardwareAddr
}

func physicalPorts() []port {
	var out []port
	links, _ := filepath.Glob("/sys/class/net/*/device")
	for _, l := range links {
		dev, err := filepath.EvalSymlinks(l)
		if err != nil {
			continue
		}
		name := filepath.Base(filepath.Dir(l))
		b, _ := os.ReadFile(filepath.Join("/sys/class/net", name, "address"))
		mac, _ := net.ParseMAC(strings.TrimSpace(string(b)))
		out = append(out, port{name: name, dev: dev, mac: mac})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dev < out[j].dev })
	return out
}

// pickMgmt chooses the management port: the one the configuration names
// (by link name or MAC), else the first in bus order.
func pickMgmt(ports []port, want string) (port, error) {
	if len(ports) == 0 {
		return port{}, ErrNoPorts
	}
	if want == "" {
		return ports[0], nil
	}
	for _, p := range ports {
		if p.name == want || strings.EqualFold(p.mac.String(), want) {
			return p, nil
		}
	}
	names := make([]string, 0, len(ports))
	for _, p := range ports {
		names = append(names, p.name+" "+p.mac.String())
	}
	return port{}, fmt.Errorf("mgmt_port %q: no such port (the ports are %s)", want, strings.Join(names, ", "))
}

// setupNetwork names the management port, brings every port up, and gives
// the management port its address (DHCP in the background, renewed at half
// the lease).
func setupNetwork(cfg Config) (mgmtState, error) {
	if lo, err := netlink.LinkByName("lo"); err == nil {
		netlink.LinkSetUp(lo)
	}
	var ports []port
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ports = physicalPorts(); len(ports) > 0 || time.Now().After(deadline) {
			break
		}
	}
	p, err := pickMgmt(ports, cfg.MgmtPort)
	if err != nil {
		return mgmtState{}, err
	}
	link, err := netlink.LinkByName(p.name)
	if err != nil {
		return mgmtState{}, fmt.Errorf("management port %s: %w", p.name, err)
	}
	netlink.LinkSetDown(link)
	if err := netlink.LinkSetName(link, MgmtLink); err != nil {
		return mgmtState{}, fmt.Errorf("name the management port %s: %w", p.name, err)
	}
	// The other ports are named port1, port2... in bus order, so that
	// firebreak.cfg can name them the same way on every box of a model.
	var names []string
	n := 0
	for _, q := range ports {
		name := MgmtLink
		if q.name != p.name {
			n++
			name = fmt.Sprintf("port%d", n)
			if l, err := netlink.LinkByName(q.name); err == nil {
				netlink.LinkSetDown(l)
				if err := netlink.LinkSetName(l, name); err != nil {
					say("could not name %s %s: %v", q.name, name, err)
					name = q.name
				}
			}
		}
		names = append(names, name+" "+q.mac.String())
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkSetUp(l)
		}
	}
	say("network ports: %s", strings.Join(names, ", "))
	var addr netip.Prefix
	how := "dhcp"
	st := mgmtState{mac: p.mac, mu: &sync.Mutex{}, addr: &addr, how: &how}
	link, err = netlink.LinkByName(MgmtLink)
	if err != nil {
		return st, err
	}
	if cfg.MgmtAddress != "" && cfg.MgmtAddress != "dhcp" {
		a := netip.MustParsePrefix(cfg.MgmtAddress)
		how = "static"
		if err := setAddr(link, a, netip.Addr{}); err != nil {
			return st, err
		}
		if cfg.MgmtGateway != "" {
			gw := netip.MustParseAddr(cfg.MgmtGateway)
			if err := netlink.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw.AsSlice()}); err != nil {
				return st, fmt.Errorf("default route via %s: %w", gw, err)
			}
		}
		addr = a
		return st, nil
	}
	dc, err := newDHCPClient(MgmtLink, p.mac)
	if err != nil {
		return st, err
	}
	go dhcpLoop(dc, link, st)
	// Wait a little, so the first announcement has the address; DHCP goes on
	// in the background if the server is slow or absent.
	for deadline := time.Now().Add(8 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if st.address().IsValid() {
			break
		}
	}
	return st, nil
}

func dhcpLoop(dc *dhcpClient, link netlink.Link, st mgmtState) {
	for {
		l, err := dc.obtain(time.Minute)
		if err != nil {
			say("management port: %v; trying again", err)
			continue
		}
		st.mu.Lock()
		old := *st.addr
		st.mu.Unlock()
		if old != l.Addr {
			if old.IsValid() {
				netlink.AddrDel(link, &netlink.Addr{IPNet: prefixNet(old)})
			}
			if err := setAddr(link, l.Addr, l.Router); err != nil {
				say("management port: %v", err)
				time.Sleep(5 * time.Second)
				continue
			}
			st.mu.Lock()
			*st.addr = l.Addr
			st.mu.Unlock()
			if old.IsValid() {
				say("management port: new address %s from DHCP server %s", l.Addr, l.Server)
			}
		}
		wait := l.Duration / 2
		if wait <= 0 || wait > 12*time.Hour {
			wait = time.Hour
		}
		time.Sleep(wait)
	}
}

func setAddr(link netlink.Link, a netip.Prefix, router netip.Addr) error {
	if err := netlink.AddrReplace(link, &netlink.Addr{IPNet: prefixNet(a)}); err != nil {
		return fmt.Errorf("address %s on %s: %w", a, MgmtLink, err)
	}
	if router.IsValid() {
		if err := netlink.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: router.AsSlice()}); err != nil {
			return fmt.Errorf("default route via %s: %w", router, err)
		}
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
