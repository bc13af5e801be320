package export

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
)

// provenanceContext maps the prefixes of the CASE/UCO record to the
// ontologies' namespaces (CASE 1.x, UCO 1.x).
func provenanceContext(caseID string) map[string]string {
	return map[string]string{
		"kb":                 "urn:firebreak:" + caseID + ":",
		"case-investigation": "https://ontology.caseontology.org/case/investigation/",
		"uco-action":         "https://ontology.unifiedcyberontology.org/uco/action/",
		"uco-core":           "https://ontology.unifiedcyberontology.org/uco/core/",
		"uco-identity":       "https://ontology.unifiedcyberontology.org/uco/identity/",
		"uco-observable":     "https://ontology.unifiedcyberontology.org/uco/observable/",
		"uco-tool":           "https://ontology.unifiedcyberontology.org/uco/tool/",
		"uco-types":          "https://ontology.unifiedcyberontology.org/uco/types/",
		"uco-vocabulary":     "https://ontology.unifiedcyberontology.org/uco/vocabulary/",
		"xsd":                "http://www.w3.org/2001/XMLSchema#",
	}
}

type node = map[string]any

func ref(id string) node { return node{"@id": id} }

func refs(ids []string) []node {
	out := make([]node, len(ids))
	for i, id := range ids {
		out[i] = ref(id)
	}
	return out
}

func dateTime(t time.Time) node {
	return node{"@type": "xsd:dateTime", "@value": t.UTC().Format(time.RFC3339Nano)}
}

// provGraph collects the record's nodes once each.
type provGraph struct {
	nodes []node
	seen  map[string]bool
}

func (g *provGraph) add(n node) string {
	id := n["@id"].(string)
	if !g.seen[id] {
		g.seen[id] = true
		g.nodes = append(g.nodes, n)
	}
	return id
}

// nodeID names a node of the record: the readable parts, then a name-based
// UUID of them, since the UCO shapes advise that node identifiers end with a
// UUID. The same parts give the same identifier in every export.
func nodeID(parts ...string) string {
	var readable []string
	for _, p := range parts {
		if p != "" {
			readable = append(readable, p)
		}
	}
	return "kb:" + strings.Join(readable, "-") + "-" + uuid5(firebreakNS, "case-uco/"+strings.Join(parts, "/"))
}

// idPart keeps an identifier part to letters, digits, dots and dashes.
func idPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func (g *provGraph) person(name string) string {
	if name == "" {
		return ""
	}
	return g.add(node{"@id": "kb:person-" + uuid5(firebreakNS, "person/"+name), "@type": "uco-identity:Person", "uco-core:name": name})
}

// tool adds a tool by its name and version. The version goes in the
// description: uco-tool:version is deprecated in UCO 1.x.
func (g *provGraph) tool(name, version, kind string) string {
	n := node{"@id": nodeID("tool", idPart(name), idPart(version)), "@type": "uco-tool:Tool", "uco-core:name": name, "uco-tool:toolType": kind}
	if version != "" {
		n["uco-core:description"] = "version " + version
	}
	return g.add(n)
}

// file adds an observable file, named by the parts of its identifier, with
// its name, size and hashes.
func (g *provGraph) file(parts []string, name string, size int64, hashes [][2]string) string {
	sub := func(more ...string) string { return nodeID(append(append([]string{}, parts...), more...)...) }
	var hs []node
	for i, h := range hashes {
		if h[1] == "" {
			continue
		}
		hs = append(hs, node{"@id": sub("hash", fmt.Sprint(i+1)), "@type": "uco-types:Hash",
			"uco-types:hashMethod": node{"@type": "uco-vocabulary:HashNameVocab", "@value": h[0]},
			"uco-types:hashValue":  node{"@type": "xsd:hexBinary", "@value": strings.ToUpper(h[1])}})
	}
	facets := []node{{"@id": sub("file-facet"), "@type": "uco-observable:FileFacet", "uco-observable:fileName": name,
		"uco-observable:sizeInBytes": node{"@type": "xsd:integer", "@value": fmt.Sprint(size)}}}
	if len(hs) > 0 {
		facets = append(facets, node{"@id": sub("content-facet"), "@type": "uco-observable:ContentDataFacet", "uco-observable:hash": hs})
	}
	return g.add(node{"@id": sub(), "@type": "uco-observable:File", "uco-core:hasFacet": facets})
}

