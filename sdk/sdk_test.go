//go:build !wasip1

package sdk_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func httpBatch() sdk.Batch {
	var b sdk.Builder
	b.Begin(sdk.Header{Kind: sdk.KindHTTP, Proto: 6, Time: 1_700_000_000_000_000_000, FlowID: 7,
		Src: netip.MustParseAddr("10.0.0.5"), Dst: netip.MustParseAddr("2001:db8::80"), SrcPort: 51000, DstPort: 80})
	b.Str(sdk.FieldHTTPMethod, "GET")
	b.Str(sdk.FieldHTTPURL, "/index.php?id=1")
	b.Uint(sdk.FieldHTTPStatus, 200)
	b.End()
	b.Begin(sdk.Header{Kind: sdk.KindDNS, Proto: 17, Src: netip.MustParseAddr("10.0.0.5"), Dst: netip.MustParseAddr("10.0.0.53"), DstPort: 53})
	b.Str(sdk.FieldDNSRRName, "example.com")
	b.Str(sdk.FieldDNSAnswer, "93.184.216.34")
	b.Str(sdk.FieldDNSAnswer, "93.184.216.35")
	b.End()
	return b.Batch()
}

// Reading a batch: each record is a view into the host's buffer.
func ExampleBatch_Each() {
	httpBatch().Each(func(ev sdk.Event) error {
		switch ev.Kind() {
		case sdk.KindHTTP:
			fmt.Println(ev.Kind(), ev.Src(), "->", ev.Dst(), ev.Str(sdk.FieldHTTPMethod), ev.Str(sdk.FieldHTTPURL), ev.Uint(sdk.FieldHTTPStatus))
		case sdk.KindDNS:
			fmt.Print(ev.Kind(), " ", ev.Str(sdk.FieldDNSRRName))
			ev.All(sdk.FieldDNSAnswer, func(v []byte) { fmt.Print(" ", string(v)) })
			fmt.Println()
		}
		return nil
	})
	// Output:
	// http 10.0.0.5 -> 2001:db8::80 GET /index.php?id=1 200
	// dns example.com 93.184.216.34 93.184.216.35
}

// Emitting an alert about an event: outside wasip1 the alert goes to
// sdk.Test, so a module's logic is tested natively.
func ExampleEmitAlert() {
	sdk.Test.Reset()
	ev, _, _ := httpBatch().Next()
	a := sdk.Alert{Signature: "suspicious request", Severity: 1, Techniques: []string{"T1190"}}
	if err := sdk.EmitAlert(a.On(ev)); err != nil {
		fmt.Println(err)
	}
	got := sdk.Test.Alerts[0]
	fmt.Println(got.Signature, got.Src, got.DstPort, got.FlowID, got.Techniques)
	// Output: suspicious request 10.0.0.5 80 7 [T1190]
}

// The host's multi-pattern matcher: compile once, in Init; match each payload.
func ExampleCompilePatterns() {
	sdk.Test.Reset()
	set, err := sdk.CompilePatterns([]string{"union select", "<script", "../"}, sdk.MatchFold)
	if err != nil {
		fmt.Println(err)
		return
	}
	hits := set.Match([]byte("GET /?q=1 UNION SELECT * FROM ../x"), make([]uint32, 0, 8))
	fmt.Println(hits)
	// Output: [0 2]
}

// The key-value state, bounded by the manifest's quota.
func ExampleGet() {
	sdk.Test.Reset()
	sdk.Set("seen:10.0.0.5", []byte{3})
	v, err := sdk.Get("seen:10.0.0.5", nil)
	fmt.Println(v, err)
	_, err = sdk.Get("seen:10.0.0.6", nil)
	fmt.Println(err)
	// Output:
	// [3] <nil>
	// sdk: no such key
}

func TestMalformedBatchEndsIteration(t *testing.T) {
	b := httpBatch()
	for _, cut := range []int{0, 10, 63, 64, len(b) - 1} {
		n := 0
		sdk.Batch(b[:cut]).Each(func(ev sdk.Event) error {
			ev.Str(sdk.FieldHTTPURL)
			n++
			return nil
		})
		if n > 1 {
			t.Errorf("cut at %d: %d records", cut, n)
		}
	}
	bad := append(sdk.Batch(nil), b...)
	bad[0] = 0xFF // a size larger than the batch
	if bad.Len() != 0 {
		t.Error("a record larger than the batch must end the iteration")
	}
}

func TestAlertRoundTrip(t *testing.T) {
	var b sdk.Builder
	a := sdk.Alert{Signature: "x", Category: "c", Severity: 3, SignatureID: 9, Techniques: []string{"T1046", "T1048"},
		Metadata: []string{"k=v"}, Src: netip.MustParseAddr("::1"), Dst: netip.MustParseAddr("::2"), Proto: 17, SrcPort: 1, DstPort: 2, Time: -5}
	a.Append(&b)
	ev, _, ok := b.Batch().Next()
	if !ok {
		t.Fatal("no record")
	}
	got := sdk.DecodeAlert(ev)
	if fmt.Sprint(got) != fmt.Sprint(a) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, a)
	}
}

func FuzzBatch(f *testing.F) {
	f.Add([]byte(httpBatch()))
	f.Fuzz(func(t *testing.T, b []byte) {
		sdk.Batch(b).Each(func(ev sdk.Event) error {
			ev.Kind()
			ev.Src()
			ev.Str(sdk.FieldHTTPURL)
			ev.All(sdk.FieldDNSAnswer, func([]byte) {})
			return nil
		})
	})
}
