package hqsync

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
)

// The layout in the bucket (the README's "Sync to headquarters" has the
// same table):
//
//	appliances/<appliance>/identity.json                     the appliance's ed25519 public key
//	appliances/<appliance>/cases/<journal>/blobs/<sha256>    a vault blob, byte for byte
//	appliances/<appliance>/cases/<journal>/segments/<first>-<last>
//	                                                         entries first..last, 20-digit seqs
//	appliances/<appliance>/cases/<journal>/cursor.json       the last acknowledged entry, signed
//
// For one case the order of writes is: the blobs the next segment's
// entries reference, then the segment, then the cursor. HQ trusts only what
// the cursor covers, so it never sees an entry whose blob is missing.

const appliancesPrefix = "appliances/"

func applianceKey(app string) string    { return appliancesPrefix + app + "/" }
func identityKey(app string) string     { return applianceKey(app) + "identity.json" }
func caseKey(app, j string) string      { return applianceKey(app) + "cases/" + j + "/" }
func blobKey(app, j, sum string) string { return caseKey(app, j) + "blobs/" + sum }
func segmentsKey(app, j string) string  { return caseKey(app, j) + "segments/" }
func cursorKey(app, j string) string    { return caseKey(app, j) + "cursor.json" }
func segmentKey(app, j string, first, last uint64) string {
	return fmt.Sprintf("%s%020d-%020d", segmentsKey(app, j), first, last)
}

// parseSegmentName reads "<first>-<last>" back.
func parseSegmentName(name string) (first, last uint64, ok bool) {
	a, b, found := strings.Cut(name, "-")
	if !found || len(a) != 20 || len(b) != 20 {
		return 0, 0, false
	}
	first, err1 := strconv.ParseUint(a, 10, 64)
	last, err2 := strconv.ParseUint(b, 10, 64)
	return first, last, err1 == nil && err2 == nil && first >= 1 && first <= last
}

// A segment is a run of consecutive entries of one journal in their stored
// form (journal.Entry.MarshalBinary), so HQ recomputes each hash from exactly
// the bytes the appliance hashed:
//
//	"firebreak/segment/v1\n"
//	uvarint len, journal ID
//	then for each entry: uvarint len, stored entry
const segmentTag = "firebreak/segment/v1\n"

// Bounds on what a segment holds and what a decoder accepts.
const (
	maxSegmentEntries = 4096
	maxSegmentBytes   = 64 << 20
	maxRecord         = journal.MaxPayload + 4096
)

func encodeSegment(id string, entries []journal.Entry) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(segmentTag)
	b.Write(binary.AppendUvarint(nil, uint64(len(id))))
	b.WriteString(id)
	for i := range entries {
		rec, err := entries[i].MarshalBinary()
		if err != nil {
			return nil, err
		}
		b.Write(binary.AppendUvarint(nil, uint64(len(rec))))
		b.Write(rec)
	}
	return b.Bytes(), nil
}

var errBadSegment = errors.New("malformed segment")

func decodeSegment(data []byte) (id string, entries []journal.Entry, err error) {
	r, ok := bytes.CutPrefix(data, []byte(segmentTag))
	if !ok {
		return "", nil, fmt.Errorf("%w: bad tag", errBadSegment)
	}
	// readField checks a length against what is left before using it, so a
	// forged length costs nothing.
	readField := func(max uint64) ([]byte, error) {
		n, k := binary.Uvarint(r)
		if k <= 0 || n > max || n > uint64(len(r)-k) {
			return nil, fmt.Errorf("%w: bad length", errBadSegment)
		}
		f := r[k : k+int(n)]
		r = r[k+int(n):]
		return f, nil
	}
	idb, err := readField(journal.MaxJournalID)
	if err != nil {
		return "", nil, err
	}
	id = string(idb)
	for len(r) > 0 {
		rec, err := readField(maxRecord)
		if err != nil {
			return "", nil, err
		}
		e := journal.Entry{Journal: id}
		if err := e.UnmarshalBinary(rec); err != nil {
			return "", nil, err
		}
		entries = append(entries, e)
	}
	return id, entries, nil
}

// Cursor is the last entry of a journal HQ has, signed with the appliance
// key. It is written after the segment that ends with that entry.
type Cursor struct {
	Appliance string       `json:"appliance"`
	Journal   string       `json:"journal"`
	Seq       uint64       `json:"seq"`
	Hash      journal.Hash `json:"hash"`
	Segment   string       `json:"segment"` // the object that ends with Seq
	Time      time.Time    `json:"time"`    // when the appliance wrote it
	Signature string       `json:"signature"`
}

const cursorTag = "firebreak/hq-cursor/v1\n"

func (c *Cursor) message() []byte {
	m := []byte(cursorTag + c.Appliance + "\n" + c.Journal + "\n")
	m = binary.BigEndian.AppendUint64(m, c.Seq)
	return append(m, c.Hash[:]...)
}

func (c *Cursor) sign(key ed25519.PrivateKey) {
	c.Signature = hex.EncodeToString(ed25519.Sign(key, c.message()))
}

func (c *Cursor) verify(pub ed25519.PublicKey) bool {
	sig, err := hex.DecodeString(c.Signature)
	return err == nil && ed25519.Verify(pub, c.message(), sig)
}

// Identity is identity.json: the public key whose fingerprint is the
// appliance ID.
type Identity struct {
	Appliance string `json:"appliance"`
	PublicKey string `json:"public_key"` // ed25519, hex
}

// applianceID is the ID datadir derives from a public key.
func applianceID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "fb-" + hex.EncodeToString(sum[:])[:16]
}

// blobRefs returns the vault blobs an entry references: the item of an
// evidence.collected entry. Analyses reference items already collected.
func blobRefs(e *journal.Entry) []string {
	if e.Type != cases.TypeEvidenceCollected {
		return nil
	}
	var p struct {
		SHA256 string `json:"sha256"`
	}
	if json.Unmarshal(e.Payload, &p) != nil || !vault.ValidHash(p.SHA256) {
		return nil
	}
	return []string{p.SHA256}
}
