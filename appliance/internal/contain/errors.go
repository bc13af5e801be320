package contain

import "errors"

// Errors returned by the Service. Errors from netctl (netctl.ErrUnsafe,
// netctl.ErrUnsupported, netctl.ErrInvalidTarget, ...) and from the case
// book pass through wrapped.
var (
	// ErrInvalid means a request is malformed: no target, a bad duration,
	// a reason missing.
	ErrInvalid = errors.New("invalid isolation request")
	// ErrNotFound means no isolation in force has that ID.
	ErrNotFound = errors.New("no such isolation in force")
	// ErrConflict means the request does not fit the isolation's state:
	// confirming one that needs no confirmation or whose deadline passed.
	ErrConflict = errors.New("isolation state conflict")
	// ErrClosed means the service has been closed.
	ErrClosed = errors.New("containment service closed")
)
