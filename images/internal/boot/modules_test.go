package boot

import (
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModulesIndex(t *testing.T) {
	deps, err := parseModulesDep(strings.NewReader(
		"kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko\n" +
			"kernel/drivers/block/virtio_blk.ko:\n" +
			"kernel/net/sched/act-gact.ko:\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"kernel/net/bridge/bridge.ko", "kernel/net/802/stp.ko", "kernel/net/llc/llc.ko"}, deps["bridge"])
	assert.Equal(t, []string{"kernel/drivers/block/virtio_blk.ko"}, deps["virtio_blk"])
	assert.Contains(t, deps, "act_gact", "- and _ are the same in module names")

	_, err = parseModulesDep(strings.NewReader("garbage\n"))
	assert.Error(t, err)

	aliases, err := parseModulesAlias(strings.NewReader(
		"# Aliases extracted from modules themselves.\n" +
			"alias virtio:d00000002v* virtio_blk\n" +
			"alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n"))
	require.NoError(t, err)
	db := &modDB{deps: deps, aliases: aliases}
	assert.Equal(t, []string{"virtio_blk"}, db.match("virtio:d00000002v00001AF4"))
	assert.Equal(t, []string{"e1000e"}, db.match("pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"))
	assert.Empty(t, db.match("pci:v000010ECd00008168sv0sd0bc02sc00i00"))
	_, err = parseModulesAlias(strings.NewReader("alias onlyone\n"))
	assert.Error(t, err)
}

func TestPickMgmt(t *testing.T) {
	ports := []port{{name: "eth0", mac: mustMAC("52:54:00:fb:00:00")}, {name: "eth1", mac: mustMAC("52:54:00:fb:00:01")}}
	p, err := pickMgmt(ports, "")
	require.NoError(t, err)
	assert.Equal(t, "eth0", p.name, "the first port in bus order by default")
	p, err = pickMgmt(ports, "52:54:00:FB:00:01")
	require.NoError(t, err)
	assert.Equal(t, "eth1", p.name, "by MAC, any case")
	_, err = pickMgmt(ports, "eth7")
	assert.ErrorContains(t, err, "the ports are eth0 52:54:00:fb:00:00, eth1 52:54:00:fb:00:01")
	_, err = pickMgmt(nil, "")
	assert.ErrorIs(t, err, ErrNoPorts)
}

func TestLastLine(t *testing.T) {
	var l lastLine
	l.Write([]byte("starting\nfirebreak serve: bad "))
	l.Write([]byte("flag\n"))
	assert.Equal(t, "firebreak serve: bad flag", l.String())
	l.Write([]byte("partial"))
	assert.Equal(t, "partial", l.String())
}

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}
