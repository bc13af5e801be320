package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// fb runs the firebreak CLI against the data directory dir and returns the
// exit code, stdout and stderr.
func fb(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "FIREBREAK_DATA" {
			return dir
		}
		return ""
	}}
	code := e.run(args)
	return code, out.String(), errb.String()
}

// mustFB runs the CLI and fails the test unless it exits 0.
func mustFB(t *testing.T, dir string, args ...string) string {
	t.Helper()
	code, out, errs := fb(t, dir, args...)
	require.Equal(t, ExitOK, code, "firebreak %s: %s", strings.Join(args, " "), errs)
	return strings.TrimSpace(out)
}

func startDaemon(t *testing.T, dir string) *daemon.Daemon {
	t.Helper()
	d, err := daemon.Start(daemon.Options{DataDir: dir, Version: "test", Logger: discardLogger()})
	require.NoError(t, err)
	return d
}

// buildCase works a case through the CLI from intake to containment and
// returns its ID and how many entries its journal has.
func buildCase(t *testing.T, dir string) (string, uint64) {
	id := mustFB(t, dir, "case", "new", "--title", "Web server defaced, webshell suspected",
		"--reporter", "王芳", "--reporter-org", "Example Co.", "--reporter-phone", "+86 10 5555 0100",
		"--contact", "Li Lei,13800000000,li@example.com",
		"--discovered", "2026-11-23T21:10:00+08:00", "--reported", "2026-11-23T22:00:00+08:00",
		"--symptom", "cpu_hog", "--symptom", "unknown_logins", "--affected", "web01 (10.0.0.5)",
		"--description", "homepage shows a gambling link", "--as", "alice")
	require.Regexp(t, `^FB-\d{4}-\d{4}$`, id)

	csv := filepath.Join(t.TempDir(), "assets.csv")
	require.NoError(t, os.WriteFile(csv, []byte("ip,hostname,role,importance\n10.0.0.5,web01,web server,critical\n10.0.0.9,db01,database,important\n"), 0o600))
	assert.Equal(t, "2 assets on "+id, mustFB(t, dir, "case", "assets", "import", id, csv))

	mustFB(t, dir, "case", "join", id, "alice", "--role", "lead")
	mustFB(t, dir, "case", "join", id, "bob")
	mustFB(t, dir, "case", "sla", id, "--responded", "30m", "--on-site", "2h", "--reason", "contract with Example Co.")
	mustFB(t, dir, "case", "milestone", id, "responded", "--as", "alice")
	mustFB(t, dir, "case", "milestone", id, "on_site", "--as", "alice")
	mustFB(t, dir, "case", "phase", id, "confirmed", "--reason", "webshell found in /var/www/html/upload", "--as", "alice")
	out := mustFB(t, dir, "case", "classify", id, "--category", "network_attack", "--subcategory", "web_defacement",
		"--importance", "important", "--loss", "serious", "--impact", "considerable", "--as", "alice")
	assert.Contains(t, out, "level III")
	mustFB(t, dir, "case", "note", id, "isolated web01 at the switch; <script>alert(1)</script> kept as text", "--as", "bob")
	mustFB(t, dir, "case", "task", "add", id, "collect /var/log/auth.log", "--assignee", "bob")
	mustFB(t, dir, "case", "phase", id, "contained", "--as", "alice")
	mustFB(t, dir, "case", "note", id, "second note")

	var c struct {
		Phase  string
		Notes  []struct{ Text, Actor string }
		Tasks  []struct{ ID uint64 }
		Assets []any
		Intake struct {
			Reporter struct{ Name string }
			Symptoms []string
		}
		Classification struct{ Level, Category string }
		LastSeq        uint64 `json:"last_seq"`
	}
	require.NoError(t, json.Unmarshal([]byte(mustFB(t, dir, "case", "show", id, "--json")), &c))
	assert.Equal(t, "contained", c.Phase)
	require.Len(t, c.Notes, 2)
	assert.Equal(t, "isolated web01 at the switch; <script>alert(1)</script> kept as text", c.Notes[0].Text)
	assert.Equal(t, "bob (local:"+currentUser(t)+")", c.Notes[0].Actor)
	assert.Equal(t, "王芳", c.Intake.Reporter.Name)
	assert.Equal(t, []string{"cpu_hog", "unknown_logins"}, c.Intake.Symptoms)
	assert.Equal(t, "III", c.Classification.Level)
	assert.Len(t, c.Assets, 2)
	require.Len(t, c.Tasks, 1)
	mustFB(t, dir, "case", "task", "done", id, itoa(c.Tasks[0].ID))

	assert.Contains(t, mustFB(t, dir, "case", "list"), id)
	assert.Contains(t, mustFB(t, dir, "case", "show", id), "contained")
	log := mustFB(t, dir, "case", "log", id)
	assert.Contains(t, log, "classification.set")
	assert.Contains(t, mustFB(t, dir, "case", "verify", id), "chain verified, 14 entries")
	return id, c.LastSeq + 1
}

