package triage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
)

// Apply applies an approved step to its target and journals what it did
// (triage.step_applied), or what it managed before failing
// (triage.step_failed): every file is either untouched or fully changed,
// and the result says which. The original of every file changed is put in
// the vault first.
func (s *Service) Apply(ctx context.Context, actor, caseID, stepID string) (*cases.TriageStepResult, error) {
	step, root, err := s.stepRoot(caseID, stepID, cases.StepApproved)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	a := &applier{root: root, s: s}
	res := cases.TriageStepResult{Step: stepID}
	aerr := a.apply(step.TriageStep, &res)
	typ := cases.TypeTriageStepApplied
	if aerr != nil {
		typ, res.Error = cases.TypeTriageStepFailed, aerr.Error()
	}
	if res.Changes == nil {
		res.Changes = []cases.TriageChange{}
	}
	if err := s.opts.Book.Do(ctx, actor, caseID, func(c *cases.Case) (cases.Change, error) { return c.TriageStepDone(typ, res) }); err != nil {
		return &res, fmt.Errorf("journal step %s (its changes were made: %v): %w", stepID, changed(res), err)
	}
	if aerr != nil {
		return &res, fmt.Errorf("step %s: %w (fully changed: %v; untouched: %v)", stepID, aerr, changed(res), res.Untouched)
	}
	return &res, nil
}

// Undo restores, byte for byte and with their owner, mode and times,
// the files an applied step changed, from the originals in the vault. It
// changes nothing if any of them changed since the step.
func (s *Service) Undo(ctx context.Context, actor, caseID, stepID string) (*cases.TriageStepResult, error) {
	step, root, err := s.stepRoot(caseID, stepID, cases.StepApplied, cases.StepFailed)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	a := &applier{root: root, s: s}
	res := cases.TriageStepResult{Step: stepID, Changes: []cases.TriageChange{}}
	if err := a.undo(step.Changes, &res); err != nil {
		return nil, fmt.Errorf("undo %s: %w", stepID, err)
	}
	if err := s.opts.Book.Do(ctx, actor, caseID, func(c *cases.Case) (cases.Change, error) {
		return c.TriageStepDone(cases.TypeTriageStepUndone, res)
	}); err != nil {
		return &res, fmt.Errorf("journal undo of %s (the files were restored): %w", stepID, err)
	}
	return &res, nil
}

func changed(r cases.TriageStepResult) []string {
	out := []string{}
	for _, c := range r.Changes {
		out = append(out, c.Path)
	}
	return out
}

