package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/detect"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/capture"
)

// ErrNotReproduced means re-running an analysis from a bundle did not give
// the findings the case recorded; the error is a *Mismatch.
var ErrNotReproduced = errors.New("the analysis does not reproduce")

// ReproduceOptions configure Reproduce.
type ReproduceOptions struct {
	// Trust holds the keys the bundle's modules must be signed with. Nil:
	// the first-party key this binary carries; a module signed with
	// another key is refused, whatever key the bundle itself carries.
	Trust *modhost.TrustStore
	// CacheDir keeps compiled modules between runs; "" compiles afresh.
	CacheDir string
}

// Reproduced is one analysis re-run from the bundle.
type Reproduced struct {
	Analysis int      `json:"analysis"` // 1-based, in the case's order
	Inputs   []string `json:"inputs"`   // bundle files analysed
	Modules  []string `json:"modules"`  // name@version
	Findings int      `json:"findings"` // as recorded, and as found again
	Alerts   int      `json:"alerts"`
}

// Mismatch names what differs between the recorded and re-run findings.
type Mismatch struct {
	Analysis int
	Recorded []string // findings only in the case's record
	Rerun    []string // findings only in the re-run
}

func (m *Mismatch) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "analysis %d does not reproduce:", m.Analysis)
	for _, f := range m.Recorded {
		fmt.Fprintf(&b, "\n  recorded, not found again: %s", f)
	}
	for _, f := range m.Rerun {
		fmt.Fprintf(&b, "\n  found again, not recorded: %s", f)
	}
	return b.String()
}

func (m *Mismatch) Is(target error) bool { return target == ErrNotReproduced }

// Reproduce re-runs each analysis of the bundle in dir that ran detection
// modules: the bundle's own captures through the bundle's own module
// binaries (checked against the SHA-256 the case recorded and against
// opts.Trust), and compares what the modules find with the findings the
// case recorded for that analysis. The bundle must verify first; call
// Verify before. It returns the analyses it re-ran, and a *Mismatch for the
// first that differs.
func Reproduce(ctx context.Context, dir string, opts ReproduceOptions) ([]Reproduced, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var c cases.Case
	b, err := root.ReadFile(CaseFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CaseFile, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", CaseFile, err)
	}
	var man struct {
		Items []manifestItem `json:"items"`
	}
	if b, err = root.ReadFile(Manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", Manifest, err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		return nil, fmt.Errorf("%s: %w", Manifest, err)
	}
	files := map[string]string{}
	for _, it := range man.Items {
		files[it.SHA256] = it.File
	}
	pkgs, err := bundleModules(root)
	if err != nil {
		return nil, err
	}
	if opts.Trust == nil {
		if opts.Trust, err = detect.FirstPartyTrust(); err != nil {
			return nil, err
		}
	}
	var out []Reproduced
	for i, a := range c.Analyses {
		if len(a.Modules) == 0 {
			continue
		}
		r := Reproduced{Analysis: i + 1}
		var use []*modhost.Package
		for _, m := range a.Modules {
			p := pkgs[m.SHA256]
			if p == nil {
				return out, fmt.Errorf("analysis %d ran module %s %s (sha256 %s), which the bundle does not hold", i+1, m.Name, m.Version, m.SHA256)
			}
			use = append(use, p)
			r.Modules = append(r.Modules, m.Name+"@"+m.Version)
		}
		var paths []string
		for _, s := range a.Inputs {
			f := files[s]
			if f == "" || !fs.ValidPath(f) {
				return out, fmt.Errorf("analysis %d: capture %s is not in the bundle", i+1, s)
			}
			if fi, err := root.Lstat(f); err != nil || !fi.Mode().IsRegular() {
				return out, fmt.Errorf("analysis %d: %s is not a plain file of the bundle", i+1, f)
			}
			paths = append(paths, filepath.Join(dir, filepath.FromSlash(f)))
			r.Inputs = append(r.Inputs, f)
		}
		var copts capture.Options
		for _, arg := range a.Tool.Args {
			k, v, _ := strings.Cut(arg, "=")
			switch k {
			case "stream_depth":
				copts.StreamDepth, _ = strconv.ParseInt(v, 10, 64)
			case "midstream":
				copts.Midstream = v == "true"
			}
		}
		det, err := detect.New(detect.Options{Packages: use, Trust: opts.Trust, CacheDir: opts.CacheDir})
		if err != nil {
			return out, err
		}
		run, err := det.Start(ctx, func(*capture.Event) error { return nil })
		if err != nil {
			return out, fmt.Errorf("analysis %d: %w", i+1, err)
		}
		run.Configure(&copts)
		_, err = capture.Analyze(ctx, copts, paths, run.Emit)
		stats, ferr := run.Finish()
		if err == nil {
			err = ferr
		}
		if err != nil {
			return out, fmt.Errorf("analysis %d: %w", i+1, err)
		}
		for _, st := range stats {
			r.Alerts += st.Alerts
		}
		recorded := recordedFindings(&c, a)
		got := run.Findings()
		if mm := compareFindings(recorded, got); mm != nil {
			mm.Analysis = i + 1
			return out, mm
		}
		r.Findings = len(got)
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("the bundle holds no analysis that ran detection modules")
	}
	return out, nil
}

