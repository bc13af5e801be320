package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
)

// TestFindingPackets downloads the packets of one network finding's flow as
// pcap: exactly the packets of that connection, from the evidence it was
// found in.
func TestFindingPackets(t *testing.T) {
	work := t.TempDir()
	hostile := writeHostilePcap(t, work)
	d := startDaemon(t, daemon.Options{Replay: []string{hostile}})
	addAccount(t, d, "alice", auth.Responder)
	b := newBrowser(t, httpsBase(d)).mustLogin("alice")
	code, body := b.act("POST", "/api/v1/cases", map[string]string{"title": "Hostile web traffic"})
	require.Equal(t, http.StatusCreated, code, string(body))
	var c struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &c))
	raw, err := os.ReadFile(hostile)
	require.NoError(t, err)
	code, body = b.do("POST", "/api/v1/cases/"+c.ID+"/evidence?category=pcap&name=hostile.pcap", raw, map[string]string{"X-CSRF-Token": b.csrf})
	require.Equal(t, http.StatusCreated, code, string(body))
	var item struct{ SHA256 string }
	require.NoError(t, json.Unmarshal(body, &item))

	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	require.NoError(t, d.Book.Do(context.Background(), "module-test", c.ID, func(cs *cases.Case) (cases.Change, error) {
		return cs.RecordFindings(cases.FindingsRecorded{Source: "analysis", Inputs: []string{item.SHA256}, Findings: []cases.Finding{
			{Module: "http-hunter", Signature: "script in user agent", Severity: 1, Time: now, LastTime: now, Count: 1,
				Proto: "TCP", Src: "10.66.0.5", SrcPort: 40001, Dst: "10.66.0.80", DstPort: 80},
			{Module: "http-hunter", Signature: "no such flow", Severity: 3, Time: now, LastTime: now, Count: 1,
				Proto: "TCP", Src: "10.66.0.5", SrcPort: 1, Dst: "10.66.0.80", DstPort: 2},
			{Module: "host-scan", Signature: "webshell", Severity: 2, Time: now, LastTime: now, Count: 1, Host: "web01", Path: "/var/www/x.php"},
		}})
	}))
	code, body = b.do("GET", "/api/v1/cases/"+c.ID, nil, nil)
	require.Equal(t, http.StatusOK, code)
	var cv struct {
		Findings []struct{ ID, Signature string }
	}
	require.NoError(t, json.Unmarshal(body, &cv))
	require.Len(t, cv.Findings, 3)

	code, body = b.do("GET", "/api/v1/cases/"+c.ID+"/findings/"+cv.Findings[0].ID+"/pcap", nil, nil)
	require.Equal(t, http.StatusOK, code, string(body))
	r, err := pcapgo.NewReader(bytes.NewReader(body))
	require.NoError(t, err)
	n := 0
	for {
		_, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 8, n, "the connection's eight packets, and not the DNS query beside it")

	code, _ = b.do("GET", "/api/v1/cases/"+c.ID+"/findings/"+cv.Findings[1].ID+"/pcap", nil, nil)
	assert.Equal(t, http.StatusNotFound, code, "a flow with no packets in the evidence")
	code, body = b.do("GET", "/api/v1/cases/"+c.ID+"/findings/"+cv.Findings[2].ID+"/pcap", nil, nil)
	assert.Equal(t, http.StatusBadRequest, code, "a host finding has no flow: %s", body)
	code, _ = b.do("GET", "/api/v1/cases/"+c.ID+"/findings/F999.1/pcap", nil, nil)
	assert.Equal(t, http.StatusNotFound, code)
}

// TestTrafficView checks the dashboard's chart, top talkers and protocol
// mix against a capture whose traffic is known.
func TestTrafficView(t *testing.T) {
	load := writeLoadPcap(t, t.TempDir(), 30)
	d := startDaemon(t, daemon.Options{Replay: []string{load}})
	addAccount(t, d, "victor", auth.Viewer)
	b := newBrowser(t, httpBase(d)).mustLogin("victor")
	var v struct {
		Flows   int
		Series  []struct{ Flows int }
		Talkers []struct {
			IP    string
			Flows int
		} `json:"top_talkers"`
		Protocols []struct {
			Proto string
			Flows int
		}
	}
	deadline := time.Now().Add(60 * time.Second) // the replay starts once the detection modules are compiled
	for {
		code, body := b.do("GET", "/api/v1/console/traffic?buckets=10&top=3", nil, nil)
		require.Equal(t, http.StatusOK, code)
		require.NoError(t, json.Unmarshal(body, &v))
		if v.Flows == 30 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v.Flows != 30 {
		_, st := b.do("GET", "/api/v1/capture", nil, nil)
		t.Logf("capture: %s", st)
	}
	require.Equal(t, 30, v.Flows, "flow records seen")
	total := 0
	for _, p := range v.Series {
		total += p.Flows
	}
	assert.Equal(t, 30, total, "every flow is in one bucket")
	require.Len(t, v.Talkers, 3)
	// 30 clients talk to 7 servers: 10.2.0.80 serves connections 0, 7, 14, 21, 28.
	assert.Equal(t, 5, v.Talkers[0].Flows)
	require.Len(t, v.Protocols, 1)
	assert.Equal(t, "http", v.Protocols[0].Proto)
	code, _ := b.do("GET", "/api/v1/console/traffic?buckets=0", nil, nil)
	assert.Equal(t, http.StatusBadRequest, code)
}
