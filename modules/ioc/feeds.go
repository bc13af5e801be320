package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Indicator feeds. The config is one of:
//
//   - the module's own JSON, {"indicators": [{"type", "value", "name", "technique"}]};
//   - a STIX 2.1 bundle, {"type": "bundle", "objects": [...]}: its
//     indicator objects whose pattern compares an observable with "=";
//   - a MISP event, {"Event": {...}} (also a list of them, or the REST
//     API's {"response": [...]}): the attributes of the event and of its
//     objects;
//   - CSV with a header row naming at least the columns type and value
//     (name and technique are optional).
//
// Types are the module's: ip, domain, url, ja3, ja4, and the file hashes
// sha256, sha1, md5. What a feed holds that the module cannot match (a
// STIX pattern joining conditions with AND, a MISP attribute of another
// type) is skipped and counted, never guessed at.

// feed is a parsed config: the indicators and how many entries were skipped.
type feed struct {
	Indicators []Indicator
	Skipped    int
	Format     string
}

// errFeed is returned for a config that is none of the formats.
var errFeed = errors.New("ioc config: not the module's JSON, a STIX 2.1 bundle, a MISP event or CSV with type and value columns")

// parseFeed reads a config in any of the formats.
func parseFeed(config []byte) (*feed, error) {
	b := bytes.TrimSpace(bytes.TrimPrefix(config, []byte("\xef\xbb\xbf")))
	if len(b) == 0 {
		return &feed{Format: "empty"}, nil
	}
	if b[0] != '{' && b[0] != '[' {
		return parseCSV(b)
	}
	var probe struct {
		Type       string            `json:"type"`
		Objects    []json.RawMessage `json:"objects"`
		Indicators *[]Indicator      `json:"indicators"`
		Event      json.RawMessage   `json:"Event"`
		Response   []json.RawMessage `json:"response"`
	}
	if b[0] == '[' { // a list of MISP events
		var events []json.RawMessage
		if err := json.Unmarshal(b, &events); err != nil {
			return nil, fmt.Errorf("ioc config: %w", err)
		}
		return parseMISP(events)
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("ioc config: %w", err)
	}
	switch {
	case probe.Indicators != nil:
		return &feed{Indicators: *probe.Indicators, Format: "json"}, nil
	case probe.Type == "bundle":
		return parseSTIX(probe.Objects)
	case probe.Event != nil:
		return parseMISP([]json.RawMessage{b})
	case probe.Response != nil:
		return parseMISP(probe.Response)
	}
	return nil, errFeed
}

// parseCSV reads CSV with a header row.
func parseCSV(b []byte) (*feed, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.Comment = '#'
	r.TrimLeadingSpace = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("ioc config: csv header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	ti, ok1 := col["type"]
	vi, ok2 := col["value"]
	if !ok1 || !ok2 {
		return nil, errFeed
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	f := &feed{Format: "csv"}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return nil, fmt.Errorf("ioc config: csv: %w", err)
		}
		if ti >= len(rec) || vi >= len(rec) || strings.TrimSpace(rec[vi]) == "" {
			f.Skipped++
			continue
		}
		typ, ok := mispType(strings.ToLower(strings.TrimSpace(rec[ti])))
		if !ok {
			f.Skipped++
			continue
		}
		f.Indicators = append(f.Indicators, Indicator{Type: typ, Value: strings.TrimSpace(rec[vi]),
			Name: get(rec, "name"), Technique: get(rec, "technique")})
	}
}

// stixIndicator is the part of a STIX 2.1 indicator object the module uses.
type stixIndicator struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Pattern     string `json:"pattern"`
	PatternType string `json:"pattern_type"`
	Revoked     bool   `json:"revoked"`
}

// parseSTIX reads the indicator objects of a bundle.
func parseSTIX(objects []json.RawMessage) (*feed, error) {
	f := &feed{Format: "stix"}
	for i, raw := range objects {
		var o stixIndicator
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("ioc config: stix object %d: %w", i, err)
		}
		if o.Type != "indicator" {
			continue
		}
		if o.Revoked || o.PatternType != "" && o.PatternType != "stix" {
			f.Skipped++
			continue
		}
		inds, err := stixPattern(o.Pattern)
		if err != nil || len(inds) == 0 {
			f.Skipped++
			continue
		}
		for _, ind := range inds {
			ind.Name = o.Name
			f.Indicators = append(f.Indicators, ind)
		}
	}
	return f, nil
}

// stixPaths maps the object paths of STIX patterns to indicator types.
var stixPaths = map[string]string{
	"ipv4-addr:value": "ip", "ipv6-addr:value": "ip",
	"network-traffic:dst_ref.value": "ip", "network-traffic:src_ref.value": "ip",
	"domain-name:value": "domain", "url:value": "url",
	"file:hashes.'sha-256'": "sha256", "file:hashes.sha256": "sha256",
	"file:hashes.'sha-1'": "sha1", "file:hashes.sha1": "sha1",
	"file:hashes.md5": "md5", "file:hashes.'md5'": "md5",
}

