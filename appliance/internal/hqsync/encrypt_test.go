package hqsync

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncryptedSyncStoresNothingReadable(t *testing.T) {
	g := startGateway(t)
	hqKey, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	b := newBox(t)
	b.note(t, caseID, 5)
	sum := b.collect(t, caseID, 40<<20, 9)
	b.note(t, caseID, 1)
	o := b.options(g)
	o.Recipients = []string{hqKey.Recipient().String()}
	o.ChunkSize = 8 << 20
	o.MaxRate = 64 << 20
	s := b.syncer(t, o)

	// Stopped mid-blob and run again: the encrypted parts resume too.
	ctx, cancel := context.WithCancel(context.Background())
	stop := progressAt(s, 2*o.ChunkSize, func() { time.Sleep(30 * time.Millisecond); cancel() })
	rep1, err := s.RunOnce(ctx)
	stop()
	require.ErrorIs(t, err, context.Canceled)
	rep2, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	resent := rep1.BlobBytes + rep2.BlobBytes - 40<<20
	t.Logf("encrypted, stopped and resumed: %d bytes of plaintext re-sent (chunk %d)", resent, o.ChunkSize)
	assert.LessOrEqual(t, resent, o.ChunkSize)

	// Every object but the cursor and identity.json is an age file, and no
	// object holds the journal's words or the blob's bytes.
	vp, err := b.v.Path(sum)
	require.NoError(t, err)
	blob, err := os.ReadFile(vp)
	require.NoError(t, err)
	c := g.Client()
	list, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	require.NoError(t, err)
	require.NotEmpty(t, list.Contents)
	for _, obj := range list.Contents {
		key := aws.ToString(obj.Key)
		out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: obj.Key})
		require.NoError(t, err)
		data, err := io.ReadAll(out.Body)
		out.Body.Close()
		require.NoError(t, err)
		assert.NotContains(t, string(data), "note 1", key)
		assert.NotContains(t, string(data), "firebreak/segment", key)
		assert.False(t, bytes.Contains(data, blob[1<<20:1<<20+64]), key)
		if !strings.HasSuffix(key, "cursor.json") && !strings.HasSuffix(key, "identity.json") && !strings.HasSuffix(key, "manifest.json") {
			assert.True(t, bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")), key)
		}
	}

	// HQ without its key cannot verify; with it, the case checks out.
	_, err = Verify(context.Background(), Options{Endpoint: g.url(), Bucket: testBucket, Credentials: o.Credentials}, b.id, nil)
	require.ErrorIs(t, err, ErrVerify)
	assert.Contains(t, err.Error(), "encrypted")
	idFile := filepath.Join(t.TempDir(), "hq.key")
	require.NoError(t, os.WriteFile(idFile, []byte(hqKey.String()+"\n"), 0o600))
	ids, err := ReadIdentities(idFile)
	require.NoError(t, err)
	reports, err := Verify(context.Background(), Options{Endpoint: g.url(), Bucket: testBucket, Credentials: o.Credentials, Identities: ids}, b.id, nil)
	require.NoError(t, err)
	require.Len(t, reports, 1)
	seq, head, _ := b.j.Head(caseID)
	assert.Equal(t, seq, reports[0].Entries)
	assert.Equal(t, head, reports[0].Head)
	assert.True(t, reports[0].Encrypted)
	assert.Equal(t, 1, reports[0].Blobs)
	assert.EqualValues(t, 40<<20, reports[0].BlobBytes)
	opts := Options{Identities: ids}
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", opts.Identities, opts, opts), "AGE-SECRET", "HQ's key never prints")

	rep, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Zero(t, rep.Puts, "a second encrypted sync uploads nothing")
}

func TestRecipientChecked(t *testing.T) {
	b := newBox(t)
	o := Options{Endpoint: "http://127.0.0.1:1", Bucket: "x", Recipients: []string{"age1notakey"},
		DB: b.db, Journal: b.j, Vault: b.v, Appliance: b.id, Key: b.key}
	_, err := New(o)
	assert.ErrorIs(t, err, ErrConfig)
}
