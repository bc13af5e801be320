package modhost_test

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/capture"
)

var firstPartyNames = []string{"bruteforce", "c2", "covert", "dnstunnel", "exploit", "ioc", "portscan", "rfb", "webattack"}

// loadFirstParty loads every first-party module, built from modules/.
func loadFirstParty(t testing.TB, h *modhost.Host) []*modhost.Module {
	var mods []*modhost.Module
	for _, name := range firstPartyNames {
		m, err := h.Load(context.Background(), firstParty(t, name), nil)
		require.NoError(t, err)
		mods = append(mods, m)
	}
	return mods
}

// labelled are the expectations on ../shared/testdata/pcap/malicious: for
// each capture of a category a first-party module covers, the module, the
// source and destination an alert must name ("" when the label names no
// single host), or the reason there is no alert yet.
var labelled = map[string]struct {
	module, src, dst string
	midstream        bool
	config           string // the module's config file, from the repository root
	gap              string
}{
	"ndpi-malware.pcap":                 {module: "ioc", src: "192.168.7.7", dst: "67.215.92.210", config: "modules/ioc/testdata/malware-feed.json"},
	"ndpi-synscan.pcap":                 {module: "portscan", src: "172.16.0.8", dst: "64.13.134.52"},
	"ndpi-tcp_scan.pcapng":              {module: "portscan", src: "192.168.1.178", dst: "192.168.1.2"},
	"zeek-nmap-vsn.pcap":                {module: "portscan", src: "192.168.1.71"}, // a sweep of 192.168.1.0/24
	"zeek-sshguess.pcap":                {module: "bruteforce", src: "192.168.56.1", dst: "192.168.56.103"},
	"zeek-ftp-bruteforce.pcap":          {module: "bruteforce", src: "192.168.56.1", dst: "192.168.56.101"},
	"zeek-vnc-scanner.pcap":             {module: "rfb", src: "192.168.0.11", dst: "10.0.0.149"}, // a failed VNC authentication
	"ndpi-dns-tunnel-iodine.pcap":       {module: "dnstunnel", src: "10.0.2.30", dst: "10.0.2.20"},
	"ndpi-dns_exfiltration.pcap":        {module: "dnstunnel", src: "192.168.220.56", dst: "192.168.203.167"},
	"ndpi-dns-exf.pcap":                 {module: "dnstunnel", src: "192.168.2.225", dst: "192.168.2.134"},
	"ndpi-WebattackSQLinj.pcap":         {module: "webattack", src: "172.16.0.1", dst: "192.168.10.50"},
	"ndpi-xss.pcap":                     {module: "webattack", src: "192.168.3.109", dst: "192.168.3.107"},
	"ndpi-WebattackRCE.pcap":            {module: "webattack", src: "127.0.0.1", dst: "127.0.0.1", midstream: true}, // one packet per flow: no handshakes
	"ndpi-log4j-webapp-exploit.pcap":    {module: "webattack", src: "172.16.238.1", dst: "172.16.238.10"},
	"zeek-cooper-grill-dvwa.pcapng":     {module: "webattack", src: "192.168.111.148", dst: "192.168.111.154"},
	"ndpi-icmp-tunnel.pcap":             {module: "covert", src: "192.168.154.131", dst: "192.168.154.132"},
	"zeek-heartbleed-success.pcap":      {module: "exploit", src: "173.203.79.216", dst: "107.170.241.107"}, // attacker -> victim
	"ndpi-trickbot.pcap":                {module: "c2", src: "10.12.29.101", dst: "82.118.225.196"},
	"zeek-ctu-62604-80-agenttesla.pcap": {module: "c2", src: "192.168.1.108", dst: "45.9.74.78"},
	"ndpi-emotet.pcap":                  {module: "c2", src: "10.4.25.101", dst: "138.197.147.101"}, // two traces joined 31.6 days apart
}

var covered = map[string]bool{"port_scan": true, "dns_tunnel": true, "web_attack": true, "brute_force": true, "ioc_hit": true,
	"covert_channel": true, "exploit": true, "malware_c2": true}

