package sm3

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The examples of GB/T 32905-2016, Appendix A.
func TestStandardVectors(t *testing.T) {
	tests := map[string]string{
		"abc":                      "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
		strings.Repeat("abcd", 16): "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
		"":                         "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b",
	}
	for in, want := range tests {
		got := Sum([]byte(in))
		assert.Equal(t, want, hex.EncodeToString(got[:]), "%q", in)
		h := New()
		for _, c := range []byte(in) { // byte by byte through Write
			h.Write([]byte{c})
		}
		assert.Equal(t, want, hex.EncodeToString(h.Sum(nil)))
	}
}

// The same digests as OpenSSL's SM3 on inputs of every length around the
// block and padding boundaries.
func TestAgainstOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	for _, n := range []int{1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 1 << 20} {
		b := make([]byte, n)
		rand.Read(b)
		p := filepath.Join(dir, "in")
		require.NoError(t, os.WriteFile(p, b, 0o600))
		out, err := exec.Command("openssl", "dgst", "-sm3", "-r", p).Output()
		if err != nil {
			t.Skipf("this openssl has no SM3: %v", err)
		}
		got := Sum(b)
		assert.Equal(t, strings.Fields(string(out))[0], hex.EncodeToString(got[:]), "length %d", n)
	}
}

func TestSumDoesNotChangeState(t *testing.T) {
	h := New()
	h.Write([]byte("ab"))
	first := h.Sum(nil)
	assert.True(t, bytes.Equal(first, h.Sum(nil)))
	h.Write([]byte("c"))
	want := Sum([]byte("abc"))
	assert.Equal(t, want[:], h.Sum(nil))
}

func BenchmarkSM3(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	h := New()
	for b.Loop() {
		h.Write(buf)
	}
}
