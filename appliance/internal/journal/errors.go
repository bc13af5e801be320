package journal

import (
	"errors"
	"fmt"
)

// Errors of Append.
var (
	// ErrClosed means the store was closed before or while the entry was written.
	ErrClosed = errors.New("journal is closed")
	// ErrInvalid means a record was refused before anything was written.
	ErrInvalid = errors.New("invalid journal record")
	// ErrExists means a record asked for a new journal and the journal exists.
	ErrExists = errors.New("journal already exists")
)

// Errors of reading and verifying.
var (
	// ErrNotFound means no journal has that ID.
	ErrNotFound = errors.New("journal not found")
	// ErrBadRecord means a stored record could not be decoded.
	ErrBadRecord = errors.New("malformed journal record")
	// ErrChainBroken means verification found an entry that does not fit the chain.
	ErrChainBroken = errors.New("journal chain broken")
)

// Problem kinds reported by Verify.
const (
	Modified  = "modified"  // the entry's bytes no longer hash to its recorded hash, or it cannot be decoded
	Deleted   = "deleted"   // an entry in the middle of the chain is missing
	Reordered = "reordered" // an entry sits at another entry's place
	Truncated = "truncated" // entries at the end are missing compared with the recorded head
	HeadBad   = "head"      // the recorded head is missing, malformed or not signed by this appliance
)

// ChainError names the first entry of a journal that does not fit the chain.
// It matches ErrChainBroken.
type ChainError struct {
	Journal string `json:"journal"`
	Seq     uint64 `json:"seq"`  // the sequence number of the first bad entry
	Kind    string `json:"kind"` // Modified, Deleted, Reordered, Truncated or HeadBad
	Detail  string `json:"detail"`
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("journal %s: entry %d %s: %s", e.Journal, e.Seq, e.Kind, e.Detail)
}

// Is lets errors.Is(err, ErrChainBroken) match.
func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }
