package netctl

import (
	"fmt"

	"github.com/firebreak-ir/firebreak/netctl/internal/match"
	"github.com/vishvananda/netlink"
)

// Counter is what the kernel dropped for one policy.
type Counter struct {
	Packets uint64
	Bytes   uint64
}

// Dropped reads the kernel's counters on the drop filters of desired's
// policies, so the caller can journal "isolation verified" with counts
// and see that an isolated host keeps trying. A frame is counted once per
// policy whose drop it hit. Bridge mode only: ip rules and links keep no
// per-object counters (ErrUnsupported).
func (c *Controller) Dropped(desired State) (map[string]Counter, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opts.Mode != ModeBridge {
		return nil, unsupported("drop counters in %s mode", c.opts.Mode)
	}
	if err := c.validate(desired); err != nil {
		return nil, err
	}
	p, err := c.plan(desired)
	if err != nil {
		return nil, err
	}
	owners := map[string][]string{}
	for _, o := range p.desired {
		if o.phase == phaseDrop {
			owners[o.key] = o.policies
		}
	}
	out := map[string]Counter{}
	for _, pol := range desired.Policies {
		out[pol.ID] = Counter{}
	}
	for _, name := range c.opts.Ports {
		port, err := c.k.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("port %s: %w", name, err)
		}
		fs, err := c.k.FilterList(port, netlink.HANDLE_MIN_INGRESS)
		if err != nil {
			return nil, fmt.Errorf("filters on %s: %w", name, err)
		}
		for _, f := range fs {
			key, ok := match.Key(f)
			if !ok || owners[name+" "+key] == nil {
				continue
			}
			var acts []netlink.Action
			switch f := f.(type) {
			case *netlink.U32:
				acts = f.Actions
			case *netlink.Flower:
				acts = f.Actions
			}
			for _, a := range acts {
				st := a.Attrs().Statistics
				if st == nil || st.Basic == nil {
					continue
				}
				for _, id := range owners[name+" "+key] {
					cn := out[id]
					cn.Packets += uint64(st.Basic.Packets)
					cn.Bytes += st.Basic.Bytes
					out[id] = cn
				}
			}
		}
	}
	return out, nil
}
