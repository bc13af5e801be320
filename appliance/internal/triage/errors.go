package triage

import "errors"

// Errors of opening and reading targets.
var (
	// ErrTarget is a target that cannot be used: not a directory, archive
	// or ssh:// address, or unreadable.
	ErrTarget = errors.New("unusable triage target")
	// ErrEscape is a path that leads out of the target: "..", an absolute
	// symbolic link, a member name of an archive climbing out of it.
	ErrEscape = errors.New("path leads out of the target")
	// ErrNotYet is something this appliance does not do yet.
	ErrNotYet = errors.New("not yet supported")
)

// Errors of plans and steps.
var (
	// ErrNoCollection means nothing was collected from the target yet.
	ErrNoCollection = errors.New("nothing collected from this target yet (run triage collect first)")
	// ErrNoFindings means the scan found nothing a plan could answer.
	ErrNoFindings = errors.New("no findings on this target to plan against (run triage scan first)")
	// ErrRefused is a step the appliance refuses to apply.
	ErrRefused = errors.New("step refused")
	// ErrChanged means a file changed since the step saw it; nothing was done.
	ErrChanged = errors.New("file changed since it was examined")
	// ErrReadOnly is a target that cannot be changed (an archive is evidence).
	ErrReadOnly = errors.New("target cannot be changed")
)
