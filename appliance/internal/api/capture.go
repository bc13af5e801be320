package api

import (
	"net/http"
	"regexp"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
)

func captureStatus(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	return writeJSON(w, http.StatusOK, s.cfg.Sensor.Status())
}

var eventType = regexp.MustCompile(`^[a-z_]{1,32}$`)

// captureEvents returns the latest events of one type, newest first:
// GET /capture/events?type=dns&limit=100.
func captureEvents(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	typ := r.URL.Query().Get("type")
	if !eventType.MatchString(typ) {
		return userErrorf(ErrBadRequest, "type must be an EVE event type such as dns, http, tls, ssh, flow")
	}
	limit, err := intParam(r, "limit", 100)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.cfg.Sensor.Events(typ, int(min(limit, 10000))))
}

func captureHosts(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	return writeJSON(w, http.StatusOK, s.cfg.Sensor.Hosts())
}