func TestLabelledCaptures(t *testing.T) {
	needTestdata(t)
	f, err := os.Open(testdata + "/pcap/malicious/labels.csv")
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	h, _ := newHost(t, modhost.Options{})
	mods := loadFirstParty(t, h)
	for _, row := range rows[1:] {
		file, category := row[0], row[1]
		if !covered[category] {
			continue // a category no first-party module covers yet
		}
		t.Run(file, func(t *testing.T) {
			want, ok := labelled[file]
			require.True(t, ok, "no expectation for %s (%s): add one", file, category)
			if want.gap != "" {
				t.Skip("known gap: " + want.gap)
			}
			mods := mods
			if want.config != "" { // the module alone, with its config (an indicator feed)
				config, err := os.ReadFile(filepath.Join("../../..", want.config))
				require.NoError(t, err)
				h, _ := newHost(t, modhost.Options{})
				m, err := h.Load(context.Background(), firstParty(t, want.module), config)
				require.NoError(t, err)
				mods = []*modhost.Module{m}
			}
			events, p := analyze(t, h, mods, want.midstream, filepath.Join(testdata, "pcap/malicious", file))
			for name, st := range p.Stats {
				require.Zero(t, st.Faults, "%s: %s", name, st.LastFault)
			}
			found := false
			for _, a := range alerts(events) {
				mod := a.Alert.Metadata["firebreak_module"][0]
				if mod == want.module && a.SrcIP == want.src && (want.dst == "" || a.DestIP == want.dst) {
					found = true
					require.NotEmpty(t, a.Alert.Metadata["mitre_technique_id"])
					require.Equal(t, "1.0.0", a.Alert.Metadata["firebreak_module_version"][0])
				}
			}
			require.True(t, found, "no %s alert from %s to %s; alerts: %v", want.module, want.src, want.dst, signatures(alerts(events)))
		})
	}
}

// benignAlerts are the alerts the first-party modules raise on the 40
// suricata-verify captures (ordinary traffic), each justified.
var benignAlerts = map[string]string{
	"bug-1158.pcap: 10.30.28.90 -> 10.30.28.94 FIREBREAK DNS exfiltration: 63-character random label in a query for tunnel.com":          "the capture is an iodine DNS tunnel over TXT (groundtruth/bug-1158.json)",
	"bug-814.pcap: fe80::20c:29ff:fef3:cf38 -> fe80::20c:29ff:faf2:ab42 FIREBREAK web attack: attack scanner in GET /cgi-bin/cart32.exe": "the capture's HTTP requests are a Nikto scan (user agent Nikto/2.1.4)",
	"tcp-fastopen-01.pcap: 10.99.99.1 -> 10.99.99.45 FIREBREAK web attack: path traversal in GET //index.php?page=../../../etc/passwd":   "the request in the capture is a path traversal probe (page=../../../etc/passwd)",
	"bug-1158.pcap: 10.30.28.90 -> 10.30.28.94 FIREBREAK DNS tunnel: 10+ encoded or TXT queries to tunnel.com":                           "the capture is an iodine DNS tunnel over TXT (groundtruth/bug-1158.json)",
}

func TestBenignCaptures(t *testing.T) {
	needTestdata(t)
	pcaps, err := filepath.Glob(testdata + "/pcap/*.pcap")
	require.NoError(t, err)
	require.NotEmpty(t, pcaps)
	h, _ := newHost(t, modhost.Options{})
	mods := loadFirstParty(t, h)
	var got []string
	for _, pcap := range pcaps {
		events, p := analyze(t, h, mods, false, pcap)
		for name, st := range p.Stats {
			assert.Zero(t, st.Faults, "%s on %s: %s", name, pcap, st.LastFault)
		}
		for _, s := range signatures(alerts(events)) {
			got = append(got, filepath.Base(pcap)+": "+s)
		}
	}
	for _, g := range got {
		if _, ok := benignAlerts[g]; !ok {
			t.Errorf("unexpected alert on ordinary traffic (justify it in benignAlerts or fix the module): %s", g)
		}
	}
	t.Logf("%d captures, %d alerts", len(pcaps), len(got))
}

func signatures(evs []*capture.Event) []string {
	var out []string
	for _, a := range evs {
		out = append(out, a.SrcIP+" -> "+a.DestIP+" "+a.Alert.Signature)
	}
	sort.Strings(out)
	return out
}

