package cases

import (
	"errors"
	"fmt"
)

// Errors returned by command constructors (Open, Note, SetPhase, ...) and by
// Validate on request types.
var (
	// ErrInvalid means a request field is missing, too long, not one of the
	// allowed values, or holds control characters. The error is usually a
	// *FieldError or *CSVError that names the field.
	ErrInvalid = errors.New("invalid request")

	// ErrTooLarge means an input or the resulting journal entry exceeds a
	// limit of this package or of the journal.
	ErrTooLarge = errors.New("too large")

	// ErrTransition means the case cannot move to the requested phase from
	// its current one. The error is a *TransitionError.
	ErrTransition = errors.New("phase transition not allowed")

	// ErrClosed means the case is closed; the only change it accepts is a
	// reopen.
	ErrClosed = errors.New("case is closed")

	// ErrNotOpen means the case has no case.opened entry yet.
	ErrNotOpen = errors.New("case is not open")

	// ErrAlreadyOpen means Open was called on a case that is already open.
	ErrAlreadyOpen = errors.New("case is already open")

	// ErrNotFound means a task or engineer named in a request is not on the
	// case.
	ErrNotFound = errors.New("not found")

	// ErrNoChange means the request would not change anything (a task that
	// is already done, an engineer who already has that role).
	ErrNoChange = errors.New("nothing to change")
)

// Errors returned by Apply.
var (
	// ErrSequence means an entry does not follow the projection: wrong
	// journal, a gap or repeat in seq, or a Prev that is not the head hash.
	ErrSequence = errors.New("entry out of sequence")

	// ErrBadEntry means a committed entry's payload cannot be applied: it
	// does not decode, names an unknown value, or refers to a task that does
	// not exist. The error is an *EntryError.
	ErrBadEntry = errors.New("entry cannot be applied")
)

// FieldError names the request field that failed validation. It matches
// ErrInvalid, and also ErrTooLarge when the field exceeded a count limit.
type FieldError struct {
	Field  string // JSON name, with index for lists: "contacts[2].email"
	Reason string
	err    error
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

func (e *FieldError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrInvalid, e.err}
	}
	return []error{ErrInvalid}
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

func tooMany(field string, n, max int) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf("%d items, at most %d allowed", n, max), err: ErrTooLarge}
}

// TransitionError says why the case cannot move from one phase to another.
// It matches ErrTransition.
type TransitionError struct {
	From, To Phase
	Reason   string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot move case from %s to %s: %s", e.From, e.To, e.Reason)
}

func (e *TransitionError) Unwrap() error { return ErrTransition }

// CSVError is an asset-list problem at a line of the input (1-based, as an
// editor shows it; 0 when the problem is the file as a whole). It matches
// ErrInvalid or ErrTooLarge.
type CSVError struct {
	Line   int
	Column string // the header as written in the file, when one column is at fault
	Err    error
}

func (e *CSVError) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("asset list: %v", e.Err)
	case e.Column != "":
		return fmt.Sprintf("asset list line %d, column %q: %v", e.Line, e.Column, e.Err)
	default:
		return fmt.Sprintf("asset list line %d: %v", e.Line, e.Err)
	}
}

func (e *CSVError) Unwrap() error { return e.Err }

// EntryError is a committed entry that Apply could not apply. It matches
// ErrBadEntry and whatever Err matches.
type EntryError struct {
	Seq  uint64
	Type string
	Err  error
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("apply %s #%d: %v", e.Type, e.Seq, e.Err)
}

func (e *EntryError) Unwrap() []error { return []error{ErrBadEntry, e.Err} }
