// Package nlk is the one narrow interface through which netctl reaches the
// kernel, with a netlink implementation bound to a network namespace and
// an in-memory fake that renders its state as text for unit tests.
//
// It must never decide anything: no policy, no diffing, no retries beyond
// restarting an interrupted dump. Those belong to netctl.
package nlk

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Kernel is every kernel call netctl makes.
type Kernel interface {
	LinkByName(name string) (netlink.Link, error)
	LinkByIndex(index int) (netlink.Link, error)
	LinkAdd(link netlink.Link) error
	LinkSetMaster(link, master netlink.Link) error
	LinkSetUp(link netlink.Link) error
	LinkSetDown(link netlink.Link) error
	LinkSetAlias(link netlink.Link, alias string) error
	LinkSetARPOff(link netlink.Link) error
	LinkSetIP6AddrGenMode(link netlink.Link, mode int) error

	QdiscList(link netlink.Link) ([]netlink.Qdisc, error)
	QdiscAdd(q netlink.Qdisc) error

	FilterList(link netlink.Link, parent uint32) ([]netlink.Filter, error)
	FilterAdd(f netlink.Filter) error
	FilterDel(f netlink.Filter) error

	RuleList(family int) ([]netlink.Rule, error)
	RuleAdd(r *netlink.Rule) error
	RuleDel(r *netlink.Rule) error

	Close()
}

// dumpRetries bounds how often an interrupted dump is restarted. A dump
// is interrupted when the kernel state changed during it; a few retries
// are enough unless something is rewriting the tables in a loop.
const dumpRetries = 5

// Netlink is the real Kernel: a netlink handle in one network namespace.
type Netlink struct {
	h *netlink.Handle
}

// Open returns a Kernel for the namespace at nsPath ("" for the caller's).
func Open(nsPath string) (*Netlink, error) {
	if nsPath == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink handle: %w", err)
		}
		return &Netlink{h: h}, nil
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", nsPath, err)
	}
	return &Netlink{h: h}, nil
}

func retry[T any](f func() ([]T, error)) ([]T, error) {
	var err error
	var out []T
	for range dumpRetries {
		out, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}

// LinkByName implements Kernel.
func (n *Netlink) LinkByName(name string) (netlink.Link, error) { return n.h.LinkByName(name) }

// LinkByIndex implements Kernel.
func (n *Netlink) LinkByIndex(i int) (netlink.Link, error) { return n.h.LinkByIndex(i) }

// LinkAdd implements Kernel.
func (n *Netlink) LinkAdd(l netlink.Link) error { return n.h.LinkAdd(l) }

// LinkSetMaster implements Kernel.
func (n *Netlink) LinkSetMaster(l, m netlink.Link) error { return n.h.LinkSetMaster(l, m) }

// LinkSetUp implements Kernel.
func (n *Netlink) LinkSetUp(l netlink.Link) error { return n.h.LinkSetUp(l) }

// LinkSetDown implements Kernel.
func (n *Netlink) LinkSetDown(l netlink.Link) error { return n.h.LinkSetDown(l) }

// LinkSetAlias implements Kernel.
func (n *Netlink) LinkSetAlias(l netlink.Link, a string) error { return n.h.LinkSetAlias(l, a) }

// LinkSetARPOff implements Kernel.
func (n *Netlink) LinkSetARPOff(l netlink.Link) error { return n.h.LinkSetARPOff(l) }

// LinkSetIP6AddrGenMode implements Kernel.
func (n *Netlink) LinkSetIP6AddrGenMode(l netlink.Link, mode int) error {
	return n.h.LinkSetIP6AddrGenMode(l, mode)
}

// QdiscList implements Kernel.
func (n *Netlink) QdiscList(l netlink.Link) ([]netlink.Qdisc, error) {
	return retry(func() ([]netlink.Qdisc, error) { return n.h.QdiscList(l) })
}

// QdiscAdd implements Kernel.
func (n *Netlink) QdiscAdd(q netlink.Qdisc) error { return n.h.QdiscAdd(q) }

// FilterList implements Kernel.
func (n *Netlink) FilterList(l netlink.Link, parent uint32) ([]netlink.Filter, error) {
	return retry(func() ([]netlink.Filter, error) { return n.h.FilterList(l, parent) })
}

// FilterAdd implements Kernel.
func (n *Netlink) FilterAdd(f netlink.Filter) error { return n.h.FilterAdd(f) }

// FilterDel implements Kernel.
func (n *Netlink) FilterDel(f netlink.Filter) error { return n.h.FilterDel(f) }

// RuleList implements Kernel.
func (n *Netlink) RuleList(family int) ([]netlink.Rule, error) {
	return retry(func() ([]netlink.Rule, error) { return n.h.RuleList(family) })
}

// RuleAdd implements Kernel.
func (n *Netlink) RuleAdd(r *netlink.Rule) error { return n.h.RuleAdd(r) }

// RuleDel implements Kernel.
func (n *Netlink) RuleDel(r *netlink.Rule) error { return n.h.RuleDel(r) }

// Close implements Kernel.
func (n *Netlink) Close() { n.h.Close() }
