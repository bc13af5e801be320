package eve

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTime(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2016, 2, 2, 15, 49, 13, 145227000, time.UTC), "2016-02-02T15:49:13.145227+0000"},
		{time.Date(1970, 1, 1, 0, 0, 0, 999, time.UTC), "1970-01-01T00:00:00.000000+0000"},
		{time.Date(2020, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 3600)), "2020-12-31T22:59:59.999999+0000"},
	} {
		assert.Equal(t, tc.want, Time(tc.t))
	}
}

func TestIP(t *testing.T) {
	assert.Equal(t, "10.0.0.1", IP(netip.MustParseAddr("10.0.0.1")))
	assert.Equal(t, "fe80:0000:0000:0000:020c:29ff:fef3:cf38", IP(netip.MustParseAddr("fe80::20c:29ff:fef3:cf38")))
}

func TestSafeString(t *testing.T) {
	assert.Equal(t, "VACKD\x03\\xc5\\xe9\x01", SafeString([]byte("VACKD\x03\xc5\xe9\x01")))
	assert.Equal(t, "héllo", SafeString([]byte("héllo")))
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"plain", "quote\" back\\slash", "\x00\x1f\t\n\r\b\f", "\xff\xfe", "<&>", "\u2028\u2029", "héllo",
		"0123456789abcdef0123456789abcdef", "01234567\x7f89abcdef01234567\"9a", "abcdefgh\xc3\xa9ijklmnopqrstuvw\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(got, &back), "%q", got)
		want, _ := json.Marshal(s)
		var wantBack string
		require.NoError(t, json.Unmarshal(want, &wantBack))
		assert.Equal(t, wantBack, back)
		// Byte for byte what encoding/json writes without HTML escaping.
		assert.Equal(t, refJSON(t, s), string(got))
		assert.Equal(t, "x"+string(got), string(AppendString([]byte("x"), s)))
	})
}
