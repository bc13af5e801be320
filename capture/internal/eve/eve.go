// Package eve defines the EVE JSON records the analyser emits, with
// Suricata's field names and shapes, so that jq, Elastic, Splunk and EveBox
// read them unchanged, and the formatting helpers (timestamps, addresses)
// those records need.
//
// It must never invent a field Suricata prints differently: a value that is
// not known is left out, not guessed.
package eve

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event is one EVE record.
type Event struct {
	Timestamp   string    `json:"timestamp"`
	FlowID      uint64    `json:"flow_id,omitempty"`
	PcapCnt     uint64    `json:"pcap_cnt,omitempty"`
	EventType   string    `json:"event_type"`
	VLAN        []uint16  `json:"vlan,omitempty"`
	SrcIP       string    `json:"src_ip,omitempty"`
	SrcPort     *uint16   `json:"src_port,omitempty"`
	DestIP      string    `json:"dest_ip,omitempty"`
	DestPort    *uint16   `json:"dest_port,omitempty"`
	Proto       string    `json:"proto,omitempty"`
	ICMPType    *uint8    `json:"icmp_type,omitempty"`
	ICMPCode    *uint8    `json:"icmp_code,omitempty"`
	CommunityID string    `json:"community_id,omitempty"`
	TxID        *uint64   `json:"tx_id,omitempty"`
	AppProto    string    `json:"app_proto,omitempty"`
	DNS         *DNS      `json:"dns,omitempty"`
	HTTP        *HTTP     `json:"http,omitempty"`
	TLS         *TLS      `json:"tls,omitempty"`
	SSH         *SSH      `json:"ssh,omitempty"`
	DHCP        *DHCP     `json:"dhcp,omitempty"`
	SMB         *SMB      `json:"smb,omitempty"`
	FileInfo    *FileInfo `json:"fileinfo,omitempty"`
	Flow        *Flow     `json:"flow,omitempty"`
	TCP         *TCP      `json:"tcp,omitempty"`
	Anomaly     *Anomaly  `json:"anomaly,omitempty"`
	Stats       *StatsRec `json:"stats,omitempty"`
	Alert       *Alert    `json:"alert,omitempty"`
	// Packet is set on "packet" events, which go to detection modules
	// only and are never written as EVE.
	Packet *Packet `json:"-"`
}

// Packet is one packet a tap accepted (capture.Options.PacketTaps). The
// event's addresses and ports are the packet's own sender and receiver.
type Packet struct {
	Payload  []byte // the transport payload; valid only during the emit call
	TCPFlags uint8
	Taps     uint64 // bit i: tap i accepted the packet
	// EtherType is set for a frame that is not IP (0x0806 for ARP): its
	// Payload is then what follows the Ethernet header and VLAN tags, and
	// the event has no addresses.
	EtherType uint16
}

// DNSQuery is one entry of dns.queries.
type DNSQuery struct {
	RRName          string `json:"rrname"`
	RRType          string `json:"rrtype"`
	RRNameTruncated bool   `json:"rrname_truncated,omitempty"`
}

// SOA is the rdata of an SOA record.
type SOA struct {
	MName   string `json:"mname"`
	RName   string `json:"rname"`
	Serial  uint32 `json:"serial"`
	Refresh uint32 `json:"refresh"`
	Retry   uint32 `json:"retry"`
	Expire  uint32 `json:"expire"`
	Minimum uint32 `json:"minimum"`
}

// SRV is the rdata of an SRV record.
type SRV struct {
	Priority uint16 `json:"priority"`
	Weight   uint16 `json:"weight"`
	Port     uint16 `json:"port"`
	Name     string `json:"name"`
}

// SSHFP is the rdata of an SSHFP record.
type SSHFP struct {
	Fingerprint string `json:"fingerprint"`
	Algo        uint8  `json:"algo"`
	Type        uint8  `json:"type"`
}

// DNSAnswer is one entry of dns.answers or dns.authorities.
type DNSAnswer struct {
	RRName          string  `json:"rrname"`
	RRType          string  `json:"rrtype"`
	TTL             uint32  `json:"ttl"`
	RData           *string `json:"rdata,omitempty"`
	RRNameTruncated bool    `json:"rrname_truncated,omitempty"`
	SOA             *SOA    `json:"soa,omitempty"`
	SRV             *SRV    `json:"srv,omitempty"`
	SSHFP           *SSHFP  `json:"sshfp,omitempty"`
}

