package benchgen

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/capture/internal/pcapio"
)

func TestRewriteShiftsAddressesConsistently(t *testing.T) {
	// Ethernet, IPv4 10.1.2.3 -> 10.4.5.6, UDP.
	frame := make([]byte, 14+20+8)
	binary.BigEndian.PutUint16(frame[12:], 0x0800)
	ip := frame[14:]
	ip[0], ip[9] = 0x45, 17
	copy(ip[12:], []byte{10, 1, 2, 3})
	copy(ip[16:], []byte{10, 4, 5, 6})
	a := append([]byte(nil), frame...)
	Rewrite(a, 0x0102)
	require.Equal(t, []byte{10, 1 ^ 1, 2 ^ 2, 3}, a[26:30])
	require.Equal(t, []byte{10, 4 ^ 1, 5 ^ 2, 6}, a[30:34])
	Rewrite(a, 0x0102) // XOR: the same replica maps back
	require.Equal(t, frame, a)
	// Everything but the addresses is untouched.
	Rewrite(a, 7)
	a[26+2] ^= 7
	a[30+2] ^= 7
	require.Equal(t, frame, a)
	// Short and garbage frames are left alone rather than crashing.
	for _, b := range [][]byte{nil, {1}, frame[:20], bytes.Repeat([]byte{0x45}, 60)} {
		Rewrite(append([]byte(nil), b...), 3)
	}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "..", "shared", "testdata", "pcap")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared test data not found at %s: %v", dir, err)
	}
	src, err := Load(dir)
	require.NoError(t, err)
	require.Positive(t, src.Files)
	var buf bytes.Buffer
	const n = 3*Replicas*100 + 7
	require.NoError(t, src.Write(&buf, n))
	r, err := pcapio.Open(&buf)
	require.NoError(t, err)
	got := 0
	var last int64
	for {
		_, info, err := r.Next()
		if err != nil {
			break
		}
		ts := info.Timestamp.UnixNano()
		require.GreaterOrEqual(t, ts, last, "packet %d goes back in time", got+1)
		last = ts
		got++
	}
	require.Equal(t, n, got)
}
