package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
)

// ModuleInfo is a module the appliance has, as GET /api/v1/modules lists it.
type ModuleInfo struct {
	Name          string   `json:"name"`
	Version       string   `json:"version"`
	Kind          string   `json:"kind"`
	Source        string   `json:"source"` // "embedded"
	Subscriptions []string `json:"subscriptions"`
	Capabilities  []string `json:"capabilities,omitempty"`
	Techniques    []string `json:"techniques,omitempty"`
	Signer        string   `json:"signer,omitempty"` // the trusted key that signed it
	Refused       string   `json:"refused,omitempty"`
}

// listModules lists the first-party modules embedded in the binary, each
// with its signature checked against the embedded first-party key. The
// daemon does not run modules yet (firebreak analyze does); installed
// modules come with that.
func listModules(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	out := []ModuleInfo{}
	pkgs, err := firstparty.Packages()
	if err != nil && !errors.Is(err, firstparty.ErrNotBuilt) {
		return err
	}
	ts := modhost.NewTrustStore()
	if k, err := firstparty.Key(); err == nil {
		if err := ts.Add("first-party", k); err != nil {
			return err
		}
	}
	for _, p := range pkgs {
		m, err := modhost.ParseManifest(p.Manifest)
		if err != nil {
			out = append(out, ModuleInfo{Name: strings.TrimPrefix(p.Source, "embedded:"), Source: "embedded", Refused: err.Error()})
			continue
		}
		info := ModuleInfo{Name: m.Name, Version: m.Version, Kind: m.Kind, Source: "embedded",
			Capabilities: m.Capabilities, Techniques: m.Techniques}
		for _, sub := range m.Subscriptions {
			info.Subscriptions = append(info.Subscriptions, sub.Event)
		}
		if info.Signer, err = ts.Verify(p); err != nil {
			info.Refused = err.Error()
		}
		out = append(out, info)
	}
	return writeJSON(w, http.StatusOK, out)
}
