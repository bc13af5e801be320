package hqsync

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync/s3test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// HQ's storage fills up mid-upload: the sync fails with an error, nothing
// is acknowledged, and once HQ has room again the upload goes on and the
// bucket equals the box.
func TestFullBucketResumes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to put HQ's storage on a small tmpfs")
	}
	g := startGateway(t)
	// The bucket's folder becomes a 48 MiB disk.
	bucketDir := filepath.Join(g.Dir, s3test.Bucket)
	g.kill()
	if err := syscall.Mount("tmpfs", bucketDir, "tmpfs", 0, "size=48m"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(bucketDir, syscall.MNT_DETACH) })
	g.start()

	b := newBox(t)
	b.note(t, caseID, 3)
	b.collect(t, caseID, 96<<20, 7)
	b.note(t, caseID, 2)
	s := b.syncer(t, b.options(g))

	rep1, err := s.RunOnce(context.Background())
	require.ErrorIs(t, err, ErrFull, "96 MiB cannot fit in 48 MiB")
	t.Logf("HQ full: %v (%d MiB of blob sent)", err, rep1.BlobBytes>>20)
	acked, _ := s.out.acked(caseID)
	assert.Zero(t, acked, "no entry is acknowledged while its blob is not at HQ")

	require.NoError(t, syscall.Mount("tmpfs", bucketDir, "tmpfs", syscall.MS_REMOUNT, "size=512m"), "HQ makes room")
	rep2, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	t.Logf("after HQ made room: %d MiB of blob sent", rep2.BlobBytes>>20)
	assert.LessOrEqual(t, rep1.BlobBytes+rep2.BlobBytes-96<<20, s.opts.ChunkSize, "at most one chunk is sent again")
	requireBucketEqualsBox(t, g, b)
}
