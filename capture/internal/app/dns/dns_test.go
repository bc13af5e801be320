package dns_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/app/dns"
	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

func name(labels ...string) []byte {
	var b []byte
	for _, l := range labels {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func msg(id, flags uint16, qd, an int, body ...[]byte) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], uint16(qd))
	binary.BigEndian.PutUint16(b[6:], uint16(an))
	for _, x := range body {
		b = append(b, x...)
	}
	return b
}

func rr(typ uint16, ttl uint32, rdata []byte) []byte {
	b := []byte{0xc0, 12} // pointer to the question name
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
	return append(b, rdata...)
}

func TestParse(t *testing.T) {
	q := append(name("www", "example", "org"), 0, 1, 0, 1)
	for _, tc := range []struct {
		name   string
		msg    []byte
		typ    string
		rcode  string
		flags  string
		answer []string // rrtype=rdata
	}{
		{"request", msg(1, 0x0100, 1, 0, q), "request", "", "100", nil},
		{"A answer", msg(2, 0x8180, 1, 1, q, rr(1, 60, []byte{192, 0, 2, 1})), "response", "NOERROR", "8180", []string{"A=192.0.2.1"}},
		{"AAAA expanded", msg(3, 0x8180, 1, 1, q, rr(28, 60, []byte{0x20, 1, 0x0d, 0xb8, 15: 1})), "response", "NOERROR", "8180",
			[]string{"AAAA=2001:0db8:0000:0000:0000:0000:0000:0001"}},
		{"TXT two strings", msg(4, 0x8180, 1, 1, q, rr(16, 3, []byte{2, 'h', 'i', 0})), "response", "NOERROR", "8180", []string{"TXT=hi", "TXT="}},
		{"NXDOMAIN", msg(5, 0x8183, 1, 0, q), "response", "NXDOMAIN", "8183", nil},
		{"CNAME compressed", msg(6, 0x8180, 1, 1, q, rr(5, 60, []byte{3, 'f', 'o', 'o', 0xc0, 12})), "response", "NOERROR", "8180",
			[]string{"CNAME=foo.www.example.org"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := dns.Parse(tc.msg)
			require.NoError(t, err)
			assert.Equal(t, tc.typ, d.Type)
			assert.Equal(t, tc.rcode, d.RCode)
			assert.Equal(t, tc.flags, d.Flags)
			assert.Equal(t, 3, d.Version)
			require.Len(t, d.Queries, 1)
			assert.Equal(t, "www.example.org", d.Queries[0].RRName)
			var got []string
			for _, a := range d.Answers {
				got = append(got, a.RRType+"="+*a.RData)
			}
			assert.Equal(t, tc.answer, got)
		})
	}
}

func TestLongNameTruncated(t *testing.T) {
	var labels []string
	for range 40 {
		labels = append(labels, strings.Repeat("a", 60))
	}
	d, err := dns.Parse(msg(1, 0x0100, 1, 0, append(name(labels...), 0, 16, 0, 1)))
	require.NoError(t, err)
	assert.Len(t, d.Queries[0].RRName, dns.MaxName)
	assert.True(t, d.Queries[0].RRNameTruncated)
}

func TestPointerLoop(t *testing.T) {
	b := msg(1, 0x0100, 1, 0, []byte{0xc0, 12, 0, 1, 0, 1})
	_, err := dns.Parse(b)
	assert.Error(t, err)
	assert.False(t, dns.Probe(b))
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"dns-udp-eve-dig", "dns-udp-eve-txt", "dns-udp-null", "dns-eve-v2-udp-nxdomain-soa", "bug-1158"} {
		for _, p := range testutil.Payloads(f, name, 53, 8) {
			f.Add(p)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dns.Probe(b)
		d, err := dns.Parse(b)
		if err != nil {
			return
		}
		for _, q := range d.Queries {
			if len(q.RRName) > dns.MaxName*4 {
				t.Fatalf("name of %d bytes", len(q.RRName))
			}
		}
	})
}