func TestCaseThroughCLIAndTamperedJournal(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	id, n := buildCase(t, dir)
	require.Equal(t, uint64(14), n)
	require.NoError(t, d.Close())

	key := func(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
	tests := []struct {
		name string
		edit func(b *bolt.Bucket)
		want string
	}{
		{"modify", func(b *bolt.Bucket) {
			v := append([]byte(nil), b.Get(key(10))...)
			i := bytes.Index(v, []byte("alert(1)"))
			require.Positive(t, i)
			v[i] = 'A'
			b.Put(key(10), v)
		}, "chain broken at entry 10 (modified)"},
		{"delete", func(b *bolt.Bucket) { b.Delete(key(5)) }, "chain broken at entry 5 (deleted)"},
		{"reorder", func(b *bolt.Bucket) {
			v4, v7 := append([]byte(nil), b.Get(key(4))...), append([]byte(nil), b.Get(key(7))...)
			b.Put(key(4), v7)
			b.Put(key(7), v4)
		}, "chain broken at entry 4 (reordered)"},
		{"truncate", func(b *bolt.Bucket) { b.Delete(key(14)); b.Delete(key(13)) }, "chain broken at entry 13 (truncated)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			copyDir := t.TempDir()
			for _, f := range []string{"firebreak.db", "identity.pem"} {
				b, err := os.ReadFile(filepath.Join(dir, f))
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(copyDir, f), b, 0o600))
			}
			db, err := bolt.Open(filepath.Join(copyDir, "firebreak.db"), 0o600, nil)
			require.NoError(t, err)
			require.NoError(t, db.Update(func(tx *bolt.Tx) error {
				tt.edit(tx.Bucket([]byte("journals")).Bucket([]byte(id)))
				return nil
			}))
			require.NoError(t, db.Close())

			d := startDaemon(t, copyDir)
			defer d.Close()
			code, _, errs := fb(t, copyDir, "case", "verify", id)
			assert.Equal(t, ExitFail, code)
			assert.Contains(t, errs, tt.want)
			assert.Equal(t, 1, strings.Count(errs, "\n"), "one line on stderr")
		})
	}
	// The original is untouched and still verifies.
	d = startDaemon(t, dir)
	defer d.Close()
	assert.Contains(t, mustFB(t, dir, "case", "verify", id), "chain verified")
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := fb(t, dir, "case", "list")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "cannot reach the firebreak daemon")

	d := startDaemon(t, dir)
	defer d.Close()
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"frobnicate"}, ExitUsage, "unknown command"},
		{[]string{}, ExitUsage, ""},
		{[]string{"case"}, ExitUsage, "missing subcommand"},
		{[]string{"case", "note", "FB-1"}, ExitUsage, "wrong number of arguments"},
		{[]string{"case", "new"}, ExitUsage, "--title is required"},
		{[]string{"case", "new", "--title", "x", "--discovered", "yesterday"}, ExitUsage, "want RFC 3339"},
		{[]string{"case", "new", "--bogus"}, ExitUsage, "flag provided but not defined"},
		{[]string{"case", "show", "FB-2026-9999"}, ExitFail, "case not found"},
		{[]string{"case", "new", "--title", "x", "--symptom", "aliens"}, ExitFail, "symptom"},
		{[]string{"version"}, ExitOK, ""},
		{[]string{"--help"}, ExitOK, ""},
	}
	for _, tt := range tests {
		code, _, errs := fb(t, dir, tt.args...)
		assert.Equal(t, tt.code, code, "%v: %s", tt.args, errs)
		assert.Contains(t, errs, tt.err, "%v", tt.args)
	}
	for name := range verbs {
		code, out, _ := fb(t, dir, name, "--help")
		assert.Equal(t, ExitOK, code, "%s --help", name)
		assert.Contains(t, out, "Usage: firebreak "+name, "%s --help", name)
	}
	for name := range caseSubs {
		code, out, _ := fb(t, dir, "case", name, "--help")
		assert.Equal(t, ExitOK, code, "case %s --help", name)
		assert.Contains(t, out, "Usage: firebreak case "+name)
	}
}

