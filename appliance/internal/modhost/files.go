package modhost

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/sdk"
)

// Host triage: the files, auth-log lines and web-log requests of a target
// (a mounted disk, a triage archive, a live host) are delivered to modules
// outside a packet pipeline. Files go one per fb_file call, the record
// followed by the file's leading bytes in the module's buffer; lines and
// requests go in ordinary batches. What the modules emit is handed to the
// caller with the subject it is about (the file, or the log the batch came
// from); an alert's "path=" metadata overrides the subject.

// File is what the host knows of one file of a target.
type File struct {
	Path   string // inside the target root, starting with "/"
	Size   int64  // the whole file, even when the content is cut
	SHA256 string // of the whole file; "" if it was not read in full
	Mode   uint32 // Unix st_mode
	UID    uint32
	GID    uint32
	MTime  time.Time
	// Findings are those a cleanup module is asked to answer, each
	// encoded as sdk.Findings reads them.
	Findings []string
}

// Emitted is what one module emitted about one subject.
type Emitted struct {
	Module  *Module
	Subject string // the file's path, or the source the batch came from
	Alerts  []sdk.Alert
	Actions []sdk.Action
}

// TriageRun delivers a target's files and records to modules. It is driven
// by one goroutine. A module that faults is restarted on its next delivery
// and disabled after Options.MaxFaults faults; the run goes on.
type TriageRun struct {
	ctx   context.Context
	h     *Host
	mods  []*Module
	out   func(Emitted) error
	b     sdk.Builder
	Stats map[string]*ModuleStats
	done  bool
}

// TriageRun returns a run over mods that passes everything they emit to
// out.
func (h *Host) TriageRun(ctx context.Context, mods []*Module, out func(Emitted) error) *TriageRun {
	r := &TriageRun{ctx: ctx, h: h, mods: mods, out: out, Stats: map[string]*ModuleStats{}}
	for _, m := range mods {
		r.Stats[m.Manifest.Name] = &ModuleStats{}
	}
	return r
}

// MaxContent is the most content bytes File can deliver with a record of
// recSize bytes; longer content is cut to it.
func (r *TriageRun) MaxContent() int { return r.h.opts.BatchBytes - 4096 }

// Wants reports whether any module (not disabled) subscribes to kind k.
func (r *TriageRun) Wants(k sdk.Kind) bool {
	for _, m := range r.mods {
		if !m.disabled && m.wants(k) {
			return true
		}
	}
	return false
}

// File delivers f and its content (the leading bytes; cut to MaxContent)
// to every module subscribed to file events.
func (r *TriageRun) File(f *File, content []byte) error {
	var mtime int64 // 0: unknown
	if !f.MTime.IsZero() {
		mtime = f.MTime.UnixNano()
	}
	r.b.Reset()
	r.b.Begin(sdk.Header{Kind: sdk.KindFile, Time: mtime})
	r.b.Str(sdk.FieldPath, f.Path)
	r.b.Str(sdk.FieldSHA256, f.SHA256)
	r.b.Uint(sdk.FieldSize, uint64(max(f.Size, 0)))
	r.b.Uint(sdk.FieldMode, uint64(f.Mode))
	r.b.Uint(sdk.FieldUID, uint64(f.UID))
	r.b.Uint(sdk.FieldGID, uint64(f.GID))
	r.b.Uint(sdk.FieldMTime, uint64(mtime))
	for _, x := range f.Findings {
		r.b.Str(sdk.FieldFinding, x)
	}
	r.b.End()
	rec := r.b.Bytes()
	if room := r.h.opts.BatchBytes - len(rec); len(content) > room {
		content = content[:max(room, 0)]
	}
	for _, m := range r.mods {
		if m.disabled || !m.wants(sdk.KindFile) {
			continue
		}
		if err := r.ensure(m); err != nil {
			return err
		}
		if m.inst == nil {
			r.Stats[m.Manifest.Name].Dropped++
			continue
		}
		view, ok := m.inst.Memory().Read(m.bufPtr, uint32(r.h.opts.BatchBytes))
		if !ok {
			if err := r.fault(m, m.faultf("fb_file", ErrBadPointer, "the buffer is outside memory")); err != nil {
				return err
			}
			continue
		}
		n := copy(view, rec)
		n += copy(view[n:], content)
		st := r.Stats[m.Manifest.Name]
		st.Events++
		st.Batches++
		rc, err := m.call(r.ctx, "fb_file", m.inst.ExportedFunction("fb_file"), uint64(n))
		if err == nil && uint32(rc) != 0 {
			err = m.faultf("fb_file", ErrFailed, "status %d: %s", int32(rc), m.lastErr)
		}
		if err != nil {
			if err := r.fault(m, err); err != nil {
				return err
			}
			continue
		}
		if err := r.deliver(m, f.Path); err != nil {
			return err
		}
	}
	return nil
}

