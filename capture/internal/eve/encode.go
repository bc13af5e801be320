package eve

import (
	"encoding/json"
	"sort"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the event as one JSON object, the same document
// encoding/json produces (without HTML escaping), but without reflection:
// encoding is a large share of the analyser's time.
func (e *Event) AppendJSON(b []byte) []byte {
	w := objw{b: append(b, '{')}
	w.str("timestamp", e.Timestamp)
	if e.FlowID != 0 {
		w.uint("flow_id", e.FlowID)
	}
	if e.PcapCnt != 0 {
		w.uint("pcap_cnt", e.PcapCnt)
	}
	w.str("event_type", e.EventType)
	if len(e.VLAN) > 0 {
		w.key("vlan")
		w.b = append(w.b, '[')
		for i, v := range e.VLAN {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = strconv.AppendUint(w.b, uint64(v), 10)
		}
		w.b = append(w.b, ']')
	}
	w.strOmit("src_ip", e.SrcIP)
	if e.SrcPort != nil {
		w.uint("src_port", uint64(*e.SrcPort))
	}
	w.strOmit("dest_ip", e.DestIP)
	if e.DestPort != nil {
		w.uint("dest_port", uint64(*e.DestPort))
	}
	w.strOmit("proto", e.Proto)
	if e.ICMPType != nil {
		w.uint("icmp_type", uint64(*e.ICMPType))
	}
	if e.ICMPCode != nil {
		w.uint("icmp_code", uint64(*e.ICMPCode))
	}
	w.strOmit("community_id", e.CommunityID)
	if e.TxID != nil {
		w.uint("tx_id", *e.TxID)
	}
	w.strOmit("app_proto", e.AppProto)
	if e.DNS != nil {
		w.key("dns")
		w.b = e.DNS.appendJSON(w.b)
	}
	if e.HTTP != nil {
		w.key("http")
		w.b = e.HTTP.appendJSON(w.b)
	}
	if e.Flow != nil {
		w.key("flow")
		w.b = e.Flow.appendJSON(w.b)
	}
	if e.TCP != nil {
		w.key("tcp")
		w.b = e.TCP.appendJSON(w.b)
	}
	// Rare or nested-heavy objects go through encoding/json.
	for _, x := range []struct {
		k string
		v any
		p bool
	}{{"tls", e.TLS, e.TLS != nil}, {"ssh", e.SSH, e.SSH != nil}, {"dhcp", e.DHCP, e.DHCP != nil}, {"smb", e.SMB, e.SMB != nil}, {"fileinfo", e.FileInfo, e.FileInfo != nil},
		{"anomaly", e.Anomaly, e.Anomaly != nil}, {"stats", e.Stats, e.Stats != nil}, {"alert", e.Alert, e.Alert != nil}} {
		if x.p {
			w.key(x.k)
			raw, err := json.Marshal(x.v)
			if err != nil {
				raw = []byte("null")
			}
			w.b = append(w.b, raw...)
		}
	}
	return append(w.b, '}')
}

type objw struct {
	b   []byte
	n   int
	arr bool
}

func (w *objw) key(k string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *objw) str(k, v string) {
	w.key(k)
	w.b = AppendString(w.b, v)
}

func (w *objw) strOmit(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *objw) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *objw) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *objw) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *objw) boolOmit(k string, v bool) {
	if v {
		w.bool(k, true)
	}
}

