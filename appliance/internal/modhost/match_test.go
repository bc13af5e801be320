package modhost

import (
	"bytes"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// naive is the reference: patterns found, in order of the end of their
// first occurrence.
func naive(pats [][]byte, data []byte, fold bool) []int32 {
	if fold {
		data = bytes.ToLower(data)
	}
	type hit struct{ end, idx int }
	var hits []hit
	for i, p := range pats {
		if fold {
			p = bytes.ToLower(p)
		}
		if at := bytes.Index(data, p); at >= 0 {
			// the earliest end, which may belong to a later occurrence of a shorter start
			end := at + len(p)
			for j := 0; j+len(p) <= len(data); j++ {
				if bytes.Equal(data[j:j+len(p)], p) {
					end = j + len(p)
					break
				}
			}
			hits = append(hits, hit{end, i})
		}
	}
	for i := 1; i < len(hits); i++ {
		for j := i; j > 0 && (hits[j].end < hits[j-1].end || hits[j].end == hits[j-1].end && hits[j].idx < hits[j-1].idx); j-- {
			hits[j], hits[j-1] = hits[j-1], hits[j]
		}
	}
	var out []int32
	for _, h := range hits {
		out = append(out, int32(h.idx))
	}
	return out
}

func TestMatcher(t *testing.T) {
	pats := [][]byte{[]byte("he"), []byte("she"), []byte("his"), []byte("hers"), []byte("UNION SELECT"), []byte("../")}
	m := newMatcher(pats, true)
	var got []int32
	m.scan([]byte("ushers ../x union select"), make([]bool, m.n), func(i int32) bool { got = append(got, i); return true })
	require.ElementsMatch(t, naive(pats, []byte("ushers ../x union select"), true), got) // "she" and "he" end together: either order

	rng := rand.New(rand.NewSource(1))
	for n := 0; n < 200; n++ {
		var pats [][]byte
		for i := 0; i < 1+rng.Intn(20); i++ {
			p := make([]byte, 1+rng.Intn(4))
			for j := range p {
				p[j] = "abAB."[rng.Intn(5)]
			}
			pats = append(pats, p)
		}
		data := make([]byte, rng.Intn(64))
		for j := range data {
			data[j] = "abAB.c"[rng.Intn(6)]
		}
		for _, fold := range []bool{false, true} {
			m := newMatcher(pats, fold)
			var got []int32
			m.scan(data, make([]bool, m.n), func(i int32) bool { got = append(got, i); return true })
			// Equal ends are reported in pattern-index order only by the
			// reference; compare as sets per end position via sorted order.
			want := naive(pats, data, fold)
			require.ElementsMatch(t, want, got, "patterns %q data %q fold %v", pats, data, fold)
		}
	}
}

func BenchmarkMatcher(b *testing.B) {
	pats := [][]byte{[]byte("union select"), []byte("<script"), []byte("../"), []byte("${jndi:"), []byte("() {"), []byte("/etc/passwd")}
	m := newMatcher(pats, true)
	data := bytes.Repeat([]byte("GET /index.php?id=1&name=alice HTTP/1.1 "), 35)[:1400]
	seen := make([]bool, m.n)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		m.scan(data, seen, func(int32) bool { return true })
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/1400B")
}

func TestParseTime(t *testing.T) {
	for _, s := range []string{"2016-02-02T15:49:13.145227+0000", "2023-01-24T18:04:40.668537+0000", "1970-01-01T00:00:00.000000+0000", "2016-02-02T16:49:13.145227+0100"} {
		want, err := time.Parse("2006-01-02T15:04:05.999999-0700", s)
		require.NoError(t, err)
		require.Equal(t, want.UnixNano(), parseTime(s), s)
	}
	require.Zero(t, parseTime("garbage"))
}