// DNS is the dns object, EVE version 3.
type DNS struct {
	Version     int                 `json:"version"`
	Type        string              `json:"type"`
	ID          uint16              `json:"id"`
	Flags       string              `json:"flags"`
	QR          bool                `json:"qr,omitempty"`
	AA          bool                `json:"aa,omitempty"`
	TC          bool                `json:"tc,omitempty"`
	RD          bool                `json:"rd,omitempty"`
	RA          bool                `json:"ra,omitempty"`
	Z           bool                `json:"z,omitempty"`
	AD          bool                `json:"ad,omitempty"`
	CD          bool                `json:"cd,omitempty"`
	Opcode      uint8               `json:"opcode"`
	RCode       string              `json:"rcode,omitempty"`
	Queries     []DNSQuery          `json:"queries,omitempty"`
	Answers     []DNSAnswer         `json:"answers,omitempty"`
	Grouped     map[string][]string `json:"grouped,omitempty"`
	Authorities []DNSAnswer         `json:"authorities,omitempty"`
	Additionals []DNSAnswer         `json:"additionals,omitempty"`
}

// HTTP is the http object.
type HTTP struct {
	Hostname        string `json:"hostname,omitempty"`
	HTTPPort        uint16 `json:"http_port,omitempty"`
	URL             string `json:"url,omitempty"`
	HTTPUserAgent   string `json:"http_user_agent,omitempty"`
	HTTPContentType string `json:"http_content_type,omitempty"`
	HTTPRefer       string `json:"http_refer,omitempty"`
	HTTPMethod      string `json:"http_method,omitempty"`
	Protocol        string `json:"protocol,omitempty"`
	Status          int    `json:"status,omitempty"`
	Redirect        string `json:"redirect,omitempty"`
	Length          int64  `json:"length"`
	XFF             string `json:"xff,omitempty"`
}

// JA3 is a JA3 or JA3S fingerprint.
type JA3 struct {
	Hash   string `json:"hash"`
	String string `json:"string"`
}

// TLSCert describes a certificate (server or client).
type TLSCert struct {
	Subject        string   `json:"subject,omitempty"`
	IssuerDN       string   `json:"issuerdn,omitempty"`
	SerialNumber   string   `json:"serial,omitempty"`
	Fingerprint    string   `json:"fingerprint,omitempty"`
	NotBefore      string   `json:"notbefore,omitempty"`
	NotAfter       string   `json:"notafter,omitempty"`
	SubjectAltName []string `json:"subjectaltname,omitempty"`
	Certificate    string   `json:"certificate,omitempty"`
	Chain          []string `json:"chain,omitempty"`
}

// TLS is the tls object.
type TLS struct {
	TLSCert
	Version string   `json:"version"`
	SNI     string   `json:"sni,omitempty"`
	JA3     *JA3     `json:"ja3,omitempty"`
	JA3S    *JA3     `json:"ja3s,omitempty"`
	JA4     string   `json:"ja4,omitempty"`
	Client  *TLSCert `json:"client,omitempty"`
}

// Hassh is a HASSH fingerprint.
type Hassh struct {
	Hash   string `json:"hash"`
	String string `json:"string"`
}

// SSHSide is ssh.client or ssh.server.
type SSHSide struct {
	ProtoVersion    string `json:"proto_version"`
	SoftwareVersion string `json:"software_version"`
	Hassh           *Hassh `json:"hassh,omitempty"`
}

// SSH is the ssh object.
type SSH struct {
	Client *SSHSide `json:"client,omitempty"`
	Server *SSHSide `json:"server,omitempty"`
}

// DHCP is the dhcp object (extended).
type DHCP struct {
	Type          string   `json:"type"`
	ID            uint32   `json:"id"`
	ClientMAC     string   `json:"client_mac"`
	AssignedIP    string   `json:"assigned_ip"`
	ClientIP      string   `json:"client_ip"`
	RelayIP       string   `json:"relay_ip,omitempty"`
	NextServerIP  string   `json:"next_server_ip,omitempty"`
	DHCPType      string   `json:"dhcp_type,omitempty"`
	ClientID      string   `json:"client_id,omitempty"`
	Hostname      *string  `json:"hostname,omitempty"`
	Params        []string `json:"params,omitempty"`
	LeaseTime     *uint32  `json:"lease_time,omitempty"`
	RenewalTime   *uint32  `json:"renewal_time,omitempty"`
	RebindingTime *uint32  `json:"rebinding_time,omitempty"`
	SubnetMask    string   `json:"subnet_mask,omitempty"`
	Routers       []string `json:"routers,omitempty"`
	DNSServers    []string `json:"dns_servers,omitempty"`
}

