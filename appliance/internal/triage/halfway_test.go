package triage_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/triage"
)

// TestTriageFailureHalfway: removing an account changes passwd, then
// meets a shadow file that is a symbolic link, which the appliance does
// not edit through. The step fails saying which file was fully changed
// and which was left untouched; the journal records it; undo restores the
// changed one byte for byte.
func TestTriageFailureHalfway(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "host")
	write(t, root, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/bash\n", 0o644)
	write(t, root, "etc/shadow.real", "root:$6$a$b:19700::::::\ntoor:$6$c$d:20400::::::\n", 0o640)
	require.NoError(t, os.Symlink("shadow.real", filepath.Join(root, "etc/shadow")))
	before := snapshot(t, root)

	e := newEnv(t)
	res := collectScan(t, e, root)
	require.NotEmpty(t, res.Findings)
	plan, err := e.svc.Plan(ctx, "alice", e.caseID, root)
	require.NoError(t, err)
	var step string
	for _, s := range plan.Steps {
		if s.Type == "remove_account" {
			step = s.ID
		}
	}
	require.NotEmpty(t, step)
	require.NoError(t, e.svc.Approve(ctx, "bob", e.caseID, step))
	r, err := e.svc.Apply(ctx, "bob", e.caseID, step)
	require.Error(t, err)
	t.Logf("apply: %v", err)
	assert.Contains(t, err.Error(), "fully changed: [/etc/passwd]; untouched: [/etc/shadow]")
	require.Len(t, r.Changes, 1)
	assert.Equal(t, "/etc/passwd", r.Changes[0].Path)
	assert.NotEqual(t, r.Changes[0].Before, r.Changes[0].After)
	b, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	require.NoError(t, err)
	assert.Equal(t, "root:x:0:0:root:/root:/bin/bash\n", string(b), "passwd fully changed")
	assert.Equal(t, before["etc/shadow.real"], snapshot(t, root)["etc/shadow.real"], "shadow untouched")

	var failed *cases.TriageStepResult
	require.NoError(t, e.store.Entries(e.caseID, 0, func(en journal.Entry) error {
		if en.Type == cases.TypeTriageStepFailed {
			failed = &cases.TriageStepResult{}
			return json.Unmarshal(en.Payload, failed)
		}
		return nil
	}))
	require.NotNil(t, failed, "the failure is journaled")
	assert.Equal(t, []string{"/etc/shadow"}, failed.Untouched)

	_, err = e.svc.Undo(ctx, "bob", e.caseID, step)
	require.NoError(t, err)
	assert.Equal(t, before, snapshot(t, root))

	// An undo refuses to overwrite a file changed since: nothing is done.
	require.NoError(t, e.svc.Approve(ctx, "bob", e.caseID, step))
	_, err = e.svc.Apply(ctx, "bob", e.caseID, step)
	require.Error(t, err)
	write(t, root, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\nnew:x:1001:1001::/home/new:/bin/bash\n", 0o644)
	_, err = e.svc.Undo(ctx, "bob", e.caseID, step)
	require.ErrorIs(t, err, triage.ErrChanged)
	b, err = os.ReadFile(filepath.Join(root, "etc/passwd"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "new:x:1001", "the later change is kept")
}