func TestTokensAndTCP(t *testing.T) {
	dir := t.TempDir()
	d, err := daemon.Start(daemon.Options{DataDir: dir, Listen: "127.0.0.1:0", Logger: discardLogger()})
	require.NoError(t, err)
	defer d.Close()
	secret := mustFB(t, dir, "token", "create", "report-bot", "--role", "viewer")
	assert.Regexp(t, `^fbt_[a-z2-7]+$`, secret)
	list := mustFB(t, dir, "token", "list")
	assert.Contains(t, list, "report-bot")
	assert.NotContains(t, list, secret, "a secret is shown once")
	mustFB(t, dir, "token", "revoke", "report-bot")
	code, _, errs := fb(t, dir, "token", "revoke", "report-bot")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "no token")

	_, err = daemon.Start(daemon.Options{DataDir: t.TempDir(), Listen: "0.0.0.0:0", Logger: discardLogger()})
	assert.ErrorContains(t, err, "plain HTTP is served on loopback only")
}

func TestCaptureViewOfTheSamples(t *testing.T) {
	dir := t.TempDir()
	d, err := daemon.Start(daemon.Options{DataDir: dir, Sample: true, Logger: discardLogger()})
	require.NoError(t, err)
	defer d.Close()
	require.Eventually(t, func() bool {
		return strings.Contains(mustFB(t, dir, "capture", "status"), "finished")
	}, time.Minute, 50*time.Millisecond) // the detection modules compile first
	st := mustFB(t, dir, "capture", "status")
	assert.Contains(t, st, "sample captures")
	assert.Regexp(t, `dns=\d+`, st)
	hosts := mustFB(t, dir, "capture", "hosts")
	assert.Contains(t, hosts, "nas1", "the DHCP client's name")
	assert.Contains(t, hosts, "00:11:32:17:49:f0", "and its MAC")
	// Joined to the customer's asset list: the DHCP client is a listed NAS,
	// a listed server never showed up.
	id := mustFB(t, dir, "case", "new", "--title", "Inventory check")
	csv := filepath.Join(t.TempDir(), "assets.csv")
	require.NoError(t, os.WriteFile(csv, []byte("ip,hostname,role\n10.16.1.4,nas1,file server\n10.99.0.1,erp01,ERP\n"), 0o600))
	mustFB(t, dir, "case", "assets", "import", id, csv)
	joined := mustFB(t, dir, "capture", "hosts", "--case", id)
	assert.Regexp(t, `10\.16\.1\.4 .* nas1 file server`, joined)
	assert.Contains(t, joined, "not seen: 10.99.0.1 erp01")
	assert.Contains(t, joined, "NOT ON THE LIST", "private hosts the customer did not list stand out")
	ev := mustFB(t, dir, "capture", "events", "ssh", "--limit", "1")
	assert.Contains(t, ev, `"event_type":"ssh"`)
	code, _, errs := fb(t, dir, "capture", "events", "<script>")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "type must be an EVE event type")
}