// stepRoot finds a step in one of the statuses and opens its target.
func (s *Service) stepRoot(caseID, stepID string, statuses ...string) (*cases.TriageStepRec, *os.Root, error) {
	var step *cases.TriageStepRec
	var target, kind string
	if err := s.opts.Book.View(caseID, func(c *cases.Case) error {
		plan, st := c.TriageStepByID(stepID)
		if st == nil {
			return fmt.Errorf("step %s: %w", stepID, cases.ErrNotFound)
		}
		cp := *st
		step, target = &cp, plan.Target
		if col := c.LatestCollection(target); col != nil {
			kind = col.Kind
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	ok := false
	for _, st := range statuses {
		ok = ok || step.Status == st
	}
	if !ok {
		if step.Status == cases.StepProposed || step.Status == cases.StepUndone || step.Status == cases.StepFailed {
			return nil, nil, fmt.Errorf("%w: step %s is %s, not approved; an engineer approves it first", ErrRefused, stepID, step.Status)
		}
		return nil, nil, fmt.Errorf("%w: step %s is %s", ErrRefused, stepID, step.Status)
	}
	if step.Refused != "" {
		return nil, nil, fmt.Errorf("%w: %s", ErrRefused, step.Refused)
	}
	if why := check(sdkAction(step.TriageStep), kind == "ssh"); why != "" {
		return nil, nil, fmt.Errorf("%w: %s", ErrRefused, why)
	}
	switch kind {
	case "archive":
		return nil, nil, fmt.Errorf("%w: %s is a triage archive, which is evidence; clean the host itself (its disk mounted on the box)", ErrReadOnly, target)
	case "ssh":
		return nil, nil, fmt.Errorf("%w: applying steps over SSH (mount the host's disk on the box to clean it)", ErrNotYet)
	}
	root, err := os.OpenRoot(target)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrTarget, err)
	}
	return step, root, nil
}

type applier struct {
	root *os.Root
	s    *Service
}

func (a *applier) apply(st cases.TriageStep, res *cases.TriageStepResult) error {
	rel, err := CheckTarget(st.Target)
	if err != nil {
		return err
	}
	switch st.Type {
	case ActQuarantine:
		return a.quarantine(rel, res)
	case ActRemoveLine:
		return a.removeLines(rel, func(l string) bool { return l == st.Detail }, "the line is no longer in the file", res)
	case ActRemoveAccount:
		files := []string{"etc/passwd", "etc/shadow"}
		var pending []string
		for _, f := range files {
			if _, err := a.root.Lstat(f); err == nil {
				pending = append(pending, f)
			}
		}
		for i, f := range pending {
			err := a.removeLines(f, func(l string) bool { return strings.HasPrefix(l, st.Detail+":") },
				"account "+st.Detail+" is no longer in the file", res)
			if err != nil && !(f != "etc/passwd" && errors.Is(err, ErrChanged)) { // no shadow line is fine
				for _, rest := range pending[i:] {
					res.Untouched = append(res.Untouched, "/"+rest)
				}
				return err
			}
		}
		return nil
	case ActDisableUnit:
		if err := a.quarantine(rel, res); err != nil {
			res.Untouched = append(res.Untouched, st.Target)
			return err
		}
		links, err := a.enablingLinks(path.Base(rel))
		if err != nil {
			return err
		}
		for i, l := range links {
			if err := a.quarantine(l, res); err != nil {
				for _, rest := range links[i:] {
					res.Untouched = append(res.Untouched, "/"+rest)
				}
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: action %s", ErrNotYet, st.Type)
}

// enablingLinks are the links under etc/systemd/system/*.wants (and
// .requires) named like the unit.
func (a *applier) enablingLinks(unit string) ([]string, error) {
	dirs, err := fs.ReadDir(a.root.FS(), "etc/systemd/system")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range dirs {
		if !d.IsDir() || !(strings.HasSuffix(d.Name(), ".wants") || strings.HasSuffix(d.Name(), ".requires")) {
			continue
		}
		p := path.Join("etc/systemd/system", d.Name(), unit)
		if fi, err := a.root.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

// snapshot keeps a file's original in the vault and returns what an undo
// needs. A symbolic link is kept as its target, never followed.
func (a *applier) snapshot(rel string) (cases.TriageChange, []byte, error) {
	ch := cases.TriageChange{Path: "/" + rel}
	fi, err := a.root.Lstat(rel)
	if err != nil {
		return ch, nil, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ch.Mode, ch.UID, ch.GID = st.Mode, st.Uid, st.Gid
		ch.MTime = time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC()
		ch.ATime = time.Unix(st.Atim.Sec, st.Atim.Nsec).UTC()
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		l, err := a.root.Readlink(rel)
		if err != nil {
			return ch, nil, err
		}
		ch.Link = l
		return ch, nil, nil
	case !fi.Mode().IsRegular():
		return ch, nil, fmt.Errorf("%w: %s is not a regular file", ErrRefused, ch.Path)
	}
	data, err := a.root.ReadFile(rel)
	if err != nil {
		return ch, nil, err
	}
	blob, err := a.s.opts.Vault.Put(bytes.NewReader(data))
	if err != nil {
		return ch, nil, fmt.Errorf("keep the original of %s in the vault: %w", ch.Path, err)
	}
	ch.Before, ch.Original = blob.SHA256, blob.SHA256
	return ch, data, nil
}

func (a *applier) quarantine(rel string, res *cases.TriageStepResult) error {
	ch, _, err := a.snapshot(rel)
	if err != nil {
		return err
	}
	if err := a.root.Remove(rel); err != nil {
		return err
	}
	res.Changes = append(res.Changes, ch)
	return nil
}

func (a *applier) removeLines(rel string, drop func(string) bool, missing string, res *cases.TriageStepResult) error {
	ch, data, err := a.snapshot(rel)
	if err != nil {
		return err
	}
	if ch.Link != "" {
		return fmt.Errorf("%w: %s is a symbolic link; the appliance does not edit through links", ErrRefused, ch.Path)
	}
	var out []byte
	removed := 0
	for rest := data; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		text := strings.TrimRight(string(line), "\r\n")
		if drop(text) {
			removed++
			continue
		}
		out = append(out, line...)
	}
	if removed == 0 {
		return fmt.Errorf("%w: %s: %s", ErrChanged, ch.Path, missing)
	}
	if out == nil {
		out = []byte{}
	}
	if err := a.replace(rel, out, ch, false); err != nil {
		return err
	}
	ch.After = sha256hex(out)
	res.Changes = append(res.Changes, ch)
	return nil
}

// replace writes data to a new file beside rel, with meta's owner and
// mode (and times, when restoring), fsyncs it and renames it over rel:
// the file is either the old one or the new one, never half-written.
func (a *applier) replace(rel string, data []byte, meta cases.TriageChange, times bool) error {
	tmp := path.Join(path.Dir(rel), fmt.Sprintf(".firebreak-%s.tmp", newID()))
	perm := fs.FileMode(meta.Mode & 0o777)
	f, err := a.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	mode := perm
	if meta.Mode&syscall.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if meta.Mode&syscall.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if meta.Mode&syscall.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	if err == nil {
		err = a.root.Lchown(tmp, int(meta.UID), int(meta.GID))
	}
	if err == nil {
		err = a.root.Chmod(tmp, mode) // after chown, which clears set-user-ID
	}
	if err == nil && times && !meta.MTime.IsZero() {
		err = a.root.Chtimes(tmp, meta.ATime, meta.MTime)
	}
	if err == nil {
		err = a.root.Rename(tmp, rel)
	}
	if err != nil {
		a.root.Remove(tmp)
		return fmt.Errorf("write /%s: %w", rel, err)
	}
	return nil
}

func (a *applier) undo(changes []cases.TriageChange, res *cases.TriageStepResult) error {
	// Check everything first: an undo either restores every file or none.
	for _, ch := range changes {
		rel, err := CheckTarget(ch.Path)
		if err != nil {
			return err
		}
		fi, err := a.root.Lstat(rel)
		switch {
		case ch.After == "":
			if err == nil {
				return fmt.Errorf("%w: %s exists again; nothing was restored", ErrChanged, ch.Path)
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		default:
			if err != nil || !fi.Mode().IsRegular() {
				return fmt.Errorf("%w: %s is gone or no longer a file; nothing was restored", ErrChanged, ch.Path)
			}
			data, err := a.root.ReadFile(rel)
			if err != nil {
				return err
			}
			if sha256hex(data) != ch.After {
				return fmt.Errorf("%w: %s was modified after the step; nothing was restored", ErrChanged, ch.Path)
			}
		}
		if ch.Link == "" && ch.Original != "" && !a.s.opts.Vault.Has(ch.Original) {
			return fmt.Errorf("the original of %s (%s) is not in the vault; nothing was restored", ch.Path, ch.Original)
		}
	}
	for i := len(changes) - 1; i >= 0; i-- {
		ch := changes[i]
		rel, _ := CheckTarget(ch.Path)
		done := cases.TriageChange{Path: ch.Path, Before: ch.After, Original: ch.Original, Link: ch.Link, Mode: ch.Mode,
			UID: ch.UID, GID: ch.GID, MTime: ch.MTime, ATime: ch.ATime}
		if ch.Link != "" {
			if ch.After != "" {
				if err := a.root.Remove(rel); err != nil {
					return err
				}
			}
			if err := a.root.Symlink(ch.Link, rel); err != nil {
				return fmt.Errorf("restore link %s: %w", ch.Path, err)
			}
			a.root.Lchown(rel, int(ch.UID), int(ch.GID))
			res.Changes = append(res.Changes, done)
			continue
		}
		data, err := a.s.readBlob(ch.Original, 1<<40)
		if err != nil {
			return fmt.Errorf("read the original of %s: %w", ch.Path, err)
		}
		if err := a.replace(rel, data, ch, true); err != nil {
			return err
		}
		done.After = sha256hex(data)
		res.Changes = append(res.Changes, done)
	}
	return nil
}
