package nlk

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/firebreak-ir/firebreak/netctl/internal/match"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Fake is an in-memory Kernel. It keeps just enough of the kernel's rules
// (one classifier kind and protocol per priority, qdisc required before a
// filter, kernel-chosen handles) for netctl's logic to meet the same
// errors it would meet on a real kernel, and renders its state as text.
type Fake struct {
	mu sync.Mutex

	// Classifiers and Actions list the tc classifier and action kinds
	// the fake kernel has; adding a filter with any other fails as on a
	// kernel built without them.
	Classifiers []string
	Actions     []string

	links   map[int]*fakeLink
	nextIdx int
	rules   []netlink.Rule
	// Calls counts mutating calls, so tests can assert that an adopted
	// state was not re-applied.
	Calls int
}

type fakeLink struct {
	attrs   netlink.LinkAttrs
	kind    string
	qdiscs  []string
	filters []netlink.Filter
	hts     map[uint16]uint32 // prio -> u32 hash table id
	nodes   map[uint16]uint32 // prio -> last node id
}

// NewFake returns a fake kernel with u32, mirred and gact, like a typical
// distribution kernel without flower.
func NewFake() *Fake {
	return &Fake{
		Classifiers: []string{"u32"},
		Actions:     []string{"mirred", "gact"},
		links:       map[int]*fakeLink{},
		nextIdx:     1,
	}
}

// AddDevice creates a plain device (a NIC), as if present at boot.
func (f *Fake) AddDevice(name string, mac string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	hw, _ := net.ParseMAC(mac)
	f.addLocked(netlink.LinkAttrs{Name: name, HardwareAddr: hw}, "device")
}

func (f *Fake) addLocked(a netlink.LinkAttrs, kind string) *fakeLink {
	a.Index = f.nextIdx
	f.nextIdx++
	l := &fakeLink{attrs: a, kind: kind, hts: map[uint16]uint32{}, nodes: map[uint16]uint32{}}
	f.links[a.Index] = l
	return l
}

func (f *Fake) byName(name string) *fakeLink {
	for _, l := range f.links {
		if l.attrs.Name == name {
			return l
		}
	}
	return nil
}

func (l *fakeLink) export() netlink.Link {
	a := l.attrs
	switch l.kind {
	case "bridge":
		return &netlink.Bridge{LinkAttrs: a}
	case "veth":
		return &netlink.Veth{LinkAttrs: a}
	}
	return &netlink.Device{LinkAttrs: a}
}

func (f *Fake) link(link netlink.Link) (*fakeLink, error) {
	a := link.Attrs()
	if l, ok := f.links[a.Index]; ok && a.Index != 0 {
		return l, nil
	}
	if l := f.byName(a.Name); l != nil {
		return l, nil
	}
	return nil, unix.ENODEV
}

// LinkByName implements Kernel.
func (f *Fake) LinkByName(name string) (netlink.Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l := f.byName(name); l != nil {
		return l.export(), nil
	}
	return nil, netlink.LinkNotFoundError{}
}

// LinkByIndex implements Kernel.
func (f *Fake) LinkByIndex(i int) (netlink.Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l, ok := f.links[i]; ok {
		return l.export(), nil
	}
	return nil, netlink.LinkNotFoundError{}
}

// LinkAdd implements Kernel for bridges and veth pairs.
func (f *Fake) LinkAdd(link netlink.Link) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	a := *link.Attrs()
	if f.byName(a.Name) != nil {
		return unix.EEXIST
	}
	switch link := link.(type) {
	case *netlink.Bridge:
		f.addLocked(a, "bridge")
	case *netlink.Veth:
		if f.byName(link.PeerName) != nil {
			return unix.EEXIST
		}
		x := f.addLocked(a, "veth")
		y := f.addLocked(netlink.LinkAttrs{Name: link.PeerName}, "veth")
		x.attrs.ParentIndex, y.attrs.ParentIndex = y.attrs.Index, x.attrs.Index
	default:
		return fmt.Errorf("fake: link type %s: %w", link.Type(), unix.EOPNOTSUPP)
	}
	return nil
}

