package eve

import (
	"bytes"
	"encoding/json"
	"math/bits"
	"slices"
	"strings"
	"unicode/utf8"
)

// AppendJSON appends the event as one JSON object, the same document
// encoding/json produces (without HTML escaping), but without reflection
// and without allocating: encoding is a large share of the analyser's time.
//
// Keys are written pre-quoted, each with the comma that separates it from
// the previous member: every object here starts with a member that is always
// present, or goes through key, which drops the comma of a first member.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"timestamp":`...)
	b = AppendString(b, e.Timestamp)
	if e.FlowID != 0 {
		b = appendUint(append(b, `,"flow_id":`...), e.FlowID)
	}
	if e.PcapCnt != 0 {
		b = appendUint(append(b, `,"pcap_cnt":`...), e.PcapCnt)
	}
	b = AppendString(append(b, `,"event_type":`...), e.EventType)
	if len(e.VLAN) > 0 {
		b = append(b, `,"vlan":[`...)
		for i, v := range e.VLAN {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendUint(b, uint64(v))
		}
		b = append(b, ']')
	}
	b = appendStrOmit(b, `,"src_ip":`, e.SrcIP)
	if e.SrcPort != nil {
		b = appendUint(append(b, `,"src_port":`...), uint64(*e.SrcPort))
	}
	b = appendStrOmit(b, `,"dest_ip":`, e.DestIP)
	if e.DestPort != nil {
		b = appendUint(append(b, `,"dest_port":`...), uint64(*e.DestPort))
	}
	b = appendStrOmit(b, `,"proto":`, e.Proto)
	if e.ICMPType != nil {
		b = appendUint(append(b, `,"icmp_type":`...), uint64(*e.ICMPType))
	}
	if e.ICMPCode != nil {
		b = appendUint(append(b, `,"icmp_code":`...), uint64(*e.ICMPCode))
	}
	b = appendStrOmit(b, `,"community_id":`, e.CommunityID)
	if e.TxID != nil {
		b = appendUint(append(b, `,"tx_id":`...), *e.TxID)
	}
	b = appendStrOmit(b, `,"app_proto":`, e.AppProto)
	// This order (flow and tcp before the other objects) is the one the
	// EVE files written so far have; an event has one of them at most.
	if e.DNS != nil {
		b = e.DNS.appendJSON(append(b, `,"dns":`...))
	}
	if e.HTTP != nil {
		b = e.HTTP.appendJSON(append(b, `,"http":`...))
	}
	if e.Flow != nil {
		b = e.Flow.appendJSON(append(b, `,"flow":`...))
	}
	if e.TCP != nil {
		b = e.TCP.appendJSON(append(b, `,"tcp":`...))
	}
	if e.TLS != nil {
		b = e.TLS.appendJSON(append(b, `,"tls":`...))
	}
	if e.SSH != nil {
		b = e.SSH.appendJSON(append(b, `,"ssh":`...))
	}
	if e.DHCP != nil {
		b = e.DHCP.appendJSON(append(b, `,"dhcp":`...))
	}
	if e.SMB != nil {
		b = e.SMB.appendJSON(append(b, `,"smb":`...))
	}
	if e.FileInfo != nil {
		b = e.FileInfo.appendJSON(append(b, `,"fileinfo":`...))
	}
	if e.Anomaly != nil {
		b = e.Anomaly.appendJSON(append(b, `,"anomaly":`...))
	}
	if e.Stats != nil {
		// One record per analysis, of free-form maps: encoding/json.
		b = appendReflect(append(b, `,"stats":`...), e.Stats)
	}
	if e.Alert != nil {
		b = e.Alert.appendJSON(append(b, `,"alert":`...))
	}
	return append(b, '}')
}

// key appends k, a pre-quoted key with its leading comma, without the comma
// when the object that begins at open (the length of b after its '{') has
// no member yet.
func key(b []byte, open int, k string) []byte {
	if len(b) == open {
		return append(b, k[1:]...)
	}
	return append(b, k...)
}

func appendStrOmit(b []byte, k, v string) []byte {
	if v == "" {
		return b
	}
	return AppendString(append(b, k...), v)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// appendStrings appends ss as a JSON array (null when nil, as
// encoding/json writes a nil slice).
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

// appendStringsMap appends m with its keys sorted, as encoding/json does.
func appendStringsMap(b []byte, m map[string][]string) []byte {
	type kv struct {
		k string
		v []string
	}
	var arr [8]kv
	kvs := arr[:0]
	for k, v := range m {
		kvs = append(kvs, kv{k, v})
	}
	slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	b = append(b, '{')
	for i := range kvs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(AppendString(b, kvs[i].k), ':')
		b = appendStrings(b, kvs[i].v)
	}
	return append(b, '}')
}

