package netctl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/firebreak-ir/firebreak/netctl/internal/match"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Features are the kernel's tc capabilities that bridge mode depends on,
// found by probing (adding and removing a filter that matches a reserved
// EtherType), never assumed.
type Features struct {
	U32    bool // cls_u32: required
	Flower bool // cls_flower: used for IP and MAC matches when present
	Mirred bool // act_mirred: drops are redirected to the sink
	Gact   bool // act_gact: plain drops, used without act_mirred
}

func (f Features) String() string {
	var have []string
	for _, x := range []struct {
		ok   bool
		name string
	}{{f.U32, "u32"}, {f.Flower, "flower"}, {f.Mirred, "mirred"}, {f.Gact, "gact"}} {
		if x.ok {
			have = append(have, x.name)
		}
	}
	return strings.Join(have, ",")
}

// Features probes the kernel, once per Controller, in bridge mode. The
// probe needs the clsact qdisc on the first port, which the first Set
// adds.
func (c *Controller) Features() (Features, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.features()
}

const (
	probePrio  = PrioLast
	probeProto = 0x88B5 // IEEE 802 local experimental EtherType
	prioDrop   = PrioFirst + 50
)

func (c *Controller) features() (Features, error) {
	if c.feats != nil {
		return *c.feats, nil
	}
	if c.opts.Mode != ModeBridge {
		return Features{}, unsupported("tc features are only probed in bridge mode")
	}
	port, err := c.k.LinkByName(c.opts.Ports[0])
	if err != nil {
		return Features{}, fmt.Errorf("probe on %s: %w", c.opts.Ports[0], err)
	}
	attrs := netlink.FilterAttrs{
		LinkIndex: port.Attrs().Index,
		Parent:    netlink.HANDLE_MIN_INGRESS,
		Priority:  probePrio,
		Protocol:  probeProto,
	}
	try := func(f netlink.Filter) bool {
		c.k.FilterDel(f) // a probe left over by a crash
		if err := c.k.FilterAdd(f); err != nil {
			c.log.Debug("probe failed", "filter", f.Type(), "err", err)
			return false
		}
		if err := c.k.FilterDel(f); err != nil {
			c.log.Warn("probe filter not removed", "err", err)
		}
		return true
	}
	// Two contradictory keys: the probe filter can never match a frame,
	// whatever its action.
	never := []netlink.TcU32Key{{Mask: 0xffffffff, Val: 0}, {Mask: 0xffffffff, Val: 1}}
	u32 := func(acts ...netlink.Action) *netlink.U32 {
		return &netlink.U32{FilterAttrs: attrs, Sel: &netlink.TcU32Sel{Flags: nl.TC_U32_TERMINAL, Keys: never}, Actions: acts}
	}
	var f Features
	f.U32 = try(u32())
	f.Flower = try(&netlink.Flower{FilterAttrs: attrs, EthType: probeProto})
	if f.U32 {
		f.Mirred = try(u32(netlink.NewMirredAction(port.Attrs().Index)))
		f.Gact = try(u32(&netlink.GenericAction{ActionAttrs: netlink.ActionAttrs{Action: netlink.TC_ACT_SHOT}}))
	}
	c.log.Debug("probed tc features", "features", f.String())
	if !f.U32 {
		return f, unsupported("bridge mode needs the u32 tc classifier (cls_u32)")
	}
	if !f.Mirred && !f.Gact {
		return f, unsupported("bridge mode needs the mirred or gact tc action")
	}
	c.feats = &f
	return f, nil
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// bridgeInfra makes sure the bridge, its ports, their clsact qdiscs and
// the sink exist (fix) or reports what is missing (!fix).
func (c *Controller) bridgeInfra(fix bool) ([]Change, error) {
	var out []Change
	note := func(kind, link, what string) {
		op := OpMissing
		switch {
		case fix && c.last != nil:
			// A previous Set had it all in place.
			op = OpRestored
		case fix:
			op = OpAdded
		}
		out = append(out, Change{Op: op, Kind: kind, Link: link, Object: what})
	}
	br, err := c.k.LinkByName(c.opts.Bridge)
	switch {
	case isNotFound(err):
		note("bridge", c.opts.Bridge, "bridge "+c.opts.Bridge)
		if !fix {
			return out, nil
		}
		if err := c.k.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: c.opts.Bridge}}); err != nil {
			return out, fmt.Errorf("create bridge %s: %w", c.opts.Bridge, err)
		}
		if br, err = c.k.LinkByName(c.opts.Bridge); err != nil {
			return out, fmt.Errorf("bridge %s: %w", c.opts.Bridge, err)
		}
	case err != nil:
		return out, fmt.Errorf("bridge %s: %w", c.opts.Bridge, err)
	case br.Type() != "bridge":
		return out, fmt.Errorf("%s is a %s, not a bridge: %w", c.opts.Bridge, br.Type(), ErrConfig)
	}
	if err := c.ensureUp(br, fix, note); err != nil {
		return out, err
	}
	for _, name := range c.opts.Ports {
		port, err := c.k.LinkByName(name)
		if err != nil {
			return out, fmt.Errorf("port %s: %w", name, err)
		}
		if port.Attrs().MasterIndex != br.Attrs().Index {
			note("port", name, "port "+name+" in bridge "+c.opts.Bridge)
			if fix {
				if err := c.k.LinkSetMaster(port, br); err != nil {
					return out, fmt.Errorf("enslave %s to %s: %w", name, c.opts.Bridge, err)
				}
			}
		}
		if err := c.ensureUp(port, fix, note); err != nil {
			return out, err
		}
		qs, err := c.k.QdiscList(port)
		if err != nil {
			return out, fmt.Errorf("qdiscs of %s: %w", name, err)
		}
		if !slices.ContainsFunc(qs, func(q netlink.Qdisc) bool {
			return (q.Type() == "clsact" || q.Type() == "ingress") && q.Attrs().Parent == netlink.HANDLE_CLSACT
		}) {
			note("qdisc", name, "clsact")
			if fix {
				q := &netlink.GenericQdisc{
					QdiscAttrs: netlink.QdiscAttrs{LinkIndex: port.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
					QdiscType:  "clsact",
				}
				if err := c.k.QdiscAdd(q); err != nil {
					return out, fmt.Errorf("add clsact to %s: %w", name, err)
				}
			}
		}
	}
	if !fix && len(out) > 0 {
		return out, nil
	}
	feats, err := c.features()
	if err != nil {
		return out, err
	}
	if feats.Mirred {
		sinkChanges, err := c.ensureSink(fix, note)
		if err != nil {
			return append(out, sinkChanges...), err
		}
	}
	return out, nil
}

