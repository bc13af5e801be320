package tls

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

func run(t *testing.T, name string, port uint16, chunk int) *Conn {
	ts, tc := testutil.Streams(t, name, port)
	require.NotEmpty(t, ts)
	c := &Conn{}
	// Client first, then server: the order TCP acknowledgements impose on
	// the handshake as far as the parser is concerned.
	for _, d := range []struct {
		client bool
		b      []byte
	}{{true, ts}, {false, tc}} {
		for b := d.b; len(b) > 0; {
			n := min(chunk, len(b))
			c.Data(d.client, b[:n], 0)
			b = b[n:]
		}
	}
	return c
}

func TestHandshake(t *testing.T) {
	for _, chunk := range []int{1, 13, 1 << 20} {
		c := run(t, "bug-2646-01", 443, chunk)
		ev := c.Finish()
		require.NotNil(t, ev, "chunk %d", chunk)
		assert.Equal(t, "raw.githubusercontent.com", ev.SNI)
		assert.Equal(t, "TLS 1.2", ev.Version)
		assert.Equal(t, "08:3A:84:59:2F:77:F2:E7:95:1B:F8:87:CE:DE:C9:66", ev.SerialNumber)
		assert.Equal(t, "C=US, ST=California, L=San Francisco, O=GitHub, Inc., CN=www.github.com", ev.Subject)
		assert.Equal(t, "2020-05-13T12:00:00", ev.NotAfter)
		require.NotNil(t, ev.JA3)
		require.NotNil(t, ev.JA3S)
		assert.Len(t, ev.JA3.Hash, 32)
		assert.Regexp(t, `^t1[23]d\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$`, ev.JA4)
	}
}

func TestJA3(t *testing.T) {
	c := run(t, "tls13-draft28", 4433, 1<<20)
	ev := c.Finish()
	require.NotNil(t, ev)
	assert.Equal(t, "TLS 1.3 draft-28", ev.Version)
	assert.Contains(t, []string{"d00857e0c8e7a7f35e446508c6233460", "43202faa1c8c1760d6f7f4bd9adde4ab"}, ev.JA3.Hash)
}

func TestNotTLS(t *testing.T) {
	c := &Conn{}
	assert.False(t, c.Data(true, []byte("GET / HTTP/1.1\r\n\r\n"), 0))
	assert.Nil(t, c.Finish())
}

func FuzzConn(f *testing.F) {
	for _, name := range []string{"bug-2646-01", "tls-glupteba", "tls13-draft28", "tls-client-hello-frag-01"} {
		ts, tc := testutil.Streams(f, name, 443)
		if len(ts) == 0 {
			ts, tc = testutil.Streams(f, name, 4433)
		}
		f.Add(ts, tc, uint8(200))
	}
	f.Fuzz(func(t *testing.T, cl, sv []byte, chunk uint8) {
		c := &Conn{Certificates: chunk&1 == 1}
		n := int(chunk) + 1
		for len(cl) > 0 || len(sv) > 0 {
			a, b := min(n, len(cl)), min(n, len(sv))
			c.Data(true, cl[:a], 0)
			c.Data(false, sv[:b], 0)
			cl, sv = cl[a:], sv[b:]
		}
		c.Finish()
	})
}

// TestJA4Vector checks the JA4 construction against the example of the
// JA4 specification (FoxIO, ja4/technical_details/JA4.md).
func TestJA4Vector(t *testing.T) {
	h := &hello{
		version:  0x0303,
		versions: []uint16{0x0a0a, 0x0304, 0x0303},
		sni:      "example.com",
		alpn:     []string{"h2", "http/1.1"},
		ciphers: []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
			0x009c, 0x009d, 0x002f, 0x0035},
		exts: []uint16{0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
			0x002b, 0xff01, 0x000b, 0x000a, 0x0015},
		sigalgs: []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601},
	}
	assert.Equal(t, "t13d1516h2_8daaf6152771_e5627efa2ab1", ja4(h))
}
