package boot

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reply builds a server's answer the way RFC 2131 lays it out.
func reply(xid uint32, typ byte, yiaddr string, opts ...byte) []byte {
	b := make([]byte, 240)
	b[0] = 2
	binary.BigEndian.PutUint32(b[4:], xid)
	copy(b[16:20], netip.MustParseAddr(yiaddr).AsSlice())
	copy(b[236:], dhcpMagic)
	b = append(b, 53, 1, typ)
	b = append(b, opts...)
	return append(b, 255)
}

func TestDHCPPacket(t *testing.T) {
	mac := net.HardwareAddr{0x52, 0x54, 0, 0xfb, 0, 0}
	p := dhcpPacket(dhcpRequest, 0x01020304, mac, netip.MustParseAddr("10.0.2.15"), netip.MustParseAddr("10.0.2.2"))
	require.Len(t, p, 300)
	assert.Equal(t, byte(1), p[0], "BOOTREQUEST")
	assert.Equal(t, uint32(0x01020304), binary.BigEndian.Uint32(p[4:]))
	assert.Equal(t, uint16(0x8000), binary.BigEndian.Uint16(p[10:]), "asks for a broadcast answer")
	assert.Equal(t, []byte(mac), p[28:34])
	assert.Equal(t, dhcpMagic, p[236:240])
	opts := string(p[240:])
	assert.Contains(t, opts, string([]byte{53, 1, dhcpRequest}))
	assert.Contains(t, opts, string([]byte{50, 4, 10, 0, 2, 15}), "requested address")
	assert.Contains(t, opts, string([]byte{54, 4, 10, 0, 2, 2}), "server identifier")
}

func TestParseDHCPReply(t *testing.T) {
	ack := reply(7, dhcpAck, "10.0.2.15", 1, 4, 255, 255, 255, 0, 3, 4, 10, 0, 2, 2, 51, 4, 0, 0, 0x0e, 0x10, 54, 4, 10, 0, 2, 2, 0, 0)
	typ, l, err := parseDHCPReply(ack, 7)
	require.NoError(t, err)
	assert.Equal(t, byte(dhcpAck), typ)
	assert.Equal(t, netip.MustParsePrefix("10.0.2.15/24"), l.Addr)
	assert.Equal(t, netip.MustParseAddr("10.0.2.2"), l.Router)
	assert.Equal(t, netip.MustParseAddr("10.0.2.2"), l.Server)
	assert.Equal(t, time.Hour, l.Duration)

	_, _, err = parseDHCPReply(ack, 8)
	assert.Error(t, err, "another transaction")
	_, _, err = parseDHCPReply(ack[:100], 7)
	assert.Error(t, err, "short")
	_, _, err = parseDHCPReply(reply(7, dhcpOffer, "10.0.2.15"), 7)
	assert.ErrorContains(t, err, "without an address and a netmask")
	_, _, err = parseDHCPReply(reply(7, dhcpAck, "10.0.2.15", 3, 40, 1), 7)
	assert.ErrorContains(t, err, "truncated")
	typ, _, err = parseDHCPReply(reply(7, dhcpNak, "0.0.0.0"), 7)
	require.NoError(t, err)
	assert.Equal(t, byte(dhcpNak), typ)
}

func FuzzParseDHCPReply(f *testing.F) {
	f.Add(reply(1, dhcpOffer, "192.0.2.9", 1, 4, 255, 255, 255, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, l, err := parseDHCPReply(b, 1)
		if err == nil && (typ == dhcpOffer || typ == dhcpAck) && !l.Addr.IsValid() {
			t.Fatal("an offer without an address was accepted")
		}
	})
}
