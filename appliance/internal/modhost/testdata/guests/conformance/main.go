// Command conformance is the Go half of the ABI conformance test: for
// every flow record it emits an alert with the flow's addresses, ports,
// protocol, time and flow ID, signature "conformance", signature ID the
// packets to the server; it counts records in the key-value state and at
// flush emits "conformance total" with the count. testdata/conformance.wat
// does exactly the same without any SDK. It must never be shipped.
package main

import (
	"encoding/binary"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&conf{}) }

type conf struct{}

func (conf) Init([]byte) error { return sdk.Set("n", make([]byte, 4)) }

func (conf) Batch(b sdk.Batch) error {
	v, err := sdk.Get("n", make([]byte, 0, 4))
	if err != nil {
		return err
	}
	n := binary.LittleEndian.Uint32(v)
	err = b.Each(func(ev sdk.Event) error {
		n++
		if ev.Kind() != sdk.KindFlow {
			return nil
		}
		a := sdk.Alert{Signature: "conformance", Severity: 3, SignatureID: uint32(ev.Uint(sdk.FieldPktsToServer))}
		return sdk.EmitAlert(a.On(ev))
	})
	if err != nil {
		return err
	}
	return sdk.Set("n", binary.LittleEndian.AppendUint32(nil, n))
}

func (conf) Flush() error {
	v, err := sdk.Get("n", make([]byte, 0, 4))
	if err != nil {
		return err
	}
	return sdk.EmitAlert(&sdk.Alert{Signature: "conformance total", Severity: 3, SignatureID: binary.LittleEndian.Uint32(v)})
}