func (d *DNS) appendJSON(b []byte) []byte {
	w := objw{b: append(b, '{')}
	w.int("version", int64(d.Version))
	w.str("type", d.Type)
	w.uint("id", uint64(d.ID))
	w.str("flags", d.Flags)
	w.boolOmit("qr", d.QR)
	w.boolOmit("aa", d.AA)
	w.boolOmit("tc", d.TC)
	w.boolOmit("rd", d.RD)
	w.boolOmit("ra", d.RA)
	w.boolOmit("z", d.Z)
	w.boolOmit("ad", d.AD)
	w.boolOmit("cd", d.CD)
	w.uint("opcode", uint64(d.Opcode))
	w.strOmit("rcode", d.RCode)
	if len(d.Queries) > 0 {
		w.key("queries")
		w.b = append(w.b, '[')
		for i, q := range d.Queries {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			qw := objw{b: append(w.b, '{')}
			qw.str("rrname", q.RRName)
			qw.str("rrtype", q.RRType)
			qw.boolOmit("rrname_truncated", q.RRNameTruncated)
			w.b = append(qw.b, '}')
		}
		w.b = append(w.b, ']')
	}
	w.answers("answers", d.Answers)
	if len(d.Grouped) > 0 {
		keys := make([]string, 0, len(d.Grouped))
		for k := range d.Grouped {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.key("grouped")
		gw := objw{b: append(w.b, '{')}
		for _, k := range keys {
			gw.key(k)
			gw.b = append(gw.b, '[')
			for i, v := range d.Grouped[k] {
				if i > 0 {
					gw.b = append(gw.b, ',')
				}
				gw.b = AppendString(gw.b, v)
			}
			gw.b = append(gw.b, ']')
		}
		w.b = append(gw.b, '}')
	}
	w.answers("authorities", d.Authorities)
	w.answers("additionals", d.Additionals)
	return append(w.b, '}')
}

func (w *objw) answers(k string, as []DNSAnswer) {
	if len(as) == 0 {
		return
	}
	w.key(k)
	w.b = append(w.b, '[')
	for i := range as {
		a := &as[i]
		if i > 0 {
			w.b = append(w.b, ',')
		}
		aw := objw{b: append(w.b, '{')}
		aw.str("rrname", a.RRName)
		aw.str("rrtype", a.RRType)
		aw.uint("ttl", uint64(a.TTL))
		if a.RData != nil && *a.RData != "" {
			aw.str("rdata", *a.RData)
		} else if a.RData != nil {
			aw.str("rdata", "")
		}
		aw.boolOmit("rrname_truncated", a.RRNameTruncated)
		for _, x := range []struct {
			k string
			v any
			p bool
		}{{"soa", a.SOA, a.SOA != nil}, {"srv", a.SRV, a.SRV != nil}, {"sshfp", a.SSHFP, a.SSHFP != nil}} {
			if x.p {
				aw.key(x.k)
				raw, _ := json.Marshal(x.v)
				aw.b = append(aw.b, raw...)
			}
		}
		w.b = append(aw.b, '}')
	}
	w.b = append(w.b, ']')
}

func (h *HTTP) appendJSON(b []byte) []byte {
	w := objw{b: append(b, '{')}
	w.strOmit("hostname", h.Hostname)
	if h.HTTPPort != 0 {
		w.uint("http_port", uint64(h.HTTPPort))
	}
	w.strOmit("url", h.URL)
	w.strOmit("http_user_agent", h.HTTPUserAgent)
	w.strOmit("http_content_type", h.HTTPContentType)
	w.strOmit("http_refer", h.HTTPRefer)
	w.strOmit("http_method", h.HTTPMethod)
	w.strOmit("protocol", h.Protocol)
	if h.Status != 0 {
		w.int("status", int64(h.Status))
	}
	w.strOmit("redirect", h.Redirect)
	w.int("length", h.Length)
	w.strOmit("xff", h.XFF)
	return append(w.b, '}')
}

func (f *Flow) appendJSON(b []byte) []byte {
	w := objw{b: append(b, '{')}
	w.uint("pkts_toserver", f.PktsToServer)
	w.uint("pkts_toclient", f.PktsToClient)
	w.uint("bytes_toserver", f.BytesToServer)
	w.uint("bytes_toclient", f.BytesToClient)
	w.str("start", f.Start)
	w.str("end", f.End)
	w.int("age", f.Age)
	w.str("state", f.State)
	w.str("reason", f.Reason)
	w.bool("alerted", f.Alerted)
	return append(w.b, '}')
}

func (t *TCP) appendJSON(b []byte) []byte {
	w := objw{b: append(b, '{')}
	w.str("tcp_flags", t.TCPFlags)
	w.str("tcp_flags_ts", t.TCPFlagsTS)
	w.str("tcp_flags_tc", t.TCPFlagsTC)
	w.boolOmit("syn", t.SYN)
	w.boolOmit("fin", t.FIN)
	w.boolOmit("rst", t.RST)
	w.boolOmit("psh", t.PSH)
	w.boolOmit("ack", t.ACK)
	w.boolOmit("urg", t.URG)
	w.boolOmit("ecn", t.ECN)
	w.boolOmit("cwr", t.CWR)
	w.strOmit("state", t.State)
	return append(w.b, '}')
}

// AppendString appends s as a JSON string with encoding/json's escaping
// (HTML characters left alone; invalid UTF-8 replaced by U+FFFD).
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
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