// LinkSetMaster implements Kernel.
func (f *Fake) LinkSetMaster(link, master netlink.Link) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	l, err := f.link(link)
	if err != nil {
		return err
	}
	m, err := f.link(master)
	if err != nil {
		return err
	}
	l.attrs.MasterIndex = m.attrs.Index
	return nil
}

func (f *Fake) setFlag(link netlink.Link, up bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	l, err := f.link(link)
	if err != nil {
		return err
	}
	if up {
		l.attrs.Flags |= net.FlagUp
		l.attrs.OperState = netlink.OperUp
	} else {
		l.attrs.Flags &^= net.FlagUp
		l.attrs.OperState = netlink.OperDown
	}
	return nil
}

// LinkSetUp implements Kernel.
func (f *Fake) LinkSetUp(link netlink.Link) error { return f.setFlag(link, true) }

// LinkSetDown implements Kernel.
func (f *Fake) LinkSetDown(link netlink.Link) error { return f.setFlag(link, false) }

// LinkSetAlias implements Kernel.
func (f *Fake) LinkSetAlias(link netlink.Link, alias string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	l, err := f.link(link)
	if err != nil {
		return err
	}
	l.attrs.Alias = alias
	return nil
}

// LinkSetARPOff implements Kernel.
func (f *Fake) LinkSetARPOff(link netlink.Link) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	l, err := f.link(link)
	if err != nil {
		return err
	}
	l.attrs.RawFlags |= unix.IFF_NOARP
	return nil
}

// LinkSetIP6AddrGenMode implements Kernel.
func (f *Fake) LinkSetIP6AddrGenMode(link netlink.Link, mode int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	_, err := f.link(link)
	return err
}

// QdiscList implements Kernel.
func (f *Fake) QdiscList(link netlink.Link) ([]netlink.Qdisc, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.link(link)
	if err != nil {
		return nil, err
	}
	var out []netlink.Qdisc
	for _, q := range l.qdiscs {
		out = append(out, &netlink.GenericQdisc{
			QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.attrs.Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
			QdiscType:  q,
		})
	}
	return out, nil
}

// QdiscAdd implements Kernel for clsact and ingress.
func (f *Fake) QdiscAdd(q netlink.Qdisc) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	l, ok := f.links[q.Attrs().LinkIndex]
	if !ok {
		return unix.ENODEV
	}
	if q.Type() != "clsact" && q.Type() != "ingress" {
		return unix.EOPNOTSUPP
	}
	if len(l.qdiscs) > 0 {
		return unix.EEXIST
	}
	l.qdiscs = append(l.qdiscs, q.Type())
	return nil
}

func actionKind(a netlink.Action) string {
	switch a.(type) {
	case *netlink.MirredAction:
		return "mirred"
	case *netlink.GenericAction:
		return "gact"
	}
	return a.Type()
}

// FilterAdd implements Kernel.
func (f *Fake) FilterAdd(flt netlink.Filter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	a := flt.Attrs()
	l, ok := f.links[a.LinkIndex]
	if !ok {
		return unix.ENODEV
	}
	if len(l.qdiscs) == 0 {
		return unix.EINVAL
	}
	if !slices.Contains(f.Classifiers, flt.Type()) {
		return fmt.Errorf("fake: TC classifier not found: %w", unix.ENOENT)
	}
	var acts []netlink.Action
	switch x := flt.(type) {
	case *netlink.U32:
		acts = x.Actions
	case *netlink.Flower:
		acts = x.Actions
	}
	for _, act := range acts {
		if !slices.Contains(f.Actions, actionKind(act)) {
			return fmt.Errorf("fake: failed to load TC action module: %w", unix.ENOENT)
		}
	}
	for _, g := range l.filters {
		ga := g.Attrs()
		if ga.Parent == a.Parent && ga.Priority == a.Priority && (ga.Protocol != a.Protocol || g.Type() != flt.Type()) {
			return unix.EINVAL
		}
	}
	c := cloneFilter(flt)
	ca := c.Attrs()
	switch flt.Type() {
	case "u32":
		ht, ok := l.hts[a.Priority]
		if !ok {
			ht = 0x800 + uint32(len(l.hts))
			l.hts[a.Priority] = ht
		}
		n := l.nodes[a.Priority]
		if n == 0 {
			n = 0x7ff
		}
		n++
		l.nodes[a.Priority] = n
		ca.Handle = ht<<20 | n
	default:
		l.nodes[a.Priority]++
		ca.Handle = l.nodes[a.Priority]
	}
	l.filters = append(l.filters, c)
	return nil
}

