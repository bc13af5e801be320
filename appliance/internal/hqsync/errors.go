package hqsync

import (
	"errors"
	"fmt"
)

// Errors of configuration and control.
var (
	// ErrConfig means the options are incomplete or malformed.
	ErrConfig = errors.New("sync is misconfigured")
	// ErrPaused means sync was asked to run while an engineer has paused it.
	ErrPaused = errors.New("sync is paused")
	// ErrClosed means the syncer was closed.
	ErrClosed = errors.New("sync is stopped")
	// ErrNotYet names a part of sync that is not built.
	ErrNotYet = errors.New("not yet built")
)

// Errors of talking to HQ. A run that fails with one of them is retried with
// backoff; nothing acknowledged is lost.
var (
	// ErrUnreachable means the endpoint did not answer.
	ErrUnreachable = errors.New("HQ is unreachable")
	// ErrCredentials means HQ refused the access key or its signature.
	ErrCredentials = errors.New("HQ refused the credentials")
	// ErrNoBucket means the bucket does not exist at the endpoint.
	ErrNoBucket = errors.New("the HQ bucket does not exist")
	// ErrRefused means HQ refused an upload, for example a part whose
	// checksum did not match what was sent.
	ErrRefused = errors.New("HQ refused an upload")
	// ErrFull means HQ is out of storage or over its quota; uploads go on
	// once it has room.
	ErrFull = errors.New("HQ is out of storage or over its quota")
)

// Errors of the local side, which retrying does not cure.
var (
	// ErrBlobMissing means an entry references a blob the vault does not
	// hold; the case stops syncing at that entry so HQ never sees it
	// without its blob.
	ErrBlobMissing = errors.New("a referenced blob is not in the vault")
	// ErrBlobCorrupt means a vault blob no longer hashes to its name.
	ErrBlobCorrupt = errors.New("a vault blob does not match its hash")
	// ErrDiverged means HQ acknowledged a journal head that the local
	// journal does not have.
	ErrDiverged = errors.New("the local journal differs from what HQ acknowledged")
)

// Errors of HQ-side verification.
var (
	// ErrVerify means a case in the bucket failed verification.
	ErrVerify = errors.New("verification failed")
)

// VerifyError names the first problem found with one case in the bucket.
// It matches ErrVerify.
type VerifyError struct {
	Appliance string `json:"appliance"`
	Journal   string `json:"journal"`
	Seq       uint64 `json:"seq,omitempty"`
	Detail    string `json:"detail"`
}

func (e *VerifyError) Error() string {
	if e.Seq > 0 {
		return fmt.Sprintf("%s/%s entry %d: %s", e.Appliance, e.Journal, e.Seq, e.Detail)
	}
	return fmt.Sprintf("%s/%s: %s", e.Appliance, e.Journal, e.Detail)
}

// Is lets errors.Is(err, ErrVerify) match.
func (e *VerifyError) Is(target error) bool { return target == ErrVerify }
