package triage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
)

// Options configure a Service. Book and Vault are required.
type Options struct {
	Book  *casebook.Book
	Vault *vault.Vault
	// Packages are the modules triage runs: the detection modules that
	// take file, auth_log or http events, and the cleanup modules. Nil:
	// the first-party modules embedded in the binary, trusted by the
	// embedded first-party key.
	Packages []*modhost.Package
	Trust    *modhost.TrustStore
	// ModuleJournal records module loads and faults (the appliance
	// journal). Nil records nothing.
	ModuleJournal func(ctx context.Context, typ string, payload any) error
	// CacheDir is the module compilation cache. Empty: in memory.
	CacheDir string
	// MaxFileBytes is the most kept of one file; a longer one is kept cut,
	// and recorded as such. Default 16 MiB.
	MaxFileBytes int64
	// MaxFiles bounds one collection. Default 100000.
	MaxFiles int
	Version  string
	Logger   *slog.Logger
}

// Service does host triage for the cases of a case book.
type Service struct {
	opts Options
	log  *slog.Logger
}

// New returns the service.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = 16 << 20
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = 100000
	}
	return &Service{opts: opts, log: opts.Logger.With("component", "triage")}
}

// batchBytes is each module's buffer in a triage run: a file's record and
// its first 2 MiB.
const batchBytes = 2 << 20

// filesPerEntry bounds the files of one triage.collected entry, and
// maxSkipped the refusals it lists.
const (
	filesPerEntry = 500
	maxSkipped    = 1000
)

// Collection is what Collect did.
type Collection struct {
	*cases.TriageCollection
	Exhibits int `json:"exhibits"` // new evidence items
}

// Collect copies the target's volatile data (most volatile first, RFC
// 3227) and then its triage set into the vault, each file with its
// original path, size, owner, mode, times, inode and SHA-256, and records
// them in the case's journal before anything else reads them.
func (s *Service) Collect(ctx context.Context, actor, caseID string, t Target) (*Collection, error) {
	if err := s.opts.Book.View(caseID, func(c *cases.Case) error {
		if c.IsClosed() {
			return cases.ErrClosed
		}
		return nil
	}); err != nil {
		return nil, err
	}
	colID := newID()
	part := cases.TriageCollected{Collection: colID, Target: t.Name(), Kind: t.Kind(), HostKey: hostKeyOf(t),
		Order: "volatile data first (RFC 3227): processes, network connections, logged-in users, crontabs; then files"}
	exhibits, total := 0, 0
	flush := func(last bool) error {
		part.Last = last
		p := part
		if n := len(p.Skipped); n > maxSkipped {
			// Bounded, so that a target full of unreadable files still fits an entry.
			p.Skipped = append(p.Skipped[:maxSkipped:maxSkipped], cases.TriageSkip{Path: "…", Reason: fmt.Sprintf("%d more skipped", n-maxSkipped)})
		}
		if p.Files == nil {
			p.Files = []cases.TriageFile{}
		}
		if err := s.opts.Book.Do(ctx, actor, caseID, func(c *cases.Case) (cases.Change, error) { return c.CollectTriage(p) }); err != nil {
			return fmt.Errorf("journal collection: %w", err)
		}
		part.Part++
		part.Files, part.Skipped = nil, nil
		return nil
	}
	keep := func(e *Entry) error {
		if total >= s.opts.MaxFiles {
			if total == s.opts.MaxFiles {
				part.Skipped = append(part.Skipped, cases.TriageSkip{Path: e.Path, Reason: fmt.Sprintf("collection stopped at %d files", s.opts.MaxFiles)})
			}
			total++
			return nil
		}
		total++
		f := e.TriageFile
		if e.Open != nil {
			n, err := s.store(ctx, actor, caseID, t, e, &f, s.opts.MaxFileBytes)
			if err != nil {
				return err
			}
			exhibits += n
		}
		part.Files = append(part.Files, f)
		if len(part.Files) >= filesPerEntry {
			return flush(false)
		}
		return nil
	}
	if o, ok := t.(interface{ Original() (*Entry, error) }); ok {
		// An archive is evidence as it was handed over, before its members.
		e, err := o.Original()
		if err != nil {
			return nil, err
		}
		f := e.TriageFile
		n, err := s.store(ctx, actor, caseID, t, e, &f, 1<<62)
		if err != nil {
			return nil, err
		}
		exhibits += n
		part.Files = append(part.Files, f)
	}
	if err := t.Volatile(ctx, keep); err != nil {
		return nil, fmt.Errorf("collect volatile data from %s: %w", t.Name(), err)
	}
	werr := t.Walk(ctx, keep)
	part.Skipped = append(part.Skipped, t.Skipped()...)
	if werr != nil {
		if errors.Is(werr, context.Canceled) {
			return nil, werr
		}
		part.Skipped = append(part.Skipped, cases.TriageSkip{Path: t.Name(), Reason: werr.Error()})
	}
	if err := flush(true); err != nil {
		return nil, err
	}
	var col *cases.TriageCollection
	s.opts.Book.View(caseID, func(c *cases.Case) error {
		for i := range c.Triage.Collections {
			if c.Triage.Collections[i].ID == colID {
				cp := c.Triage.Collections[i]
				col = &cp
			}
		}
		return nil
	})
	if col == nil {
		return nil, fmt.Errorf("collection %s not in the case after journaling it", colID)
	}
	if werr != nil {
		return &Collection{TriageCollection: col, Exhibits: exhibits}, fmt.Errorf("collect from %s: %w (what was read is recorded)", t.Name(), werr)
	}
	return &Collection{TriageCollection: col, Exhibits: exhibits}, nil
}

