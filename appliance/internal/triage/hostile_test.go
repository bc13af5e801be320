package triage_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/modbuild"
	"github.com/firebreak-ir/firebreak/appliance/internal/triage"
)

func fileHash(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestTriageHostileTarget: symbolic links to the box's own /etc, a 10 GB
// sparse file, a file name with a newline, and a cleanup module proposing
// to delete /etc/passwd, through ".." and inside the target. Each is
// refused or handled, with a clear message, and nothing outside the target
// is touched.
func TestTriageHostileTarget(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test checks that the box's /etc/shadow is untouched and never collected")
	}
	ctx := context.Background()
	boxPasswd, boxShadow := fileHash(t, "/etc/passwd"), fileHash(t, "/etc/shadow")
	outer := t.TempDir()
	root := filepath.Join(outer, "evil")
	write(t, root, "etc/hostname", "evil\n", 0o644)
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(root, "etc/passwd")))
	require.NoError(t, os.Symlink("../../../../../../etc/shadow", filepath.Join(root, "etc/shadow")))
	write(t, root, "var/www/html/shell.php", "<?php @eval($_POST['cmd']); ?>\n", 0o644)
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(root, "var/www/html/passwd.php")))
	newline := "var/www/html/up\nload.php"
	write(t, root, newline, "<?php system($_GET['c']); ?>\n", 0o644)
	big, err := os.Create(filepath.Join(root, "var/www/html/big.php"))
	require.NoError(t, err)
	require.NoError(t, big.Truncate(10<<30)) // 10 GB, sparse
	require.NoError(t, big.Close())
	write(t, outer, "neighbour.txt", "not part of the target\n", 0o644)
	outerBefore := snapshot(t, outer)
	delete(outerBefore, ".")

	e := newEnv(t)
	pkgs, trust := modules(t)
	hostile, err := modbuild.Package(ctx, "testdata/hostile", t.TempDir(), testKey)
	require.NoError(t, err)
	svc := triage.New(triage.Options{Book: e.book, Vault: e.vault, Packages: append([]*modhost.Package{hostile}, pkgs...),
		Trust: trust, CacheDir: cacheDir, MaxFileBytes: 1 << 20})

	tg, err := triage.Open(ctx, triage.Spec{Target: root})
	require.NoError(t, err)
	col, err := svc.Collect(ctx, "alice", e.caseID, tg)
	require.NoError(t, tg.Close())
	require.NoError(t, err)
	files := map[string]cases.TriageFile{}
	for _, f := range col.Files {
		files[f.Path] = f
	}
	// Links are recorded, never followed: the box's passwd is not collected.
	assert.Equal(t, "/etc/passwd", files["/etc/passwd"].Link)
	assert.Empty(t, files["/etc/passwd"].SHA256)
	assert.Equal(t, "../../../../../../etc/shadow", files["/etc/shadow"].Link)
	assert.Equal(t, "/etc/passwd", files["/var/www/html/passwd.php"].Link)
	assert.False(t, e.vault.Has(boxPasswd), "the box's /etc/passwd reached the vault")
	assert.False(t, e.vault.Has(boxShadow), "the box's /etc/shadow reached the vault")
	// The sparse file is kept cut, and says so.
	bf := files["/var/www/html/big.php"]
	assert.Equal(t, int64(10<<30), bf.Size)
	assert.Equal(t, int64(1<<20), bf.Kept)
	assert.True(t, bf.Truncated)
	t.Logf("big.php: %s", bf.Note)
	// The name with a newline is kept exactly.
	nl := files["/"+newline]
	require.NotEmpty(t, nl.SHA256, "the file with a newline in its name was collected")

	res, err := svc.Scan(ctx, "alice", e.caseID, root)
	require.NoError(t, err)
	found := map[string]bool{}
	for _, f := range res.Findings {
		found[f.Path] = true
		t.Logf("finding %q: %s", f.Path, f.Signature)
	}
	assert.True(t, found["/var/www/html/shell.php"])
	assert.True(t, found["/"+newline], "the webshell whose name holds a newline")
	assert.False(t, found["/etc/passwd"], "a finding on the box's own passwd")

	plan, err := svc.Plan(ctx, "alice", e.caseID, root)
	require.NoError(t, err)
	refused := map[string]string{}
	var good []cases.TriageStepRec
	for _, s := range plan.Steps {
		t.Logf("%s %s %q %q refused=%q", s.ID, s.Type, s.Target, s.Reason, s.Refused)
		if s.Refused != "" {
			refused[s.Reason] = s.Refused
		} else {
			good = append(good, s)
		}
	}
	assert.Contains(t, refused["delete the box's passwd"], "climbs out of the target")
	assert.Contains(t, refused["edit through .."], "climbs out of the target")
	assert.Contains(t, refused["delete the target's passwd"], "the host cannot work without it")
	assert.Contains(t, refused["unknown action"], `unknown action type "format_disk"`)
	assert.Contains(t, refused["answers nothing"], "answers no finding")
	for _, s := range plan.Steps {
		if s.Refused == "" {
			continue
		}
		err := svc.Approve(ctx, "bob", e.caseID, s.ID)
		require.Error(t, err, "a refused step was approved")
		assert.Contains(t, err.Error(), "refused by the appliance")
		_, err = svc.Apply(ctx, "bob", e.caseID, s.ID)
		require.ErrorIs(t, err, triage.ErrRefused)
	}
	// The file with a newline in its name is quarantined and restored.
	var nlStep string
	for _, s := range good {
		if s.Target == "/"+newline && s.Type == "quarantine_file" {
			nlStep = s.ID
		}
	}
	require.NotEmpty(t, nlStep)
	require.NoError(t, svc.Approve(ctx, "bob", e.caseID, nlStep))
	_, err = svc.Apply(ctx, "bob", e.caseID, nlStep)
	require.NoError(t, err)
	_, err = os.Lstat(filepath.Join(root, newline))
	assert.True(t, os.IsNotExist(err))
	_, err = svc.Undo(ctx, "bob", e.caseID, nlStep)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, newline))
	require.NoError(t, err)
	assert.Equal(t, "<?php system($_GET['c']); ?>\n", string(b))

	// Nothing outside the target changed: the box's files, the neighbours.
	assert.Equal(t, boxPasswd, fileHash(t, "/etc/passwd"))
	assert.Equal(t, boxShadow, fileHash(t, "/etc/shadow"))
	outerAfter := snapshot(t, outer)
	for k := range outerAfter {
		if k == "." || k == "evil" || strings.HasPrefix(k, "evil/") {
			delete(outerAfter, k)
		}
	}
	for k := range outerBefore {
		if k == "evil" || strings.HasPrefix(k, "evil/") {
			delete(outerBefore, k)
		}
	}
	assert.Equal(t, outerBefore, outerAfter)
}

