package vault

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/appliance/internal/sm3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPutOpenVerify(t *testing.T) {
	dir := t.TempDir()
	v, err := Open(dir)
	require.NoError(t, err)
	defer v.Close()

	data := []byte("GET /shell.php?cmd=id HTTP/1.1\r\n")
	sum := sha256.Sum256(data)
	b, err := v.Put(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, Blob{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}, b)
	assert.True(t, v.Has(b.SHA256))

	again, err := v.Put(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, b, again, "the same bytes are one blob")

	p, err := v.Path(b.SHA256)
	require.NoError(t, err)
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o400), fi.Mode().Perm(), "blobs are read-only")

	got, err := v.Verify(b.SHA256)
	require.NoError(t, err)
	assert.Equal(t, b, got)
	list, err := v.List()
	require.NoError(t, err)
	assert.Equal(t, []string{b.SHA256}, list)
	tmp, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	assert.Empty(t, tmp, "no temporary files left")

	// A blob changed behind the vault's back is caught.
	require.NoError(t, os.Chmod(p, 0o600))
	require.NoError(t, os.WriteFile(p, []byte("tampered"), 0o600))
	_, err = v.Verify(b.SHA256)
	assert.ErrorIs(t, err, ErrCorrupt)
}

func TestHostileNames(t *testing.T) {
	v, err := Open(t.TempDir())
	require.NoError(t, err)
	defer v.Close()
	for _, name := range []string{"", "../../etc/passwd", strings.Repeat("A", 64), strings.Repeat("0", 63), "/" + strings.Repeat("0", 63)} {
		_, err := v.Open(name)
		assert.ErrorIs(t, err, ErrBadHash, "%q", name)
		assert.False(t, v.Has(name))
	}
	_, err = v.Open(strings.Repeat("0", 64))
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestLeftoversAreRemoved(t *testing.T) {
	dir := t.TempDir()
	v, err := Open(dir)
	require.NoError(t, err)
	v.Close()
	partial := filepath.Join(dir, "tmp", "put-123")
	require.NoError(t, os.WriteFile(partial, []byte("half a pcap"), 0o600))
	v, err = Open(dir)
	require.NoError(t, err)
	defer v.Close()
	assert.NoFileExists(t, partial)
}

func TestAdopt(t *testing.T) {
	dir := t.TempDir()
	v, err := Open(dir)
	require.NoError(t, err)
	defer v.Close()
	seg := filepath.Join(dir, "tmp", "segment.pcapng")
	data := []byte("pcapng bytes")
	require.NoError(t, os.WriteFile(seg, data, 0o600))
	sum := sha256.Sum256(data)
	b := Blob{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	require.Error(t, v.Adopt(seg, Blob{SHA256: b.SHA256, Size: 1}), "size must match")
	require.NoError(t, v.Adopt(seg, b))
	assert.NoFileExists(t, seg)
	_, err = v.Verify(b.SHA256)
	require.NoError(t, err)
}

func TestDigestsAreRecordedWhenStored(t *testing.T) {
	dir := t.TempDir()
	v, err := Open(dir)
	require.NoError(t, err)
	defer v.Close()
	data := bytes.Repeat([]byte("pcapng segment "), 100000)
	b, err := v.Put(bytes.NewReader(data))
	require.NoError(t, err)
	s256, s3, m5 := sha256.Sum256(data), sm3.Sum(data), md5.Sum(data)
	want := Digests{SHA256: hex.EncodeToString(s256[:]), SM3: hex.EncodeToString(s3[:]), MD5: hex.EncodeToString(m5[:]), Size: int64(len(data))}
	got, err := v.Digests(b.SHA256)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	rec := filepath.Join(dir, sumsPath(b.SHA256))
	fi, err := os.Stat(rec)
	require.NoError(t, err, "the digests are recorded beside the blob")
	assert.Equal(t, os.FileMode(0o400), fi.Mode().Perm())

	// A blob stored before digests were recorded gets them on first use.
	require.NoError(t, os.Remove(rec))
	got, err = v.Digests(b.SHA256)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.FileExists(t, rec)

	// A damaged record is refused, not trusted.
	require.NoError(t, os.Chmod(rec, 0o600))
	require.NoError(t, os.WriteFile(rec, []byte(`{"sha256":"`+b.SHA256+`","sm3":"00","md5":"00"}`), 0o600))
	_, err = v.Digests(b.SHA256)
	assert.ErrorIs(t, err, ErrCorrupt)

	// A segment written and hashed elsewhere is adopted with its digests.
	seg := filepath.Join(t.TempDir(), "seg.pcapng")
	other := []byte("another segment")
	require.NoError(t, os.WriteFile(seg, other, 0o600))
	o256, o3 := sha256.Sum256(other), sm3.Sum(other)
	require.NoError(t, v.Adopt(seg, Blob{SHA256: hex.EncodeToString(o256[:]), Size: int64(len(other))}))
	got, err = v.Digests(hex.EncodeToString(o256[:]))
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(o3[:]), got.SM3)

	_, err = v.Digests("../../etc/passwd")
	assert.ErrorIs(t, err, ErrBadHash)
}
