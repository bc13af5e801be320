package eve

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refJSON is what encoding/json writes for v without HTML escaping: the
// document AppendJSON must reproduce byte for byte.
func refJSON(t testing.TB, v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return string(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}))
}

// gen builds events with random shapes: nil, empty and full slices, absent
// and zero pointers, edge numbers and strings that need escaping.
type gen struct {
	r     *rand.Rand
	extra []string
}

var genStrings = []string{
	"", "a", "www.suricata-ids.org", "2017-04-20T21:15:58.732253+0000", `quote" back\slash`,
	"\x00\x1f\t\n\r\b\f\x7f", "\xff\xfe", "<&>", "\u2028\u2029", "héllo", "日本語",
	"a\xc3", "\xed\xa0\x80", "ok\u2028ok", "0123456789abcdef0123456789abcdef\x01", "nas1\x00",
	"0123456789\"abcdef", "\U0001F600 emoji", "\\\\", "\\",
}

func (g *gen) str() string {
	if len(g.extra) > 0 && g.r.IntN(4) == 0 {
		return g.extra[g.r.IntN(len(g.extra))]
	}
	return genStrings[g.r.IntN(len(genStrings))]
}

func (g *gen) strs() []string {
	switch g.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	out := make([]string, 1+g.r.IntN(3))
	for i := range out {
		out[i] = g.str()
	}
	return out
}

func (g *gen) strsMap() map[string][]string {
	switch g.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return map[string][]string{}
	}
	m := map[string][]string{}
	for range 1 + g.r.IntN(20) {
		m[g.str()] = g.strs()
	}
	return m
}

func (g *gen) u64() uint64 {
	switch g.r.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.MaxUint64
	case 2:
		return uint64(g.r.IntN(200))
	}
	return g.r.Uint64() >> g.r.IntN(64)
}

func (g *gen) i64() int64 {
	switch g.r.IntN(5) {
	case 0:
		return math.MinInt64
	case 1:
		return math.MaxInt64
	}
	return int64(g.u64()) >> g.r.IntN(64)
}

func (g *gen) bool() bool  { return g.r.IntN(2) == 0 }
func (g *gen) some() bool  { return g.r.IntN(3) > 0 }
func (g *gen) u16() uint16 { return uint16(g.u64()) }
func (g *gen) u32() uint32 { return uint32(g.u64()) }
func (g *gen) pu16() *uint16 {
	if !g.some() {
		return nil
	}
	v := g.u16()
	return &v
}

func (g *gen) pu32() *uint32 {
	if !g.some() {
		return nil
	}
	v := g.u32()
	return &v
}

func (g *gen) pstr() *string {
	if !g.some() {
		return nil
	}
	s := g.str()
	return &s
}

func (g *gen) answers() []DNSAnswer {
	if g.r.IntN(4) == 0 {
		return nil
	}
	out := make([]DNSAnswer, g.r.IntN(4))
	for i := range out {
		a := DNSAnswer{RRName: g.str(), RRType: g.str(), TTL: g.u32(), RData: g.pstr(), RRNameTruncated: g.bool()}
		if g.r.IntN(4) == 0 {
			a.SOA = &SOA{MName: g.str(), RName: g.str(), Serial: g.u32(), Refresh: g.u32(), Retry: g.u32(), Expire: g.u32(), Minimum: g.u32()}
		}
		if g.r.IntN(4) == 0 {
			a.SRV = &SRV{Priority: g.u16(), Weight: g.u16(), Port: g.u16(), Name: g.str()}
		}
		if g.r.IntN(4) == 0 {
			a.SSHFP = &SSHFP{Fingerprint: g.str(), Algo: uint8(g.u64()), Type: uint8(g.u64())}
		}
		out[i] = a
	}
	return out
}

