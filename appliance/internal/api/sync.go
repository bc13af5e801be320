package api

import (
	"errors"
	"net/http"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
)

func (s *Server) syncer() (*hqsync.Syncer, error) {
	if s.cfg.Sync == nil {
		return nil, userErrorf(ErrNotYet, "sync to headquarters is not configured: start serve with --sync-endpoint URL --sync-bucket NAME (see firebreak serve --help)")
	}
	return s.cfg.Sync, nil
}

func syncStatus(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	sy, err := s.syncer()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sy.Status())
}

// syncCommand is POST /api/v1/sync/{now,pause,resume}. Pause and resume are
// journaled in the appliance journal: who held the evidence back, and when.
func syncCommand(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	sy, err := s.syncer()
	if err != nil {
		return err
	}
	switch cmd := r.PathValue("command"); cmd {
	case "now":
		if err := sy.Now(); err != nil {
			if errors.Is(err, hqsync.ErrPaused) {
				return userErrorf(ErrConflict, "sync is paused: firebreak sync resume")
			}
			return err
		}
		return writeJSON(w, http.StatusAccepted, sy.Status())
	case "pause", "resume":
		if cmd == "pause" {
			err = sy.Pause()
		} else {
			err = sy.Resume()
		}
		if err != nil {
			return err
		}
		if err := s.journalAppliance(r, c, "sync."+cmd+"d", map[string]string{"bucket": sy.Status().Bucket}); err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, sy.Status())
	default:
		return userErrorf(ErrNotFound, "no sync command %q (now, pause, resume)", cmd)
	}
}
