package api

import (
	"errors"
	"net/http"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
)

// SessionAuthenticator authenticates a console session: the session cookie
// and, on a request that changes state, the session's CSRF token.
type SessionAuthenticator interface {
	// Authenticate returns found false when r carries no session cookie at
	// all, so that the caller is asked for a token instead.
	Authenticate(r *http.Request) (c auth.Caller, found bool, err error)
}

// sessionError maps a console session failure to what the caller sees: a
// missing CSRF token is forbidden, anything else needs a new login.
func sessionError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrCSRF):
		return UserError(ErrForbidden, err)
	}
	return UserError(ErrUnauthenticated, auth.ErrSession)
}
