package ssh_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/app/ssh"
	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

func TestHassh(t *testing.T) {
	for _, chunk := range []int{1, 50, 1 << 20} {
		ts, tc := testutil.Streams(t, "ssh-hassh", 22)
		c := &ssh.Conn{}
		done := false
		for len(ts) > 0 || len(tc) > 0 {
			a, b := min(chunk, len(ts)), min(chunk, len(tc))
			done = c.Data(true, ts[:a], 0) || done
			done = c.Data(false, tc[:b], 0) || done
			ts, tc = ts[a:], tc[b:]
		}
		assert.True(t, done)
		ev := c.Finish()
		require.NotNil(t, ev)
		require.NotNil(t, ev.Client.Hassh)
		assert.Equal(t, "2dd6531c7e89d3c925db9214711be76a", ev.Client.Hassh.Hash)
		assert.Equal(t, "6832f1ce43d4397c2c0a3e2f8c94334e", ev.Server.Hassh.Hash)
		assert.Equal(t, "2.0", ev.Client.ProtoVersion)
	}
}

func TestBanner(t *testing.T) {
	for _, tc := range []struct{ line, proto, soft string }{
		{"SSH-2.0-OpenSSH_7.4\r\n", "2.0", "OpenSSH_7.4"},
		{"SSH-1.99-OpenSSH_3.1p1\n", "1.99", "OpenSSH_3.1p1"},
		{"SSH-2.0-libssh_0.9 comment here\r\n", "2.0", "libssh_0.9"},
	} {
		c := &ssh.Conn{}
		c.Data(false, []byte(tc.line), 0)
		ev := c.Finish()
		require.NotNil(t, ev)
		assert.Equal(t, tc.proto, ev.Server.ProtoVersion)
		assert.Equal(t, tc.soft, ev.Server.SoftwareVersion)
	}
}

func FuzzConn(f *testing.F) {
	for _, name := range []string{"ssh-hassh", "ssh-banner-only"} {
		ts, tc := testutil.Streams(f, name, 22)
		f.Add(ts, tc, uint8(60))
	}
	f.Fuzz(func(t *testing.T, cl, sv []byte, chunk uint8) {
		c := &ssh.Conn{}
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
