package hqsync

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

func removeReadOnly(p string) error {
	os.Chmod(filepath.Dir(p), 0o700)
	return os.Remove(p)
}

func TestSegmentRoundTrip(t *testing.T) {
	b := newBox(t)
	b.note(t, caseID, 5)
	var entries []journal.Entry
	require.NoError(t, b.j.Entries(caseID, 0, func(e journal.Entry) error { entries = append(entries, e); return nil }))
	data, err := encodeSegment(caseID, entries)
	require.NoError(t, err)
	id, got, err := decodeSegment(data)
	require.NoError(t, err)
	assert.Equal(t, caseID, id)
	require.Len(t, got, 5)
	for i := range got {
		assert.Equal(t, entries[i].Hash, got[i].ComputeHash(), "the hash is recomputed from the segment's bytes")
	}
	_, _, err = decodeSegment(data[:len(data)-3])
	assert.Error(t, err)
	f, l, ok := parseSegmentName(fmt.Sprintf("%020d-%020d", 3, 9))
	assert.True(t, ok)
	assert.EqualValues(t, 3, f)
	assert.EqualValues(t, 9, l)
	_, _, ok = parseSegmentName("3-9")
	assert.False(t, ok)
}

func TestSecretNeverPrinted(t *testing.T) {
	c := &Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("creds", "c", c, "secret", c.SecretAccessKey)
	for _, s := range []string{buf.String(), fmt.Sprintf("%v %+v %#v %s", c, *c, c, c.SecretAccessKey)} {
		assert.NotContains(t, s, "wJalrXUtnFEMI")
	}
	assert.Contains(t, buf.String(), "REDACTED")
}

func TestBackoff(t *testing.T) {
	lo, hi := time.Second, 8*time.Second
	for n := 1; n < 10; n++ {
		for range 50 {
			d := backoff(lo, hi, n)
			assert.GreaterOrEqual(t, d, lo/2)
			assert.LessOrEqual(t, d, min(hi, lo<<(n-1)))
		}
	}
}

func TestOptionsChecked(t *testing.T) {
	b := newBox(t)
	for _, o := range []Options{
		{Bucket: "x"},
		{Endpoint: "ftp://x", Bucket: "x"},
		{Endpoint: "http://127.0.0.1:1", Bucket: ""},
	} {
		o.DB, o.Journal, o.Vault, o.Appliance, o.Key = b.db, b.j, b.v, b.id, b.key
		_, err := New(o)
		assert.ErrorIs(t, err, ErrConfig)
	}
	_, err := New(Options{Endpoint: "http://127.0.0.1:1", Bucket: "x"})
	assert.ErrorIs(t, err, ErrConfig)
}

func TestUnreachable(t *testing.T) {
	b := newBox(t)
	o := Options{Endpoint: "http://127.0.0.1:1", Bucket: "x", Credentials: &Credentials{AccessKeyID: "a", SecretAccessKey: "b"},
		DB: b.db, Journal: b.j, Vault: b.v, Appliance: b.id, Key: b.key}
	s := b.syncer(t, o)
	_, err := s.RunOnce(context.Background())
	assert.ErrorIs(t, err, ErrUnreachable)
}
