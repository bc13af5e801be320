package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsolateWithoutContainment(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	defer d.Close()
	id := mustFB(t, dir, "case", "new", "--title", "no containment here")
	for _, args := range [][]string{
		{"isolate", "list"},
		{"isolate", "add", "--ip", "10.0.0.5", "--case", id, "--reason", "beaconing"},
		{"isolate", "plan", "--ip", "10.0.0.5", "--case", id, "--reason", "beaconing"},
		{"isolate", "release", "--all"},
	} {
		code, _, errs := fb(t, dir, args...)
		assert.Equal(t, ExitFail, code, "%v", args)
		assert.Contains(t, errs, "containment is not configured: start serve with --mode", "%v", args)
	}
}

func TestIsolateUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"isolate"}, "missing subcommand"},
		{[]string{"isolate", "frob"}, "unknown subcommand"},
		{[]string{"isolate", "add", "--case", "FB-1", "--reason", "x"}, "give --ip, --mac or --link"},
		{[]string{"isolate", "add", "--ip", "10.0.0.5", "--reason", "x"}, "--case is required"},
		{[]string{"isolate", "add", "--ip", "10.0.0.5", "--case", "FB-1"}, "--reason is required"},
		{[]string{"isolate", "add", "--ip", "10.0.0.5", "--case", "FB-1", "--reason", "x", "--ttl", "soon"}, "--ttl"},
		{[]string{"isolate", "plan", "--ip", "10.0.0.5", "--case", "FB-1", "--reason", "x", "--allow", "dns"}, "--allow"},
		{[]string{"isolate", "confirm"}, "wrong number of arguments"},
		{[]string{"isolate", "release"}, "give an isolation ID or --all"},
		{[]string{"isolate", "release", "iso-1", "--all"}, "give an isolation ID or --all"},
		{[]string{"serve", "--port", "eth1"}, "need --mode"},
		{[]string{"serve", "--mode", "bridge", "--port", "eth1"}, "at least two --port"},
		{[]string{"serve", "--mode", "firewall"}, "want bridge, router or port"},
	}
	for _, tt := range tests {
		code, _, errs := fb(t, dir, tt.args...)
		assert.Equal(t, ExitUsage, code, "%v: %s", tt.args, errs)
		assert.Contains(t, errs, tt.err, "%v", tt.args)
	}
	for name := range isolateSubs {
		code, out, _ := fb(t, dir, "isolate", name, "--help")
		assert.Equal(t, ExitOK, code, "isolate %s --help", name)
		assert.Contains(t, out, "Usage: firebreak isolate "+name)
	}
	_, out, _ := fb(t, dir, "serve", "--help")
	for _, flag := range []string{"-mode", "-bridge", "-port", "-netns"} {
		assert.True(t, strings.Contains(out, flag), "serve --help lists %s", flag)
	}
}