func (c *Controller) ensureUp(l netlink.Link, fix bool, note func(kind, link, what string)) error {
	if l.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	note("link", l.Attrs().Name, l.Attrs().Name+" up")
	if !fix {
		return nil
	}
	if err := c.k.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", l.Attrs().Name, err)
	}
	return nil
}

// ensureSink creates the veth pair dropped frames are redirected to. Both
// ends are up so that the redirect counts as delivered, without ARP and
// without IPv6 addresses so that the appliance's own stack stays out of
// it.
func (c *Controller) ensureSink(fix bool, note func(kind, link, what string)) ([]Change, error) {
	sink, err := c.k.LinkByName(c.opts.Sink)
	if isNotFound(err) {
		note("sink", c.opts.Sink, "veth "+c.opts.Sink+" peer "+c.opts.Sink+"c")
		if !fix {
			return nil, nil
		}
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: c.opts.Sink}, PeerName: c.opts.Sink + "c"}
		if err := c.k.LinkAdd(v); err != nil {
			return nil, fmt.Errorf("create sink %s: %w", c.opts.Sink, err)
		}
		sink, err = c.k.LinkByName(c.opts.Sink)
	}
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", c.opts.Sink, err)
	}
	peer, err := c.k.LinkByName(c.opts.Sink + "c")
	if err != nil {
		return nil, fmt.Errorf("sink peer %s: %w", c.opts.Sink+"c", err)
	}
	for _, l := range []netlink.Link{sink, peer} {
		if l.Attrs().Flags&net.FlagUp != 0 {
			continue
		}
		if fix {
			if err := c.k.LinkSetARPOff(l); err != nil {
				return nil, fmt.Errorf("sink %s: %w", l.Attrs().Name, err)
			}
			if err := c.k.LinkSetIP6AddrGenMode(l, nl.IN6_ADDR_GEN_MODE_NONE); err != nil {
				return nil, fmt.Errorf("sink %s: %w", l.Attrs().Name, err)
			}
		}
		if err := c.ensureUp(l, fix, note); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// tagged is a rule and the policies that need it.
type tagged struct {
	rule     match.Rule
	policies []string
}

// compileBridge turns policies into tc rules. It is a pure function of
// the policies, so the same state always yields the same rules.
func compileBridge(policies []Policy) ([]tagged, []string) {
	byRule := map[match.Rule][]string{}
	var order []match.Rule
	var warnings []string
	add := func(r match.Rule, id string) {
		if _, ok := byRule[r]; !ok {
			order = append(order, r)
		}
		if !slices.Contains(byRule[r], id) {
			byRule[r] = append(byRule[r], id)
		}
	}
	for _, p := range policies {
		t := p.Target
		var mac match.MAC
		copy(mac[:], t.MAC)
		pfx := t.Prefix
		if mac.IsZero() {
			warnings = append(warnings, fmt.Sprintf("%s isolates %s without its MAC: traffic from the host's other addresses (IPv6 link-local included) is not cut", p.ID, prefixString(pfx)))
		}
		for _, e := range p.Exceptions {
			if other := isolatedBy(policies, p.ID, e.Peer); other != "" {
				warnings = append(warnings, fmt.Sprintf("exception %s of %s not applied: %s is isolated by %s", e, p.ID, prefixString(e.Peer), other))
				continue
			}
			for _, r := range exceptionRules(pfx, mac, e) {
				add(r, p.ID)
			}
		}
		if pfx.IsValid() {
			proto := match.ProtoIPv4
			if pfx.Addr().Is6() {
				proto = match.ProtoIPv6
			}
			add(match.Rule{Verdict: match.Drop, Proto: proto, Src: pfx}, p.ID)
			add(match.Rule{Verdict: match.Drop, Proto: proto, Dst: pfx}, p.ID)
			if proto == match.ProtoIPv4 {
				add(match.Rule{Verdict: match.Drop, Proto: match.ProtoARP, Src: pfx}, p.ID)
				add(match.Rule{Verdict: match.Drop, Proto: match.ProtoARP, Dst: pfx}, p.ID)
			}
		}
		if !mac.IsZero() {
			add(match.Rule{Verdict: match.Drop, Proto: match.ProtoAll, SrcMAC: mac}, p.ID)
			add(match.Rule{Verdict: match.Drop, Proto: match.ProtoAll, DstMAC: mac}, p.ID)
		}
	}
	out := make([]tagged, 0, len(order))
	for _, r := range order {
		out = append(out, tagged{rule: r, policies: byRule[r]})
	}
	return out, warnings
}

// isolatedBy returns the ID of another policy whose address target
// overlaps peer: an exception towards an isolated host would punch a
// hole in that host's isolation, so it is not applied.
func isolatedBy(policies []Policy, self string, peer netip.Prefix) string {
	for _, q := range policies {
		if q.ID != self && q.Target.Prefix.IsValid() && q.Target.Prefix.Overlaps(peer) {
			return q.ID
		}
	}
	return ""
}

// solicitedNode returns the solicited-node multicast address of a.
func solicitedNode(a netip.Addr) netip.Prefix {
	b := a.As16()
	m := [16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]}
	return netip.PrefixFrom(netip.AddrFrom16(m), 128)
}

