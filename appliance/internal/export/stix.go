package export

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
)

// Files of the bundle's analysis/ folder.
const (
	STIXBundle = "analysis/stix-bundle.json"            // STIX 2.1: indicators, sightings, observed data
	Provenance = "analysis/case-uco.jsonld"             // CASE/UCO: who collected, analysed and exported what, with what
	Findings   = "analysis/findings.json"               // the case's findings as the journal holds them
	EVEDir     = "analysis/eve"                         // the EVE output of each analysis
	stixTime   = "2006-01-02T15:04:05.000Z"             // STIX timestamps: UTC with milliseconds
	stixNS     = "00abedb4-aa42-466c-9c01-fed23315a9b7" // STIX 2.1 namespace for deterministic SCO identifiers
)

// uuid5 is an RFC 4122 version 5 UUID of name in namespace ns.
func uuid5(ns, name string) string {
	var nsb [16]byte
	hexs := strings.ReplaceAll(ns, "-", "")
	for i := range nsb {
		fmt.Sscanf(hexs[2*i:2*i+2], "%02x", &nsb[i])
	}
	h := sha1.New()
	h.Write(nsb[:])
	h.Write([]byte(name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// firebreakNS names the identifiers of the objects a case's bundle
// describes, so exporting the same case twice gives the same identifiers.
const firebreakNS = "6f0d2c1e-3b7a-5c44-9a51-8e2f0b6d4c19"

type stixObj map[string]any

// stixBuilder collects objects once each, by identifier.
type stixBuilder struct {
	objs  []stixObj
	seen  map[string]bool
	ident string
}

func (b *stixBuilder) add(o stixObj) string {
	id := o["id"].(string)
	if !b.seen[id] {
		b.seen[id] = true
		b.objs = append(b.objs, o)
	}
	return id
}

// sco adds a cyber-observable whose identifier derives from its
// identifying properties, as STIX 2.1 §2.9 says.
func (b *stixBuilder) sco(typ string, props stixObj) string {
	key, _ := json.Marshal(props) // map keys marshal sorted
	o := stixObj{"type": typ, "spec_version": "2.1", "id": typ + "--" + uuid5(stixNS, string(key))}
	for k, v := range props {
		o[k] = v
	}
	return b.add(o)
}

func (b *stixBuilder) addr(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	if a.Is4() || a.Is4In6() {
		return b.sco("ipv4-addr", stixObj{"value": a.Unmap().String()})
	}
	return b.sco("ipv6-addr", stixObj{"value": a.String()})
}

// patternValue quotes a string for a STIX pattern.
func patternValue(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + "'"
}

func ts(t time.Time) string { return t.UTC().Format(stixTime) }

// stixOf builds the STIX 2.1 bundle of a case's findings: for each finding
// an indicator, the observed data it was seen in (addresses, traffic,
// domains, files), a sighting by the appliance, and the ATT&CK techniques
// it indicates. Nothing is added that a finding does not hold.
func stixOf(c *cases.Case, in Input) []byte {
	b := &stixBuilder{seen: map[string]bool{}}
	created := ts(c.CreatedAt)
	b.ident = b.add(stixObj{"type": "identity", "spec_version": "2.1", "id": "identity--" + uuid5(firebreakNS, "appliance/"+in.Appliance),
		"created": created, "modified": created, "name": "Firebreak appliance " + in.Appliance, "identity_class": "system"})
	for _, f := range c.Findings {
		obsRefs := []string{}
		var pattern []string
		src, dst := b.addr(f.Src), b.addr(f.Dst)
		for _, r := range []string{src, dst} {
			if r != "" {
				obsRefs = append(obsRefs, r)
			}
		}
		if src != "" && dst != "" {
			nt := stixObj{"src_ref": src, "dst_ref": dst}
			if f.Proto != "" {
				nt["protocols"] = []string{strings.ToLower(f.Proto)}
			} else {
				nt["protocols"] = []string{"ip"}
			}
			if f.SrcPort != 0 {
				nt["src_port"] = f.SrcPort
			}
			if f.DstPort != 0 {
				nt["dst_port"] = f.DstPort
			}
			if !f.Time.IsZero() {
				nt["start"] = ts(f.Time)
			}
			obsRefs = append(obsRefs, b.sco("network-traffic", nt))
			pattern = append(pattern, "network-traffic:src_ref.value = "+patternValue(f.Src), "network-traffic:dst_ref.value = "+patternValue(f.Dst))
			if f.DstPort != 0 {
				pattern = append(pattern, fmt.Sprintf("network-traffic:dst_port = %d", f.DstPort))
			}
		}
		var domains []string
		domains = append(domains, f.Metadata["domain"]...)
		if v := f.Metadata["ioc_type"]; len(v) > 0 && v[0] == "domain" {
			domains = append(domains, f.Metadata["ioc_value"]...)
		}
		sort.Strings(domains)
		for i, d := range domains {
			if d == "" || (i > 0 && domains[i-1] == d) {
				continue
			}
			obsRefs = append(obsRefs, b.sco("domain-name", stixObj{"value": d}))
			if len(pattern) == 0 {
				pattern = append(pattern, "domain-name:value = "+patternValue(d))
			}
		}
		if f.Path != "" {
			obsRefs = append(obsRefs, b.sco("file", stixObj{"name": path.Base(strings.ReplaceAll(f.Path, `\`, "/"))}))
			pattern = append(pattern, "file:name = "+patternValue(path.Base(strings.ReplaceAll(f.Path, `\`, "/"))))
		}
		if len(pattern) == 0 || len(obsRefs) == 0 {
			continue // nothing observable to point at
		}
		first, last := f.Time, f.LastTime
		if first.IsZero() {
			first = f.RecordedAt
		}
		if last.Before(first) {
			last = first
		}
		rec := ts(f.RecordedAt)
		count := max(f.Count, 1)
		obs := b.add(stixObj{"type": "observed-data", "spec_version": "2.1", "id": "observed-data--" + uuid5(firebreakNS, c.ID+"/obs/"+f.ID),
			"created": rec, "modified": rec, "created_by_ref": b.ident, "first_observed": ts(first), "last_observed": ts(last),
			"number_observed": count, "object_refs": obsRefs})
		desc := fmt.Sprintf("%s finding %s of case %s, by module %s %s", f.Source, f.ID, c.ID, f.Module, f.ModuleVersion)
		ind := stixObj{"type": "indicator", "spec_version": "2.1", "id": "indicator--" + uuid5(firebreakNS, c.ID+"/ind/"+f.ID),
			"created": rec, "modified": rec, "created_by_ref": b.ident, "name": f.Signature, "description": desc,
			"indicator_types": []string{"malicious-activity"}, "pattern": "[" + strings.Join(pattern, " AND ") + "]",
			"pattern_type": "stix", "pattern_version": "2.1", "valid_from": ts(first)}
		if f.Category != "" {
			ind["labels"] = []string{f.Category}
		}
		indID := b.add(ind)
		b.add(stixObj{"type": "sighting", "spec_version": "2.1", "id": "sighting--" + uuid5(firebreakNS, c.ID+"/sig/"+f.ID),
			"created": rec, "modified": rec, "created_by_ref": b.ident, "sighting_of_ref": indID, "observed_data_refs": []string{obs},
			"where_sighted_refs": []string{b.ident}, "first_seen": ts(first), "last_seen": ts(last), "count": count})
		for _, t := range f.Techniques {
			ap := b.add(stixObj{"type": "attack-pattern", "spec_version": "2.1", "id": "attack-pattern--" + uuid5(firebreakNS, "attack/"+t),
				"created": created, "modified": created, "name": t, "external_references": []stixObj{{"source_name": "mitre-attack",
					"external_id": t, "url": "https://attack.mitre.org/techniques/" + strings.ReplaceAll(t, ".", "/") + "/"}}})
			b.add(stixObj{"type": "relationship", "spec_version": "2.1", "id": "relationship--" + uuid5(firebreakNS, c.ID+"/rel/"+f.ID+"/"+t),
				"created": rec, "modified": rec, "relationship_type": "indicates", "source_ref": indID, "target_ref": ap})
		}
	}
	out, _ := json.MarshalIndent(stixObj{"type": "bundle", "id": "bundle--" + uuid5(firebreakNS, c.ID+"/bundle"), "objects": b.objs}, "", "  ")
	return out
}
