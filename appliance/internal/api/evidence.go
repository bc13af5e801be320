package api

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/export"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
	"github.com/firebreak-ir/firebreak/appliance/internal/report"
	"github.com/firebreak-ir/firebreak/capture"
)

// collectEvidence stores the request body in the vault and records it as
// evidence of the case: POST /cases/{id}/evidence?category=pcap&name=FILE.
// The bytes are hashed while they are written; the item is journaled only
// once they are on disk.
func collectEvidence(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	id := r.PathValue("id")
	q := r.URL.Query()
	// Refuse early, before storing anything, if the case cannot take it.
	if err := s.cfg.Book.View(id, func(cs *cases.Case) error {
		if cs.IsClosed() {
			return cases.ErrClosed
		}
		return nil
	}); err != nil {
		return caseError(err)
	}
	br := bufio.NewReaderSize(r.Body, 64<<10)
	head, _ := br.Peek(4)
	format := q.Get("format")
	if format == "" {
		format = capture.Format(head)
	}
	blob, err := s.cfg.Vault.Put(br)
	if err != nil {
		return err
	}
	req := cases.CollectRequest{
		Category:    q.Get("category"),
		Format:      format,
		SHA256:      blob.SHA256,
		Size:        blob.Size,
		Source:      cases.EvidenceSource{Host: q.Get("host"), Path: filepath.Base(q.Get("name"))},
		Method:      cases.EvidenceMethod{Tool: "firebreak", Version: s.cfg.Version, Args: []string{"evidence upload"}},
		Collectors:  []string{c.Actor},
		Witness:     q.Get("witness"),
		NotSeized:   q.Get("not_seized_reason"),
		Description: q.Get("description"),
	}
	// The 2016 rules on electronic data ask for two collectors: when the
	// caller names them, two distinct ones are required.
	if named := q["collector"]; len(named) > 0 {
		req.Collectors = named
		if err := cases.CheckCollectors(named, req.Witness); err != nil {
			return caseError(err)
		}
	}
	if req.Source.Path == "." {
		req.Source.Path = ""
	}
	// The same bytes handed over again are the same exhibit.
	var item cases.EvidenceItem
	status := http.StatusCreated
	err = s.cfg.Book.Do(r.Context(), c.Actor, id, func(cs *cases.Case) (cases.Change, error) {
		if it := cs.EvidenceByHash(blob.SHA256); it != nil && it.Category == req.Category {
			status = http.StatusOK
			return cases.Change{}, nil
		}
		return cs.Collect(req)
	})
	if err != nil {
		return caseError(err)
	}
	s.cfg.Book.View(id, func(cs *cases.Case) error { item = *cs.EvidenceByHash(blob.SHA256); return nil })
	return writeJSON(w, status, item)
}

func listEvidence(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	return caseError(s.cfg.Book.View(r.PathValue("id"), func(cs *cases.Case) error {
		return writeJSON(w, http.StatusOK, cs.Evidence)
	}))
}

// getEvidence streams one item of the case from the vault.
func getEvidence(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	sum := r.PathValue("sha256")
	var name string
	err := s.cfg.Book.View(r.PathValue("id"), func(cs *cases.Case) error {
		it := cs.EvidenceByHash(sum)
		if it == nil {
			return userErrorf(ErrNotFound, "no evidence %s on this case", sum)
		}
		name = it.Exhibit
		return nil
	})
	if err != nil {
		return caseError(err)
	}
	f, err := s.cfg.Vault.Open(sum)
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+"-"+sum[:12]))
	http.ServeContent(w, r, "", time.Time{}, f)
	return nil
}

