package netctl

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
)

// Environment is what the caller knows about the segment; every field
// is optional. netctl does not discover these itself: the daemon has them
// from its configuration, the routing table and the capture path.
type Environment struct {
	// Gateways are the segment's default gateways.
	Gateways []netip.Addr
	// GatewayMACs are the MACs the gateways were seen with.
	GatewayMACs []net.HardwareAddr
	// Management are the appliance's own addresses, and the addresses
	// the responders reach it from.
	Management []netip.Addr
	// ManagementLinks are the appliance's management interfaces.
	ManagementLinks []string
	// DNSServers and DHCPServers are the customer's resolvers and DHCP
	// servers.
	DNSServers  []netip.Addr
	DHCPServers []netip.Addr
	// SharedAddrs are addresses seen with many MACs (a VIP, a proxy-ARP
	// router, a load balancer): cutting them cuts many hosts.
	SharedAddrs []netip.Addr
	// MaxHosts is the largest number of addresses a target CIDR may
	// cover without force; zero means 256.
	MaxHosts int
}

// Concern is one reason a policy looks dangerous.
type Concern struct {
	// Kind is a stable word for the concern: "gateway", "management",
	// "dns", "dhcp", "shared", "wide".
	Kind    string
	Message string
}

// Concerns lists why isolating p might cut off more than the one host:
// the target covers a gateway, the appliance's management address, a DNS
// or DHCP server, an address seen with many MACs, or too many addresses.
func Concerns(p Policy, env Environment) []Concern {
	var out []Concern
	t := p.Target
	addrs := func(kind, what string, list []netip.Addr) {
		for _, a := range list {
			if t.Prefix.IsValid() && t.Prefix.Contains(a.Unmap()) {
				out = append(out, Concern{Kind: kind, Message: fmt.Sprintf("target %s covers %s %s", t, what, a)})
			}
		}
	}
	addrs("gateway", "the default gateway", env.Gateways)
	addrs("management", "the appliance's management address", env.Management)
	addrs("dns", "DNS server", env.DNSServers)
	addrs("dhcp", "DHCP server", env.DHCPServers)
	addrs("shared", "an address seen with many MACs,", env.SharedAddrs)
	for _, m := range env.GatewayMACs {
		if len(t.MAC) > 0 && bytes.Equal(t.MAC, m) {
			out = append(out, Concern{Kind: "gateway", Message: fmt.Sprintf("target MAC %s is the gateway's", m)})
		}
	}
	for _, l := range env.ManagementLinks {
		if t.Link == l {
			out = append(out, Concern{Kind: "management", Message: fmt.Sprintf("link %s is the appliance's management link", l)})
		}
	}
	maxHosts := env.MaxHosts
	if maxHosts <= 0 {
		maxHosts = 256
	}
	if t.Prefix.IsValid() {
		hostBits := t.Prefix.Addr().BitLen() - t.Prefix.Bits()
		if hostBits >= 62 || 1<<hostBits > maxHosts {
			out = append(out, Concern{Kind: "wide", Message: fmt.Sprintf("target %s covers more than %d addresses", t.Prefix, maxHosts)})
		}
	}
	return out
}

// Check refuses a policy with concerns unless it is forced. The error is
// an *UnsafeError matching ErrUnsafe; its message explains each concern
// so it can be shown to the engineer as is.
func Check(p Policy, env Environment) error {
	cs := Concerns(p, env)
	if len(cs) == 0 || p.Force {
		return nil
	}
	return &UnsafeError{Policy: p.ID, Concerns: cs}
}