// stixPattern reads a STIX pattern that is one observation expression
// whose comparisons are "path = 'string'" joined by OR. Anything else (AND,
// other operators, several observations, qualifiers) is an error: its
// meaning is more than a list of values.
func stixPattern(p string) ([]Indicator, error) {
	s := strings.TrimSpace(p)
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("stix pattern %q: not one observation expression", p)
	}
	s = s[1 : len(s)-1]
	var out []Indicator
	for {
		s = strings.TrimSpace(s)
		eq := strings.Index(s, "=")
		if eq < 0 {
			return nil, fmt.Errorf("stix pattern %q: no comparison", p)
		}
		path := strings.ToLower(strings.Join(strings.Fields(s[:eq]), ""))
		typ, ok := stixPaths[path]
		if !ok {
			return nil, fmt.Errorf("stix pattern %q: unsupported object path %s", p, path)
		}
		v, rest, err := stixString(strings.TrimSpace(s[eq+1:]))
		if err != nil {
			return nil, fmt.Errorf("stix pattern %q: %w", p, err)
		}
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("stix pattern %q: empty value", p)
		}
		out = append(out, Indicator{Type: typ, Value: strings.TrimSpace(v)})
		rest = strings.TrimSpace(rest)
		if rest == "" {
			return out, nil
		}
		if len(rest) < 3 || !strings.EqualFold(rest[:3], "OR ") {
			return nil, fmt.Errorf("stix pattern %q: only OR joins comparisons here", p)
		}
		s = rest[3:]
	}
}

// stixString reads a quoted string literal ('...', with \' and \\
// escapes) at the start of s and returns it and what follows.
func stixString(s string) (string, string, error) {
	if !strings.HasPrefix(s, "'") {
		return "", "", errors.New("the value is not a string literal")
	}
	var v strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) || s[i+1] != '\'' && s[i+1] != '\\' {
				return "", "", errors.New("bad escape in a string literal")
			}
			i++
			v.WriteByte(s[i])
		case '\'':
			return v.String(), s[i+1:], nil
		default:
			v.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated string literal")
}

// mispAttribute is the part of a MISP attribute the module uses.
type mispAttribute struct {
	Type    string `json:"type"`
	Value   string `json:"value"`
	Comment string `json:"comment"`
	Deleted bool   `json:"deleted"`
}

type mispEvent struct {
	Info      string          `json:"info"`
	Attribute []mispAttribute `json:"Attribute"`
	Object    []struct {
		Attribute []mispAttribute `json:"Attribute"`
	} `json:"Object"`
}

// mispType maps a MISP attribute type (or the module's own type name) to
// an indicator type.
func mispType(t string) (string, bool) {
	switch t {
	case "ip", "ip-dst", "ip-src", "ip-dst|port", "ip-src|port":
		return "ip", true
	case "domain", "hostname", "domain|ip":
		return "domain", true
	case "url", "uri", "link":
		return "url", true
	case "ja3", "ja3-fingerprint-md5":
		return "ja3", true
	case "ja4", "ja4-fingerprint":
		return "ja4", true
	case "sha256", "sha1", "md5":
		return t, true
	}
	return "", false
}

// parseMISP reads MISP events, each {"Event": {...}} or the event itself.
func parseMISP(events []json.RawMessage) (*feed, error) {
	f := &feed{Format: "misp"}
	for i, raw := range events {
		var wrap struct {
			Event *mispEvent `json:"Event"`
		}
		if err := json.Unmarshal(raw, &wrap); err != nil {
			return nil, fmt.Errorf("ioc config: misp event %d: %w", i, err)
		}
		ev := wrap.Event
		if ev == nil {
			ev = &mispEvent{}
			if err := json.Unmarshal(raw, ev); err != nil {
				return nil, fmt.Errorf("ioc config: misp event %d: %w", i, err)
			}
		}
		attrs := ev.Attribute
		for _, o := range ev.Object {
			attrs = append(attrs, o.Attribute...)
		}
		for _, a := range attrs {
			typ, ok := mispType(a.Type)
			if !ok || a.Deleted || strings.TrimSpace(a.Value) == "" {
				f.Skipped++
				continue
			}
			name := a.Comment
			if name == "" {
				name = ev.Info
			}
			v := strings.TrimSpace(a.Value)
			switch a.Type {
			case "ip-dst|port", "ip-src|port":
				v, _, _ = strings.Cut(v, "|")
			case "domain|ip": // both halves are indicators
				d, ip, _ := strings.Cut(v, "|")
				v = d
				if ip = strings.TrimSpace(ip); ip != "" {
					f.Indicators = append(f.Indicators, Indicator{Type: "ip", Value: ip, Name: name})
				}
			}
			if v = strings.TrimSpace(v); v == "" { // "|203.0.113.1", "|443"
				f.Skipped++
				continue
			}
			f.Indicators = append(f.Indicators, Indicator{Type: typ, Value: v, Name: name})
		}
	}
	return f, nil
}
