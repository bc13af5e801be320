package eve

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }
func u64(v uint64) *uint64 { return &v }
func sp(s string) *string  { return &s }

// benchEvents returns events shaped like the analyser's output on the
// benchmark capture, in roughly its mix: per hundred events 56 dns, 21 flow,
// 13 smb, 2 http, 2 tls, 2 fileinfo, 1 ssh and 1 dhcp.
func benchEvents() []*Event {
	base := func(typ string, cnt uint64, sport, dport uint16, proto string) Event {
		return Event{Timestamp: "2017-04-20T21:15:58.732253+0000", FlowID: 1234567890123456 + cnt, PcapCnt: cnt,
			EventType: typ, SrcIP: "10.16.1.11", SrcPort: u16(sport), DestIP: "10.16.1.1", DestPort: u16(dport),
			Proto: proto, CommunityID: "1:70IiP4rsjeX4JC+KNZO93uwj7Pw="}
	}
	dnsReq := func(cnt uint64) *Event {
		e := base("dns", cnt, 41805, 53, "UDP")
		e.TxID = u64(0)
		e.DNS = &DNS{Version: 3, Type: "request", ID: 36146, Flags: "120", RD: true, AD: true,
			Queries: []DNSQuery{{RRName: "www.suricata-ids.org", RRType: "A"}}}
		return &e
	}
	dnsResp := func(cnt uint64) *Event {
		e := base("dns", cnt, 53, 41805, "UDP")
		e.TxID = u64(1)
		e.DNS = &DNS{Version: 3, Type: "response", ID: 36146, Flags: "81a0", QR: true, RD: true, RA: true, AD: true,
			RCode: "NOERROR", Queries: []DNSQuery{{RRName: "www.suricata-ids.org", RRType: "A"}},
			Answers: []DNSAnswer{
				{RRName: "www.suricata-ids.org", RRType: "CNAME", TTL: 3544, RData: sp("suricata-ids.org")},
				{RRName: "suricata-ids.org", RRType: "A", TTL: 244, RData: sp("192.0.78.24")},
				{RRName: "suricata-ids.org", RRType: "A", TTL: 244, RData: sp("192.0.78.25")},
			},
			Grouped: map[string][]string{"A": {"192.0.78.24", "192.0.78.25"}, "CNAME": {"suricata-ids.org"}}}
		return &e
	}
	flow := func(cnt uint64) *Event {
		e := base("flow", 0, 49584, 443, "TCP")
		e.PcapCnt = 0
		e.AppProto = "tls"
		e.Flow = &Flow{PktsToServer: 10, PktsToClient: 19, BytesToServer: 1584, BytesToClient: 6151 + cnt,
			Start: "2018-09-23T18:44:31.142602+0000", End: "2018-09-23T18:45:28.717626+0000", Age: 57,
			State: "closed", Reason: "shutdown"}
		e.TCP = &TCP{TCPFlags: "1b", TCPFlagsTS: "1b", TCPFlagsTC: "1b", SYN: true, FIN: true, PSH: true, ACK: true, State: "last_ack"}
		return &e
	}
	smb := func(cnt uint64) *Event {
		e := base("smb", cnt, 49225, 445, "TCP")
		e.TxID = u64(cnt % 7)
		e.SMB = &SMB{ID: cnt % 7, Dialect: "2.10", Command: "SMB2_COMMAND_CREATE", Status: "STATUS_SUCCESS",
			StatusCode: "0x0", SessionID: 4398046511121, TreeID: 1}
		if cnt%3 == 0 {
			e.SMB.Command = "SMB2_COMMAND_TREE_CONNECT"
			e.SMB.Share = `\\192.168.1.10\IPC$`
			e.SMB.ShareType = "PIPE"
		}
		return &e
	}
	http := func(cnt uint64) *Event {
		e := base("http", cnt, 58307, 80, "TCP")
		e.TxID = u64(0)
		e.HTTP = &HTTP{Hostname: "www.net1.bg", URL: "/cgi-bin/cart32.exe?a=1&b=<2>",
			HTTPUserAgent: "Mozilla/4.75 (Nikto/2.1.4) (Evasions:None) (Test:000003)", HTTPContentType: "text/html",
			HTTPMethod: "GET", Protocol: "HTTP/1.1", Status: 200, Length: 4312}
		return &e
	}
	tls := func(cnt uint64) *Event {
		e := base("tls", cnt, 49584, 443, "TCP")
		e.TLS = &TLS{TLSCert: TLSCert{Subject: "C=US, ST=California, L=San Francisco, O=GitHub, Inc., CN=www.github.com",
			IssuerDN:     "C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert SHA2 High Assurance Server CA",
			SerialNumber: "08:3A:84:59:2F:77:F2:E7:95:1B:F8:87:CE:DE:C9:66",
			Fingerprint:  "cc:aa:48:48:66:46:0e:91:53:2c:9c:7c:23:2a:b1:74:4d:29:9d:33",
			NotBefore:    "2017-03-23T00:00:00", NotAfter: "2020-05-13T12:00:00",
			SubjectAltName: []string{"www.github.com", "*.github.com", "github.com", "*.github.io", "github.io"}},
			Version: "TLS 1.2", SNI: "raw.githubusercontent.com",
			JA3:  &JA3{Hash: "316193effb467e51d0301cabd36b69e0", String: "771,49196-49200-49195-49199-52393-52392-163-159-162-158-52394-49327-49325-49188-49192-49162-49172,0-11-10-35-22-23-13-21,29-23-25-24,0-1-2"},
			JA3S: &JA3{Hash: "098e26e2609212ac1bfac552fbe04127", String: "771,49199,65281-0-11-35-23"},
			JA4:  "t12d620800_106a9de34958_ce8ec278e0aa"}
		return &e
	}
	fileinfo := func(cnt uint64) *Event {
		e := base("fileinfo", cnt, 80, 58307, "TCP")
		e.AppProto = "http"
		e.HTTP = &HTTP{Hostname: "www.net1.bg", URL: "/index.html", HTTPMethod: "GET", Protocol: "HTTP/1.1", Status: 200, Length: 4312}
		e.FileInfo = &FileInfo{Filename: "/index.html", State: "CLOSED", Size: 4312, TxID: 0}
		return &e
	}
	ssh := func(cnt uint64) *Event {
		e := base("ssh", cnt, 54634, 22, "TCP")
		e.SSH = &SSH{Client: &SSHSide{ProtoVersion: "2.0", SoftwareVersion: "OpenSSH_for_Windows_7.7"},
			Server: &SSHSide{ProtoVersion: "2.0", SoftwareVersion: "OpenSSH_7.4",
				Hassh: &Hassh{Hash: "ec7378c1a92f5a8dde7e8b7a1ddf33d1", String: "curve25519-sha256,ecdh-sha2-nistp256;aes128-ctr;hmac-sha2-256;none"}}}
		return &e
	}
	dhcp := func(cnt uint64) *Event {
		e := base("dhcp", cnt, 67, 68, "UDP")
		e.DHCP = &DHCP{Type: "reply", ID: 4016330564, ClientMAC: "00:11:32:17:49:f0", AssignedIP: "10.16.1.4",
			ClientIP: "10.16.1.4", RelayIP: "0.0.0.0", NextServerIP: "10.16.1.1", DHCPType: "ack", Hostname: sp("nas1\x00"),
			LeaseTime: u32(3600), RenewalTime: u32(1681), RebindingTime: u32(3031), SubnetMask: "255.255.0.0",
			Routers: []string{"10.16.1.1"}, DNSServers: []string{"10.16.1.1"}}
		return &e
	}
	var evs []*Event
	for i := range uint64(100) {
		switch {
		case i < 28:
			evs = append(evs, dnsReq(i))
		case i < 56:
			evs = append(evs, dnsResp(i))
		case i < 77:
			evs = append(evs, flow(i))
		case i < 90:
			evs = append(evs, smb(i))
		case i < 92:
			evs = append(evs, http(i))
		case i < 94:
			evs = append(evs, tls(i))
		case i < 96:
			evs = append(evs, fileinfo(i))
		case i < 97:
			evs = append(evs, ssh(i))
		case i < 98:
			evs = append(evs, dhcp(i))
		default:
			evs = append(evs, dnsReq(i))
		}
	}
	// Spread the types as the analyser does, rather than in runs.
	for i := range evs {
		j := (i * 37) % len(evs)
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// BenchmarkAppendJSON encodes a realistic mix of events; one op is the
// whole mix (100 events), and ns/event and allocs/event are per event.
func BenchmarkAppendJSON(b *testing.B) {
	evs := benchEvents()
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	for b.Loop() {
		for _, ev := range evs {
			buf = ev.AppendJSON(buf[:0])
		}
	}
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	n := float64(b.N * len(evs))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/event")
	// CPU time is less sensitive than wall time to other processes
	// sharing the cores.
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/event")
}

// BenchmarkAppendJSONType encodes one event of each type.
func BenchmarkAppendJSONType(b *testing.B) {
	evs := benchEvents()
	seen := map[string]bool{}
	for _, ev := range evs {
		name := ev.EventType
		if ev.DNS != nil && ev.DNS.Type == "response" {
			name = "dns-response"
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				buf = ev.AppendJSON(buf[:0])
			}
		})
	}
}

func BenchmarkTime(b *testing.B) {
	t := time.Date(2017, 4, 20, 21, 15, 58, 732253000, time.UTC)
	var buf [32]byte
	for i := 0; b.Loop(); i++ {
		AppendTime(buf[:0], t.Add(time.Duration(i)*time.Microsecond))
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
