package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sharedPcap(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "testdata", "pcap", name))
	if os.IsNotExist(err) {
		t.Skip("../shared/testdata is absent; the test captures come from there")
	}
	require.NoError(t, err)
	return b
}

func (f *fixture) upload(t *testing.T, id, query string, body []byte) (int, cases.EvidenceItem) {
	req, _ := http.NewRequest("POST", "http://firebreak/api/v1/cases/"+id+"/evidence?"+query, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := f.local.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var it cases.EvidenceItem
	json.NewDecoder(resp.Body).Decode(&it)
	return resp.StatusCode, it
}

// A capture handed to a case is sealed as an exhibit, analysed from the
// vault, and its EVE output kept as a derived exhibit.
func TestEvidenceAndAnalysis(t *testing.T) {
	f := newFixture(t)
	pcap := sharedPcap(t, "dns-udp-eve-dig.pcap")
	_, m := f.call(t, "local", "POST", "/api/v1/cases", `{"title":"customer capture"}`)
	id := m["id"].(string)

	code, it := f.upload(t, id, "category=pcap&name=../../evil/dig.pcap", pcap)
	require.Equal(t, http.StatusCreated, code)
	sum := sha256.Sum256(pcap)
	assert.Equal(t, hex.EncodeToString(sum[:]), it.SHA256)
	assert.Equal(t, "E001", it.Exhibit)
	assert.Equal(t, "pcap", it.Format)
	assert.Equal(t, "dig.pcap", it.Source.Path, "only the base name of a client's path is kept")
	assert.Equal(t, []string{it.CollectedBy}, it.Collectors, "the uploader is the collector")

	code, again := f.upload(t, id, "category=pcap&name=dig.pcap", pcap)
	assert.Equal(t, http.StatusOK, code, "the same bytes are the same exhibit")
	assert.Equal(t, "E001", again.Exhibit)

	code, _ = f.upload(t, id, "category=rumour", pcap)
	assert.Equal(t, http.StatusBadRequest, code)
	code, _ = f.upload(t, "FB-0000-0000", "category=pcap", pcap)
	assert.Equal(t, http.StatusNotFound, code)

	code, m = f.call(t, "local", "POST", "/api/v1/cases/"+id+"/analyses", `{"inputs":["`+it.SHA256+`"]}`)
	require.Equal(t, http.StatusCreated, code, "%v", m)
	out := m["output"].(string)

	resp, err := f.local.Get("http://firebreak/api/v1/cases/" + id + "/evidence/" + out)
	require.NoError(t, err)
	eve, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(eve), `"rrname":"www.suricata-ids.org"`)
	assert.Equal(t, 4, strings.Count(string(eve), "\n"), "two dns events, a flow and stats")

	code, m = f.call(t, "local", "GET", "/api/v1/cases/"+id, "")
	require.Equal(t, http.StatusOK, code)
	ev := m["evidence"].([]any)
	require.Len(t, ev, 2)
	eveItem := ev[1].(map[string]any)
	assert.Equal(t, "E002", eveItem["exhibit"])
	assert.Equal(t, []any{it.SHA256}, eveItem["derived_from"])
	an := m["analyses"].([]any)[0].(map[string]any)
	assert.Equal(t, float64(2), an["stats"].(map[string]any)["packets"])

	// Only the case's own evidence can be read or analysed through it.
	code, _ = f.call(t, "local", "GET", "/api/v1/cases/"+id+"/evidence/"+strings.Repeat("0", 64), "")
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = f.call(t, "local", "POST", "/api/v1/cases/"+id+"/analyses", `{"inputs":["`+out+`"]}`)
	assert.Equal(t, http.StatusBadRequest, code, "EVE output is not a capture")
	code, _ = f.call(t, "local", "GET", "/api/v1/cases/"+id+"/evidence/..%2f..%2fidentity.pem", "")
	assert.Equal(t, http.StatusNotFound, code)
}
