package smb_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/app/smb"
	"github.com/firebreak-ir/firebreak/capture/internal/eve"
	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

// run feeds a capture's SMB streams request by request: the client stream
// is split at NetBIOS message boundaries and interleaved with the server's.
func run(t *testing.T, name string, chunk int) []*eve.SMB {
	ts, tc := testutil.Streams(t, name, 445)
	require.NotEmpty(t, ts)
	c := &smb.Conn{}
	var out []*eve.SMB
	for len(ts) > 0 || len(tc) > 0 {
		a, b := min(chunk, len(ts)), min(chunk, len(tc))
		out = append(out, c.Data(true, ts[:a], 0)...)
		out = append(out, c.Data(false, tc[:b], 0)...)
		ts, tc = ts[a:], tc[b:]
	}
	return append(out, c.Close()...)
}

func TestSMB2(t *testing.T) {
	txs := run(t, "smb3-01", 1<<20)
	require.NotEmpty(t, txs)
	var shares, pipes []string
	for _, tx := range txs {
		if tx.Command == "SMB2_COMMAND_TREE_CONNECT" {
			shares = append(shares, tx.Share)
			pipes = append(pipes, tx.NamedPipe)
		}
	}
	assert.Contains(t, shares, `\\WS2016\encrypted`)
	assert.Contains(t, pipes, `\\10.160.65.202\IPC$`)
	assert.Equal(t, "3.00", txs[0].Dialect)
}

func TestNTLMSSP(t *testing.T) {
	for _, tx := range run(t, "smb2-ntlmssp-order", 1<<20) {
		if tx.NTLMSSP != nil && tx.NTLMSSP.User != "" {
			assert.Equal(t, "SERVER01", tx.NTLMSSP.User) // sic: the capture swaps user and host
			assert.Equal(t, "CONTOSO", tx.NTLMSSP.Domain)
			assert.Equal(t, "6.0 build 6001 rev 15", tx.NTLMSSP.Version)
			return
		}
	}
	t.Fatal("no NTLMSSP authenticate message found")
}

func FuzzConn(f *testing.F) {
	for _, name := range []string{"smb3-01", "smb1-02", "smb2-ntlmssp-order"} {
		ts, tc := testutil.Streams(f, name, 445)
		f.Add(ts[:min(len(ts), 4096)], tc[:min(len(tc), 4096)], uint8(90))
	}
	f.Fuzz(func(t *testing.T, cl, sv []byte, chunk uint8) {
		c := &smb.Conn{}
		n := int(chunk) + 1
		for len(cl) > 0 || len(sv) > 0 {
			a, b := min(n, len(cl)), min(n, len(sv))
			c.Data(true, cl[:a], 0)
			c.Data(false, sv[:b], int(chunk%5/4))
			cl, sv = cl[a:], sv[b:]
		}
		c.Close()
	})
}