func (g *gen) cert() TLSCert {
	var c TLSCert
	for i, p := range []*string{&c.Subject, &c.IssuerDN, &c.SerialNumber, &c.Fingerprint, &c.NotBefore, &c.NotAfter, &c.Certificate} {
		if g.r.IntN(7) != i {
			*p = g.str()
		}
	}
	c.SubjectAltName, c.Chain = g.strs(), g.strs()
	return c
}

func (g *gen) event() *Event {
	e := &Event{Timestamp: g.str(), FlowID: g.u64(), PcapCnt: g.u64(), EventType: g.str(), SrcIP: g.str(),
		SrcPort: g.pu16(), DestIP: g.str(), DestPort: g.pu16(), Proto: g.str(), CommunityID: g.str(), AppProto: g.str()}
	if g.some() {
		e.VLAN = []uint16{}
		for range g.r.IntN(3) {
			e.VLAN = append(e.VLAN, g.u16())
		}
	}
	if g.some() {
		v, w := uint8(g.u64()), uint8(g.u64())
		e.ICMPType, e.ICMPCode = &v, &w
	}
	if g.some() {
		v := g.u64()
		e.TxID = &v
	}
	// Each object with probability 1/4, so that many events have several.
	if g.r.IntN(4) == 0 {
		d := &DNS{Version: int(g.i64()), Type: g.str(), ID: g.u16(), Flags: g.str(), QR: g.bool(), AA: g.bool(),
			TC: g.bool(), RD: g.bool(), RA: g.bool(), Z: g.bool(), AD: g.bool(), CD: g.bool(), Opcode: uint8(g.u64()),
			RCode: g.str(), Answers: g.answers(), Grouped: g.strsMap(), Authorities: g.answers(), Additionals: g.answers()}
		if g.some() {
			d.Queries = []DNSQuery{}
			for range g.r.IntN(3) {
				d.Queries = append(d.Queries, DNSQuery{RRName: g.str(), RRType: g.str(), RRNameTruncated: g.bool()})
			}
		}
		e.DNS = d
	}
	if g.r.IntN(4) == 0 {
		e.HTTP = &HTTP{Hostname: g.str(), HTTPPort: g.u16(), URL: g.str(), HTTPUserAgent: g.str(), HTTPContentType: g.str(),
			HTTPRefer: g.str(), HTTPMethod: g.str(), Protocol: g.str(), Status: int(g.i64()), Redirect: g.str(),
			Length: g.i64(), XFF: g.str()}
	}
	if g.r.IntN(4) == 0 {
		t := &TLS{TLSCert: g.cert(), Version: g.str(), SNI: g.str(), JA4: g.str()}
		if g.some() {
			t.JA3 = &JA3{Hash: g.str(), String: g.str()}
		}
		if g.some() {
			t.JA3S = &JA3{Hash: g.str(), String: g.str()}
		}
		if g.some() {
			c := g.cert()
			t.Client = &c
		}
		e.TLS = t
	}
	if g.r.IntN(4) == 0 {
		side := func() *SSHSide {
			if !g.some() {
				return nil
			}
			s := &SSHSide{ProtoVersion: g.str(), SoftwareVersion: g.str()}
			if g.some() {
				s.Hassh = &Hassh{Hash: g.str(), String: g.str()}
			}
			return s
		}
		e.SSH = &SSH{Client: side(), Server: side()}
	}
	if g.r.IntN(4) == 0 {
		e.DHCP = &DHCP{Type: g.str(), ID: g.u32(), ClientMAC: g.str(), AssignedIP: g.str(), ClientIP: g.str(),
			RelayIP: g.str(), NextServerIP: g.str(), DHCPType: g.str(), ClientID: g.str(), Hostname: g.pstr(),
			Params: g.strs(), LeaseTime: g.pu32(), RenewalTime: g.pu32(), RebindingTime: g.pu32(),
			SubnetMask: g.str(), Routers: g.strs(), DNSServers: g.strs()}
	}
	if g.r.IntN(4) == 0 {
		s := &SMB{ID: g.u64(), Dialect: g.str(), Command: g.str(), Status: g.str(), StatusCode: g.str(),
			SessionID: g.u64(), TreeID: g.u32(), ClientDialects: g.strs(), ServerGUID: g.str(),
			Share: g.str(), NamedPipe: g.str(), ShareType: g.str()}
		if g.some() {
			s.Request = &SMBNative{NativeOS: g.str(), NativeLM: g.str()}
		}
		if g.some() {
			s.Response = &SMBNative{NativeOS: g.str(), NativeLM: g.str()}
		}
		if g.some() {
			s.NTLMSSP = &NTLMSSP{Domain: g.str(), User: g.str(), Host: g.str(), Version: g.str()}
		}
		e.SMB = s
	}
	if g.r.IntN(4) == 0 {
		e.FileInfo = &FileInfo{Filename: g.str(), Gaps: g.bool(), State: g.str(), Stored: g.bool(), Size: g.i64(), TxID: g.u64()}
	}
	if g.r.IntN(4) == 0 {
		e.Flow = &Flow{PktsToServer: g.u64(), PktsToClient: g.u64(), BytesToServer: g.u64(), BytesToClient: g.u64(),
			Start: g.str(), End: g.str(), Age: g.i64(), State: g.str(), Reason: g.str(), Alerted: g.bool()}
	}
	if g.r.IntN(4) == 0 {
		e.TCP = &TCP{TCPFlags: g.str(), TCPFlagsTS: g.str(), TCPFlagsTC: g.str(), SYN: g.bool(), FIN: g.bool(),
			RST: g.bool(), PSH: g.bool(), ACK: g.bool(), URG: g.bool(), ECN: g.bool(), CWR: g.bool(), State: g.str()}
	}
	if g.r.IntN(4) == 0 {
		e.Anomaly = &Anomaly{Type: g.str(), Event: g.str(), Layer: g.str()}
	}
	if g.r.IntN(8) == 0 {
		e.Stats = &StatsRec{Uptime: g.i64(), Capture: map[string]any{g.str(): g.u64(), "x": g.str()},
			Decoder: map[string]any{"pkts": g.u64()}, Flow: map[string]any{}}
	}
	if g.r.IntN(4) == 0 {
		e.Alert = &Alert{Action: g.str(), GID: g.u32(), SignatureID: g.u32(), Rev: g.u32(), Signature: g.str(),
			Category: g.str(), Severity: int(g.i64()), Metadata: g.strsMap()}
	}
	return e
}