// SMBNative holds the native OS and LAN manager strings of an SMB1 session
// setup.
type SMBNative struct {
	NativeOS string `json:"native_os"`
	NativeLM string `json:"native_lm"`
}

// NTLMSSP is what an NTLMSSP AUTHENTICATE message says about the client.
type NTLMSSP struct {
	Domain  string `json:"domain"`
	User    string `json:"user"`
	Host    string `json:"host"`
	Version string `json:"version,omitempty"`
}

// SMB is the smb object.
type SMB struct {
	ID             uint64     `json:"id"`
	Dialect        string     `json:"dialect,omitempty"`
	Command        string     `json:"command"`
	Status         string     `json:"status,omitempty"`
	StatusCode     string     `json:"status_code,omitempty"`
	SessionID      uint64     `json:"session_id"`
	TreeID         uint32     `json:"tree_id"`
	ClientDialects []string   `json:"client_dialects,omitempty"`
	ServerGUID     string     `json:"server_guid,omitempty"`
	Request        *SMBNative `json:"request,omitempty"`
	Response       *SMBNative `json:"response,omitempty"`
	NTLMSSP        *NTLMSSP   `json:"ntlmssp,omitempty"`
	Share          string     `json:"share,omitempty"`
	NamedPipe      string     `json:"named_pipe,omitempty"`
	ShareType      string     `json:"share_type,omitempty"`
}

// FileInfo is the fileinfo object: a file (message body) seen in a
// transaction. Contents are neither stored nor hashed.
type FileInfo struct {
	Filename string `json:"filename"`
	Gaps     bool   `json:"gaps"`
	State    string `json:"state"`
	Stored   bool   `json:"stored"`
	Size     int64  `json:"size"`
	TxID     uint64 `json:"tx_id"`
}

// Flow is the flow object.
type Flow struct {
	PktsToServer  uint64 `json:"pkts_toserver"`
	PktsToClient  uint64 `json:"pkts_toclient"`
	BytesToServer uint64 `json:"bytes_toserver"`
	BytesToClient uint64 `json:"bytes_toclient"`
	Start         string `json:"start"`
	End           string `json:"end"`
	Age           int64  `json:"age"`
	State         string `json:"state"`
	Reason        string `json:"reason"`
	Alerted       bool   `json:"alerted"`
}

// TCP is the tcp object of flow records.
type TCP struct {
	TCPFlags   string `json:"tcp_flags"`
	TCPFlagsTS string `json:"tcp_flags_ts"`
	TCPFlagsTC string `json:"tcp_flags_tc"`
	SYN        bool   `json:"syn,omitempty"`
	FIN        bool   `json:"fin,omitempty"`
	RST        bool   `json:"rst,omitempty"`
	PSH        bool   `json:"psh,omitempty"`
	ACK        bool   `json:"ack,omitempty"`
	URG        bool   `json:"urg,omitempty"`
	ECN        bool   `json:"ecn,omitempty"`
	CWR        bool   `json:"cwr,omitempty"`
	State      string `json:"state,omitempty"`
}

// Alert is the alert object of an "alert" record, as Suricata writes it.
// Metadata maps a key to its values (Suricata's rule metadata shape).
type Alert struct {
	Action      string              `json:"action"`
	GID         uint32              `json:"gid"`
	SignatureID uint32              `json:"signature_id"`
	Rev         uint32              `json:"rev"`
	Signature   string              `json:"signature"`
	Category    string              `json:"category"`
	Severity    int                 `json:"severity"`
	Metadata    map[string][]string `json:"metadata,omitempty"`
}

// Anomaly is the anomaly object.
type Anomaly struct {
	Type  string `json:"type"`
	Event string `json:"event"`
	Layer string `json:"layer,omitempty"`
}

// StatsRec is the stats object written at the end of an analysis.
type StatsRec struct {
	Uptime  int64          `json:"uptime"`
	Capture map[string]any `json:"capture"`
	Decoder map[string]any `json:"decoder"`
	Flow    map[string]any `json:"flow"`
	AppTx   map[string]any `json:"app_layer"`
}

