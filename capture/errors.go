package capture

import "errors"

// Errors returned by Analyze.
var (
	// ErrNotSupported is returned for options this version does not
	// implement yet (BPF filters).
	ErrNotSupported = errors.New("capture: not yet supported")
	// ErrNoInput is returned when no path was given.
	ErrNoInput = errors.New("capture: no input")
)

// Errors carried by Warning.Err (match with errors.Is).
var (
	// ErrTruncated marks a record cut short by the end of the file.
	ErrTruncated = errors.New("truncated record")
	// ErrCorrupt marks a record whose header is implausible.
	ErrCorrupt = errors.New("corrupt record")
	// ErrFormat marks an input that is not a capture.
	ErrFormat = errors.New("not a pcap or pcapng capture")
	// ErrInternal marks a bug caught while analysing one packet: the
	// packet's flow gets no more metadata, the analysis goes on.
	ErrInternal = errors.New("internal error")
)