// checkEvent compares AppendJSON on e with encoding/json: byte for byte
// object by object, and byte for byte for the whole event when no object
// that AppendJSON writes in another order than the struct's is present.
func checkEvent(t *testing.T, e *Event) {
	got := e.AppendJSON(nil)
	var a, b any
	require.NoError(t, json.Unmarshal(got, &a), "%s", got)
	require.NoError(t, json.Unmarshal([]byte(refJSON(t, e)), &b))
	require.Equal(t, b, a, "%s", got)
	moved := e.Flow != nil || e.TCP != nil
	later := e.TLS != nil || e.SSH != nil || e.DHCP != nil || e.SMB != nil || e.FileInfo != nil
	if !moved || !later {
		require.Equal(t, refJSON(t, e), string(got))
	}
	for _, x := range []struct {
		v   any
		enc func([]byte) []byte
	}{
		{e.DNS, func(b []byte) []byte { return e.DNS.appendJSON(b) }},
		{e.HTTP, func(b []byte) []byte { return e.HTTP.appendJSON(b) }},
		{e.TLS, func(b []byte) []byte { return e.TLS.appendJSON(b) }},
		{e.SSH, func(b []byte) []byte { return e.SSH.appendJSON(b) }},
		{e.DHCP, func(b []byte) []byte { return e.DHCP.appendJSON(b) }},
		{e.SMB, func(b []byte) []byte { return e.SMB.appendJSON(b) }},
		{e.FileInfo, func(b []byte) []byte { return e.FileInfo.appendJSON(b) }},
		{e.Flow, func(b []byte) []byte { return e.Flow.appendJSON(b) }},
		{e.TCP, func(b []byte) []byte { return e.TCP.appendJSON(b) }},
		{e.Anomaly, func(b []byte) []byte { return e.Anomaly.appendJSON(b) }},
		{e.Alert, func(b []byte) []byte { return e.Alert.appendJSON(b) }},
	} {
		if v := refJSON(t, x.v); v != "null" {
			require.Equal(t, v, string(x.enc([]byte("prefix"))[len("prefix"):]))
		}
	}
}