// Time formats t as Suricata does: 2016-02-02T15:49:13.145227+0000.
func Time(t time.Time) string {
	var b [32]byte
	return string(AppendTime(b[:0], t))
}

// AppendTime appends the Suricata timestamp of t to b.
func AppendTime(b []byte, t time.Time) []byte {
	const maxSec = 253402300799 // 9999-12-31T23:59:59Z
	sec := t.Unix()
	if sec < 0 || sec > maxSec {
		return appendTimeSlow(b, t)
	}
	// Days since 1970 to a civil date (Howard Hinnant's civil_from_days),
	// with years starting in March so that a leap day is a year's last.
	days := uint64(sec) / 86400
	sod := uint64(sec) % 86400
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	y := yoe + era*400
	if m > 12 {
		m -= 12
		y++
	}
	h, mi, s := sod/3600, sod/60%60, sod%60
	us := uint64(t.Nanosecond()) / 1000
	var out [31]byte
	out[0], out[1] = digits2[y/100*2], digits2[y/100*2+1]
	out[2], out[3] = digits2[y%100*2], digits2[y%100*2+1]
	out[4] = '-'
	out[5], out[6] = digits2[m*2], digits2[m*2+1]
	out[7] = '-'
	out[8], out[9] = digits2[d*2], digits2[d*2+1]
	out[10] = 'T'
	out[11], out[12] = digits2[h*2], digits2[h*2+1]
	out[13] = ':'
	out[14], out[15] = digits2[mi*2], digits2[mi*2+1]
	out[16] = ':'
	out[17], out[18] = digits2[s*2], digits2[s*2+1]
	out[19] = '.'
	out[20], out[21] = digits2[us/10000*2], digits2[us/10000*2+1]
	out[22], out[23] = digits2[us/100%100*2], digits2[us/100%100*2+1]
	out[24], out[25] = digits2[us%100*2], digits2[us%100*2+1]
	copy(out[26:], "+0000")
	return append(b, out[:]...)
}

// appendTimeSlow is AppendTime for times before 1970 or after 9999.
func appendTimeSlow(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000000+0000")
	}
	us := t.Nanosecond() / 1000
	n := func(b []byte, v, width int) []byte {
		var tmp [6]byte
		for i := width - 1; i >= 0; i-- {
			tmp[i] = byte('0' + v%10)
			v /= 10
		}
		return append(b, tmp[:width]...)
	}
	b = n(b, y, 4)
	b = append(b, '-')
	b = n(b, int(mo), 2)
	b = append(b, '-')
	b = n(b, d, 2)
	b = append(b, 'T')
	b = n(b, h, 2)
	b = append(b, ':')
	b = n(b, mi, 2)
	b = append(b, ':')
	b = n(b, s, 2)
	b = append(b, '.')
	b = n(b, us, 6)
	return append(b, "+0000"...)
}

// IP formats an address as Suricata does: dotted quad, or eight groups of
// four hex digits without compression for IPv6.
func IP(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	const hex = "0123456789abcdef"
	var out [39]byte
	j := 0
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			out[j] = ':'
			j++
		}
		out[j], out[j+1], out[j+2], out[j+3] = hex[b[i]>>4], hex[b[i]&15], hex[b[i+1]>>4], hex[b[i+1]&15]
		j += 4
	}
	return string(out[:j])
}

// Proto names an IP protocol as EVE does.
func Proto(p uint8) string {
	switch p {
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 1:
		return "ICMP"
	case 58:
		return "IPv6-ICMP"
	case 47:
		return "GRE"
	case 132:
		return "SCTP"
	}
	return strconv.Itoa(int(p))
}

// SafeString returns b as a string: unchanged if it is valid UTF-8,
// otherwise with every non-ASCII byte written as \xNN (as Suricata does).
func SafeString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	const hex = "0123456789abcdef"
	for _, c := range b {
		if c < 0x80 {
			out = append(out, c)
			continue
		}
		out = append(out, '\\', 'x', hex[c>>4], hex[c&15])
	}
	return string(out)
}

// Hex2 formats a byte as two lower-case hex digits.
func Hex2(v uint8) string {
	const hex = "0123456789abcdef"
	return string([]byte{hex[v>>4], hex[v&15]})
}
