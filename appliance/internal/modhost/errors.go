package modhost

import (
	"errors"
	"fmt"
)

// Errors of loading a module (manifest, signature, capabilities, compile).
var (
	// ErrManifest is an invalid manifest; a *ManifestError says which field.
	ErrManifest = errors.New("invalid module manifest")
	// ErrUnsigned is a module without a signature, refused unless the
	// engineer allowed unsigned modules.
	ErrUnsigned = errors.New("module is not signed")
	// ErrBadSignature is a signature that does not verify: the module or
	// its manifest was changed after signing.
	ErrBadSignature = errors.New("module signature does not verify (tampered)")
	// ErrUntrustedKey is a signature by a key outside the trust store.
	ErrUntrustedKey = errors.New("module is signed by a key that is not trusted")
	// ErrNotGranted is a capability the manifest asks for that the
	// engineer did not grant.
	ErrNotGranted = errors.New("capability not granted")
	// ErrABI is a module that does not implement ABI v1 (missing export,
	// wrong version, unknown import).
	ErrABI = errors.New("module does not implement the Firebreak ABI v1")
	// ErrDuplicate is a second module with a name already registered.
	ErrDuplicate = errors.New("a module with this name is already loaded")
	// ErrNotFound is a module name that is not loaded or not embedded.
	ErrNotFound = errors.New("no such module")
)

// Errors of running a module. Each is a fault: the instance is discarded.
var (
	// ErrFault is matched by every *FaultError.
	ErrFault = errors.New("module fault")
	// ErrDeadline is a call that overran the per-batch deadline.
	ErrDeadline = errors.New("module overran its deadline")
	// ErrTrap is a WebAssembly trap, an exit, or running out of memory.
	ErrTrap = errors.New("module trapped")
	// ErrBadPointer is a host call with an address range outside the
	// module's memory.
	ErrBadPointer = errors.New("module passed a pointer outside its memory")
	// ErrFlood is a module that emitted more than its limit in one call.
	ErrFlood = errors.New("module emitted too much")
	// ErrFailed is a module that returned a non-zero status.
	ErrFailed = errors.New("module returned an error")
	// ErrDisabled is a module disabled after repeated faults.
	ErrDisabled = errors.New("module disabled after repeated faults")
)

// ManifestError says what is wrong with a manifest.
type ManifestError struct {
	Field  string
	Reason string
}

func (e *ManifestError) Error() string {
	return fmt.Sprintf("%s: %s: %s", ErrManifest, e.Field, e.Reason)
}

// Is matches ErrManifest.
func (e *ManifestError) Is(target error) bool { return target == ErrManifest }

// FaultError is a fault of a running module: which module, in which call,
// the kind of fault (Err: ErrDeadline, ErrTrap, ...) and the detail.
type FaultError struct {
	Module string
	Call   string // fb_init, fb_batch, fb_flush, or a host function
	Err    error
	Detail string
}

func (e *FaultError) Error() string {
	s := fmt.Sprintf("module %s: %s: %v", e.Module, e.Call, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is matches ErrFault.
func (e *FaultError) Is(target error) bool { return target == ErrFault }

// Unwrap gives the kind of fault.
func (e *FaultError) Unwrap() error { return e.Err }
