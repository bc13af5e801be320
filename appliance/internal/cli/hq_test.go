package cli

import (
	"bytes"
	"context"
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

	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync/s3test"
)

func TestHQVerify(t *testing.T) {
	dir := t.TempDir()
	d, g := startSyncingDaemon(t, dir)
	id := mustFB(t, dir, "case", "new", "--title", "Webshell on web01", "--symptom", "cpu_hog")
	mustFB(t, dir, "case", "note", id, "found /var/www/upload/x.php")
	waitSynced(t, dir)
	app := d.Dir.Identity.ID()

	out := mustFB(t, dir, "hq", "verify", "--endpoint", g.URL(), "--bucket", s3test.Bucket)
	assert.Contains(t, out, "ok   "+app+" "+id+": 2 entries")
	assert.Contains(t, out, "ok   "+app+" appliance:")
	assert.Contains(t, out, "2 cases verified")
	out = mustFB(t, dir, "hq", "verify", "--endpoint", g.URL(), "--bucket", s3test.Bucket, "--appliance", app, "--json")
	assert.Contains(t, out, `"journal": "`+id+`"`)

	// Someone at HQ rewrites the case's journal segment in the bucket.
	c := g.Client()
	ctx := context.Background()
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s3test.Bucket),
		Prefix: aws.String("appliances/" + app + "/cases/" + id + "/segments/")})
	require.NoError(t, err)
	require.NotEmpty(t, list.Contents)
	// The background sync may have shipped the entries in one segment or
	// in two; forge the one that holds the note.
	var forgedKey string
	for _, o := range list.Contents {
		obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3test.Bucket), Key: o.Key})
		require.NoError(t, err)
		var buf bytes.Buffer
		buf.ReadFrom(obj.Body)
		obj.Body.Close()
		if !bytes.Contains(buf.Bytes(), []byte("x.php")) {
			continue
		}
		forged := bytes.Replace(buf.Bytes(), []byte("x.php"), []byte("y.php"), 1)
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3test.Bucket), Key: o.Key, Body: bytes.NewReader(forged)})
		require.NoError(t, err)
		forgedKey = *o.Key
	}
	require.NotEmpty(t, forgedKey, "a segment holds the note")

	code, out, errs := fb(t, dir, "hq", "verify", "--endpoint", g.URL(), "--bucket", s3test.Bucket)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, out, "FAIL "+app+"/"+id+" entry 2: content does not match its hash")
	assert.Equal(t, "firebreak hq: 1 of 2 cases failed verification", strings.TrimSpace(errs))

	code, _, errs = fb(t, dir, "hq", "verify", "--endpoint", g.URL(), "--bucket", s3test.Bucket, "--appliance", "fb-0000000000000000")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "no appliance fb-0000000000000000")

	code, _, errs = fb(t, dir, "hq", "serve")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errs, "--endpoint and --bucket are required")
	code, _, _ = fb(t, dir, "hq", "verify")
	assert.Equal(t, ExitUsage, code)
}

func TestHQVerifyEncrypted(t *testing.T) {
	hqKey, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "hq.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(hqKey.String()+"\n"), 0o600))
	g := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	dir := t.TempDir()
	d, err := daemon.Start(daemon.Options{DataDir: dir, Version: "test", Logger: discardLogger(),
		Sync: hqsync.Options{Endpoint: g.URL(), Bucket: s3test.Bucket, Interval: time.Hour,
			Recipients: []string{hqKey.Recipient().String()}}})
	require.NoError(t, err)
	defer d.Close()
	id := mustFB(t, dir, "case", "new", "--title", "Encrypted on the way", "--symptom", "cpu_hog")
	waitSynced(t, dir)

	code, out, _ := fb(t, dir, "hq", "verify", "--endpoint", g.URL(), "--bucket", s3test.Bucket)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, out, "encrypted: give HQ's age identity")
	out = mustFB(t, dir, "hq", "verify", "--endpoint", g.URL(), "--bucket", s3test.Bucket, "--identity", keyFile)
	assert.Contains(t, out, "ok   "+d.Dir.Identity.ID()+" "+id+": 1 entries")
}