// FilterDel implements Kernel. A zero handle deletes the whole priority.
func (f *Fake) FilterDel(flt netlink.Filter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	a := flt.Attrs()
	l, ok := f.links[a.LinkIndex]
	if !ok {
		return unix.ENODEV
	}
	found := false
	l.filters = slices.DeleteFunc(l.filters, func(g netlink.Filter) bool {
		ga := g.Attrs()
		if ga.Parent == a.Parent && ga.Priority == a.Priority && (a.Handle == 0 || ga.Handle == a.Handle) {
			found = true
			return true
		}
		return false
	})
	if a.Handle == 0 {
		if _, had := l.hts[a.Priority]; had {
			found = true
		}
		delete(l.hts, a.Priority)
		delete(l.nodes, a.Priority)
	}
	if !found {
		return unix.ENOENT
	}
	return nil
}

// DeleteFilters removes filters at prio on the named link behind netctl's
// back, as an engineer running "tc filter del" would.
func (f *Fake) DeleteFilters(linkName string, prio uint16) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.byName(linkName)
	if l == nil {
		return
	}
	l.filters = slices.DeleteFunc(l.filters, func(g netlink.Filter) bool { return g.Attrs().Priority == prio })
}

// FilterList implements Kernel.
func (f *Fake) FilterList(link netlink.Link, parent uint32) ([]netlink.Filter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.link(link)
	if err != nil {
		return nil, err
	}
	var out []netlink.Filter
	for _, g := range l.filters {
		if g.Attrs().Parent == parent {
			out = append(out, cloneFilter(g))
		}
	}
	return out, nil
}

func cloneFilter(flt netlink.Filter) netlink.Filter {
	cloneActs := func(in []netlink.Action) []netlink.Action {
		var out []netlink.Action
		for _, a := range in {
			switch a := a.(type) {
			case *netlink.MirredAction:
				c := *a
				out = append(out, &c)
			case *netlink.GenericAction:
				c := *a
				out = append(out, &c)
			default:
				out = append(out, a)
			}
		}
		return out
	}
	switch x := flt.(type) {
	case *netlink.U32:
		c := *x
		if x.Sel != nil {
			s := *x.Sel
			s.Keys = append([]netlink.TcU32Key(nil), x.Sel.Keys...)
			s.Nkeys = uint8(len(s.Keys))
			c.Sel = &s
		}
		c.Actions = cloneActs(x.Actions)
		return &c
	case *netlink.Flower:
		c := *x
		c.Actions = cloneActs(x.Actions)
		return &c
	}
	return flt
}

// RuleList implements Kernel.
func (f *Fake) RuleList(family int) ([]netlink.Rule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []netlink.Rule
	for _, r := range f.rules {
		if family == netlink.FAMILY_ALL || r.Family == family {
			out = append(out, r)
		}
	}
	return out, nil
}

// RuleAdd implements Kernel.
func (f *Fake) RuleAdd(r *netlink.Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	c := *r
	if c.Family == 0 {
		c.Family = netlink.FAMILY_V4
		if (c.Src != nil && c.Src.IP.To4() == nil) || (c.Dst != nil && c.Dst.IP.To4() == nil) {
			c.Family = netlink.FAMILY_V6
		}
	}
	f.rules = append(f.rules, c)
	return nil
}

