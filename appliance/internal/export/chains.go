package export

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// Files of the bundle's line chains and item list.
const (
	Custody  = "custody.jsonl" // collection, sealing, export of evidence
	Actions  = "actions.jsonl" // changes the responders made to the scene (containment, clean-up)
	Manifest = "manifest.json" // every exhibit with its metadata and three digests
)

// chainLine is one line of custody.jsonl or actions.jsonl. prev is the
// SHA-256 of the previous line's bytes (without its newline), so
//
//	prev=000…0; while read -r l; do [ "$(jq -r .prev <<<"$l")" = "$prev" ] || echo broken;
//	prev=$(printf %s "$l" | sha256sum | cut -c1-64); done < custody.jsonl
//
// re-walks it with jq and sha256sum alone. journal_hash ties the line to
// the case journal entry it was taken from.
type chainLine struct {
	Prev          string          `json:"prev"`
	Seq           uint64          `json:"seq"`
	Time          time.Time       `json:"time"`
	Actor         string          `json:"actor"`
	Type          string          `json:"type"`
	ChangeToScene bool            `json:"change_to_scene,omitempty"`
	Payload       json.RawMessage `json:"payload"`
	JournalHash   journal.Hash    `json:"journal_hash"`
}

var zeroHash = strings.Repeat("0", 64)

// chains splits the journal into the custody and the actions chains.
func chains(entries []journal.Entry) (custody, actions []byte) {
	var cb, ab bytes.Buffer
	cprev, aprev := zeroHash, zeroHash
	add := func(buf *bytes.Buffer, prev *string, e journal.Entry, scene bool) {
		b, _ := marshalLine(chainLine{Prev: *prev, Seq: e.Seq, Time: e.Time, Actor: e.Actor, Type: e.Type,
			ChangeToScene: scene, Payload: e.Payload, JournalHash: e.Hash})
		buf.Write(b)
		buf.WriteByte('\n')
		sum := sha256.Sum256(b)
		*prev = hex.EncodeToString(sum[:])
	}
	for _, e := range entries {
		switch {
		case e.Type == cases.TypeEvidenceCollected || strings.HasPrefix(e.Type, "custody."):
			add(&cb, &cprev, e, false)
		case strings.HasPrefix(e.Type, "isolation.") || strings.HasPrefix(e.Type, "cleanup."):
			add(&ab, &aprev, e, changesScene(e.Type))
		}
	}
	return cb.Bytes(), ab.Bytes()
}

// changesScene reports whether an action changed the customer's systems or
// network (rather than recording a refusal or a check).
func changesScene(typ string) bool {
	switch typ {
	case "isolation.refused", "isolation.failed", "isolation.verified", "isolation.adopted":
		return false
	}
	return true
}

func marshalLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// manifestItem is one exhibit in manifest.json.
type manifestItem struct {
	cases.EvidenceItem
	File string `json:"file"`
	SM3  string `json:"sm3"`
	MD5  string `json:"md5"`
}

func manifestJSON(c *cases.Case, names map[string]string, s map[string]sums) []byte {
	items := []manifestItem{}
	for _, it := range c.Evidence {
		f := names[it.SHA256]
		items = append(items, manifestItem{EvidenceItem: it, File: f, SM3: s[f].sm3, MD5: s[f].md5})
	}
	b, _ := json.MarshalIndent(struct {
		Case  string         `json:"case"`
		Title string         `json:"title"`
		Items []manifestItem `json:"items"`
	}{c.ID, c.Title, items}, "", "  ")
	return b
}