// hostileArchive is a tar.gz whose members climb out of it, name the
// box's files through links, and hold one webshell.
func hostileArchive(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	add(&tar.Header{Name: "etc/hostname"}, "web02\n")
	add(&tar.Header{Name: "../../../../tmp/firebreak-escape"}, "escaped\n")
	add(&tar.Header{Name: "var/www/../../../../etc/cron.d/escape"}, "* * * * * root id\n")
	add(&tar.Header{Name: "var/www/html/s.php", Uid: 33, Gid: 33}, "<?php eval($_REQUEST['x']); ?>\n")
	h := &tar.Header{Name: "var/www/html/l.php", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"}
	require.NoError(t, tw.WriteHeader(h))
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestTriageHostileArchive(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "web02-triage.tar.gz")
	require.NoError(t, os.WriteFile(p, hostileArchive(t), 0o644))
	e := newEnv(t)
	tg, err := triage.Open(ctx, triage.Spec{Target: p})
	require.NoError(t, err)
	col, err := e.svc.Collect(ctx, "alice", e.caseID, tg)
	require.NoError(t, tg.Close())
	require.NoError(t, err)
	var reasons []string
	for _, s := range col.Skipped {
		reasons = append(reasons, s.Path+": "+s.Reason)
	}
	t.Logf("skipped: %q", reasons)
	require.Len(t, col.Skipped, 2)
	for _, r := range reasons {
		assert.Contains(t, r, "climbs out of the archive with ..")
	}
	_, err = os.Stat("/tmp/firebreak-escape")
	assert.True(t, os.IsNotExist(err))
	paths := map[string]cases.TriageFile{}
	for _, f := range col.Files {
		paths[f.Path] = f
	}
	assert.Equal(t, "/etc/shadow", paths["/var/www/html/l.php"].Link)
	assert.Equal(t, uint32(33), paths["/var/www/html/s.php"].UID)
	assert.Contains(t, paths["/"].Note, "the triage archive itself")

	res, err := e.svc.Scan(ctx, "alice", e.caseID, p)
	require.NoError(t, err)
	require.NotEmpty(t, res.Findings)
	plan, err := e.svc.Plan(ctx, "alice", e.caseID, p)
	require.NoError(t, err)
	require.NoError(t, e.svc.Approve(ctx, "bob", e.caseID, plan.Steps[0].ID))
	_, err = e.svc.Apply(ctx, "bob", e.caseID, plan.Steps[0].ID)
	require.ErrorIs(t, err, triage.ErrReadOnly)
	t.Logf("apply on an archive: %v", err)
}

func FuzzWalkArchive(f *testing.F) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "../x", Size: 1, Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write([]byte("a"))
	tw.WriteHeader(&tar.Header{Name: "etc/passwd", Size: 5, Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write([]byte("root:"))
	tw.Close()
	f.Add(tb.Bytes())
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("..\\..\\evil.txt")
	w.Write([]byte("x"))
	w, _ = zw.Create("var/www/a.php")
	w.Write([]byte("<?php"))
	zw.Close()
	f.Add(zb.Bytes())
	var gb bytes.Buffer
	gz := gzip.NewWriter(&gb)
	gz.Write(tb.Bytes())
	gz.Close()
	f.Add(gb.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = triage.WalkArchive(context.Background(), bytes.NewReader(data), int64(len(data)), func(e *triage.Entry) error {
			if _, err := triage.CheckTarget(e.Path); err != nil {
				t.Fatalf("member path %q escapes: %v", e.Path, err)
			}
			if e.Open != nil {
				rc, err := e.Open()
				if err == nil {
					buf := make([]byte, 4096)
					for i := 0; i < 256; i++ { // bounded: a member may claim any size
						if _, err := rc.Read(buf); err != nil {
							break
						}
					}
					rc.Close()
				}
			}
			return nil
		})
	})
}

func FuzzParseAccessLine(f *testing.F) {
	for _, s := range []string{
		`170.238.36.21 - - [29/Dec/2019:00:09:47 +1000] "GET / HTTP/1.0" 401 691 "-" "masscan/1.0 (https://github.com/robertdavidgraham/masscan)"`,
		`"192.168.4.25 - - [22/Dec/2016:16:30:52 +0300] "POST /administrator/index.php HTTP/1.1" 303 382 "http://192.168.4.161/DVWA" "Mozilla/5.0""`,
		`::1 - - [01/Jan/2026:00:00:00 +0000] "GET /a\"b HTTP/1.1" 200 - "-" "-"`,
		`1.2.3.4 - - [x] "`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, ok := triage.ParseAccessLine(line)
		if !ok {
			return
		}
		if !r.Client.IsValid() {
			t.Fatalf("%q: parsed without a client address", line)
		}
		if r.Status != 0 && (r.Status < 100 || r.Status > 999) || r.Bytes < 0 {
			t.Fatalf("%q: status %d, %d bytes", line, r.Status, r.Bytes)
		}
	})
}

func FuzzParseWtmp(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(testdata, "logs/velociraptor/wtmp.1")); err == nil {
		f.Add(b)
	}
	f.Add(make([]byte, 384))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, l := range triage.ParseWtmp(data) {
			if l.User == "" {
				t.Fatalf("a login without a user: %+v", l)
			}
		}
	})
}

// The real wtmp of the shared data: mic from 192.168.1.2 on pts/9.
func TestParseWtmp(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(needTestdata(t, "logs/velociraptor"), "wtmp.1"))
	require.NoError(t, err)
	logins := triage.ParseWtmp(b)
	require.NotEmpty(t, logins)
	found := false
	for _, l := range logins {
		found = found || l.User == "mic" && l.Addr.String() == "192.168.1.2" && strings.HasPrefix(l.Line, "pts/9") &&
			l.Time.Format("2006-01-02T15:04:05") == "2023-12-21T15:54:24"
	}
	assert.True(t, found, "%+v", logins)
}
