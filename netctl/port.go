package netctl

import (
	"fmt"
	"net"
	"strings"
)

// Port mode: a policy with a link target takes the link down and sets
// its alias to AliasMarker followed by the previous alias, which is how a
// restarted daemon finds the links it took down, and how the alias is
// restored when the link is brought back.

func (c *Controller) portPlan(s State) (*plan, error) {
	p := &plan{}
	want := map[string][]string{}
	for _, pol := range s.Policies {
		want[pol.Target.Link] = append(want[pol.Target.Link], pol.ID)
	}
	for _, name := range c.opts.Ports {
		l, err := c.k.LinkByName(name)
		if err != nil {
			if isNotFound(err) && want[name] == nil {
				continue
			}
			return nil, fmt.Errorf("port %s: %w", name, err)
		}
		key := "link " + name + " down"
		if ids := want[name]; ids != nil {
			p.desired = append(p.desired, &object{
				kind: "link", link: name, key: key, desc: name + " down", policies: ids, phase: phaseDrop,
				add: func() error { return c.takeDown(name) },
			})
		}
		alias := l.Attrs().Alias
		if !strings.HasPrefix(alias, AliasMarker) {
			continue
		}
		up := l.Attrs().Flags&net.FlagUp != 0
		o := &object{kind: "link", link: name, key: key, desc: name + " down", phase: phaseDrop}
		if up {
			// Marked but brought up by hand: missing if wanted (and
			// taken down again), stale if not (alias restored).
			if want[name] != nil {
				continue
			}
			o.key, o.desc = "link "+name+" marked but up", name+" marked but up"
		}
		o.del = func() error { return c.bringUp(name) }
		p.observed = append(p.observed, o)
	}
	return p, nil
}

func (c *Controller) takeDown(name string) error {
	l, err := c.k.LinkByName(name)
	if err != nil {
		return err
	}
	alias := l.Attrs().Alias
	if !strings.HasPrefix(alias, AliasMarker) {
		// The marker goes first: a crash between the two steps leaves
		// a marked link that the next Set recognises.
		if err := c.k.LinkSetAlias(l, AliasMarker+alias); err != nil {
			return fmt.Errorf("mark %s: %w", name, err)
		}
	}
	return c.k.LinkSetDown(l)
}

func (c *Controller) bringUp(name string) error {
	l, err := c.k.LinkByName(name)
	if err != nil {
		return err
	}
	if err := c.k.LinkSetUp(l); err != nil {
		return err
	}
	return c.k.LinkSetAlias(l, strings.TrimPrefix(l.Attrs().Alias, AliasMarker))
}
