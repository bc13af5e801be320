// Package modhost runs WebAssembly modules (sdk/ABI.md, ABI v1) on wazero:
// it parses and validates manifests, verifies ed25519 signatures against a
// trust store, compiles modules with an on-disk cache, grants only the
// capabilities an engineer allowed, delivers capture events to them in
// batches written into guest memory, turns what they emit into EVE alert
// events, and stops, journals, restarts or disables a module that faults.
//
// Lifecycle of a module: load → verify signature → compile (cached) →
// instantiate → init with config → run → close; Close is safe after any
// step, including a failed init.
//
// A module must never act on the appliance directly, never reach the
// network, never see a file outside a granted read-only mount, and a fault
// in one module must never stop the analysis or the other modules.
package modhost