// RuleDel implements Kernel; like the kernel, it removes the first rule
// whose set attributes all match.
func (f *Fake) RuleDel(r *netlink.Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	for i, g := range f.rules {
		if ruleText(g) == ruleText(*r) {
			f.rules = slices.Delete(f.rules, i, i+1)
			return nil
		}
	}
	return unix.ENOENT
}

// DeleteRulesAt removes rules at priority prio behind netctl's back.
func (f *Fake) DeleteRulesAt(prio int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = slices.DeleteFunc(f.rules, func(r netlink.Rule) bool { return r.Priority == prio })
}

// Close implements Kernel.
func (f *Fake) Close() {}

// Render returns the fake kernel's state as text in a stable order, in
// the spirit of "ip link; tc filter show; ip rule".
func (f *Fake) Render() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	idx := make([]int, 0, len(f.links))
	for i := range f.links {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		l := f.links[i]
		state := "down"
		if l.attrs.Flags&net.FlagUp != 0 {
			state = "up"
		}
		fmt.Fprintf(&b, "link %s %s %s", l.attrs.Name, l.kind, state)
		if m, ok := f.links[l.attrs.MasterIndex]; ok {
			fmt.Fprintf(&b, " master %s", m.attrs.Name)
		}
		if l.attrs.RawFlags&unix.IFF_NOARP != 0 {
			b.WriteString(" noarp")
		}
		if l.attrs.Alias != "" {
			fmt.Fprintf(&b, " alias %q", l.attrs.Alias)
		}
		b.WriteString("\n")
		for _, q := range l.qdiscs {
			fmt.Fprintf(&b, "  qdisc %s\n", q)
		}
		fl := append([]netlink.Filter(nil), l.filters...)
		sort.SliceStable(fl, func(i, j int) bool {
			a, c := fl[i].Attrs(), fl[j].Attrs()
			if a.Priority != c.Priority {
				return a.Priority < c.Priority
			}
			return a.Handle < c.Handle
		})
		for _, g := range fl {
			k, ok := match.Key(g)
			if !ok {
				k = "foreign " + g.Type()
			}
			fmt.Fprintf(&b, "  filter ingress handle %s %s\n", netlink.HandleStr(g.Attrs().Handle), f.names(k))
		}
	}
	rs := append([]netlink.Rule(nil), f.rules...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Priority < rs[j].Priority })
	for _, r := range rs {
		fmt.Fprintf(&b, "rule %s\n", ruleText(r))
	}
	return b.String()
}

// names replaces "ifindex N" in a rendered filter with the link name, so
// golden text does not depend on allocation order.
func (f *Fake) names(s string) string {
	for i, l := range f.links {
		s = strings.ReplaceAll(s, fmt.Sprintf("ifindex %d)", i), "dev "+l.attrs.Name+")")
	}
	return s
}

func ruleText(r netlink.Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", r.Priority)
	if r.Src != nil {
		fmt.Fprintf(&b, " from %s", r.Src)
	} else {
		b.WriteString(" from all")
	}
	if r.Dst != nil {
		fmt.Fprintf(&b, " to %s", r.Dst)
	}
	if r.IPProto != 0 {
		fmt.Fprintf(&b, " ipproto %d", r.IPProto)
	}
	if r.Sport != nil {
		fmt.Fprintf(&b, " sport %d", r.Sport.Start)
	}
	if r.Dport != nil {
		fmt.Fprintf(&b, " dport %d", r.Dport.Start)
	}
	switch r.Type {
	case unix.RTN_BLACKHOLE:
		b.WriteString(" blackhole")
	case unix.RTN_PROHIBIT:
		b.WriteString(" prohibit")
	case unix.RTN_UNREACHABLE:
		b.WriteString(" unreachable")
	default:
		fmt.Fprintf(&b, " lookup %d", r.Table)
	}
	if r.Protocol != 0 {
		fmt.Fprintf(&b, " proto %d", r.Protocol)
	}
	return b.String()
}
