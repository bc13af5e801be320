package boot

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGrowGPT lays out the image's table with sfdisk on a disk file that is
// bigger than the image, grows the last partition, and has sfdisk check
// the result.
func TestGrowGPT(t *testing.T) {
	if _, err := exec.LookPath("sfdisk"); err != nil {
		t.Skip("skipping: needs sfdisk (apt-get install fdisk)")
	}
	disk := filepath.Join(t.TempDir(), "disk.img")
	require.NoError(t, os.WriteFile(disk, nil, 0o600))
	require.NoError(t, os.Truncate(disk, 20<<20))
	sf := exec.Command("sfdisk", "-q", "--no-reread", "--no-tell-kernel", disk)
	sf.Stdin = strings.NewReader("label: gpt\nstart=2048, size=4096, name=fb-esp\nstart=6144, size=4096, name=fb-system\nstart=10240, size=8192, name=fb-data\n")
	out, err := sf.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, os.Truncate(disk, 64<<20)) // the box's disk is bigger

	b, err := os.ReadFile(disk)
	require.NoError(t, err)
	sectors := uint64(len(b)) / 512
	_, err = growGPT(b[512:1024], b[1024:1024+128*128], 512, sectors, 2)
	assert.ErrorContains(t, err, "partition 2 is not the last on the disk")
	g, err := growGPT(b[512:1024], b[1024:1024+128*128], 512, sectors, 3)
	require.NoError(t, err)
	require.NotNil(t, g)
	copy(b[g.backupEntriesLBA*512:], g.entries)
	copy(b[g.backupLBA*512:], g.backupHeader)
	copy(b[1024:], g.entries)
	copy(b[512:], pad(g.primaryHeader, 512))
	require.True(t, growPMBR(b[:512], sectors))
	require.NoError(t, os.WriteFile(disk, b, 0o600))

	out, err = exec.Command("sfdisk", "--verify", disk).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "No errors detected")
	assert.NotContains(t, string(out), "mismatch")
	out, err = exec.Command("sfdisk", "-J", disk).Output()
	require.NoError(t, err)
	var pt struct {
		PartitionTable struct {
			LastLBA    uint64 `json:"lastlba"`
			Partitions []struct {
				Start, Size uint64
				Name        string
			}
		}
	}
	require.NoError(t, json.Unmarshal(out, &pt), "%s", out)
	p := pt.PartitionTable.Partitions
	require.Len(t, p, 3)
	assert.Equal(t, "fb-data", p[2].Name)
	assert.Equal(t, uint64(10240), p[2].Start)
	assert.Equal(t, uint64(64<<20)/512/2048*2048-10240-2048, p[2].Size, "up to the last whole MiB before the backup table")
	assert.Equal(t, uint64(4096), p[1].Size, "the other partitions are untouched")

	// Already at the end: nothing to do.
	g, err = growGPT(b[512:1024], b[1024:1024+128*128], 512, sectors, 3)
	require.NoError(t, err)
	assert.Nil(t, g)
	_, err = growGPT(make([]byte, 512), b[1024:], 512, sectors, 3)
	assert.ErrorIs(t, err, errGPT)
}
