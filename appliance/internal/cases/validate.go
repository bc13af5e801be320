package cases

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on request fields, in bytes of UTF-8 unless said otherwise.
const (
	MaxID         = 64       // case ID
	MaxTitle      = 200      // case and task titles
	MaxShort      = 256      // names, phones, emails, hostnames, one-line fields
	MaxReason     = 2000     // reasons for transitions and overrides
	MaxText       = 16 << 10 // notes and descriptions
	MaxContacts   = 32       // contacts in the intake
	MaxAffected   = 256      // affected systems in the intake
	MaxAssets     = 4096     // assets in one import
	MaxCSVBytes   = 1 << 20  // an asset-list file
	MaxCSVColumns = 256      // columns in an asset-list file
	MaxNoteCount  = 100000   // notes on one case; a sanity bound, not a quota
	MaxTaskCount  = 10000    // tasks on one case
	MaxSLATarget  = 720 * time.Hour
)

// Times in requests must fall in this range: well inside what the journal's
// nanosecond encoding can hold, and wide enough for any real case.
var (
	minTime = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// badRune reports characters not allowed in any field: C0/C1 controls
// (except in multi-line text, tab and newline), and the invisible
// formatting characters that can make a line display as something it is
// not (bidi overrides and isolates, zero-width marks, BOM).
func badRune(r rune, multiline bool) bool {
	if multiline && (r == '\n' || r == '\t' || r == '\r') {
		return false
	}
	if unicode.IsControl(r) || r == utf8.RuneError {
		return true
	}
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069,
		r >= 0x200B && r <= 0x200F, r == 0xFEFF, r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

func checkString(field, s string, max int, required, multiline bool) error {
	if s == "" || strings.TrimSpace(s) == "" {
		if required {
			return fieldErr(field, "is required")
		}
		if s != "" {
			return fieldErr(field, "is only white space")
		}
		return nil
	}
	if len(s) > max {
		return fieldErr(field, "is %d bytes, at most %d allowed", len(s), max)
	}
	if !utf8.ValidString(s) {
		return fieldErr(field, "is not valid UTF-8")
	}
	for i, r := range s {
		if badRune(r, multiline) {
			return fieldErr(field, "has a control or invisible formatting character (U+%04X) at byte %d", r, i)
		}
	}
	return nil
}

// short checks a one-line field.
func short(field, s string, max int, required bool) error {
	return checkString(field, s, max, required, false)
}

// text checks a multi-line field.
func text(field, s string, max int, required bool) error {
	return checkString(field, s, max, required, true)
}

func checkTime(field string, t time.Time, required bool) error {
	if t.IsZero() {
		if required {
			return fieldErr(field, "is required")
		}
		return nil
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		return fieldErr(field, "%s is outside %d-%d", t.Format(time.RFC3339), minTime.Year(), maxTime.Year())
	}
	return nil
}
