package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
	"github.com/firebreak-ir/firebreak/internal/netlab"
	"github.com/firebreak-ir/firebreak/netctl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// packetLines prints a capture file packet by packet with tcpdump, sorted
// and without timestamps, so two captures of the same traffic compare equal
// whatever the order in which capture workers wrote them (each capture
// socket stamps a frame itself, a microsecond or two apart).
func packetLines(t *testing.T, path, filter string) []string {
	out, err := exec.Command("tcpdump", "-nn", "-t", "-e", "-x", "-r", path, filter).Output()
	var stderr []byte
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	require.NoError(t, err, "tcpdump -r %s: %s", path, stderr)
	// Join each packet's hex lines to its header line.
	var pkts []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(l, "\t") && len(pkts) > 0 {
			pkts[len(pkts)-1] += l
		} else {
			pkts = append(pkts, l)
		}
	}
	sort.Strings(pkts)
	return pkts
}

// Live capture through the daemon: traffic between two hosts behind the
// appliance is analysed, recorded into segments sealed as the case's
// evidence whose packets equal what tcpdump saw on the same interface, and
// an isolation plan lists the host's live flows.
func TestLiveCaptureRecordsEvidence(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed; it is the peer the recording is compared with")
	}
	lab := netlab.NewBridgeLab(t)
	dir := t.TempDir()

	// The case must exist before the daemon records into it.
	d := startDaemon(t, dir)
	id := mustFB(t, dir, "case", "new", "--title", "Lateral movement on the office segment")
	require.NoError(t, d.Close())

	require.NoError(t, lab.App.Do(func() error {
		var err error
		d, err = daemon.Start(daemon.Options{DataDir: dir, Version: "test", Logger: discardLogger(),
			Capture:     daemon.CaptureOptions{Interfaces: []string{"pa"}, RecordCase: id},
			Containment: netctl.Options{Mode: netctl.ModeBridge, Bridge: "fbbr0", Ports: lab.Ports, NetNS: lab.App.Path}})
		return err
	}))
	defer func() {
		if d != nil {
			d.Close()
		}
	}()
	lab.WaitFlowing(t, netlab.BV4, netlab.BV6) // the daemon bridged the ports

	// tcpdump on the same interface, as the peer, for the test traffic.
	ref := filepath.Join(t.TempDir(), "tcpdump.pcap")
	td := exec.Command("nsenter", "--net="+lab.App.Path, "tcpdump", "-Z", "root", "--immediate-mode", "-i", "pa", "-w", ref, "-U", "-s", "0", "-B", "8192")
	tdOut := &syncBuffer{}
	td.Stdout, td.Stderr = tdOut, tdOut
	require.NoError(t, td.Start())
	defer td.Process.Kill()
	require.Eventually(t, func() bool { return strings.Contains(tdOut.String(), "listening on") }, 5*time.Second, 10*time.Millisecond)

	// Traffic from A: TCP connections to B:2222, and a UDP stream to B:9000
	// that stays open.
	for i := range 20 {
		require.NoError(t, lab.A.DialTCP(net.JoinHostPort(netlab.BV4, "2222"), time.Second), "connection %d", i)
	}
	var udp *net.UDPConn
	require.NoError(t, lab.A.Do(func() error {
		var err error
		udp, err = net.DialUDP("udp", nil, &net.UDPAddr{IP: net.ParseIP(netlab.BV4), Port: 9000})
		return err
	}))
	defer udp.Close()
	for i := range 50 {
		fmt.Fprintf(udp, "beacon %d", i)
	}

	// Real clients in A: curl to a web server in B, dig to a resolver in B.
	serveHTTP(t, lab.B.NS, netlab.BV4+":8081")
	serveDNS(t, lab.B.NS, netlab.BV4+":53")
	inA := func(args ...string) string {
		out, err := exec.Command("nsenter", append([]string{"--net=" + lab.A.Path}, args...)...).CombinedOutput()
		require.NoError(t, err, "%v: %s", args, out)
		return string(out)
	}
	if _, err := exec.LookPath("curl"); err == nil {
		assert.Contains(t, inA("curl", "-sS", "http://"+netlab.BV4+":8081/login.php?user=admin"), "welcome")
		require.Eventually(t, func() bool {
			return strings.Contains(mustFB(t, dir, "capture", "events", "http"), `"url":"/login.php?user=admin"`)
		}, 5*time.Second, 50*time.Millisecond, "the live HTTP request is in the traffic view")
	}
	if _, err := exec.LookPath("dig"); err == nil {
		assert.Contains(t, inA("dig", "+short", "+tries=1", "@"+netlab.BV4, "c2.example.org"), "10.9.0.2")
		require.Eventually(t, func() bool {
			return strings.Contains(mustFB(t, dir, "capture", "events", "dns"), `"rrname":"c2.example.org"`)
		}, 5*time.Second, 50*time.Millisecond, "the live DNS query is in the traffic view")
	}
	require.Eventually(t, func() bool { return strings.Contains(mustFB(t, dir, "capture", "status"), "live") }, 5*time.Second, 50*time.Millisecond)
	var plan struct {
		Flows []struct {
			Proto   string `json:"proto"`
			DestIP  string `json:"dest_ip"`
			DstPort uint16 `json:"dest_port"`
		} `json:"flows"`
	}
	require.Eventually(t, func() bool {
		out := mustFB(t, dir, "isolate", "plan", "--ip", netlab.AV4, "--case", id, "--reason", "plan only", "--json")
		require.NoError(t, json.Unmarshal([]byte(out), &plan), out)
		for _, f := range plan.Flows {
			if f.Proto == "UDP" && f.DstPort == 9000 && f.DestIP == netlab.BV4 {
				return true
			}
		}
		return false
	}, 5*time.Second, 100*time.Millisecond, "the plan lists A's live UDP flow to B")

	time.Sleep(300 * time.Millisecond) // let the last frames reach both captures
	td.Process.Signal(os.Interrupt)
	td.Wait()
	require.NoError(t, d.Close(), "closing seals the last segment")
	d = nil

	// The sealed segments are exhibits of the case, in the vault, with the
	// hash that was journaled.
	dd := startDaemon(t, dir)
	defer dd.Close()
	var c struct{ Evidence []cases.EvidenceItem }
	require.NoError(t, json.Unmarshal([]byte(mustFB(t, dir, "case", "show", id, "--json")), &c))
	require.NotEmpty(t, c.Evidence)
	var ours []string
	var packets uint64
	for _, it := range c.Evidence {
		assert.Equal(t, "pcapng", it.Format)
		assert.Equal(t, "pa", it.Source.Interface)
		require.NotNil(t, it.KernelDrops)
		assert.Zero(t, *it.KernelDrops)
		p, err := dd.Vault.Path(it.SHA256)
		require.NoError(t, err)
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		sum := sha256.Sum256(b)
		assert.Equal(t, it.SHA256, hex.EncodeToString(sum[:]), "the journaled hash is the file's")
		ours = append(ours, packetLines(t, p, testTraffic)...)
		packets += it.Packets
	}
	sort.Strings(ours)
	require.FileExists(t, ref, "tcpdump: %s", tdOut.String())
	theirs := packetLines(t, ref, testTraffic)
	t.Logf("recorded %d packets in %d segments; of the test traffic, tcpdump saw %d packets and the segments hold %d", packets, len(c.Evidence), len(theirs), len(ours))
	assert.Equal(t, len(theirs), len(ours))
	assert.Equal(t, theirs, ours, "the sealed segments hold exactly what tcpdump saw")
	assert.Contains(t, mustFB(t, dir, "case", "verify", id), "chain verified")
	_ = context.Background
}

// testTraffic selects the traffic the test makes; both captures run for
// all of it.
const testTraffic = "ip and host " + netlab.AV4 + " and host " + netlab.BV4 + " and (tcp port 2222 or tcp port 8081 or port 53 or udp port 9000)"

// serveHTTP serves a small web page at addr in the namespace.
func serveHTTP(t *testing.T, ns *netlab.NS, addr string) {
	var l net.Listener
	require.NoError(t, ns.Do(func() (err error) { l, err = net.Listen("tcp", addr); return err }))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "welcome") })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// serveDNS answers every A query at addr in the namespace with BV4.
func serveDNS(t *testing.T, ns *netlab.NS, addr string) {
	var c net.PacketConn
	require.NoError(t, ns.Do(func() (err error) { c, err = net.ListenPacket("udp", addr); return err }))
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			q := buf[:n]
			end := 12
			for end < n && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5 // the root label, QTYPE, QCLASS
			if end > n {
				continue
			}
			resp := append([]byte(nil), q[:end]...)
			resp[2] |= 0x80          // a response
			resp[7] = 1              // one answer
			resp[9], resp[11] = 0, 0 // no authority, no additional
			resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, 0, 2)
			c.WriteTo(resp, from)
		}
	}()
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
