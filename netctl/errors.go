package netctl

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned when a policy or target is parsed or validated.
var (
	// ErrInvalidPolicy means a policy is malformed: no ID, no target, a
	// bad exception, duplicate IDs.
	ErrInvalidPolicy = errors.New("invalid policy")
	// ErrInvalidTarget means a target, exception or address did not parse.
	ErrInvalidTarget = errors.New("invalid target")
)

// Errors returned by New and Set.
var (
	// ErrUnsupported means the request needs something this kernel, this
	// mode or this version of netctl does not do. Wrapped errors say what.
	ErrUnsupported = errors.New("not supported")
	// ErrVerify means the kernel state read back after applying still
	// differs from the desired state.
	ErrVerify = errors.New("kernel state does not match after apply")
	// ErrConfig means the Options are incomplete or inconsistent.
	ErrConfig = errors.New("invalid netctl configuration")
)

// Errors returned by Check.
var (
	// ErrUnsafe means a policy would cut off shared infrastructure or the
	// appliance itself, and was not forced. Match it with errors.Is; the
	// *UnsafeError carries the reasons.
	ErrUnsafe = errors.New("isolation refused as unsafe")
)

// UnsafeError lists why Check refused a policy.
type UnsafeError struct {
	Policy   string
	Concerns []Concern
}

func (e *UnsafeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "isolation %s refused without force:", e.Policy)
	for _, c := range e.Concerns {
		b.WriteString(" ")
		b.WriteString(c.Message)
		b.WriteString(";")
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Is makes errors.Is(err, ErrUnsafe) true.
func (e *UnsafeError) Is(target error) bool { return target == ErrUnsafe }

// VerifyError lists the differences left after applying.
type VerifyError struct {
	Drift []Change
}

func (e *VerifyError) Error() string {
	parts := make([]string, 0, len(e.Drift))
	for _, d := range e.Drift {
		parts = append(parts, d.String())
	}
	return "kernel state does not match after apply: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrVerify) true.
func (e *VerifyError) Is(target error) bool { return target == ErrVerify }

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrUnsupported)
}