// provenanceOf builds the CASE/UCO JSON-LD record of the case's evidence:
// each exhibit as a file with its hashes and a provenance record under its
// exhibit number; each collection, analysis and this export as an
// investigative action with its performer, participants, instruments
// (Firebreak, the detection modules by their binaries' hashes), objects
// and results.
func provenanceOf(c *cases.Case, in Input, names map[string]string, s map[string]sums, modules []ModuleFile) []byte {
	g := &provGraph{seen: map[string]bool{}}
	fb := g.tool("Firebreak", in.Version, "incident-response appliance")
	fileOf := map[string]string{}
	for _, it := range c.Evidence {
		if _, ok := fileOf[it.SHA256]; ok {
			continue
		}
		f := names[it.SHA256]
		fileOf[it.SHA256] = g.file([]string{"exhibit", idPart(it.Exhibit)}, f, it.Size, [][2]string{{"SHA256", it.SHA256}, {"MD5", s[f].md5}})
	}
	var all []string
	for _, it := range c.Evidence {
		obj := fileOf[it.SHA256]
		var parts []string
		for _, who := range append(append([]string{}, it.Collectors...), it.Witness) {
			if p := g.person(who); p != "" && p != g.person(it.CollectedBy) {
				parts = append(parts, p)
			}
		}
		tool := fb
		if it.Method.Tool != "" && it.Method.Tool != "firebreak" {
			tool = g.tool(it.Method.Tool, it.Method.Version, "collection")
		}
		act := node{"@id": nodeID("collection", idPart(it.Exhibit)), "@type": "case-investigation:InvestigativeAction",
			"uco-core:name": "collection of exhibit " + it.Exhibit,
			"uco-core:description": strings.TrimSpace(fmt.Sprintf("%s %s %s %s; source %s %s %s", it.Method.Tool, it.Method.Version,
				strings.Join(it.Method.Args, " "), it.Method.Filter, it.Source.Host, it.Source.Interface, it.Source.Path)),
			"uco-action:instrument": []node{ref(tool)},
			"uco-action:result":     []node{ref(obj)},
			"uco-action:endTime":    dateTime(it.CollectedAt)}
		if p := g.person(it.CollectedBy); p != "" {
			act["uco-action:performer"] = ref(p)
		}
		if len(parts) > 0 {
			act["uco-action:participant"] = refs(parts)
		}
		if !it.Start.IsZero() {
			act["uco-action:startTime"] = dateTime(it.Start)
		}
		var from []string
		for _, d := range it.DerivedFrom {
			if f := fileOf[d]; f != "" {
				from = append(from, f)
			}
		}
		if len(from) > 0 {
			act["uco-action:object"] = refs(from)
		}
		all = append(all, g.add(act))
		desc := it.Category + " / " + it.Format
		if it.NotSeized != "" {
			desc += "; original medium not seized: " + it.NotSeized
		}
		all = append(all, g.add(node{"@id": nodeID("provenance", idPart(it.Exhibit)), "@type": "case-investigation:ProvenanceRecord",
			"case-investigation:exhibitNumber": it.Exhibit, "uco-core:description": desc, "uco-core:object": []node{ref(obj)}}))
	}
	modByHash := map[string]string{}
	for _, m := range modules {
		modByHash[m.SHA256] = g.file([]string{"module", idPart(m.Name), idPart(m.Version), "wasm"}, m.Dir+"/module.wasm", m.Size, [][2]string{{"SHA256", m.SHA256}})
	}
	for i, a := range c.Analyses {
		inst := []string{g.tool(a.Tool.Tool, a.Tool.Version, "analysis")}
		var mods []string
		for _, m := range a.Modules {
			inst = append(inst, g.tool("module "+m.Name, m.Version, "detection module (WebAssembly), SHA-256 "+m.SHA256))
			if f := modByHash[m.SHA256]; f != "" {
				mods = append(mods, f)
			}
		}
		var objs []string
		for _, s := range a.Inputs {
			if f := fileOf[s]; f != "" {
				objs = append(objs, f)
			}
		}
		objs = append(objs, mods...)
		act := node{"@id": nodeID("analysis", fmt.Sprint(i+1)), "@type": "case-investigation:InvestigativeAction",
			"uco-core:name": fmt.Sprintf("analysis %d of the captures", i+1), "uco-core:description": strings.Join(a.Tool.Args, " "),
			"uco-action:instrument": refs(inst), "uco-action:object": refs(objs), "uco-action:endTime": dateTime(a.At)}
		if p := g.person(a.Actor); p != "" {
			act["uco-action:performer"] = ref(p)
		}
		if f := fileOf[a.Output]; f != "" {
			act["uco-action:result"] = []node{ref(f)}
		}
		all = append(all, g.add(act))
	}
	var every []string
	for _, it := range c.Evidence {
		every = append(every, fileOf[it.SHA256])
	}
	sort.Strings(every)
	every = dedupStrings(every)
	exp := node{"@id": nodeID("export", in.Now.UTC().Format("20060102T150405Z")), "@type": "case-investigation:InvestigativeAction",
		"uco-core:name": "export of the evidence bundle", "uco-core:description": "evidence bundle signed with the appliance key of " + in.Appliance,
		"uco-action:instrument": []node{ref(fb)}, "uco-action:startTime": dateTime(in.Now), "uco-action:object": refs(every)}
	if in.Actor != "" {
		exp["uco-action:performer"] = ref(g.person(in.Actor))
	}
	all = append(all, g.add(exp))
	inv := node{"@id": nodeID("investigation"), "@type": "case-investigation:Investigation", "uco-core:name": c.ID,
		"uco-core:description": c.Title, "uco-core:object": refs(all)}
	if c.Classification != nil {
		inv["case-investigation:focus"] = []string{string(c.Classification.Category)}
	}
	g.add(inv)
	out, _ := json.MarshalIndent(node{"@context": provenanceContext(c.ID), "@graph": g.nodes}, "", "  ")
	return out
}

func dedupStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if v != "" && (i == 0 || s[i-1] != v) {
			out = append(out, v)
		}
	}
	return out
}
