// Package sdk is what the author of a Firebreak module imports: typed,
// zero-copy access to the batches of events the host writes into the
// module's memory, helpers to emit alerts and proposed actions, logging, a
// bounded key-value state, and the host's native multi-pattern matcher. The
// contract it implements is sdk/ABI.md (ABI v1); any language that compiles
// to WebAssembly can implement the same contract.
//
// A module is a main package built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mod.wasm .
//
// whose init registers a [Module] with [Register]. Outside wasip1 (go test on
// the developer's machine) the host functions are replaced by an in-process
// recorder, [Test], so a module's logic is tested natively and its Examples
// run.
//
// The package has no dependencies outside the standard library and must
// never gain one: module authors must never inherit the appliance's
// dependencies. Values read from a batch are only valid during the call that
// delivered it; a module must never keep a string or slice from an event
// without copying it.
package sdk
