package nlk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func u32(link int, prio uint16, proto uint16) *netlink.U32 {
	return &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: link, Parent: netlink.HANDLE_MIN_INGRESS, Priority: prio, Protocol: proto},
		Sel:         &netlink.TcU32Sel{Flags: 1, Keys: []netlink.TcU32Key{{}}},
	}
}

func TestFakeBehavesLikeTheKernel(t *testing.T) {
	f := NewFake()
	f.AddDevice("eth1", "02:00:00:00:00:01")
	l, err := f.LinkByName("eth1")
	require.NoError(t, err)
	idx := l.Attrs().Index

	assert.ErrorIs(t, f.FilterAdd(u32(idx, 10, unix.ETH_P_IP)), unix.EINVAL, "no qdisc yet")
	require.NoError(t, f.QdiscAdd(&netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx, Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}))
	require.NoError(t, f.FilterAdd(u32(idx, 10, unix.ETH_P_IP)))
	require.NoError(t, f.FilterAdd(u32(idx, 10, unix.ETH_P_IP)))
	assert.ErrorIs(t, f.FilterAdd(u32(idx, 10, unix.ETH_P_ARP)), unix.EINVAL, "one protocol per priority")
	assert.ErrorIs(t, f.FilterAdd(&netlink.Flower{FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: netlink.HANDLE_MIN_INGRESS, Priority: 11}}), unix.ENOENT, "no flower")

	fs, err := f.FilterList(l, netlink.HANDLE_MIN_INGRESS)
	require.NoError(t, err)
	require.Len(t, fs, 2)
	assert.Equal(t, "8000:800", netlink.HandleStr(fs[0].Attrs().Handle), "u32 node 800::800, as the kernel numbers it")
	fs[0].(*netlink.U32).Sel.Keys[0].Val = 42 // a copy: the fake is not changed
	again, _ := f.FilterList(l, netlink.HANDLE_MIN_INGRESS)
	assert.Zero(t, again[0].(*netlink.U32).Sel.Keys[0].Val)

	require.NoError(t, f.FilterDel(&netlink.U32{FilterAttrs: *fs[1].Attrs()}))
	assert.ErrorIs(t, f.FilterDel(&netlink.U32{FilterAttrs: *fs[1].Attrs()}), unix.ENOENT)
	require.NoError(t, f.FilterDel(u32(idx, 10, unix.ETH_P_IP)), "whole priority")
	fs, _ = f.FilterList(l, netlink.HANDLE_MIN_INGRESS)
	assert.Empty(t, fs)
	assert.Equal(t, "link eth1 device down\n  qdisc clsact\n", f.Render())
}