// exceptionRules are the pass rules for one exception of a target given
// by prefix and/or MAC. The target side is matched by its address when
// the families agree and by its MAC when known.
func exceptionRules(pfx netip.Prefix, mac match.MAC, e Exception) []match.Rule {
	v4 := e.Peer.Addr().Is4()
	proto := match.ProtoIPv6
	if v4 {
		proto = match.ProtoIPv4
	}
	var self netip.Prefix
	if pfx.IsValid() && pfx.Addr().Is4() == v4 {
		self = pfx
	}
	if !self.IsValid() && mac.IsZero() {
		return nil
	}
	out := func(r match.Rule) match.Rule {
		r.Verdict, r.Src, r.SrcMAC = match.Pass, self, mac
		return r
	}
	in := func(r match.Rule) match.Rule {
		r.Verdict, r.Dst, r.DstMAC = match.Pass, self, mac
		return r
	}
	var rules []match.Rule
	var l4s []uint8
	switch {
	case e.Port == 0:
		l4s = []uint8{0}
	case e.Proto == "tcp":
		l4s = []uint8{match.TCP}
	case e.Proto == "udp":
		l4s = []uint8{match.UDP}
	default:
		l4s = []uint8{match.TCP, match.UDP}
	}
	for _, l4 := range l4s {
		rules = append(rules,
			out(match.Rule{Proto: proto, Dst: e.Peer, L4: l4, DstPort: e.Port}),
			in(match.Rule{Proto: proto, Src: e.Peer, L4: l4, SrcPort: e.Port}))
	}
	switch {
	case v4:
		// ARP between the two, so the exception survives expiring
		// neighbour entries.
		if self.IsValid() {
			rules = append(rules,
				match.Rule{Verdict: match.Pass, Proto: match.ProtoARP, Src: self, Dst: e.Peer},
				match.Rule{Verdict: match.Pass, Proto: match.ProtoARP, Src: e.Peer, Dst: self})
		} else {
			rules = append(rules,
				match.Rule{Verdict: match.Pass, Proto: match.ProtoARP, SrcMAC: mac, Dst: e.Peer},
				match.Rule{Verdict: match.Pass, Proto: match.ProtoARP, DstMAC: mac, Src: e.Peer})
		}
	case e.Port != 0 && e.Peer.IsSingleIP():
		// Neighbour discovery between the two (ICMPv6), including
		// solicitations to the solicited-node group.
		const icmp6 = 58
		rules = append(rules,
			out(match.Rule{Proto: proto, Dst: e.Peer, L4: icmp6}),
			out(match.Rule{Proto: proto, Dst: solicitedNode(e.Peer.Addr()), L4: icmp6}),
			in(match.Rule{Proto: proto, Src: e.Peer, L4: icmp6}))
		if self.IsValid() && self.IsSingleIP() {
			r := match.Rule{Verdict: match.Pass, Proto: proto, Src: e.Peer, Dst: solicitedNode(self.Addr()), L4: icmp6}
			rules = append(rules, r)
		}
	}
	return rules
}

