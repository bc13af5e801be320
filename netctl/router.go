package netctl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Router mode: for a target T, "from T blackhole" and "to T blackhole"
// policy rules at PrioFirst+50, and for each exception E, "from T to E
// lookup main" and "from E to T lookup main" (narrowed by protocol and
// port) at PrioFirst, all with protocol RuleProtocol. Routed traffic to
// and from T is discarded silently. Packets T addresses to the appliance
// itself are still delivered (the local table is consulted first), but
// the appliance's replies meet the "to T" rule unless an exception
// allows them. ARP and NDP are untouched: hosts on T's own segment do
// not pass through the appliance.

// ruleSpec is the part of an ip rule Firebreak sets.
type ruleSpec struct {
	prio     int
	family   int
	src, dst netip.Prefix
	ipproto  int
	sport    uint16
	dport    uint16
	drop     bool
}

func (r ruleSpec) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d from ", r.prio)
	if r.src.IsValid() {
		b.WriteString(r.src.String())
	} else {
		b.WriteString("all")
	}
	if r.dst.IsValid() {
		fmt.Fprintf(&b, " to %s", r.dst)
	}
	switch r.ipproto {
	case 0:
	case unix.IPPROTO_TCP:
		b.WriteString(" ipproto tcp")
	case unix.IPPROTO_UDP:
		b.WriteString(" ipproto udp")
	default:
		fmt.Fprintf(&b, " ipproto %d", r.ipproto)
	}
	if r.sport != 0 {
		fmt.Fprintf(&b, " sport %d", r.sport)
	}
	if r.dport != 0 {
		fmt.Fprintf(&b, " dport %d", r.dport)
	}
	if r.drop {
		b.WriteString(" blackhole")
	} else {
		b.WriteString(" lookup main")
	}
	return b.String()
}

func (r ruleSpec) netlink() *netlink.Rule {
	n := netlink.NewRule()
	n.Priority = r.prio
	n.Family = r.family
	n.Protocol = RuleProtocol
	ipnet := func(p netip.Prefix) *net.IPNet {
		return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
	}
	if r.src.IsValid() {
		n.Src = ipnet(r.src)
	}
	if r.dst.IsValid() {
		n.Dst = ipnet(r.dst)
	}
	n.IPProto = r.ipproto
	if r.sport != 0 {
		n.Sport = netlink.NewRulePortRange(r.sport, r.sport)
	}
	if r.dport != 0 {
		n.Dport = netlink.NewRulePortRange(r.dport, r.dport)
	}
	if r.drop {
		n.Type = unix.RTN_BLACKHOLE
	} else {
		n.Table = unix.RT_TABLE_MAIN
	}
	return n
}

// specOf reads back the fields Firebreak sets; ok is false for a rule
// with anything else set, which then counts as foreign.
func specOf(n netlink.Rule) (ruleSpec, bool) {
	r := ruleSpec{prio: n.Priority, family: n.Family, ipproto: n.IPProto}
	pfx := func(ipn *net.IPNet) netip.Prefix {
		if ipn == nil {
			return netip.Prefix{}
		}
		a, _ := netip.AddrFromSlice(ipn.IP)
		ones, _ := ipn.Mask.Size()
		return netip.PrefixFrom(a.Unmap(), ones)
	}
	r.src, r.dst = pfx(n.Src), pfx(n.Dst)
	if n.Sport != nil {
		if n.Sport.Start != n.Sport.End {
			return r, false
		}
		r.sport = n.Sport.Start
	}
	if n.Dport != nil {
		if n.Dport.Start != n.Dport.End {
			return r, false
		}
		r.dport = n.Dport.Start
	}
	switch {
	case n.Type == unix.RTN_BLACKHOLE:
		r.drop = true
	case n.Type == 0 && n.Table == 0:
		// netlink v1.3.1 does not report a rule's action; a rule of
		// Firebreak's with no table is its blackhole rule.
		r.drop = true
	case n.Table == unix.RT_TABLE_MAIN && (n.Type == unix.RTN_UNICAST || n.Type == 0):
	default:
		return r, false
	}
	if n.Invert || n.Mark != 0 || n.IifName != "" || n.OifName != "" || n.Goto > 0 || n.Tos != 0 {
		return r, false
	}
	return r, true
}

