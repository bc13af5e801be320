//go:build !wasip1

package main

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

var feedFiles = []string{"testdata/malware-feed.json", "testdata/malware-feed.csv", "testdata/malware-feed.stix.json", "testdata/malware-feed.misp.json"}

// TestFeedFormats loads the same indicators from each feed format and
// checks they give the same indicators and the same hits.
func TestFeedFormats(t *testing.T) {
	var want, wantHits []string
	for _, file := range feedFiles {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parseFeed(b)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var got []string
		for _, ind := range f.Indicators {
			got = append(got, ind.Type+" "+ind.Value+" "+ind.Name)
		}
		slices.Sort(got)
		sdk.Test.Reset()
		m := &matcher{}
		if err := m.Init(b); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := m.Batch(traffic()); err != nil {
			t.Fatal(err)
		}
		var hits []string
		for _, a := range sdk.Test.Alerts {
			hits = append(hits, a.Src.String()+" -> "+a.Dst.String()+" "+a.Signature)
		}
		if want == nil {
			want, wantHits = got, hits
			if len(want) != 4 || len(hits) != 3 {
				t.Fatalf("%s: %d indicators, hits %q", file, len(want), hits)
			}
			continue
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s (%s) indicators:\n%s\nwant:\n%s", file, f.Format, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if strings.Join(hits, "\n") != strings.Join(wantHits, "\n") {
			t.Errorf("%s hits:\n%s\nwant:\n%s", file, strings.Join(hits, "\n"), strings.Join(wantHits, "\n"))
		}
	}
}

// traffic touches each network indicator of the test feeds once, and
// near misses.
func traffic() sdk.Batch {
	var b sdk.Builder
	h := sdk.Header{Kind: sdk.KindDNS, Proto: 17, Src: netip.MustParseAddr("10.0.0.5"), Dst: netip.MustParseAddr("10.0.0.53")}
	for _, name := range []string{"www.internetbadguys.com", "hobbeach.com.example", "nothobbeach.com"} {
		b.Begin(h)
		b.Str(sdk.FieldDNSRRName, name)
		b.End()
	}
	h.Kind, h.Proto, h.Dst = sdk.KindTLS, 6, netip.MustParseAddr("203.0.113.10")
	b.Begin(h)
	b.Str(sdk.FieldTLSSNI, "cdn.hobbeach.com")
	b.End()
	h.Kind, h.Dst = sdk.KindFlow, netip.MustParseAddr("198.51.100.77")
	b.Begin(h)
	b.End()
	return b.Batch()
}

func TestFeedErrors(t *testing.T) {
	for _, bad := range []string{
		`{"something": "else"}`,
		`not,a,feed` + "\n" + `1,2,3`,
		`{"type": "bundle", "objects": [7]}`,
		`{"Event": {"Attribute": "x"}}`,
		`type,value` + "\n" + `"unterminated`,
		`[{"Event": 3}]`,
	} {
		if _, err := parseFeed([]byte(bad)); err == nil {
			t.Errorf("feed %q must be refused", bad)
		}
	}
	for _, tc := range []struct{ pattern, want string }{
		{`[ipv4-addr:value = '203.0.113.1' OR ipv6-addr:value = '2001:db8::1']`, "ip 203.0.113.1,ip 2001:db8::1"},
		{`[url:value = 'http://x.example/a\'b']`, "url http://x.example/a'b"},
		{`[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']`, "md5 d41d8cd98f00b204e9800998ecf8427e"},
		{`[domain-name:value != 'x.example']`, ""},
		{`[domain-name:value = 'x.example'] FOLLOWEDBY [domain-name:value = 'y.example']`, ""},
		{`[domain-name:value = 'x.example' AND domain-name:value = 'y.example']`, ""},
		{`[domain-name:value = 'x.example`, ""},
	} {
		inds, err := stixPattern(tc.pattern)
		var got []string
		for _, ind := range inds {
			got = append(got, ind.Type+" "+ind.Value)
		}
		if strings.Join(got, ",") != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("stixPattern(%s) = %q, %v; want %q", tc.pattern, got, err, tc.want)
		}
	}
}

func FuzzFeed(f *testing.F) {
	for _, file := range feedFiles {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"Event":{"Attribute":[{"type":"domain|ip","value":"a.example|203.0.113.1"}]}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fd, err := parseFeed(b)
		if err != nil {
			return
		}
		for _, ind := range fd.Indicators {
			if ind.Value == "" && fd.Format != "json" {
				t.Fatalf("%s feed gave an empty indicator %+v", fd.Format, ind)
			}
		}
		sdk.Test.Reset()
		_ = (&matcher{}).Init(b) // refuses bad values with an error, never panics
	})
}
