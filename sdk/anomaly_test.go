//go:build !wasip1

package sdk_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

// Reading an anomaly record: a TLS heartbeat whose declared payload does
// not fit its record, sent by the client.
func ExampleEvent_Anomaly() {
	var b sdk.Builder
	b.Begin(sdk.Header{Kind: sdk.KindAnomaly, Proto: 6, Src: netip.MustParseAddr("198.51.100.7"),
		Dst: netip.MustParseAddr("10.0.0.4"), SrcPort: 41459, DstPort: 443})
	b.Str(sdk.FieldAppProto, "tls")
	b.Str(sdk.FieldAnomalyType, "applayer")
	b.Str(sdk.FieldAnomalyEvent, sdk.AnomalyHeartbeatOverflow)
	b.Str(sdk.FieldAnomalyLayer, "proto_parser")
	b.End()
	b.Batch().Each(func(ev sdk.Event) error {
		if a, ok := ev.Anomaly(); ok {
			fmt.Println(ev.Kind(), a.AppProto, a.Type, a.Event, a.Layer, ev.Src(), "->", ev.Dst())
		}
		return nil
	})
	// Output:
	// anomaly tls applayer OVERFLOW_HEARTBEAT_MESSAGE proto_parser 198.51.100.7 -> 10.0.0.4
}

func TestAnomalyKind(t *testing.T) {
	k, ok := sdk.KindByName("anomaly")
	if !ok || k != sdk.KindAnomaly || k.String() != "anomaly" {
		t.Fatalf("KindByName(anomaly) = %v, %v", k, ok)
	}
	var b sdk.Builder
	b.Begin(sdk.Header{Kind: sdk.KindTLS})
	b.End()
	ev, _, _ := b.Batch().Next()
	if _, ok := ev.Anomaly(); ok {
		t.Error("a tls record read as an anomaly")
	}
}
