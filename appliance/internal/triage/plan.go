package triage

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/sdk"
)

// Action types the appliance applies.
const (
	ActQuarantine    = "quarantine_file" // move the file into the vault
	ActRemoveLine    = "remove_line"     // remove the lines equal to Detail
	ActRemoveAccount = "remove_account"  // remove account Detail from passwd, shadow, group, gshadow
	ActDisableUnit   = "disable_unit"    // quarantine the unit and the links that enable it
	ActKillProcess   = "kill_process"    // live targets
)

// essential files are never quarantined: removing one locks everyone out
// of the host. Their offending lines are removed instead.
var essential = map[string]bool{"/etc/passwd": true, "/etc/shadow": true, "/etc/group": true, "/etc/gshadow": true,
	"/etc/sudoers": true, "/etc/fstab": true, "/etc/ld.so.cache": true, "/etc/hosts": true}

// CheckTarget checks a path a module named: inside the target, absolute,
// clean, without ".." or NUL. It returns the path relative to the root.
func CheckTarget(p string) (string, error) {
	if p == "" || !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w: %q is not a path inside the target (want /PATH)", ErrEscape, p)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%w: %q holds a NUL byte", ErrEscape, p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", fmt.Errorf("%w: %q climbs out of the target with ..", ErrEscape, p)
		}
	}
	if c := path.Clean(p); c != p || c == "/" {
		return "", fmt.Errorf("%w: %q is not a clean path of a file", ErrEscape, p)
	}
	return strings.TrimPrefix(p, "/"), nil
}

// check is the host's verdict on a proposed action: "" if it may be
// approved, else why not.
func check(a sdk.Action, live bool) string {
	switch a.Type {
	case ActQuarantine, ActRemoveLine, ActRemoveAccount, ActDisableUnit, ActKillProcess:
	default:
		return fmt.Sprintf("unknown action type %q", a.Type)
	}
	if _, err := CheckTarget(a.Target); err != nil {
		return err.Error()
	}
	if len(a.Answers) == 0 {
		return "the proposal answers no finding"
	}
	switch a.Type {
	case ActQuarantine, ActDisableUnit:
		if essential[a.Target] || strings.HasPrefix(a.Target, "/bin/") || strings.HasPrefix(a.Target, "/sbin/") ||
			strings.HasPrefix(a.Target, "/usr/bin/") || strings.HasPrefix(a.Target, "/usr/sbin/") || strings.HasPrefix(a.Target, "/lib") {
			return fmt.Sprintf("%s of %s refused: the host cannot work without it; remove the offending line or account instead", a.Type, a.Target)
		}
	case ActRemoveLine:
		if a.Detail == "" || strings.ContainsAny(a.Detail, "\n") {
			return "remove_line needs exactly one line to remove"
		}
	case ActRemoveAccount:
		if a.Target != "/etc/passwd" {
			return "remove_account applies to /etc/passwd"
		}
		if a.Detail == "" || a.Detail == "root" || strings.ContainsAny(a.Detail, ":\n/ ") {
			return fmt.Sprintf("remove_account of %q refused: not an account the appliance removes", a.Detail)
		}
	case ActKillProcess:
		if !live {
			return "kill_process needs a live target"
		}
		return "kill_process: " + ErrNotYet.Error() + " (the appliance does not act on live hosts yet; stop it by hand and record it)"
	}
	return ""
}

// Plan asks the cleanup modules how to answer the target's findings: each
// file with findings, as collected, goes to them with the findings about
// it. Every proposal is checked against the target root; refused ones stay
// in the plan with the reason. The plan is journaled (triage.planned).
func (s *Service) Plan(ctx context.Context, actor, caseID, target string) (*cases.TriagePlan, error) {
	var col *cases.TriageCollection
	byPath := map[string][]cases.FindingRecord{}
	if err := s.opts.Book.View(caseID, func(c *cases.Case) error {
		if x := c.LatestCollection(target); x != nil {
			cp := *x
			col = &cp
		}
		for _, f := range c.Findings {
			if f.Source == cases.FindingsTriage && f.Host == target && f.Path != "" {
				byPath[f.Path] = append(byPath[f.Path], f)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if col == nil {
		return nil, fmt.Errorf("%s: %w", target, ErrNoCollection)
	}
	if len(byPath) == 0 {
		return nil, fmt.Errorf("%s: %w", target, ErrNoFindings)
	}
	files := map[string]cases.TriageFile{}
	for _, f := range col.Files {
		files[f.Path] = f
	}
	h, mods, err := s.host(ctx, forCleanup, nil)
	if err != nil {
		return nil, err
	}
	defer h.Close(ctx)
	var steps []cases.TriageStep
	seen := map[string]bool{}
	live := col.Kind == "ssh"
	run := h.TriageRun(ctx, mods, func(e modhost.Emitted) error {
		for _, a := range e.Actions {
			key := e.Module.Manifest.Name + "\x00" + a.Type + "\x00" + a.Target + "\x00" + a.Detail
			if seen[key] {
				continue
			}
			seen[key] = true
			steps = append(steps, cases.TriageStep{Module: e.Module.Manifest.Name, Type: a.Type, Target: a.Target,
				Detail: a.Detail, Reason: a.Reason, Answers: a.Answers, Refused: check(a, live)})
		}
		return nil
	})
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		f := files[p]
		var content []byte
		if f.SHA256 != "" {
			if content, err = s.readBlob(f.SHA256, int64(run.MaxContent())); err != nil {
				return nil, err
			}
		}
		mf := &modhost.File{Path: p, Size: f.Size, SHA256: f.SHA256, Mode: f.Mode, UID: f.UID, GID: f.GID, MTime: f.MTime}
		for _, fd := range byPath[p] {
			line := ""
			if l := fd.Metadata["line"]; len(l) > 0 {
				line = l[0]
			}
			mf.Findings = append(mf.Findings, strings.Join([]string{fd.ID, fd.Module, fmt.Sprint(fd.SignatureID),
				oneLine(fd.Signature), oneLine(line)}, string(rune(sdk.FindingSep))))
		}
		if err := run.File(mf, content); err != nil {
			return nil, err
		}
	}
	if err := run.Finish(); err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("the cleanup modules proposed nothing for the %d files with findings on %s", len(paths), target)
	}
	var planSeq uint64
	if err := s.opts.Book.Do(ctx, actor, caseID, func(c *cases.Case) (cases.Change, error) {
		planSeq = c.LastSeq + 1
		for i := range steps {
			steps[i].ID = fmt.Sprintf("S%d.%d", planSeq, i+1)
		}
		return c.PlanTriage(cases.TriagePlanned{Target: target, Steps: steps})
	}); err != nil {
		return nil, fmt.Errorf("journal plan: %w", err)
	}
	var plan *cases.TriagePlan
	s.opts.Book.View(caseID, func(c *cases.Case) error {
		for i := range c.Triage.Plans {
			if c.Triage.Plans[i].Seq == planSeq {
				cp := c.Triage.Plans[i]
				plan = &cp
			}
		}
		return nil
	})
	return plan, nil
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == sdk.FindingSep || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// Approve records an engineer's approval of a step.
func (s *Service) Approve(ctx context.Context, actor, caseID, step string) error {
	return s.opts.Book.Do(ctx, actor, caseID, func(c *cases.Case) (cases.Change, error) { return c.ApproveTriageStep(step) })
}

func sdkAction(s cases.TriageStep) sdk.Action {
	return sdk.Action{Type: s.Type, Target: s.Target, Detail: s.Detail, Reason: s.Reason, Answers: s.Answers}
}