// appendReflect appends v as encoding/json writes it without HTML escaping.
func appendReflect(b []byte, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return append(b, "null"...)
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...)
}

const digits2 = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// pow10 holds 10^i for i < 20.
var pow10 = func() (t [20]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// appendUint is strconv.AppendUint(b, v, 10), two digits a step, written
// in place.
func appendUint(b []byte, v uint64) []byte {
	if v < 10 {
		return append(b, byte('0'+v))
	}
	// The number of digits: log10 from log2 (1233/4096 ≈ log10(2)),
	// corrected once.
	n := bits.Len64(v) * 1233 >> 12
	if v >= pow10[n] {
		n++
	}
	if cap(b)-len(b) < n {
		b = slices.Grow(b, n)
	}
	o := len(b)
	b = b[:o+n]
	d := b[o:]
	i := n
	for v >= 100 {
		q := v / 100
		r := (v - q*100) * 2
		i -= 2
		d[i], d[i+1] = digits2[r], digits2[r+1]
		v = q
	}
	if v >= 10 {
		d[0], d[1] = digits2[v*2], digits2[v*2+1]
	} else {
		d[0] = byte('0' + v)
	}
	return b
}

func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		return appendUint(append(b, '-'), uint64(-v))
	}
	return appendUint(b, uint64(v))
}

