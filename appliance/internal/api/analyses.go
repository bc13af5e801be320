package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/detect"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/capture"
)

// analysisRequest is the body of POST /cases/{id}/analyses.
type analysisRequest struct {
	Inputs      []string `json:"inputs"` // SHA-256 of pcap items of the case, analysed as one capture
	StreamDepth int64    `json:"stream_depth,omitempty"`
	Midstream   bool     `json:"midstream,omitempty"`
	NoModules   bool     `json:"no_modules,omitempty"` // analyse without the detection modules
}

func (a *analysisRequest) Validate() error {
	if len(a.Inputs) == 0 || len(a.Inputs) > 1024 {
		return fmt.Errorf("inputs: give 1 to 1024 evidence hashes")
	}
	return nil
}

// analysisResult is the answer to POST /cases/{id}/analyses.
type analysisResult struct {
	cases.AnalysisCompleted
	Findings int `json:"findings"` // distinct findings recorded
	Alerts   int `json:"alerts"`   // alerts the modules raised
}

// analyzeEvidence analyses pcap items of the case with the detection
// modules, stores the EVE output (alerts included) as a derived item, and
// journals the analysis with its counts and modules, then the findings.
func analyzeEvidence(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	var req analysisRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	var paths []string
	err := s.cfg.Book.View(id, func(cs *cases.Case) error {
		for _, sum := range req.Inputs {
			it := cs.EvidenceByHash(sum)
			if it == nil || it.Category != cases.EvidencePcap {
				return userErrorf(ErrBadRequest, "%s is not a capture in this case's evidence", sum)
			}
			p, err := s.cfg.Vault.Path(sum)
			if err != nil {
				return err
			}
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return caseError(err)
	}

	opts := capture.Options{StreamDepth: req.StreamDepth, Midstream: req.Midstream}
	var warnings []string
	opts.Warn = func(wn capture.Warning) {
		if len(warnings) < 100 {
			wn.File = filepath.Base(wn.File)
			warnings = append(warnings, wn.String())
		}
	}
	pr, pw := io.Pipe()
	ew := capture.NewEVEWriter(pw)
	emit := ew.Write
	var run *detect.Run
	if s.cfg.Detect != nil && !req.NoModules {
		switch run, err = s.cfg.Detect.Start(r.Context(), ew.Write); {
		case errors.Is(err, detect.ErrNoModules): // every module is disabled
		case err != nil:
			return fmt.Errorf("analyze: modules: %w", err)
		default:
			emit = run.Emit
			run.Configure(&opts)
		}
	}
	var st capture.Stats
	var modStats map[string]modhost.ModuleStats
	analysed := make(chan struct{})
	go func() {
		defer close(analysed)
		var err error
		st, err = capture.Analyze(context.WithoutCancel(r.Context()), opts, paths, emit)
		if run != nil {
			var merr error
			if modStats, merr = run.Finish(); err == nil {
				err = merr
			}
		}
		if ferr := ew.Flush(); err == nil {
			err = ferr
		}
		pw.CloseWithError(err)
	}()
	out, err := s.cfg.Vault.Put(pr)
	pr.Close() // unblocks the analysis if Put failed early
	<-analysed
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	method := cases.EvidenceMethod{Tool: "firebreak analyze", Version: s.cfg.Version,
		Args: []string{fmt.Sprintf("stream_depth=%d", req.StreamDepth), fmt.Sprintf("midstream=%t", req.Midstream)}}
	done := cases.AnalysisCompleted{Inputs: req.Inputs, Output: out.SHA256, Tool: method, Warnings: warnings,
		Stats: map[string]uint64{"files": st.Files, "packets": st.Packets, "bytes": st.Bytes, "decoded": st.Decoded,
			"flows": st.Flows, "events": st.Events, "warnings": st.Warnings, "stream_gaps": st.StreamGaps}}
	res := analysisResult{}
	var findings []cases.Finding
	if run != nil {
		done.Modules, findings = run.Modules(), run.Findings()
		method.Args = append(method.Args, "modules="+moduleNames(done.Modules))
		done.Tool = method
		for name, ms := range modStats {
			res.Alerts += ms.Alerts
			if ms.Faults > 0 {
				done.Warnings = append(done.Warnings, fmt.Sprintf("module %s: %d faults (%s)", name, ms.Faults, ms.LastFault))
			}
		}
	}
	err = s.cfg.Book.Do(r.Context(), c.Actor, id, func(cs *cases.Case) (cases.Change, error) {
		if it := cs.EvidenceByHash(out.SHA256); it != nil {
			return cases.Change{}, nil // the same output was kept before; only the analysis is new
		}
		return cs.Collect(cases.CollectRequest{Category: cases.EvidenceEVE, Format: "eve-json", SHA256: out.SHA256, Size: out.Size,
			Source: cases.EvidenceSource{Host: s.cfg.Appliance, Path: "eve.json"}, Method: method, Collectors: []string{c.Actor}, DerivedFrom: req.Inputs,
			Description: "EVE JSON metadata produced by analysing the listed captures"})
	})
	if err != nil {
		return caseError(err)
	}
	err = s.cfg.Book.Do(r.Context(), c.Actor, id, func(cs *cases.Case) (cases.Change, error) { return cs.CompleteAnalysis(done) })
	if err != nil {
		return caseError(err)
	}
	if len(findings) > 0 {
		rec := cases.FindingsRecorded{Source: cases.FindingsAnalysis, Inputs: req.Inputs, Findings: findings}
		err = s.cfg.Book.Do(r.Context(), c.Actor, id, func(cs *cases.Case) (cases.Change, error) { return cs.RecordFindings(rec) })
		if err != nil {
			return caseError(err)
		}
	}
	res.AnalysisCompleted, res.Findings = done, len(findings)
	return writeJSON(w, http.StatusCreated, res)
}

func moduleNames(ms []cases.ModuleUsed) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name + "@" + m.Version
	}
	return strings.Join(names, ",")
}

// listFindings lists the case's findings; ?module= and ?source= filter.
func listFindings(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	mod, src := r.URL.Query().Get("module"), r.URL.Query().Get("source")
	out := []cases.FindingRecord{}
	err := s.cfg.Book.View(r.PathValue("id"), func(cs *cases.Case) error {
		for _, f := range cs.Findings {
			if (mod == "" || f.Module == mod) && (src == "" || f.Source == src) {
				out = append(out, f)
			}
		}
		return nil
	})
	if err != nil {
		return caseError(err)
	}
	return writeJSON(w, http.StatusOK, out)
}