// tcPrio is the filter priority of a rule: one per verdict, protocol and
// classifier, since a tc priority holds one classifier kind for one
// protocol.
func tcPrio(r match.Rule, cls match.Classifier) uint16 {
	base := PrioFirst
	if r.Verdict == match.Drop {
		base = prioDrop
	}
	idx := map[match.Proto]int{match.ProtoIPv4: 0, match.ProtoIPv6: 1, match.ProtoARP: 2, match.ProtoAll: 3}[r.Proto]
	ci := 0
	if cls == match.Flower {
		ci = 1
	}
	return uint16(base + idx*2 + ci)
}

func (c *Controller) bridgePlan(s State) (*plan, error) {
	p := &plan{}
	rules, warnings := compileBridge(s.Policies)
	p.warnings = warnings
	var feats Features
	drop := match.DropAction{}
	if len(rules) > 0 || c.feats != nil {
		// Building filters needs the probed features; merely reading
		// what is there (Read on a fresh box) does not.
		var err error
		if feats, err = c.features(); err != nil {
			return nil, err
		}
	}
	if feats.Mirred {
		sink, err := c.k.LinkByName(c.opts.Sink)
		if err != nil {
			return nil, fmt.Errorf("sink %s: %w", c.opts.Sink, err)
		}
		drop.SinkIndex = sink.Attrs().Index
	}
	type prioKey struct {
		link int
		prio uint16
	}
	wanted := map[prioKey]bool{}
	linkNames := map[int]string{}
	for _, name := range c.opts.Ports {
		port, err := c.k.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("port %s: %w", name, err)
		}
		idx := port.Attrs().Index
		linkNames[idx] = name
		for _, t := range rules {
			cls := match.ClassifierFor(t.rule, feats.Flower)
			attrs := netlink.FilterAttrs{LinkIndex: idx, Parent: netlink.HANDLE_MIN_INGRESS, Priority: tcPrio(t.rule, cls)}
			f, err := match.Build(t.rule, cls, attrs, drop)
			if err != nil {
				return nil, err
			}
			key, _ := match.Key(f)
			wanted[prioKey{idx, attrs.Priority}] = true
			phase := phasePass
			if t.rule.Verdict == match.Drop {
				phase = phaseDrop
			}
			p.desired = append(p.desired, &object{
				kind: "filter", link: name, key: name + " " + key, desc: t.rule.String(),
				policies: t.policies, phase: phase,
				add: func() error { return c.k.FilterAdd(f) },
			})
		}
		fs, err := c.k.FilterList(port, netlink.HANDLE_MIN_INGRESS)
		if err != nil {
			return nil, fmt.Errorf("filters on %s: %w", name, err)
		}
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].Attrs().Handle < fs[j].Attrs().Handle })
		for _, f := range fs {
			a := *f.Attrs()
			if a.Priority < PrioFirst || a.Priority > PrioLast {
				continue
			}
			key, ok := match.Key(f)
			desc := key
			if r, ok := match.Decode(f); ok {
				desc = r.String()
			}
			if !ok {
				// Not something Firebreak builds, yet inside its
				// range: stale or tampered with, so it goes.
				key = fmt.Sprintf("foreign %s prio %d handle %s", f.Type(), a.Priority, netlink.HandleStr(a.Handle))
				desc = key
			}
			phase := phasePass
			if strings.Contains(key, "-> drop") {
				phase = phaseDrop
			}
			del := deleter(f)
			p.observed = append(p.observed, &object{
				kind: "filter", link: name, key: name + " " + key, desc: desc,
				phase: phase,
				del: func() error {
					err := c.k.FilterDel(del)
					if errors.Is(err, unix.ENOENT) {
						return errGone
					}
					return err
				},
			})
		}
	}
	p.afterDelete = func(removed []*object) error {
		// Drop the priorities that are now empty, so that a release
		// leaves the ports as they were.
		seen := map[prioKey]bool{}
		for _, o := range removed {
			for idx, name := range linkNames {
				if name != o.link {
					continue
				}
				for prio := uint16(PrioFirst); prio <= PrioLast; prio++ {
					k := prioKey{idx, prio}
					if seen[k] || wanted[k] || !strings.Contains(o.key, fmt.Sprintf("prio %d ", prio)) {
						continue
					}
					seen[k] = true
					proto := protoFromKey(o.key)
					for _, f := range []netlink.Filter{
						&netlink.U32{FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: netlink.HANDLE_MIN_INGRESS, Priority: prio, Protocol: proto}},
					} {
						if err := c.k.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
							return fmt.Errorf("remove empty priority %d on %s: %w", prio, name, err)
						}
					}
				}
			}
		}
		return nil
	}
	return p, nil
}

func protoFromKey(key string) uint16 {
	for _, p := range []match.Proto{match.ProtoIPv4, match.ProtoIPv6, match.ProtoARP, match.ProtoAll} {
		if strings.Contains(key, " protocol "+p.String()+" ") {
			return uint16(p)
		}
	}
	return 0
}

// deleter returns a minimal filter addressing f for RTM_DELTFILTER.
func deleter(f netlink.Filter) netlink.Filter {
	a := *f.Attrs()
	switch f.Type() {
	case "u32":
		return &netlink.U32{FilterAttrs: a}
	case "flower":
		return &netlink.Flower{FilterAttrs: a}
	}
	return &netlink.GenericFilter{FilterAttrs: a, FilterType: f.Type()}
}
