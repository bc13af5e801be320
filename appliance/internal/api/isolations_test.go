package api

import (
	"net/http"
	"testing"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/stretchr/testify/assert"
)

// Without --mode the isolation routes say how to turn containment on; the
// roles still apply first.
func TestIsolationsNotConfigured(t *testing.T) {
	f := newFixture(t)
	viewer := f.token(t, auth.Viewer)
	responder := f.token(t, auth.Responder)
	for _, c := range []struct{ tok, method, path string }{
		{viewer, "GET", "/api/v1/isolations"},
		{viewer, "GET", "/api/v1/isolations/iso-1"},
		{viewer, "POST", "/api/v1/isolations/plan"},
		{responder, "POST", "/api/v1/isolations"},
		{responder, "POST", "/api/v1/isolations/iso-1/confirm"},
		{responder, "POST", "/api/v1/isolations/iso-1/release"},
		{responder, "POST", "/api/v1/isolations/release"},
		{"local", "POST", "/api/v1/isolations"},
	} {
		code, m := f.call(t, c.tok, c.method, c.path, `{}`)
		assert.Equal(t, http.StatusNotImplemented, code, "%s %s", c.method, c.path)
		assert.Contains(t, m["error"], "containment is not configured: start serve with --mode", "%s %s", c.method, c.path)
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/isolations"},
		{"POST", "/api/v1/isolations/iso-1/confirm"},
		{"POST", "/api/v1/isolations/iso-1/release"},
		{"POST", "/api/v1/isolations/release"},
	} {
		code, _ := f.call(t, viewer, c.method, c.path, `{}`)
		assert.Equal(t, http.StatusForbidden, code, "a viewer may not %s %s", c.method, c.path)
	}
}
