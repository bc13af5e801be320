package export

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

// testPackage is a signed module package as the appliance keeps one; the
// bundle copies it by the SHA-256 of its wasm. (It is never run here: the
// end-to-end test in the CLI runs the real first-party modules.)
var testPackage = func() *modhost.Package {
	_, key, _ := ed25519.GenerateKey(nil)
	wasm := []byte("\x00asm\x01\x00\x00\x00 bruteforce test binary")
	manifest := []byte(`{"name":"bruteforce","version":"1.0.0","kind":"detect"}`)
	return &modhost.Package{Manifest: manifest, Wasm: wasm, Signature: modhost.Sign(key, manifest, wasm)}
}()

func testModule(t *testing.T) cases.ModuleUsed {
	sum := sha256.Sum256(testPackage.Wasm)
	return cases.ModuleUsed{Name: "bruteforce", Version: "1.0.0", SHA256: hex.EncodeToString(sum[:]), Signer: "first-party"}
}

var stixID = regexp.MustCompile(`^[a-z0-9-]+--[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// The STIX bundle holds, for each finding, an indicator, the observed data
// and a sighting, every reference resolving inside the bundle, with the
// properties STIX 2.1 requires of each type.
func TestSTIXBundleOfTheFindings(t *testing.T) {
	dir := bundle(t)
	raw, err := os.ReadFile(filepath.Join(dir, STIXBundle))
	require.NoError(t, err)
	var b struct {
		Type    string           `json:"type"`
		ID      string           `json:"id"`
		Objects []map[string]any `json:"objects"`
	}
	require.NoError(t, json.Unmarshal(raw, &b))
	assert.Equal(t, "bundle", b.Type)
	assert.Regexp(t, stixID, b.ID)
	required := map[string][]string{
		"identity":        {"created", "modified", "name"},
		"indicator":       {"created", "modified", "pattern", "pattern_type", "valid_from"},
		"observed-data":   {"created", "modified", "first_observed", "last_observed", "number_observed", "object_refs"},
		"sighting":        {"created", "modified", "sighting_of_ref"},
		"attack-pattern":  {"created", "modified", "name"},
		"relationship":    {"created", "modified", "relationship_type", "source_ref", "target_ref"},
		"ipv4-addr":       {"value"},
		"network-traffic": {"protocols"},
		"domain-name":     {"value"},
		"file":            {"name"},
	}
	ids := map[string]map[string]any{}
	count := map[string]int{}
	for _, o := range b.Objects {
		id, _ := o["id"].(string)
		typ, _ := o["type"].(string)
		require.Regexp(t, stixID, id)
		require.True(t, strings.HasPrefix(id, typ+"--"), id)
		assert.Equal(t, "2.1", o["spec_version"], id)
		req, ok := required[typ]
		require.True(t, ok, "unexpected type %s", typ)
		for _, p := range req {
			assert.Contains(t, o, p, "%s lacks %s", id, p)
		}
		require.NotContains(t, ids, id, "identifiers are unique")
		ids[id] = o
		count[typ]++
	}
	// Every _ref and _refs names an object of the bundle.
	for id, o := range ids {
		for k, v := range o {
			switch {
			case strings.HasSuffix(k, "_ref"):
				assert.Contains(t, ids, v, "%s.%s", id, k)
			case strings.HasSuffix(k, "_refs"):
				for _, r := range v.([]any) {
					assert.Contains(t, ids, r, "%s.%s", id, k)
				}
			}
		}
	}
	assert.Equal(t, 2, count["indicator"])
	assert.Equal(t, 2, count["sighting"])
	assert.Equal(t, 2, count["observed-data"])
	assert.Equal(t, 2, count["attack-pattern"])
	assert.Equal(t, 1, count["domain-name"])
	var patterns []string
	for _, o := range b.Objects {
		if o["type"] == "indicator" {
			patterns = append(patterns, o["pattern"].(string))
		}
		if o["type"] == "sighting" && o["count"] == float64(40) {
			assert.Equal(t, "2026-11-23T14:00:00.000Z", o["first_seen"])
		}
	}
	assert.Contains(t, patterns, "[network-traffic:src_ref.value = '203.0.113.9' AND network-traffic:dst_ref.value = '10.0.0.5' AND network-traffic:dst_port = 22]")

	// The same case gives the same identifiers.
	again, err := os.ReadFile(filepath.Join(bundle(t), STIXBundle))
	require.NoError(t, err)
	assert.Equal(t, extractIDs(raw), extractIDs(again))
}

func extractIDs(b []byte) []string {
	return regexp.MustCompile(`"id": "([^"]+)"`).FindAllString(string(b), -1)
}

