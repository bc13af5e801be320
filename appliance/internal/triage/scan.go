package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/sdk"
)

// ScanResult is what a scan found and recorded.
type ScanResult struct {
	Target   string                          `json:"target"`
	Files    int                             `json:"files"`    // files delivered to the modules
	Lines    int                             `json:"lines"`    // auth-log lines and login records
	Requests int                             `json:"requests"` // access-log requests
	Findings []cases.FindingRecord           `json:"findings"`
	Modules  map[string]*modhost.ModuleStats `json:"modules"`
}

// Scan runs the host detection modules over the target's latest
// collection, read back from the vault (so a scan can be repeated from the
// evidence alone), and records their findings in the case.
func (s *Service) Scan(ctx context.Context, actor, caseID, target string) (*ScanResult, error) {
	var col *cases.TriageCollection
	if err := s.opts.Book.View(caseID, func(c *cases.Case) error {
		if x := c.LatestCollection(target); x != nil {
			cp := *x
			col = &cp
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if col == nil {
		return nil, fmt.Errorf("%s: %w", target, ErrNoCollection)
	}
	res := &ScanResult{Target: target, Modules: map[string]*modhost.ModuleStats{}}
	folded := map[string]*cases.Finding{}
	var order []string
	collect := func(e modhost.Emitted) error {
		for _, a := range e.Alerts {
			f := toFinding(e.Module, a, target, modhost.AlertPath(a, e.Subject))
			key := strings.Join([]string{f.Module, fmt.Sprint(f.SignatureID), f.Signature, f.Path}, "\x00")
			if old, ok := folded[key]; ok {
				old.Count++
				if f.Time.After(old.LastTime) {
					old.LastTime = f.Time
				}
				continue
			}
			folded[key] = &f
			order = append(order, key)
		}
		return nil
	}
	// First the files and the authentication logs.
	if err := s.scanFiles(ctx, col, res, collect); err != nil {
		return nil, err
	}
	// Then the access logs, the web-log modules told which files the first
	// phase found to be webshells, to name the requests that reached them.
	var shells []string
	for _, k := range order {
		if f := folded[k]; f.Module == "webshell" && f.Severity <= 2 && f.Path != "" {
			shells = append(shells, f.Path)
		}
	}
	if err := s.scanWeb(ctx, col, res, shells, collect); err != nil {
		return nil, err
	}
	var found []cases.Finding
	for _, k := range order {
		found = append(found, *folded[k])
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].Severity < found[j].Severity })
	inputs := map[string]bool{}
	var inList []string
	for _, f := range col.Files {
		if f.SHA256 != "" && !inputs[f.SHA256] && len(inList) < 1024 {
			inputs[f.SHA256] = true
			inList = append(inList, f.SHA256)
		}
	}
	first := uint64(0)
	for start := 0; start < len(found); start += cases.MaxFindingsPerEntry {
		end := min(start+cases.MaxFindingsPerEntry, len(found))
		p := cases.FindingsRecorded{Source: cases.FindingsTriage, Inputs: inList, Findings: found[start:end]}
		if err := s.opts.Book.Do(ctx, actor, caseID, func(c *cases.Case) (cases.Change, error) {
			if first == 0 {
				first = c.LastSeq + 1
			}
			return c.RecordFindings(p)
		}); err != nil {
			return nil, fmt.Errorf("record findings: %w", err)
		}
	}
	res.Findings = []cases.FindingRecord{}
	if first > 0 {
		s.opts.Book.View(caseID, func(c *cases.Case) error {
			for _, f := range c.Findings {
				if f.Seq >= first && f.Source == cases.FindingsTriage && f.Host == target {
					res.Findings = append(res.Findings, f)
				}
			}
			return nil
		})
	}
	return res, nil
}

func (s *Service) scanFiles(ctx context.Context, col *cases.TriageCollection, res *ScanResult, out func(modhost.Emitted) error) error {
	h, mods, err := s.host(ctx, forFiles, nil)
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	run := h.TriageRun(ctx, mods, out)
	max := int64(run.MaxContent())
	var b sdk.Builder
	for _, f := range col.Files {
		if f.SHA256 == "" || f.Path == "/" || f.Mode&syscall.S_IFMT != syscall.S_IFREG && !f.Volatile {
			continue
		}
		if run.Wants(sdk.KindFile) {
			content, err := s.readBlob(f.SHA256, max)
			if err != nil {
				return fmt.Errorf("read %q from the vault: %w", f.Path, err)
			}
			res.Files++
			if err := run.File(&modhost.File{Path: f.Path, Size: f.Size, SHA256: f.SHA256, Mode: f.Mode, UID: f.UID, GID: f.GID,
				MTime: f.MTime}, content); err != nil {
				return err
			}
		}
		switch {
		case authLog(f.Path) && run.Wants(sdk.KindAuthLog):
			data, err := s.logOf(f)
			if err != nil {
				return err
			}
			for _, chunk := range chunks(splitLines(data), 4096) {
				b.Reset()
				for _, l := range chunk {
					b.Begin(sdk.Header{Kind: sdk.KindAuthLog, Time: f.MTime.UnixNano()})
					b.Str(sdk.FieldLine, l)
					b.Str(sdk.FieldSource, f.Path)
					b.End()
				}
				res.Lines += len(chunk)
				if err := run.Records(f.Path, b.Bytes()); err != nil {
					return err
				}
			}
		case wtmpLog(f.Path) != "" && run.Wants(sdk.KindAuthLog):
			data, err := s.logOf(f)
			if err != nil {
				return err
			}
			b.Reset()
			for _, l := range ParseWtmp(data) {
				appendLogin(&b, wtmpLog(f.Path), f.Path, l)
				res.Lines++
			}
			if err := run.Records(f.Path, b.Bytes()); err != nil {
				return err
			}
		}
	}
	if err := run.Finish(); err != nil {
		return err
	}
	maps.Copy(res.Modules, run.Stats)
	return nil
}

// webConfig is the config the web-log modules get: the webshells found.
type webConfig struct {
	Webshells []string `json:"webshells"`
}

func (s *Service) scanWeb(ctx context.Context, col *cases.TriageCollection, res *ScanResult, shells []string, out func(modhost.Emitted) error) error {
	var logs []cases.TriageFile
	for _, f := range col.Files {
		if f.SHA256 != "" && f.Path != "/" && accessLog(f.Path) {
			logs = append(logs, f)
		}
	}
	if len(logs) == 0 {
		return nil
	}
	cfg, _ := json.Marshal(webConfig{Webshells: shells})
	h, mods, err := s.host(ctx, forWeb, func(name string) []byte {
		if name == "weblog" {
			return cfg
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	if len(mods) == 0 {
		return nil
	}
	run := h.TriageRun(ctx, mods, out)
	var b sdk.Builder
	for _, f := range logs {
		data, err := s.logOf(f)
		if err != nil {
			return err
		}
		for _, chunk := range chunks(splitLines(data), 4096) {
			b.Reset()
			for _, l := range chunk {
				if r, ok := ParseAccessLine(l); ok {
					appendHTTP(&b, r, f.Path)
					res.Requests++
				}
			}
			if err := run.Records(f.Path, b.Bytes()); err != nil {
				return err
			}
		}
	}
	if err := run.Finish(); err != nil {
		return err
	}
	maps.Copy(res.Modules, run.Stats)
	return nil
}

// logOf reads a collected log in full (decompressed).
func (s *Service) logOf(f cases.TriageFile) ([]byte, error) {
	raw, err := s.readBlob(f.SHA256, maxLogBytes)
	if err != nil {
		return nil, fmt.Errorf("read %q from the vault: %w", f.Path, err)
	}
	data, err := logBytes(f.Path, bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read log %q: %w", f.Path, err)
	}
	return data, nil
}

func chunks(lines []string, n int) [][]string {
	var out [][]string
	for len(lines) > 0 {
		k := min(n, len(lines))
		out = append(out, lines[:k])
		lines = lines[k:]
	}
	return out
}

// toFinding is a module's alert as a case finding about a file of target.
func toFinding(m *modhost.Module, a sdk.Alert, target, path string) cases.Finding {
	t := time.Unix(0, a.Time).UTC()
	if a.Time == 0 {
		t = time.Now().UTC()
	}
	techniques := a.Techniques
	if len(techniques) == 0 {
		techniques = m.Manifest.Techniques
	}
	md := map[string][]string{}
	for _, kv := range a.Metadata {
		k, v, _ := strings.Cut(kv, "=")
		if k == "path" {
			continue
		}
		md[k] = append(md[k], v)
	}
	sev := a.Severity
	if sev < 1 || sev > 3 {
		sev = 2
	}
	f := cases.Finding{Module: m.Manifest.Name, ModuleVersion: m.Manifest.Version, Signature: a.Signature, Category: a.Category,
		Severity: sev, SignatureID: a.SignatureID, Techniques: techniques, Metadata: md, Time: t, LastTime: t, Count: 1,
		Host: target, Path: path}
	if src := md["src"]; len(src) > 0 {
		f.Src = src[0]
	}
	if len(md) == 0 {
		f.Metadata = nil
	}
	return f
}
