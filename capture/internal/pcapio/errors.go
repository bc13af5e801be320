package pcapio

import (
	"errors"
	"fmt"
)

// Errors returned while opening a capture.
var (
	// ErrUnknownFormat means the first bytes are neither pcap, pcapng nor gzip.
	ErrUnknownFormat = errors.New("unknown capture format")
	// ErrEmpty means the input ended before a file header.
	ErrEmpty = errors.New("empty capture")
)

// Errors carried by a *PacketError while reading records.
var (
	// ErrTruncated means the input ended in the middle of a record.
	ErrTruncated = errors.New("record truncated")
	// ErrCorrupt means a record header is implausible (length above the
	// snap length or MaxPacket, captured length above the wire length).
	ErrCorrupt = errors.New("record header corrupt")
)

// PacketError is a problem with one record. Packet is the 1-based number of
// the record the reader was at. Fatal reports whether reading stopped.
type PacketError struct {
	Packet uint64
	Fatal  bool
	Err    error
}

func (e *PacketError) Error() string {
	return fmt.Sprintf("packet %d: %v", e.Packet, e.Err)
}

func (e *PacketError) Unwrap() error { return e.Err }
