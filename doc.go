// Package firebreak is the root of the Firebreak incident-response
// appliance. It holds no code: the daemon and CLI are in appliance/, packet
// capture in capture/, containment in netctl/, WebAssembly modules in
// modules/ and their SDK in sdk/. Its tests check rules that hold across the
// whole repository, and must never depend on the packages they check.
package firebreak