// Records delivers a batch of records of one kind (auth_log lines, http
// requests read from a web server's access log), built with an
// sdk.Builder, to the modules subscribed to that kind, in as many calls
// as the buffer needs. subject names where they came from.
func (r *TriageRun) Records(subject string, records []byte) error {
	first, _, ok := sdk.Batch(records).Next()
	if !ok {
		return nil
	}
	k := first.Kind()
	for _, m := range r.mods {
		if m.disabled || !m.wants(k) {
			continue
		}
		rest := sdk.Batch(records)
		for len(rest) > 0 && !m.disabled {
			// The records that fit this call.
			size, events := 0, 0
			for b := rest; ; {
				ev, next, ok := b.Next()
				if !ok || size+len(ev) > r.h.opts.BatchBytes || events >= r.h.opts.BatchEvents {
					break
				}
				size += len(ev)
				events++
				b = next
			}
			if events == 0 { // one record larger than the buffer: cannot be delivered
				_, next, ok := rest.Next()
				r.Stats[m.Manifest.Name].Dropped++
				if !ok {
					break
				}
				rest = next
				continue
			}
			chunk := rest[:size]
			rest = rest[size:]
			if err := r.ensure(m); err != nil {
				return err
			}
			if m.inst == nil {
				r.Stats[m.Manifest.Name].Dropped += events
				continue
			}
			view, ok := m.inst.Memory().Read(m.bufPtr, uint32(r.h.opts.BatchBytes))
			if !ok {
				if err := r.fault(m, m.faultf("fb_batch", ErrBadPointer, "the buffer is outside memory")); err != nil {
					return err
				}
				continue
			}
			copy(view, chunk)
			st := r.Stats[m.Manifest.Name]
			st.Events += events
			st.Batches++
			rc, err := m.call(r.ctx, "fb_batch", m.fnBatch, uint64(size))
			if err == nil && uint32(rc) != 0 {
				err = m.faultf("fb_batch", ErrFailed, "status %d: %s", int32(rc), m.lastErr)
			}
			if err != nil {
				if err := r.fault(m, err); err != nil {
					return err
				}
				continue
			}
			if err := r.deliver(m, subject); err != nil {
				return err
			}
		}
	}
	return nil
}

// Finish calls every module's fb_flush, hands on what they still held,
// and discards the instances. It runs once.
func (r *TriageRun) Finish() error {
	if r.done {
		return nil
	}
	r.done = true
	for _, m := range r.mods {
		if m.disabled {
			continue
		}
		if m.inst != nil {
			rc, err := m.call(r.ctx, "fb_flush", m.fnFlush)
			if err == nil && uint32(rc) != 0 {
				err = m.faultf("fb_flush", ErrFailed, "status %d: %s", int32(rc), m.lastErr)
			}
			if err != nil {
				if err := r.fault(m, err); err != nil {
					return err
				}
				continue
			}
			if err := r.deliver(m, ""); err != nil {
				return err
			}
		}
		m.discard(r.ctx)
	}
	return nil
}

func (r *TriageRun) ensure(m *Module) error {
	if m.inst != nil {
		return nil
	}
	restart := m.faults > 0
	if err := m.start(r.ctx); err != nil {
		return r.fault(m, err)
	}
	if restart {
		r.h.journal(r.ctx, "module.restarted", map[string]any{"module": m.Manifest.Name, "version": m.Manifest.Version, "faults": m.faults})
	}
	return nil
}

// fault discards the instance, journals the fault and disables the module
// after repeated faults. Only a cancelled run is an error of the run.
func (r *TriageRun) fault(m *Module, err error) error {
	var fe *FaultError
	if !errors.As(err, &fe) {
		return err
	}
	m.discard(r.ctx)
	m.faults++
	st := r.Stats[m.Manifest.Name]
	st.Faults++
	st.LastFault = fe.Error()
	r.h.journal(r.ctx, "module.fault", map[string]any{"module": m.Manifest.Name, "version": m.Manifest.Version,
		"call": fe.Call, "fault": fe.Err.Error(), "detail": fe.Detail, "faults": m.faults})
	m.log.Warn("module fault; instance discarded", "call", fe.Call, "err", fe)
	if m.faults >= r.h.opts.MaxFaults {
		m.disabled, st.Disabled = true, true
		r.h.journal(r.ctx, "module.disabled", map[string]any{"module": m.Manifest.Name, "version": m.Manifest.Version,
			"faults": m.faults, "last_fault": fe.Error()})
		m.log.Error("module disabled after repeated faults", "faults", m.faults)
	}
	return nil
}

func (r *TriageRun) deliver(m *Module, subject string) error {
	if len(m.alerts) == 0 && len(m.actions) == 0 {
		return nil
	}
	st := r.Stats[m.Manifest.Name]
	st.Alerts += len(m.alerts)
	// Alerts name their file in "path=" metadata when it is not the subject
	// (a log line about another file, a finding reported at flush).
	e := Emitted{Module: m, Subject: subject, Alerts: append([]sdk.Alert(nil), m.alerts...),
		Actions: append([]sdk.Action(nil), m.actions...)}
	m.alerts, m.actions = m.alerts[:0], m.actions[:0]
	return r.out(e)
}

// AlertPath is the file an alert is about: its "path=" metadata, else the
// subject it was emitted about.
func AlertPath(a sdk.Alert, subject string) string {
	for _, kv := range a.Metadata {
		if p, ok := strings.CutPrefix(kv, "path="); ok {
			return p
		}
	}
	return subject
}
