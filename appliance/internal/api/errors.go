package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
)

// Errors a handler returns to choose the HTTP status. Anything else is a 500
// whose detail stays in the log.
var (
	// ErrBadRequest means the body or parameters were malformed or invalid (400).
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthenticated means the caller gave no valid session or token (401).
	ErrUnauthenticated = errors.New("authentication required")
	// ErrForbidden means the caller's role may not do this (403).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound means the thing named does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict means the request does not fit the current state (409).
	ErrConflict = errors.New("conflict")
	// ErrNotYet means the capability is not built yet (501).
	ErrNotYet = errors.New("not yet available")
)

// Error is what a caller sees: a message safe to show and an ID that also
// appears in the daemon's log line for the same failure.
type Error struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	ID      string `json:"id"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s (error %s)", e.Message, e.ID) }

// UserError wraps err so that its message is shown to the caller as is.
// Use it for errors whose text is about the request, never about internals.
func UserError(kind error, err error) error { return &userError{kind: kind, err: err} }

type userError struct{ kind, err error }

func (e *userError) Error() string                    { return e.err.Error() }
func (e *userError) Unwrap() []error                  { return []error{e.kind, e.err} }
func userErrorf(kind error, f string, a ...any) error { return UserError(kind, fmt.Errorf(f, a...)) }

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrNotYet):
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

func newErrorID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
