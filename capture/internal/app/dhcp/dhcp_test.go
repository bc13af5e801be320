package dhcp_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/app/dhcp"
	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

func TestParseCapture(t *testing.T) {
	ps := testutil.Payloads(t, "dhcp-eve-extended", 67, 2)
	require.Len(t, ps, 2)
	req, err := dhcp.Parse(ps[0])
	require.NoError(t, err)
	assert.Equal(t, "request", req.Type)
	assert.Equal(t, "request", req.DHCPType)
	assert.Equal(t, "00:11:32:17:49:f0", req.ClientMAC)
	require.NotNil(t, req.Hostname)
	assert.Equal(t, "nas1\x00", *req.Hostname)
	ack, err := dhcp.Parse(ps[1])
	require.NoError(t, err)
	assert.Equal(t, "ack", ack.DHCPType)
	assert.Equal(t, "10.16.1.4", ack.AssignedIP)
	assert.Equal(t, []string{"10.16.1.1"}, ack.DNSServers)
}

func TestNotDHCP(t *testing.T) {
	_, err := dhcp.Parse(make([]byte, 300))
	assert.ErrorIs(t, err, dhcp.ErrNotDHCP)
}

func FuzzParse(f *testing.F) {
	for _, p := range testutil.Payloads(f, "dhcp-eve-extended", 67, 2) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = dhcp.Parse(b) })
}