var ucoNamespaces = []string{
	"https://ontology.unifiedcyberontology.org/uco/", "https://ontology.caseontology.org/case/",
	"http://www.w3.org/2001/XMLSchema#", "urn:firebreak:",
}

// The CASE/UCO record names each exhibit with its hashes and exhibit
// number, and the collection, analysis and export as investigative
// actions with performers and instruments.
func TestCASEProvenanceRecord(t *testing.T) {
	dir := bundle(t)
	raw, err := os.ReadFile(filepath.Join(dir, Provenance))
	require.NoError(t, err)
	var doc struct {
		Context map[string]string `json:"@context"`
		Graph   []map[string]any  `json:"@graph"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	byType := map[string][]map[string]any{}
	nodes := map[string]bool{}
	for _, n := range doc.Graph {
		byType[n["@type"].(string)] = append(byType[n["@type"].(string)], n)
		nodes[n["@id"].(string)] = true
	}
	assert.Len(t, byType["uco-observable:File"], 5, "four exhibits and the module binary")
	assert.Len(t, byType["case-investigation:ProvenanceRecord"], 4)
	assert.Len(t, byType["case-investigation:InvestigativeAction"], 4+1+1, "four collections, an analysis, the export")
	assert.Len(t, byType["case-investigation:Investigation"], 1)
	var analysis map[string]any
	for _, a := range byType["case-investigation:InvestigativeAction"] {
		if strings.HasPrefix(a["@id"].(string), "kb:analysis-") {
			analysis = a
		}
		// Every reference resolves to a node of the record.
		for _, k := range []string{"uco-action:performer", "uco-action:instrument", "uco-action:object", "uco-action:result", "uco-action:participant"} {
			var rs []any
			switch v := a[k].(type) {
			case map[string]any:
				rs = []any{v}
			case []any:
				rs = v
			}
			for _, r := range rs {
				assert.True(t, nodes[r.(map[string]any)["@id"].(string)], "%s %s", a["@id"], k)
			}
		}
	}
	require.NotNil(t, analysis)
	assert.Len(t, analysis["uco-action:instrument"], 2, "firebreak analyze and the module")
	assert.Contains(t, string(raw), `"@value": "`+strings.ToUpper(testModule(t).SHA256)+`"`, "the module binary's hash")
	assert.Contains(t, string(raw), `"case-investigation:exhibitNumber": "E003"`)
	assert.Contains(t, string(raw), `"uco-core:name": "王芳"`, "the witness takes part in the collection")

	// Every prefix maps into the CASE/UCO, XSD or the bundle's own namespace.
	for p, ns := range doc.Context {
		ok := false
		for _, want := range ucoNamespaces {
			ok = ok || strings.HasPrefix(ns, want)
		}
		assert.True(t, ok, "prefix %s → %s", p, ns)
	}
	expandWithJSONLD(t, dir)
}

// expandWithJSONLD expands the record with the jsonld.js processor (npm
// package jsonld, which .ci/run installs under ~/.cache/firebreak/node, or
// $FIREBREAK_NODE_MODULES) and checks that
// every property and type IRI lands in the CASE/UCO namespaces: a term the
// context does not define would be dropped or left relative. This is a
// JSON-LD check, not SHACL validation against the ontology's shapes.
func expandWithJSONLD(t *testing.T, dir string) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Log("node is not installed: the JSON-LD expansion check is skipped")
		return
	}
	mods := os.Getenv("FIREBREAK_NODE_MODULES")
	if mods == "" {
		home, _ := os.UserHomeDir()
		mods = filepath.Join(home, ".cache", "firebreak", "node", "node_modules")
	}
	if _, err := os.Stat(filepath.Join(mods, "jsonld")); err != nil {
		t.Logf("the jsonld npm package is not in %s (.ci/run installs it): the JSON-LD expansion check is skipped", mods)
		return
	}
	script := `
const jsonld = require('jsonld');
const doc = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
const ok = ['https://ontology.unifiedcyberontology.org/uco/', 'https://ontology.caseontology.org/case/', 'http://www.w3.org/2001/XMLSchema#'];
const inNS = (iri) => ok.some((p) => iri.startsWith(p));
let bad = [], count = 0;
function walk(n) {
  if (Array.isArray(n)) { n.forEach(walk); return; }
  if (n === null || typeof n !== 'object') return;
  for (const [k, v] of Object.entries(n)) {
    if (k === '@type') { (Array.isArray(v) ? v : [v]).forEach((t) => { count++; if (!inNS(t)) bad.push('type ' + t); }); }
    else if (!k.startsWith('@')) { count++; if (!inNS(k)) bad.push('property ' + k); }
    walk(v);
  }
}
jsonld.expand(doc, {safe: true}).then((ex) => {
  walk(ex);
  if (bad.length) { console.log(bad.join('\n')); process.exit(1); }
  console.log('expanded: ' + count + ' terms, all in the CASE/UCO namespaces');
}).catch((e) => { console.log(String(e)); process.exit(1); });
`
	cmd := exec.Command(node, "-e", script, filepath.Join(dir, Provenance))
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("jsonld.js: %s", strings.TrimSpace(string(out)))
}

// The record of an exported case conforms to the SHACL shapes of the UCO and
// CASE ontologies (testdata/ontology, see its README.md), checked with
// rdf-validate-shacl (testdata/shacl-validate.mjs) on the record plus the
// ontology graph, without inference, as case_validate does; case_validate
// itself is Python and not run here. A record broken on purpose (a hash
// value that is not hexadecimal, an investigative action with two
// performers and a text for its end time) must be reported as not
// conforming, so a validator that accepts everything cannot pass.
func TestCASERecordConformsToTheShapes(t *testing.T) {
	node, mods := shaclValidator(t)
	dir := bundle(t)
	raw, err := os.ReadFile(filepath.Join(dir, Provenance))
	require.NoError(t, err)
	good := filepath.Join(t.TempDir(), "case-uco.jsonld")
	require.NoError(t, os.WriteFile(good, raw, 0o644))
	out, err := runSHACL(node, mods, good)
	require.NoError(t, err, "the record does not conform to the UCO/CASE shapes:\n%s", out)
	t.Logf("rdf-validate-shacl: %s", lastLine(out))

	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	var hash, action map[string]any
	for _, n := range doc["@graph"].([]any) {
		n := n.(map[string]any)
		if n["@type"] == "uco-observable:File" && hash == nil {
			for _, f := range n["uco-core:hasFacet"].([]any) {
				if hs, ok := f.(map[string]any)["uco-observable:hash"].([]any); ok {
					hash = hs[0].(map[string]any)
				}
			}
		}
		if n["@type"] == "case-investigation:InvestigativeAction" && action == nil {
			action = n
		}
	}
	require.NotNil(t, hash, "the record has a hash")
	require.NotNil(t, action, "the record has an investigative action")
	hash["uco-types:hashValue"] = map[string]any{"@type": "xsd:hexBinary", "@value": "not a hexadecimal digest"}
	action["uco-action:performer"] = []any{map[string]any{"@id": "kb:someone"}, map[string]any{"@id": "kb:someone-else"}}
	action["uco-action:endTime"] = "yesterday"
	broken, err := json.MarshalIndent(doc, "", "  ")
	require.NoError(t, err)
	bad := filepath.Join(t.TempDir(), "case-uco-broken.jsonld")
	require.NoError(t, os.WriteFile(bad, broken, 0o644))
	out, err = runSHACL(node, mods, bad)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the broken record must not conform:\n%s", out)
	require.Equal(t, 1, exit.ExitCode(), "a report, not a failure to run:\n%s", out)
	assert.Contains(t, out, "types/hashValue", "the hash value is reported")
	assert.Contains(t, out, "action/performer", "the second performer is reported")
	assert.Contains(t, out, "action/endTime", "the end time is reported")
	t.Logf("the broken record:\n%s", out)
}

// shaclValidator finds node and the npm packages testdata/shacl-validate.mjs
// needs, or skips the test.
func shaclValidator(t *testing.T) (node, mods string) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the SHACL validation of the CASE/UCO record is skipped")
	}
	mods = os.Getenv("FIREBREAK_NODE_MODULES")
	if mods == "" {
		home, _ := os.UserHomeDir()
		mods = filepath.Join(home, ".cache", "firebreak", "node", "node_modules")
	}
	for _, p := range []string{"jsonld", "n3", "@zazuko/env", "rdf-validate-shacl"} {
		if _, err := os.Stat(filepath.Join(mods, p, "package.json")); err != nil {
			t.Skipf("the npm package %s is not in %s (.ci/run installs it): the SHACL validation of the CASE/UCO record is skipped", p, mods)
		}
	}
	return node, mods
}

// runSHACL validates a record against the ontology files in testdata/ontology.
func runSHACL(node, mods, record string) (string, error) {
	ttl, err := filepath.Glob(filepath.Join("testdata", "ontology", "*.ttl"))
	if err != nil || len(ttl) == 0 {
		return "", fmt.Errorf("no ontology files in testdata/ontology: %v", err)
	}
	cmd := exec.Command(node, append([]string{filepath.Join("testdata", "shacl-validate.mjs"), record}, ttl...)...)
	cmd.Env = append(os.Environ(), "FIREBREAK_NODE_MODULES="+mods)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