func hostKeyOf(t Target) string {
	if k, ok := t.(interface{ HostKey() string }); ok {
		return k.HostKey()
	}
	return ""
}

// store puts one file's bytes (at most MaxFileBytes) into the vault and
// records it as evidence of the case. It returns how many new exhibits it
// made (0 when the same bytes are already evidence).
func (s *Service) store(ctx context.Context, actor, caseID string, t Target, e *Entry, f *cases.TriageFile, limit int64) (int, error) {
	rc, err := e.Open()
	if err != nil {
		f.Note = "not read: " + err.Error()
		return 0, nil
	}
	defer rc.Close()
	lr := &io.LimitedReader{R: rc, N: limit}
	blob, err := s.opts.Vault.Put(lr)
	if err != nil {
		return 0, fmt.Errorf("store %q: %w", f.Path, err)
	}
	f.SHA256, f.Kept = blob.SHA256, blob.Size
	if blob.Size >= limit {
		var probe [1]byte
		if n, _ := rc.Read(probe[:]); n > 0 || f.Size > blob.Size {
			f.Truncated = true
			f.Note = fmt.Sprintf("kept the first %d bytes of %d (the SHA-256 is of those)", blob.Size, f.Size)
		}
	}
	if f.Size == 0 && !f.Volatile {
		f.Size = blob.Size
	}
	category := cases.EvidenceFile
	if authLog(f.Path) || wtmpLog(f.Path) != "" || accessLog(f.Path) || f.Volatile {
		category = cases.EvidenceLog
	}
	desc := fmt.Sprintf("collected by host triage: mode %o, owner %d:%d, inode %d, mtime %s, ctime %s, atime %s",
		f.Mode, f.UID, f.GID, f.Inode, stamp(f.MTime), stamp(f.CTime), stamp(f.ATime))
	if f.Command != "" {
		desc = "output of " + f.Command + " on the live host"
	}
	if f.Truncated {
		desc += "; " + f.Note
	}
	req := cases.CollectRequest{Category: category, Format: "raw", SHA256: blob.SHA256, Size: blob.Size,
		Source:     cases.EvidenceSource{Host: t.Name(), Path: f.Path},
		Method:     cases.EvidenceMethod{Tool: "firebreak triage", Version: s.opts.Version, Args: []string{"collect", t.Name()}},
		Collectors: []string{actor}, Description: desc}
	made := 0
	err = s.opts.Book.Do(ctx, actor, caseID, func(c *cases.Case) (cases.Change, error) {
		if it := c.EvidenceByHash(blob.SHA256); it != nil {
			return cases.Change{}, nil
		}
		ch, err := c.Collect(req)
		if err != nil && errors.Is(err, cases.ErrInvalid) {
			// A name the evidence list cannot hold as it is (a newline in it):
			// quoted; the triage entry keeps it exactly.
			req.Source.Path = strconv.Quote(f.Path)
			ch, err = c.Collect(req)
		}
		if err == nil {
			made = 1
		}
		return ch, err
	})
	if err != nil {
		return 0, fmt.Errorf("record %q as evidence: %w", f.Path, err)
	}
	return made, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func newID() string {
	var b [6]byte
	rand.Read(b[:])
	return "C" + hex.EncodeToString(b[:])
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readBlob reads up to max bytes of a vault blob.
func (s *Service) readBlob(sum string, max int64) ([]byte, error) {
	f, err := s.opts.Vault.Open(sum)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// Which modules a host is for.
const (
	forFiles   = "files"   // detection modules taking file or auth_log events
	forWeb     = "web"     // detection modules taking http events (access logs)
	forCleanup = "cleanup" // cleanup modules
)

// host returns a module host with the triage modules for one phase
// loaded, each with the config config returns for it (nil: none).
func (s *Service) host(ctx context.Context, phase string, config func(name string) []byte) (*modhost.Host, []*modhost.Module, error) {
	pkgs, trust := s.opts.Packages, s.opts.Trust
	if pkgs == nil {
		var err error
		if pkgs, err = firstparty.Packages(); err != nil {
			return nil, nil, err
		}
		trust = modhost.NewTrustStore()
		k, err := firstparty.Key()
		if err != nil {
			return nil, nil, err
		}
		if err := trust.Add("first-party", k); err != nil {
			return nil, nil, err
		}
	}
	var chosen []*modhost.Package
	for _, p := range pkgs {
		m, err := modhost.ParseManifest(p.Manifest)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.Source, err)
		}
		use := false
		for _, sub := range m.Subscriptions {
			switch {
			case phase == forCleanup:
				use = use || m.Kind == "cleanup" && sub.Event == "file"
			case m.Kind != "detect":
			case phase == forFiles:
				use = use || sub.Event == "file" || sub.Event == "auth_log"
			case phase == forWeb:
				use = use || sub.Event == "http"
			}
		}
		if use {
			chosen = append(chosen, p)
		}
	}
	h, err := modhost.New(modhost.Options{Trust: trust, CacheDir: s.opts.CacheDir, Journal: s.opts.ModuleJournal,
		Logger: s.opts.Logger, BatchBytes: batchBytes, BatchEvents: 4096})
	if err != nil {
		return nil, nil, err
	}
	var mods []*modhost.Module
	for _, p := range chosen {
		var cfg []byte
		if config != nil {
			if m, err := modhost.ParseManifest(p.Manifest); err == nil {
				cfg = config(m.Name)
			}
		}
		m, err := h.Load(ctx, p, cfg)
		if err != nil {
			h.Close(ctx)
			return nil, nil, err
		}
		mods = append(mods, m)
	}
	if len(mods) == 0 && phase != forWeb {
		h.Close(ctx)
		return nil, nil, fmt.Errorf("no %s modules for host triage are available", phase)
	}
	return h, mods, nil
}

// lines splits a log into lines, without the line ends.
func splitLines(b []byte) []string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	out := strings.Split(s, "\n")
	if n := len(out); n > 0 && out[n-1] == "" {
		out = out[:n-1]
	}
	return out
}
