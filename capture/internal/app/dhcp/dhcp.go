// Package dhcp parses DHCPv4 (BOOTP) messages into the extended EVE dhcp
// object: message type, transaction id, client MAC and identifier, hostname,
// requested parameters, assigned/client/relay/next-server addresses, lease
// times, routers and DNS servers.
//
// Messages are untrusted: it must never panic and never read past an option
// length.
package dhcp

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"

	"github.com/firebreak-ir/firebreak/capture/internal/eve"
)

// ErrNotDHCP means the payload is not a BOOTP message with the DHCP cookie.
var ErrNotDHCP = errors.New("dhcp: not a dhcp message")

var msgTypes = []string{"", "discover", "offer", "request", "decline", "ack", "nak", "release", "inform"}

// paramNames are the requested parameters Suricata logs; others are left out.
var paramNames = map[byte]string{
	1: "subnet_mask", 3: "router", 6: "dns_server", 15: "domain", 35: "arp_timeout", 42: "ntp_server",
	66: "tftp_server_name", 150: "tftp_server_ip",
}

func ip4(b []byte) string { return netip.AddrFrom4([4]byte(b)).String() }

func colon(b []byte) string { return net.HardwareAddr(b).String() }

// Parse decodes a DHCP message.
func Parse(b []byte) (*eve.DHCP, error) {
	if len(b) < 240 || binary.BigEndian.Uint32(b[236:240]) != 0x63825363 || (b[0] != 1 && b[0] != 2) {
		return nil, ErrNotDHCP
	}
	d := &eve.DHCP{Type: "request", ID: binary.BigEndian.Uint32(b[4:8])}
	if b[0] == 2 {
		d.Type = "reply"
	}
	hlen := min(int(b[2]), 16)
	d.ClientMAC = colon(b[28 : 28+hlen])
	d.ClientIP = ip4(b[12:16])
	d.AssignedIP = ip4(b[16:20])
	d.NextServerIP = ip4(b[20:24])
	d.RelayIP = ip4(b[24:28])
	opts := b[240:]
	for len(opts) > 0 {
		code := opts[0]
		if code == 0 {
			opts = opts[1:]
			continue
		}
		if code == 255 || len(opts) < 2 {
			break
		}
		l := int(opts[1])
		if 2+l > len(opts) {
			break
		}
		v := opts[2 : 2+l]
		opts = opts[2+l:]
		u32 := func() *uint32 {
			if len(v) != 4 {
				return nil
			}
			x := binary.BigEndian.Uint32(v)
			return &x
		}
		addrs := func() []string {
			var out []string
			for i := 0; i+4 <= len(v); i += 4 {
				out = append(out, ip4(v[i:i+4]))
			}
			return out
		}
		switch code {
		case 53:
			if len(v) == 1 && int(v[0]) < len(msgTypes) && v[0] > 0 {
				d.DHCPType = msgTypes[v[0]]
			}
		case 61:
			if len(v) > 1 {
				d.ClientID = colon(v[1:])
			}
		case 12:
			h := eve.SafeString(v)
			d.Hostname = &h
		case 55:
			for _, p := range v {
				if n, ok := paramNames[p]; ok {
					d.Params = append(d.Params, n)
				}
			}
		case 51:
			d.LeaseTime = u32()
		case 58:
			d.RenewalTime = u32()
		case 59:
			d.RebindingTime = u32()
		case 1:
			if len(v) == 4 {
				d.SubnetMask = ip4(v)
			}
		case 3:
			d.Routers = addrs()
		case 6:
			d.DNSServers = addrs()
		}
	}
	return d, nil
}
