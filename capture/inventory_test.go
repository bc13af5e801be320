package capture

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/firebreak-ir/firebreak/capture/internal/eve"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func inventoryOf(t *testing.T, files ...string) []Host {
	dir := testdataDir(t)
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(dir, "pcap", f))
	}
	inv := NewInventory()
	_, err := Analyze(context.Background(), Options{}, paths, func(ev *Event) error { inv.Observe(ev); return nil })
	require.NoError(t, err)
	return inv.Hosts()
}

func find(hosts []Host, ip string) *Host {
	for i := range hosts {
		if hosts[i].IP == ip {
			return &hosts[i]
		}
	}
	return nil
}

func TestInventory(t *testing.T) {
	hosts := inventoryOf(t, "dns-udp-eve-dig.pcap", "bug-2646-01.pcap")
	client := find(hosts, "10.16.1.11")
	require.NotNil(t, client)
	assert.True(t, client.Private)
	assert.Equal(t, uint64(1), client.Flows)

	resolver := find(hosts, "10.16.1.1")
	require.NotNil(t, resolver)
	require.Len(t, resolver.Services, 1, "the resolver answered on UDP 53")
	assert.Equal(t, Service{Proto: "UDP", Port: 53, AppProto: "dns", Flows: 1}, resolver.Services[0])

	web := find(hosts, "192.0.78.24")
	require.NotNil(t, web, "an address from a DNS answer is a host")
	assert.Contains(t, web.Names, HostName{Name: "suricata-ids.org", Source: "dns"})
	assert.False(t, web.Private)
	assert.True(t, hosts[0].Private, "private addresses come first")

	var sni bool
	for _, h := range hosts {
		for _, n := range h.Names {
			sni = sni || (n.Source == "tls-sni" && n.Name == "raw.githubusercontent.com")
		}
	}
	assert.True(t, sni, "the TLS server is named by the SNI its clients asked for")
}

func TestInventoryIsBounded(t *testing.T) {
	inv := NewInventory()
	port := uint16(80)
	for i := range MaxHosts + 10 {
		ip := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		inv.Observe(&Event{Timestamp: "2026-11-24T00:00:00.000000+0000", SrcIP: "192.168.0.1", DestIP: netip.AddrFrom4(ip).String(), DestPort: &port, Proto: "TCP",
			Flow: &eve.Flow{PktsToClient: 1}})
	}
	assert.Len(t, inv.Hosts(), MaxHosts)
	assert.Equal(t, uint64(11), inv.Dropped)
}