func (d *DNS) appendJSON(b []byte) []byte {
	b = appendInt(append(b, `{"version":`...), int64(d.Version))
	b = AppendString(append(b, `,"type":`...), d.Type)
	b = appendUint(append(b, `,"id":`...), uint64(d.ID))
	b = AppendString(append(b, `,"flags":`...), d.Flags)
	if d.QR {
		b = append(b, `,"qr":true`...)
	}
	if d.AA {
		b = append(b, `,"aa":true`...)
	}
	if d.TC {
		b = append(b, `,"tc":true`...)
	}
	if d.RD {
		b = append(b, `,"rd":true`...)
	}
	if d.RA {
		b = append(b, `,"ra":true`...)
	}
	if d.Z {
		b = append(b, `,"z":true`...)
	}
	if d.AD {
		b = append(b, `,"ad":true`...)
	}
	if d.CD {
		b = append(b, `,"cd":true`...)
	}
	b = appendUint(append(b, `,"opcode":`...), uint64(d.Opcode))
	b = appendStrOmit(b, `,"rcode":`, d.RCode)
	if len(d.Queries) > 0 {
		b = append(b, `,"queries":[`...)
		for i := range d.Queries {
			q := &d.Queries[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(append(b, `{"rrname":`...), q.RRName)
			b = AppendString(append(b, `,"rrtype":`...), q.RRType)
			if q.RRNameTruncated {
				b = append(b, `,"rrname_truncated":true`...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendAnswers(b, `,"answers":[`, d.Answers)
	if len(d.Grouped) > 0 {
		b = appendStringsMap(append(b, `,"grouped":`...), d.Grouped)
	}
	b = appendAnswers(b, `,"authorities":[`, d.Authorities)
	b = appendAnswers(b, `,"additionals":[`, d.Additionals)
	return append(b, '}')
}

func appendAnswers(b []byte, k string, as []DNSAnswer) []byte {
	if len(as) == 0 {
		return b
	}
	b = append(b, k...)
	for i := range as {
		a := &as[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(append(b, `{"rrname":`...), a.RRName)
		b = AppendString(append(b, `,"rrtype":`...), a.RRType)
		b = appendUint(append(b, `,"ttl":`...), uint64(a.TTL))
		if a.RData != nil {
			b = AppendString(append(b, `,"rdata":`...), *a.RData)
		}
		if a.RRNameTruncated {
			b = append(b, `,"rrname_truncated":true`...)
		}
		if a.SOA != nil {
			b = a.SOA.appendJSON(append(b, `,"soa":`...))
		}
		if a.SRV != nil {
			b = a.SRV.appendJSON(append(b, `,"srv":`...))
		}
		if a.SSHFP != nil {
			b = a.SSHFP.appendJSON(append(b, `,"sshfp":`...))
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func (s *SOA) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"mname":`...), s.MName)
	b = AppendString(append(b, `,"rname":`...), s.RName)
	b = appendUint(append(b, `,"serial":`...), uint64(s.Serial))
	b = appendUint(append(b, `,"refresh":`...), uint64(s.Refresh))
	b = appendUint(append(b, `,"retry":`...), uint64(s.Retry))
	b = appendUint(append(b, `,"expire":`...), uint64(s.Expire))
	b = appendUint(append(b, `,"minimum":`...), uint64(s.Minimum))
	return append(b, '}')
}

func (s *SRV) appendJSON(b []byte) []byte {
	b = appendUint(append(b, `{"priority":`...), uint64(s.Priority))
	b = appendUint(append(b, `,"weight":`...), uint64(s.Weight))
	b = appendUint(append(b, `,"port":`...), uint64(s.Port))
	b = AppendString(append(b, `,"name":`...), s.Name)
	return append(b, '}')
}

func (s *SSHFP) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"fingerprint":`...), s.Fingerprint)
	b = appendUint(append(b, `,"algo":`...), uint64(s.Algo))
	b = appendUint(append(b, `,"type":`...), uint64(s.Type))
	return append(b, '}')
}

func (h *HTTP) appendJSON(b []byte) []byte {
	b = append(b, '{')
	open := len(b)
	if h.Hostname != "" {
		b = AppendString(append(b, `"hostname":`...), h.Hostname)
	}
	if h.HTTPPort != 0 {
		b = appendUint(key(b, open, `,"http_port":`), uint64(h.HTTPPort))
	}
	if h.URL != "" {
		b = AppendString(key(b, open, `,"url":`), h.URL)
	}
	if h.HTTPUserAgent != "" {
		b = AppendString(key(b, open, `,"http_user_agent":`), h.HTTPUserAgent)
	}
	if h.HTTPContentType != "" {
		b = AppendString(key(b, open, `,"http_content_type":`), h.HTTPContentType)
	}
	if h.HTTPRefer != "" {
		b = AppendString(key(b, open, `,"http_refer":`), h.HTTPRefer)
	}
	if h.HTTPMethod != "" {
		b = AppendString(key(b, open, `,"http_method":`), h.HTTPMethod)
	}
	if h.Protocol != "" {
		b = AppendString(key(b, open, `,"protocol":`), h.Protocol)
	}
	if h.Status != 0 {
		b = appendInt(key(b, open, `,"status":`), int64(h.Status))
	}
	if h.Redirect != "" {
		b = AppendString(key(b, open, `,"redirect":`), h.Redirect)
	}
	b = appendInt(key(b, open, `,"length":`), h.Length)
	b = appendStrOmit(b, `,"xff":`, h.XFF)
	return append(b, '}')
}

func (f *Flow) appendJSON(b []byte) []byte {
	b = appendUint(append(b, `{"pkts_toserver":`...), f.PktsToServer)
	b = appendUint(append(b, `,"pkts_toclient":`...), f.PktsToClient)
	b = appendUint(append(b, `,"bytes_toserver":`...), f.BytesToServer)
	b = appendUint(append(b, `,"bytes_toclient":`...), f.BytesToClient)
	b = AppendString(append(b, `,"start":`...), f.Start)
	b = AppendString(append(b, `,"end":`...), f.End)
	b = appendInt(append(b, `,"age":`...), f.Age)
	b = AppendString(append(b, `,"state":`...), f.State)
	b = AppendString(append(b, `,"reason":`...), f.Reason)
	if f.Alerted {
		return append(b, `,"alerted":true}`...)
	}
	return append(b, `,"alerted":false}`...)
}

func (t *TCP) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"tcp_flags":`...), t.TCPFlags)
	b = AppendString(append(b, `,"tcp_flags_ts":`...), t.TCPFlagsTS)
	b = AppendString(append(b, `,"tcp_flags_tc":`...), t.TCPFlagsTC)
	if t.SYN {
		b = append(b, `,"syn":true`...)
	}
	if t.FIN {
		b = append(b, `,"fin":true`...)
	}
	if t.RST {
		b = append(b, `,"rst":true`...)
	}
	if t.PSH {
		b = append(b, `,"psh":true`...)
	}
	if t.ACK {
		b = append(b, `,"ack":true`...)
	}
	if t.URG {
		b = append(b, `,"urg":true`...)
	}
	if t.ECN {
		b = append(b, `,"ecn":true`...)
	}
	if t.CWR {
		b = append(b, `,"cwr":true`...)
	}
	b = appendStrOmit(b, `,"state":`, t.State)
	return append(b, '}')
}

// appendMembers appends the members of c (all optional) to the object that
// begins at open.
func (c *TLSCert) appendMembers(b []byte, open int) []byte {
	if c.Subject != "" {
		b = AppendString(append(b, `"subject":`...), c.Subject)
	}
	if c.IssuerDN != "" {
		b = AppendString(key(b, open, `,"issuerdn":`), c.IssuerDN)
	}
	if c.SerialNumber != "" {
		b = AppendString(key(b, open, `,"serial":`), c.SerialNumber)
	}
	if c.Fingerprint != "" {
		b = AppendString(key(b, open, `,"fingerprint":`), c.Fingerprint)
	}
	if c.NotBefore != "" {
		b = AppendString(key(b, open, `,"notbefore":`), c.NotBefore)
	}
	if c.NotAfter != "" {
		b = AppendString(key(b, open, `,"notafter":`), c.NotAfter)
	}
	if len(c.SubjectAltName) > 0 {
		b = appendStrings(key(b, open, `,"subjectaltname":`), c.SubjectAltName)
	}
	if c.Certificate != "" {
		b = AppendString(key(b, open, `,"certificate":`), c.Certificate)
	}
	if len(c.Chain) > 0 {
		b = appendStrings(key(b, open, `,"chain":`), c.Chain)
	}
	return b
}

func (j *JA3) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"hash":`...), j.Hash)
	b = AppendString(append(b, `,"string":`...), j.String)
	return append(b, '}')
}

func (t *TLS) appendJSON(b []byte) []byte {
	b = append(b, '{')
	open := len(b)
	b = t.TLSCert.appendMembers(b, open)
	b = AppendString(key(b, open, `,"version":`), t.Version)
	b = appendStrOmit(b, `,"sni":`, t.SNI)
	if t.JA3 != nil {
		b = t.JA3.appendJSON(append(b, `,"ja3":`...))
	}
	if t.JA3S != nil {
		b = t.JA3S.appendJSON(append(b, `,"ja3s":`...))
	}
	b = appendStrOmit(b, `,"ja4":`, t.JA4)
	if t.Client != nil {
		b = append(b, `,"client":{`...)
		b = append(t.Client.appendMembers(b, len(b)), '}')
	}
	return append(b, '}')
}

func (s *SSHSide) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"proto_version":`...), s.ProtoVersion)
	b = AppendString(append(b, `,"software_version":`...), s.SoftwareVersion)
	if s.Hassh != nil {
		b = AppendString(append(b, `,"hassh":{"hash":`...), s.Hassh.Hash)
		b = AppendString(append(b, `,"string":`...), s.Hassh.String)
		b = append(b, '}')
	}
	return append(b, '}')
}

func (s *SSH) appendJSON(b []byte) []byte {
	b = append(b, '{')
	open := len(b)
	if s.Client != nil {
		b = s.Client.appendJSON(append(b, `"client":`...))
	}
	if s.Server != nil {
		b = s.Server.appendJSON(key(b, open, `,"server":`))
	}
	return append(b, '}')
}

func (d *DHCP) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"type":`...), d.Type)
	b = appendUint(append(b, `,"id":`...), uint64(d.ID))
	b = AppendString(append(b, `,"client_mac":`...), d.ClientMAC)
	b = AppendString(append(b, `,"assigned_ip":`...), d.AssignedIP)
	b = AppendString(append(b, `,"client_ip":`...), d.ClientIP)
	b = appendStrOmit(b, `,"relay_ip":`, d.RelayIP)
	b = appendStrOmit(b, `,"next_server_ip":`, d.NextServerIP)
	b = appendStrOmit(b, `,"dhcp_type":`, d.DHCPType)
	b = appendStrOmit(b, `,"client_id":`, d.ClientID)
	if d.Hostname != nil {
		b = AppendString(append(b, `,"hostname":`...), *d.Hostname)
	}
	if len(d.Params) > 0 {
		b = appendStrings(append(b, `,"params":`...), d.Params)
	}
	if d.LeaseTime != nil {
		b = appendUint(append(b, `,"lease_time":`...), uint64(*d.LeaseTime))
	}
	if d.RenewalTime != nil {
		b = appendUint(append(b, `,"renewal_time":`...), uint64(*d.RenewalTime))
	}
	if d.RebindingTime != nil {
		b = appendUint(append(b, `,"rebinding_time":`...), uint64(*d.RebindingTime))
	}
	b = appendStrOmit(b, `,"subnet_mask":`, d.SubnetMask)
	if len(d.Routers) > 0 {
		b = appendStrings(append(b, `,"routers":`...), d.Routers)
	}
	if len(d.DNSServers) > 0 {
		b = appendStrings(append(b, `,"dns_servers":`...), d.DNSServers)
	}
	return append(b, '}')
}

func (n *SMBNative) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"native_os":`...), n.NativeOS)
	b = AppendString(append(b, `,"native_lm":`...), n.NativeLM)
	return append(b, '}')
}

func (s *SMB) appendJSON(b []byte) []byte {
	b = appendUint(append(b, `{"id":`...), s.ID)
	b = appendStrOmit(b, `,"dialect":`, s.Dialect)
	b = AppendString(append(b, `,"command":`...), s.Command)
	b = appendStrOmit(b, `,"status":`, s.Status)
	b = appendStrOmit(b, `,"status_code":`, s.StatusCode)
	b = appendUint(append(b, `,"session_id":`...), s.SessionID)
	b = appendUint(append(b, `,"tree_id":`...), uint64(s.TreeID))
	if len(s.ClientDialects) > 0 {
		b = appendStrings(append(b, `,"client_dialects":`...), s.ClientDialects)
	}
	b = appendStrOmit(b, `,"server_guid":`, s.ServerGUID)
	if s.Request != nil {
		b = s.Request.appendJSON(append(b, `,"request":`...))
	}
	if s.Response != nil {
		b = s.Response.appendJSON(append(b, `,"response":`...))
	}
	if n := s.NTLMSSP; n != nil {
		b = AppendString(append(b, `,"ntlmssp":{"domain":`...), n.Domain)
		b = AppendString(append(b, `,"user":`...), n.User)
		b = AppendString(append(b, `,"host":`...), n.Host)
		b = appendStrOmit(b, `,"version":`, n.Version)
		b = append(b, '}')
	}
	b = appendStrOmit(b, `,"share":`, s.Share)
	b = appendStrOmit(b, `,"named_pipe":`, s.NamedPipe)
	b = appendStrOmit(b, `,"share_type":`, s.ShareType)
	return append(b, '}')
}

func (f *FileInfo) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"filename":`...), f.Filename)
	b = appendBool(append(b, `,"gaps":`...), f.Gaps)
	b = AppendString(append(b, `,"state":`...), f.State)
	b = appendBool(append(b, `,"stored":`...), f.Stored)
	b = appendInt(append(b, `,"size":`...), f.Size)
	b = appendUint(append(b, `,"tx_id":`...), f.TxID)
	return append(b, '}')
}

func (a *Anomaly) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"type":`...), a.Type)
	b = AppendString(append(b, `,"event":`...), a.Event)
	b = appendStrOmit(b, `,"layer":`, a.Layer)
	return append(b, '}')
}

func (a *Alert) appendJSON(b []byte) []byte {
	b = AppendString(append(b, `{"action":`...), a.Action)
	b = appendUint(append(b, `,"gid":`...), uint64(a.GID))
	b = appendUint(append(b, `,"signature_id":`...), uint64(a.SignatureID))
	b = appendUint(append(b, `,"rev":`...), uint64(a.Rev))
	b = AppendString(append(b, `,"signature":`...), a.Signature)
	b = AppendString(append(b, `,"category":`...), a.Category)
	b = appendInt(append(b, `,"severity":`...), int64(a.Severity))
	if len(a.Metadata) > 0 {
		b = appendStringsMap(append(b, `,"metadata":`...), a.Metadata)
	}
	return append(b, '}')
}

// plain[c] is whether the byte c stands for itself inside a JSON string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a JSON string with encoding/json's escaping
// (HTML characters left alone; invalid UTF-8 replaced by U+FFFD).
func AppendString(b []byte, s string) []byte {
	// Most strings need no escaping: test them eight bytes at a time (the
	// last eight overlapping the previous ones), and copy them whole.
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			if !plain[s[i]] {
				return appendStringSlow(b, s, i)
			}
		}
	} else {
		const lo, hi = 0x0101010101010101, 0x8080808080808080
		for i := 0; i < len(s); i += 8 {
			i := min(i, len(s)-8)
			w := s[i : i+8]
			x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			q := x ^ (lo * '"')
			bs := x ^ (lo * '\\')
			// A byte's high bit ends up set if it is non-ASCII, below 0x20,
			// '"' or '\\' (and, through a borrow, maybe if a lower one is).
			if (x|(x-lo*0x20)&^x|(q-lo)&^q|(bs-lo)&^bs)&hi != 0 {
				return appendStringSlow(b, s, i)
			}
		}
	}
	if cap(b)-len(b) < len(s)+2 {
		b = slices.Grow(b, len(s)+2)
	}
	o := len(b)
	b = b[:o+len(s)+2]
	b[o] = '"'
	copy(b[o+1:], s)
	b[len(b)-1] = '"'
	return b
}

// appendStringSlow is AppendString for an s whose first i bytes need no
// escaping and byte i does (or starts a multi-byte sequence).
func appendStringSlow(b []byte, s string, i int) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i < len(s) {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&15])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