func compileRouter(policies []Policy) ([]ruleSpec, map[ruleSpec][]string, []string) {
	tags := map[ruleSpec][]string{}
	var order []ruleSpec
	var warnings []string
	add := func(r ruleSpec, id string) {
		if _, ok := tags[r]; !ok {
			order = append(order, r)
		}
		tags[r] = append(tags[r], id)
	}
	for _, p := range policies {
		t := p.Target.Prefix
		fam := netlink.FAMILY_V4
		if t.Addr().Is6() {
			fam = netlink.FAMILY_V6
		}
		for _, e := range p.Exceptions {
			if other := isolatedBy(policies, p.ID, e.Peer); other != "" {
				warnings = append(warnings, fmt.Sprintf("exception %s of %s not applied: %s is isolated by %s", e, p.ID, prefixString(e.Peer), other))
				continue
			}
			var protos []int
			switch {
			case e.Port == 0:
				protos = []int{0}
			case e.Proto == "tcp":
				protos = []int{unix.IPPROTO_TCP}
			case e.Proto == "udp":
				protos = []int{unix.IPPROTO_UDP}
			default:
				protos = []int{unix.IPPROTO_TCP, unix.IPPROTO_UDP}
			}
			for _, pr := range protos {
				add(ruleSpec{prio: PrioFirst, family: fam, src: t, dst: e.Peer, ipproto: pr, dport: e.Port}, p.ID)
				add(ruleSpec{prio: PrioFirst, family: fam, src: e.Peer, dst: t, ipproto: pr, sport: e.Port}, p.ID)
			}
		}
		add(ruleSpec{prio: prioDrop, family: fam, src: t, drop: true}, p.ID)
		add(ruleSpec{prio: prioDrop, family: fam, dst: t, drop: true}, p.ID)
	}
	return order, tags, warnings
}

func (c *Controller) routerPlan(s State) (*plan, error) {
	p := &plan{}
	specs, tags, warnings := compileRouter(s.Policies)
	p.warnings = warnings
	phase := func(r ruleSpec) int {
		if r.drop {
			return phaseDrop
		}
		return phasePass
	}
	for _, r := range specs {
		n := r.netlink()
		p.desired = append(p.desired, &object{
			kind: "rule", key: "rule " + r.String(), desc: r.String(), policies: tags[r], phase: phase(r),
			add: func() error { return c.k.RuleAdd(n) },
		})
	}
	var observed []netlink.Rule
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := c.k.RuleList(fam)
		if err != nil {
			return nil, fmt.Errorf("list rules: %w", err)
		}
		for _, r := range rs {
			if r.Family == 0 {
				r.Family = fam
			}
			observed = append(observed, r)
		}
	}
	sort.SliceStable(observed, func(i, j int) bool { return observed[i].Priority < observed[j].Priority })
	for _, n := range observed {
		if n.Protocol != RuleProtocol || n.Priority < PrioFirst || n.Priority > PrioLast {
			continue
		}
		r, ok := specOf(n)
		key := "rule " + r.String()
		if !ok {
			key = fmt.Sprintf("foreign rule %d family %d %v", n.Priority, n.Family, n)
		}
		del := r.netlink()
		if !ok {
			nn := n
			del = &nn
		}
		p.observed = append(p.observed, &object{
			kind: "rule", key: key, desc: strings.TrimPrefix(key, "rule "), phase: phase(r),
			del: func() error {
				err := c.k.RuleDel(del)
				if errors.Is(err, unix.ENOENT) {
					return errGone
				}
				return err
			},
		})
	}
	return p, nil
}