func TestAppendJSONRandom(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for seed := range uint64(n) {
		g := &gen{r: rand.New(rand.NewPCG(seed, 1))}
		checkEvent(t, g.event())
	}
}

func TestAppendJSONBench(t *testing.T) {
	for _, e := range benchEvents() {
		checkEvent(t, e)
	}
}

func TestAppendJSONNoAlloc(t *testing.T) {
	evs := benchEvents()
	buf := make([]byte, 0, 8192)
	allocs := testing.AllocsPerRun(10, func() {
		for _, e := range evs {
			buf = e.AppendJSON(buf[:0])
		}
	})
	assert.Zero(t, allocs)
}

func FuzzAppendJSON(f *testing.F) {
	f.Add(uint64(0), "plain", "\x00\"\\")
	f.Add(uint64(7), "\xff", "\u2028<>&")
	f.Fuzz(func(t *testing.T, seed uint64, s1, s2 string) {
		g := &gen{r: rand.New(rand.NewPCG(seed, 2)), extra: []string{s1, s2}}
		checkEvent(t, g.event())
	})
}

func TestAppendUint(t *testing.T) {
	for _, v := range []uint64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65535, 1<<32 - 1, 1e19 - 1, 1e19, math.MaxUint64} {
		assert.Equal(t, strconv.FormatUint(v, 10), string(appendUint(nil, v)))
	}
	for _, v := range []int64{0, -1, -9, -10, 42, math.MinInt64, math.MaxInt64} {
		assert.Equal(t, strconv.FormatInt(v, 10), string(appendInt(nil, v)))
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 100000 {
		v := r.Uint64() >> r.IntN(64)
		require.Equal(t, strconv.FormatUint(v, 10), string(appendUint(nil, v)))
	}
}

func TestAppendTimeMatchesFormat(t *testing.T) {
	for _, tm := range []time.Time{
		time.Unix(0, 0), time.Unix(-1, 999999999), time.Unix(253402300799, 999999999), time.Unix(253402300800, 0),
		time.Date(2000, 2, 29, 23, 59, 59, 0, time.UTC), time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 2, 28, 1, 2, 3, 4000, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", -3600)),
	} {
		assert.Equal(t, tm.UTC().Format("2006-01-02T15:04:05.000000+0000"), Time(tm), "%v", tm)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		tm := time.Unix(r.Int64N(253402300800+86400*800)-86400*365*80, r.Int64N(1e9))
		require.Equal(t, tm.UTC().Format("2006-01-02T15:04:05.000000+0000"), Time(tm), "%d", tm.Unix())
	}
}

// TestAppendJSONGolden re-encodes every event of the analyser's golden EVE
// files and requires the very same line (the files hold encoding/json's
// output, with HTML characters escaped).
func TestAppendJSONGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "golden", "*.eve.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	unHTML := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for line := range strings.Lines(string(raw)) {
			line = strings.TrimSuffix(line, "\n")
			var e Event
			require.NoError(t, json.Unmarshal([]byte(line), &e), "%s", line)
			require.Equal(t, unHTML.Replace(line), string(e.AppendJSON(nil)), "%s", f)
			n++
		}
	}
	assert.Greater(t, n, 20)
}
