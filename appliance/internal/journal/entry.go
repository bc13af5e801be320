// Package journal is the case journal: per-case, append-only, hash-chained
// entries kept in bbolt. Every change to a case is an entry; case state,
// the timeline, the custody log and what sync ships are all read from here.
//
// The journal never rewrites or deletes an entry. Appends are durable when
// Append returns, and Verify re-walks a chain and names the first entry that
// does not fit.
package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Hash is the SHA-256 of an entry's canonical encoding.
type Hash [32]byte

// String returns the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the all-zero hash, the "previous hash" of a
// journal's first entry.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes the hash as hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes a hex hash.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("hash: want 64 hex digits, got %d", len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Entry is one journal record.
type Entry struct {
	Journal string          `json:"journal"` // the case ID (or "appliance" for the box's own journal)
	Seq     uint64          `json:"seq"`     // 1-based, no gaps
	Time    time.Time       `json:"time"`    // UTC, nanoseconds, set by the writer
	Actor   string          `json:"actor"`   // the authenticated caller
	Type    string          `json:"type"`    // e.g. "case.opened", "note.added"
	Payload json.RawMessage `json:"payload"` // compact JSON object
	Prev    Hash            `json:"prev"`    // Hash of entry Seq-1; zero for Seq 1
	Hash    Hash            `json:"hash"`    // SHA-256 of Canonical()
}

// Limits on entry fields. They bound what a decoder will accept from disk or
// from the network.
const (
	MaxJournalID = 64
	MaxActor     = 256
	MaxType      = 64
	MaxPayload   = 1 << 20
)

const canonicalTag = "firebreak/journal/v1\n"

// Canonical returns the bytes the entry's hash is computed over: a fixed tag,
// then journal ID, seq, time in nanoseconds since the Unix epoch, actor,
// type, payload and the previous hash. Strings are length-prefixed so no two
// different entries share an encoding.
func (e *Entry) Canonical() []byte {
	var b bytes.Buffer
	b.Grow(len(canonicalTag) + len(e.Journal) + len(e.Actor) + len(e.Type) + len(e.Payload) + 80)
	b.WriteString(canonicalTag)
	writeString(&b, e.Journal)
	binary.Write(&b, binary.BigEndian, e.Seq)
	binary.Write(&b, binary.BigEndian, e.Time.UnixNano())
	writeString(&b, e.Actor)
	writeString(&b, e.Type)
	writeString(&b, string(e.Payload))
	b.Write(e.Prev[:])
	return b.Bytes()
}

func writeString(b *bytes.Buffer, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	b.Write(n[:])
	b.WriteString(s)
}

// ComputeHash returns the SHA-256 of the entry's canonical encoding.
func (e *Entry) ComputeHash() Hash { return sha256.Sum256(e.Canonical()) }

// Decode reads the payload into v.
func (e *Entry) Decode(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("decode %s payload of %s#%d: %w", e.Type, e.Journal, e.Seq, err)
	}
	return nil
}

// The stored form of an entry (the value under its seq key in bbolt):
//
//	byte    format version (1)
//	uvarint seq
//	varint  time, ns since the Unix epoch
//	uvarint len, actor
//	uvarint len, type
//	uvarint len, payload
//	[32]    prev
//	[32]    hash
//
// The journal ID is not stored in the record; it is the bucket's name.
const recordVersion = 1

// MarshalBinary encodes the entry in its stored form.
func (e *Entry) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(e.Actor)+len(e.Type)+len(e.Payload)+64+2*binary.MaxVarintLen64)
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.AppendVarint(b, e.Time.UnixNano())
	for _, s := range []string{e.Actor, e.Type, string(e.Payload)} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, e.Prev[:]...)
	b = append(b, e.Hash[:]...)
	return b, nil
}

// UnmarshalBinary decodes a stored entry. It checks the form of every field
// (lengths, UTF-8, JSON payload) but not the hash: Verify does that, so that
// it can say which entry was changed rather than fail to read it.
func (e *Entry) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != recordVersion {
		return ErrBadRecord
	}
	r := b[1:]
	seq, n := binary.Uvarint(r)
	if n <= 0 || seq == 0 {
		return fmt.Errorf("%w: seq", ErrBadRecord)
	}
	r = r[n:]
	ns, n := binary.Varint(r)
	if n <= 0 {
		return fmt.Errorf("%w: time", ErrBadRecord)
	}
	r = r[n:]
	var fields [3]string
	for i, max := range []int{MaxActor, MaxType, MaxPayload} {
		l, n := binary.Uvarint(r)
		if n <= 0 || l > uint64(max) || l > uint64(len(r)-n) {
			return fmt.Errorf("%w: field %d length", ErrBadRecord, i)
		}
		fields[i] = string(r[n : n+int(l)])
		r = r[n+int(l):]
	}
	if len(r) != 64 {
		return fmt.Errorf("%w: %d trailing bytes, want 64", ErrBadRecord, len(r))
	}
	if !utf8.ValidString(fields[0]) || !utf8.ValidString(fields[1]) {
		return fmt.Errorf("%w: actor or type is not UTF-8", ErrBadRecord)
	}
	if !json.Valid([]byte(fields[2])) {
		return fmt.Errorf("%w: payload is not JSON", ErrBadRecord)
	}
	*e = Entry{
		Journal: e.Journal,
		Seq:     seq,
		Time:    time.Unix(0, ns).UTC(),
		Actor:   fields[0],
		Type:    fields[1],
		Payload: json.RawMessage(fields[2]),
	}
	copy(e.Prev[:], r[:32])
	copy(e.Hash[:], r[32:])
	return nil
}
