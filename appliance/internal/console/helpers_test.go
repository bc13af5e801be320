package console_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/console"
	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
)

func discardLogger() *slog.Logger {
	if os.Getenv("FIREBREAK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

const testPassword = "correct horse battery"

// startDaemon starts an appliance on a fresh data directory with the
// console on loopback HTTP and HTTPS.
func startDaemon(t testing.TB, opts daemon.Options) *daemon.Daemon {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Manage == "" {
		opts.Manage = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	opts.Version = "test"
	d, err := daemon.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

func addAccount(t testing.TB, d *daemon.Daemon, name string, role auth.Role) {
	t.Helper()
	_, err := d.Accounts.Add(name, role, testPassword, "test", time.Now())
	require.NoError(t, err)
}

// browser is an HTTP client with a cookie jar, as a browser holds a session.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
}

func newBrowser(t testing.TB, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func httpBase(d *daemon.Daemon) string       { return "http://" + d.TCPAddr.String() }
func httpsBase(d *daemon.Daemon) string      { return "https://" + d.ManageAddr.String() }
func (b *browser) origin() map[string]string { return map[string]string{"Origin": b.base} }

// do sends a request and returns the status and body.
func (b *browser) do(method, path string, body any, hdr map[string]string) (int, []byte) {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	case string:
		rd = strings.NewReader(v)
	default:
		raw, _ := json.Marshal(v)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	require.NoError(b.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// act sends a state-changing API call with the session's CSRF token.
func (b *browser) act(method, path string, body any) (int, []byte) {
	return b.do(method, path, body, map[string]string{console.CSRFHeader: b.csrf})
}

func (b *browser) login(name, pw string) int {
	b.t.Helper()
	code, body := b.do("POST", "/console/login", map[string]string{"name": name, "password": pw}, b.origin())
	if code == http.StatusOK {
		var info console.SessionInfo
		require.NoError(b.t, json.Unmarshal(body, &info))
		b.csrf = info.CSRF
	}
	return code
}

func (b *browser) mustLogin(name string) *browser {
	b.t.Helper()
	require.Equal(b.t, http.StatusOK, b.login(name, testPassword))
	return b
}

// Hostile strings put in traffic: the console must show them as text.
const (
	hostileHost = `evil.example"><img src=x onerror="window.__pwned=1">`
	hostileUA   = `<script>window.__pwned=2</script>Mozilla/5.0`
	hostileURI  = `/<svg/onload=window.__pwned=3>`
	hostileDNS  = `x<img src=1 onerror=window.__pwned=4>.example.com`
)

// pcapBuilder writes Ethernet/IPv4 packets into a pcap file.
type pcapBuilder struct {
	w  *pcapgo.Writer
	ts time.Time
}

func newPcap(t testing.TB, path string) (*pcapBuilder, func()) {
	f, err := os.Create(path)
	require.NoError(t, err)
	w := pcapgo.NewWriter(f)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	return &pcapBuilder{w: w, ts: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}, func() { require.NoError(t, f.Close()) }
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

func (p *pcapBuilder) packet(src, dst net.IP, l4 gopacket.SerializableLayer, payload []byte, step time.Duration) error {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: src.To4(), DstIP: dst.To4()}
	switch l := l4.(type) {
	case *layers.TCP:
		ip.Protocol = layers.IPProtocolTCP
		l.SetNetworkLayerForChecksum(ip)
	case *layers.UDP:
		ip.Protocol = layers.IPProtocolUDP
		l.SetNetworkLayerForChecksum(ip)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, l4, gopacket.Payload(payload)); err != nil {
		return err
	}
	p.ts = p.ts.Add(step)
	b := buf.Bytes()
	return p.w.WritePacket(gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(b), Length: len(b)}, b)
}

// tcpSession writes a whole TCP connection: handshake, one request, one
// answer, close.
func (p *pcapBuilder) tcpSession(cli, srv net.IP, cport, sport uint16, req, resp []byte) error {
	cs, ss := uint32(1000), uint32(5000)
	c2s := func(flags func(*layers.TCP), data []byte) error {
		l := &layers.TCP{SrcPort: layers.TCPPort(cport), DstPort: layers.TCPPort(sport), Seq: cs, Ack: ss, Window: 65535}
		flags(l)
		cs += uint32(len(data))
		return p.packet(cli, srv, l, data, time.Millisecond)
	}
	s2c := func(flags func(*layers.TCP), data []byte) error {
		l := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(cport), Seq: ss, Ack: cs, Window: 65535}
		flags(l)
		ss += uint32(len(data))
		return p.packet(srv, cli, l, data, time.Millisecond)
	}
	steps := []func() error{
		func() error { return c2s(func(l *layers.TCP) { l.SYN, l.Ack = true, 0 }, nil) },
		func() error { cs++; return s2c(func(l *layers.TCP) { l.SYN, l.ACK = true, true }, nil) },
		func() error { ss++; return c2s(func(l *layers.TCP) { l.ACK = true }, nil) },
		func() error { return c2s(func(l *layers.TCP) { l.ACK, l.PSH = true, true }, req) },
		func() error { return s2c(func(l *layers.TCP) { l.ACK, l.PSH = true, true }, resp) },
		func() error { return c2s(func(l *layers.TCP) { l.ACK, l.FIN = true, true }, nil) },
		func() error { cs++; return s2c(func(l *layers.TCP) { l.ACK, l.FIN = true, true }, nil) },
		func() error { ss++; return c2s(func(l *layers.TCP) { l.ACK = true }, nil) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

func dnsQuery(name string) []byte {
	d := &layers.DNS{ID: 0x4242, RD: true, QDCount: 1, Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// writeHostilePcap writes a capture whose HTTP host, user agent, URI and
// DNS name are HTML and JavaScript.
func writeHostilePcap(t testing.TB, dir string) string {
	path := filepath.Join(dir, "hostile.pcap")
	p, done := newPcap(t, path)
	cli, srv, dns := net.IPv4(10, 66, 0, 5), net.IPv4(10, 66, 0, 80), net.IPv4(10, 66, 0, 53)
	req := []byte("GET " + hostileURI + " HTTP/1.1\r\nHost: " + hostileHost + "\r\nUser-Agent: " + hostileUA + "\r\nAccept: */*\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello")
	require.NoError(t, p.tcpSession(cli, srv, 40001, 80, req, resp))
	require.NoError(t, p.packet(cli, dns, &layers.UDP{SrcPort: 53001, DstPort: 53}, dnsQuery(hostileDNS), time.Millisecond))
	done()
	return path
}

// writeLoadPcap writes n small HTTP connections between many hosts: a
// capture the daemon takes a while to analyse at full speed.
func writeLoadPcap(t testing.TB, dir string, n int) string {
	path := filepath.Join(dir, "load.pcap")
	p, done := newPcap(t, path)
	for i := range n {
		cli := net.IPv4(10, 1, byte(i>>8), byte(i))
		srv := net.IPv4(10, 2, byte(i%7), 80)
		req := []byte(fmt.Sprintf("GET /item/%d HTTP/1.1\r\nHost: shop%d.example\r\nUser-Agent: load\r\n\r\n", i, i%13))
		resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		require.NoError(t, p.tcpSession(cli, srv, uint16(20000+i%30000), 80, req, resp))
	}
	done()
	return path
}
