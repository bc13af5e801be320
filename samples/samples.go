// Package samples holds the sample captures `make run` replays so that a new
// appliance has traffic to show. They are suricata-verify test captures
// (MIT licence, see LICENSE.suricata-verify beside them). They must never
// be taken as evidence: they are the same on every appliance.
package samples

import "embed"

// FS holds the sample captures, *.pcap at its root.
//
//go:embed *.pcap LICENSE.suricata-verify
var FS embed.FS
