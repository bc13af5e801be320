package boot

import "errors"

// Errors of bringing the appliance up.
var (
	// ErrNoModule: a driver the appliance needs is not in the image.
	ErrNoModule = errors.New("not in the image")
	// ErrNoPorts: the machine has no network port to manage the appliance on.
	ErrNoPorts = errors.New("no network port found")
)
