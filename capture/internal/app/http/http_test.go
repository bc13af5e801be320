package http_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/app/http"
	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

func feed(c *http.Conn, req, resp string, chunk int) []*http.Tx {
	var out []*http.Tx
	for _, d := range []struct {
		ts   bool
		data string
	}{{true, req}, {false, resp}} {
		b := []byte(d.data)
		for len(b) > 0 {
			n := min(chunk, len(b))
			txs, _ := c.Data(d.ts, b[:n], 0)
			out = append(out, txs...)
			b = b[n:]
		}
	}
	return append(out, c.Close()...)
}

func TestTransactions(t *testing.T) {
	for _, tc := range []struct {
		name, req, resp string
		want            []string // method url host status length protocol
	}{
		{"simple", "GET /a HTTP/1.1\r\nHost: example.org:8080\r\nUser-Agent: ua\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/html; charset=utf-8\r\n\r\nhello",
			[]string{"GET /a example.org 200 5 HTTP/1.1 text/html"}},
		{"pipelined chunked", "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.1 404 NF\r\nContent-Length: 2\r\n\r\nno",
			[]string{"GET /1 h 200 3 HTTP/1.1 ", "GET /2 h 404 2 HTTP/1.1 "}},
		{"no version", "GET /x\r\nUser-Agent: myscript\r\n\r\n", "",
			[]string{"GET /x  0 0  "}},
		{"close delimited", "POST /p HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.0 200 OK\r\n\r\n0123456789",
			[]string{"POST /p  200 10 HTTP/1.0 "}},
	} {
		for _, chunk := range []int{1, 7, 1 << 20} {
			t.Run(tc.name, func(t *testing.T) {
				txs := feed(&http.Conn{}, tc.req, tc.resp, chunk)
				var got []string
				for _, tx := range txs {
					h := tx.HTTP
					got = append(got, h.HTTPMethod+" "+h.URL+" "+h.Hostname+" "+itoa(h.Status)+" "+itoa(int(h.Length))+" "+h.Protocol+" "+h.HTTPContentType)
				}
				assert.Equal(t, tc.want, got, "chunk %d", chunk)
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

func TestConnectTunnel(t *testing.T) {
	c := &http.Conn{}
	txs, _ := c.Data(true, []byte("CONNECT host.example:443 HTTP/1.1\r\nHost: host.example:443\r\n\r\n"), 0)
	assert.Empty(t, txs)
	txs, rest := c.Data(false, []byte("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03"), 0)
	require.Len(t, txs, 1)
	assert.Equal(t, "host.example", txs[0].HTTP.Hostname)
	assert.True(t, c.Tunnel())
	assert.Equal(t, []byte("\x16\x03\x03"), rest)
}

func FuzzConn(f *testing.F) {
	for _, name := range []string{"bug-4810", "http-not09", "tcp-fastopen-01", "decode-teredo-01"} {
		ts, tc := testutil.Streams(f, name, 80)
		f.Add(ts, tc, uint8(100))
	}
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"), uint8(3))
	f.Fuzz(func(t *testing.T, req, resp []byte, chunk uint8) {
		c := &http.Conn{}
		n := int(chunk) + 1
		for len(req) > 0 || len(resp) > 0 {
			a, b := min(n, len(req)), min(n, len(resp))
			c.Data(true, req[:a], 0)
			c.Data(false, resp[:b], int(chunk%3))
			req, resp = req[a:], resp[b:]
		}
		c.Close()
	})
}
