package hqsync

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
)

// childEnv makes the test binary an appliance that syncs the store in the
// named directory and prints its progress, until it is killed.
const childEnv = "HQSYNC_TEST_CHILD_DIR"

func childSync(dir string) int {
	seed, err := os.ReadFile(filepath.Join(dir, "key"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	key := ed25519.NewKeyFromSeed(seed)
	db, err := bolt.Open(filepath.Join(dir, "firebreak.db"), 0o600, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	j, _ := journal.Open(db, journal.Options{Key: key})
	v, _ := vault.Open(filepath.Join(dir, "vault"))
	s, err := New(Options{Endpoint: os.Getenv(childEnv + "_ENDPOINT"), Bucket: testBucket,
		Credentials: &Credentials{AccessKeyID: testAccess, SecretAccessKey: testSecret}, MaxRate: 96 << 20,
		DB: db, Journal: j, Vault: v, Appliance: applianceID(key.Public().(ed25519.PublicKey)), Key: key})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		for {
			if c := s.Status().Current; c != nil {
				fmt.Printf("progress %d\n", c.Done)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	if _, err := s.RunOnce(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("done")
	return 0
}

func TestApplianceKilledMidSyncResumes(t *testing.T) {
	g := startGateway(t)
	dir := t.TempDir()
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key"), key.Seed(), 0o600))
	b := openBox(t, dir, key)
	b.note(t, caseID, 4)
	sum := b.collect(t, caseID, bigBlob, 1)
	b.note(t, caseID, 2)
	b.close()
	chunk := int64(defaultChunk)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, childEnv+"_ENDPOINT="+g.url())
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	var acked int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "progress "); ok {
			acked, _ = strconv.ParseInt(n, 10, 64)
			if acked >= 3*chunk {
				time.Sleep(60 * time.Millisecond) // into the next part
				break
			}
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	go func() {
		for sc.Scan() {
		}
	}()
	err = cmd.Wait()
	require.Error(t, err, "the appliance was killed, not finished")
	t.Logf("appliance SIGKILLed with %d MiB of the blob acknowledged", acked>>20)

	b = openBox(t, dir, key)
	defer b.close()
	b.blobs[sum] = bigBlob
	s := b.syncer(t, b.options(g))
	u, err := s.out.upload(caseID, sum)
	require.NoError(t, err)
	require.NotNil(t, u, "the upload survived in the outbox")
	assert.GreaterOrEqual(t, int64(len(u.Parts))*chunk, acked, "no acknowledged part is forgotten")
	rep, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, bigBlob-int64(len(u.Parts))*chunk, rep.BlobBytes, "only the parts not acknowledged are sent")
	t.Logf("restarted: %d parts were acknowledged, %d MiB sent now; at most the one part in flight at the kill was lost",
		len(u.Parts), rep.BlobBytes>>20)
	requireBucketEqualsBox(t, g, b)
}
