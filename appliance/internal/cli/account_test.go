package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
)

func withPasswordInput(t *testing.T, s string) {
	old := passwordInput
	passwordInput = strings.NewReader(s)
	t.Cleanup(func() { passwordInput = old })
}

func TestAccountVerb(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	defer d.Close()

	withPasswordInput(t, "correct horse battery\n")
	out := mustFB(t, dir, "account", "add", "alice", "--role", "admin", "--as", "root")
	assert.Equal(t, "account alice added, role admin", out)
	_, err := d.Accounts.Verify("alice", "correct horse battery")
	assert.NoError(t, err, "the password from stdin is the account's")

	withPasswordInput(t, "short\n")
	code, _, errs := fb(t, dir, "account", "add", "bob")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "10 to 256 characters")
	withPasswordInput(t, "")
	code, _, errs = fb(t, dir, "account", "add", "bob")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errs, "no password on stdin")
	code, _, _ = fb(t, dir, "account", "add", "bob", "--role", "root")
	assert.Equal(t, ExitUsage, code)

	withPasswordInput(t, "another fine password\n")
	mustFB(t, dir, "account", "add", "bob", "--role", "viewer")
	withPasswordInput(t, "correct horse battery\n")
	code, _, errs = fb(t, dir, "account", "add", "bob")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "exists")

	mustFB(t, dir, "account", "disable", "bob")
	var accs []auth.Account
	require.NoError(t, json.Unmarshal([]byte(mustFB(t, dir, "account", "list", "--json")), &accs))
	require.Len(t, accs, 2)
	assert.Equal(t, "alice", accs[0].Name)
	assert.Equal(t, "root (local:"+currentUser(t)+")", accs[0].CreatedBy, "the journal and the account name who made it")
	assert.True(t, accs[1].Disabled)
	assert.Regexp(t, `(?m)^bob\s+viewer\s+disabled\s`, mustFB(t, dir, "account", "list"))

	withPasswordInput(t, "a brand new password\n")
	mustFB(t, dir, "account", "passwd", "alice")
	_, err = d.Accounts.Verify("alice", "a brand new password")
	assert.NoError(t, err)
	mustFB(t, dir, "account", "remove", "bob")
	code, _, errs = fb(t, dir, "account", "remove", "bob")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "no account with that name")

	// Every change is in the appliance journal, never the password.
	log := mustFB(t, dir, "case", "log", "appliance", "--json")
	for _, typ := range []string{"account.created", "account.disable", "account.password", "account.removed"} {
		assert.Contains(t, log, `"`+typ+`"`)
	}
	assert.NotContains(t, log, "correct horse")
	assert.NotContains(t, log, "brand new")
}
