package api

import (
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/capture"
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

// captureHosts returns the inventory built from traffic; with ?case=ID,
// joined to that case's asset list.
func captureHosts(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	hosts := s.cfg.Sensor.Hosts()
	id := r.URL.Query().Get("case")
	if id == "" {
		return writeJSON(w, http.StatusOK, hosts)
	}
	var v inventoryView
	if err := s.cfg.Book.View(id, func(cs *cases.Case) error {
		v = joinAssets(cs.ID, hosts, cs.Assets)
		return nil
	}); err != nil {
		return caseError(err)
	}
	return writeJSON(w, http.StatusOK, v)
}

// hostView is a host seen in traffic joined to the customer's asset list.
type hostView struct {
	capture.Host
	// Asset is the entry of the case's asset list this host matches, by
	// address (or a prefix containing it) or MAC; nil for a host the
	// customer did not list.
	Asset *cases.Asset `json:"asset"`
}

// inventoryView is GET /capture/hosts?case=ID: the hosts seen, each joined
// to the case's asset list, and the listed assets the traffic never showed.
type inventoryView struct {
	Case   string        `json:"case"`
	Hosts  []hostView    `json:"hosts"`
	Unseen []cases.Asset `json:"unseen_assets"`
	// Unlisted counts private addresses seen that are on no list: devices
	// the customer may not know about.
	Unlisted int `json:"unlisted_private_hosts"`
}

func joinAssets(id string, hosts []capture.Host, assets []cases.Asset) inventoryView {
	v := inventoryView{Case: id, Hosts: []hostView{}, Unseen: []cases.Asset{}}
	seen := make([]bool, len(assets))
	for _, h := range hosts {
		hv := hostView{Host: h}
		ip, _ := netip.ParseAddr(h.IP)
		for i := range assets {
			a := &assets[i]
			if matchAsset(a, ip, h.MACs) {
				hv.Asset, seen[i] = a, true
				break
			}
		}
		if hv.Asset == nil && h.Private {
			v.Unlisted++
		}
		v.Hosts = append(v.Hosts, hv)
	}
	for i, a := range assets {
		if !seen[i] {
			v.Unseen = append(v.Unseen, a)
		}
	}
	return v
}

func matchAsset(a *cases.Asset, ip netip.Addr, macs []string) bool {
	if a.MAC != "" && slices.Contains(macs, strings.ToLower(a.MAC)) {
		return true
	}
	if a.IP == "" || !ip.IsValid() {
		return false
	}
	if p, err := netip.ParsePrefix(a.IP); err == nil {
		return p.Contains(ip)
	}
	aip, err := netip.ParseAddr(a.IP)
	return err == nil && aip == ip
}