// recordedFindings are the findings the case recorded for an analysis: the
// first findings entry from the same inputs after it.
func recordedFindings(c *cases.Case, a cases.AnalysisRecord) []cases.Finding {
	var seq uint64
	for _, f := range c.Findings {
		if f.Source == cases.FindingsAnalysis && f.Seq > a.Seq && equalStrings(f.Inputs, a.Inputs) && (seq == 0 || f.Seq < seq) {
			seq = f.Seq
		}
	}
	var out []cases.Finding
	for _, f := range c.Findings {
		if seq != 0 && f.Seq == seq {
			out = append(out, f.Finding)
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// findingKey is what must be the same for a finding to be reproduced.
func findingKey(f cases.Finding) string {
	return fmt.Sprintf("%s@%s %q sid=%d sev=%d %s %s:%d -> %s:%d %s%s count=%d first=%s last=%s techniques=%s",
		f.Module, f.ModuleVersion, f.Signature, f.SignatureID, f.Severity, f.Proto, f.Src, f.SrcPort, f.Dst, f.DstPort,
		f.Host, f.Path, f.Count, f.Time.UTC().Format(time.RFC3339Nano), f.LastTime.UTC().Format(time.RFC3339Nano), strings.Join(f.Techniques, ","))
}

func compareFindings(recorded, got []cases.Finding) *Mismatch {
	count := map[string]int{}
	for _, f := range recorded {
		count[findingKey(f)]++
	}
	for _, f := range got {
		count[findingKey(f)]--
	}
	mm := &Mismatch{}
	for k, n := range count {
		for ; n > 0; n-- {
			mm.Recorded = append(mm.Recorded, k)
		}
		for ; n < 0; n++ {
			mm.Rerun = append(mm.Rerun, k)
		}
	}
	if len(mm.Recorded) == 0 && len(mm.Rerun) == 0 {
		return nil
	}
	sort.Strings(mm.Recorded)
	sort.Strings(mm.Rerun)
	return mm
}

// bundleModules reads modules/*/ of a bundle, by the SHA-256 of each wasm.
func bundleModules(root *os.Root) (map[string]*modhost.Package, error) {
	out := map[string]*modhost.Package{}
	ents, err := fs.ReadDir(root.FS(), ModulesDir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		d := path.Join(ModulesDir, e.Name())
		p := &modhost.Package{Source: d}
		for _, f := range []struct {
			name string
			dst  *[]byte
		}{{"manifest.json", &p.Manifest}, {"module.wasm", &p.Wasm}, {"signature.json", &p.Signature}} {
			if *f.dst, err = root.ReadFile(path.Join(d, f.name)); err != nil {
				return nil, fmt.Errorf("module %s: %w", d, err)
			}
		}
		sum := sha256.Sum256(p.Wasm)
		out[hex.EncodeToString(sum[:])] = p
	}
	return out, nil
}