// TestModuleREADMEs checks each first-party module's README has the
// sections every module README has, and runs its examples: a line
// "firebreak module test NAME CAPTURE" in a sh block, followed by an
// output block whose lines must each appear among the alerts
// ("SRC -> DST SIGNATURE").
func TestModuleREADMEs(t *testing.T) {
	needTestdata(t)
	h, _ := newHost(t, modhost.Options{})
	mods := map[string]*modhost.Module{}
	for _, m := range loadFirstParty(t, h) {
		mods[m.Manifest.Name] = m
	}
	for _, name := range firstPartyNames {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("../../../modules", name, "README.md"))
			require.NoError(t, err)
			doc := string(b)
			for _, s := range []string{"## Name", "## Description", "## Subscriptions", "## Capabilities", "## Examples"} {
				require.Contains(t, doc, s)
			}
			examples := 0
			blocks := strings.Split(doc, "```")
			for i := 1; i+2 < len(blocks); i += 2 {
				cmd := strings.TrimSpace(strings.TrimPrefix(blocks[i], "sh"))
				f := strings.Fields(cmd)
				if len(f) < 5 || strings.Join(f[:3], " ") != "firebreak module test" || f[3] != name {
					continue
				}
				pcap := strings.Replace(f[4], "../shared/testdata", testdata, 1)
				mod, midstream := mods[name], false
				for i := 5; i < len(f); i++ {
					switch f[i] {
					case "--midstream":
						midstream = true
					case "--config": // a path from the repository root
						require.Less(t, i+1, len(f))
						config, err := os.ReadFile(filepath.Join("../../..", f[i+1]))
						require.NoError(t, err)
						h, _ := newHost(t, modhost.Options{})
						mod, err = h.Load(context.Background(), firstParty(t, name), config)
						require.NoError(t, err)
						i++
					}
				}
				events, _ := analyze(t, h, []*modhost.Module{mod}, midstream, pcap)
				got := strings.Join(signatures(alerts(events)), "\n")
				for _, line := range strings.Split(strings.TrimSpace(strings.TrimPrefix(blocks[i+2], "text")), "\n") {
					assert.Contains(t, got, strings.TrimSpace(line), "README example %q", cmd)
				}
				examples++
			}
			require.Positive(t, examples, "the README has no runnable example")
		})
	}
}

// TestIOCFeedFormats runs the ioc module on a capture with the same
// indicators given as its own JSON, CSV, a STIX 2.1 bundle and a MISP
// event: each gives the same alerts.
func TestIOCFeedFormats(t *testing.T) {
	needTestdata(t)
	var want []string
	for _, feed := range []string{"malware-feed.json", "malware-feed.csv", "malware-feed.stix.json", "malware-feed.misp.json"} {
		config, err := os.ReadFile(filepath.Join("../../../modules/ioc/testdata", feed))
		require.NoError(t, err)
		h, _ := newHost(t, modhost.Options{})
		m, err := h.Load(context.Background(), firstParty(t, "ioc"), config)
		require.NoError(t, err, feed)
		events, _ := analyze(t, h, []*modhost.Module{m}, false, filepath.Join(testdata, "pcap/malicious/ndpi-malware.pcap"))
		got := signatures(alerts(events))
		if want == nil {
			want = got
			require.Len(t, want, 3, "the feed's two domains, seen in DNS and TLS")
			continue
		}
		assert.Equal(t, want, got, feed)
	}
}

// A module subscribing to packets gets exactly the packets its filter
// accepts (as tcpdump -r FILE FILTER counts them); the packet records go to
// modules only, never on to EVE.
func TestPacketSubscription(t *testing.T) {
	needTestdata(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed")
	}
	h, _ := newHost(t, modhost.Options{})
	m, err := h.Load(context.Background(), firstParty(t, "rfb"), nil)
	require.NoError(t, err)
	require.Len(t, m.Manifest.Subscriptions, 1)
	pcap := filepath.Join(testdata, "pcap/malicious/zeek-vnc-scanner.pcap")
	events, p := analyze(t, h, []*modhost.Module{m}, false, pcap)
	out, err := exec.Command("tcpdump", "-nn", "-r", pcap, m.Manifest.Subscriptions[0].Filter).Output()
	require.NoError(t, err)
	for _, ev := range events {
		require.NotContains(t, []string{"packet", "flow_start"}, ev.EventType, "module-only events are not passed on")
	}
	require.Equal(t, strings.Count(string(out), "\n"), p.Stats["rfb"].Events)
	require.Len(t, alerts(events), 1)
}

// The nmap run in zeek-nmap-vsn.pcap starts with an ARP sweep of
// 192.168.1.0/24 (503 who-has): portscan sees it in the ARP frames the host
// delivers to its packet subscription.
func TestARPSweep(t *testing.T) {
	needTestdata(t)
	h, _ := newHost(t, modhost.Options{})
	m, err := h.Load(context.Background(), firstParty(t, "portscan"), nil)
	require.NoError(t, err)
	events, _ := analyze(t, h, []*modhost.Module{m}, false, filepath.Join(testdata, "pcap/malicious/zeek-nmap-vsn.pcap"))
	require.Contains(t, signatures(alerts(events)), "192.168.1.71 ->  FIREBREAK ARP sweep: 192.168.1.71 asked for 32+ addresses within 10 s")
}