// exportCase streams the case's evidence bundle as a tar archive and
// journals the export as a custody event with the signed manifest's hash.
func exportCase(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	id := r.PathValue("id")
	// A copy of the case as of now, so the export does not hold the case.
	var snap cases.Case
	err := s.cfg.Book.View(id, func(cs *cases.Case) error {
		b, err := json.Marshal(cs)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &snap)
	})
	if err != nil {
		return caseError(err)
	}
	entries, err := s.cfg.Book.Entries(id, 0, int(snap.LastSeq))
	if err != nil {
		return caseError(err)
	}
	now := s.cfg.Now()
	// The report goes into the bundle in both languages, and as PDF
	// unless ?pdf=false or the appliance has no Chromium.
	reports := map[string][]byte{}
	for _, lang := range []string{"zh", "en"} {
		in := report.Input{Case: &snap, Entries: entries, Appliance: s.cfg.Appliance, Version: s.cfg.Version, Now: now, Lang: lang}
		var html, md bytes.Buffer
		if err := report.HTML(&html, in); err != nil {
			return err
		}
		reports["report-"+lang+".html"] = html.Bytes()
		if err := report.Markdown(&md, in); err != nil {
			return err
		}
		reports["report-"+lang+".md"] = md.Bytes()
		if r.URL.Query().Get("pdf") != "false" {
			// The evidence matters more than the PDF: a PDF that cannot be
			// rendered is named in the bundle, not a reason to refuse it.
			pdf, err := report.PDFBytes(r.Context(), html.Bytes())
			switch {
			case err == nil:
				reports["report-"+lang+".pdf"] = pdf
			case errors.Is(err, report.ErrNoRenderer):
				reports["report-"+lang+".pdf-not-rendered.txt"] = []byte(err.Error() + "\n")
			default:
				s.log.Warn("report PDF not rendered for the export", "case", id, "lang", lang, "err", err)
				reports["report-"+lang+".pdf-not-rendered.txt"] = []byte("the PDF could not be rendered: " + err.Error() + "\n")
			}
		}
	}
	mods, err := firstparty.Packages()
	if err != nil && !errors.Is(err, firstparty.ErrNotBuilt) {
		return err
	}
	if s.cfg.Modules != nil {
		installed, err := s.cfg.Modules.Packages()
		if err != nil {
			return err
		}
		mods = append(mods, installed...) // the bundle takes those an analysis ran, by hash
	}
	var modKey []byte
	if k, err := firstparty.Key(); err == nil {
		der, _ := x509.MarshalPKIXPublicKey(k)
		modKey = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", id+"-evidence.tar"))
	res, err := export.Write(w, export.Input{Case: &snap, Entries: entries, Key: s.cfg.Key, Appliance: s.cfg.Appliance,
		Version: s.cfg.Version, Now: now, Actor: c.Actor, Open: func(sum string) (io.ReadCloser, error) { return s.cfg.Vault.Open(sum) },
		Digests: s.cfg.Vault.Digests, Reports: reports, Modules: mods, ModuleKey: modKey})
	if err != nil {
		// The archive is cut short, which the reader notices; the log says why.
		s.log.Error("export failed", "case", id, "err", err)
		return nil
	}
	return caseError(s.cfg.Book.Do(r.Context(), c.Actor, id, func(cs *cases.Case) (cases.Change, error) {
		return cases.Change{Type: "custody.exported", Payload: map[string]any{
			"to": c.Actor, "manifest_sha256": res.ManifestSHA256, "files": res.Files, "bytes": res.Bytes, "through_seq": snap.LastSeq,
		}}, nil
	}))
}

// getReport renders the case's report as HTML: GET /cases/{id}/report?lang=zh|en.
func getReport(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = "zh"
	}
	if lang != "zh" && lang != "en" {
		return userErrorf(ErrBadRequest, "lang must be zh or en")
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "html" && format != "md" {
		return userErrorf(ErrBadRequest, "format must be html or md (PDF is rendered from the HTML)")
	}
	id := r.PathValue("id")
	var buf bytes.Buffer
	err := s.cfg.Book.View(id, func(cs *cases.Case) error {
		entries, err := s.cfg.Book.Entries(id, 0, int(cs.LastSeq))
		if err != nil {
			return err
		}
		in := report.Input{Case: cs, Entries: entries, Appliance: s.cfg.Appliance, Version: s.cfg.Version, Now: s.cfg.Now(), Lang: lang}
		if format == "md" {
			return report.Markdown(&buf, in)
		}
		return report.HTML(&buf, in)
	})
	if err != nil {
		return caseError(err)
	}
	if format == "md" {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		_, err = w.Write(buf.Bytes())
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, err = w.Write(buf.Bytes())
	return err
}
