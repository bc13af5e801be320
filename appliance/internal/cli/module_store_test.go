package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// applianceLog is the appliance journal as "type payload" lines.
func applianceLog(t *testing.T, j *journal.Store) string {
	var b strings.Builder
	require.NoError(t, j.Entries("appliance", 0, func(e journal.Entry) error {
		b.WriteString(e.Type + " " + string(e.Payload) + "\n")
		return nil
	}))
	return b.String()
}

// An engineer installs a module on site: refused until its key is trusted,
// installed and running once it is, disabled on request; an unsigned one
// only under the explicit flag; each step in the appliance journal.
func TestModuleInstallOnTheAppliance(t *testing.T) {
	data := t.TempDir()
	d := startDaemon(t, data)
	defer d.Close()
	dir, key, pub := watModule(t)
	mustFB(t, data, "module", "sign", dir, "--key", key)

	code, _, errs := fb(t, data, "module", "install", dir)
	require.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "signed by a key that is not trusted")

	assert.Contains(t, mustFB(t, data, "module", "trust", "hq", pub), "trusted hq")
	assert.Contains(t, mustFB(t, data, "module", "install", dir), "installed conf 0.1.0")
	list := mustFB(t, data, "module", "list")
	assert.Regexp(t, `conf\s+0\.1\.0\s+detect\s+installed\s+true`, list)
	pkgs, err := d.Modules.Packages()
	require.NoError(t, err)
	assert.Equal(t, "installed:conf", pkgs[len(pkgs)-1].Source, "the next analysis runs it")

	assert.Contains(t, mustFB(t, data, "module", "disable", "conf"), "conf disabled")
	assert.Regexp(t, `conf\s+0\.1\.0\s+detect\s+installed\s+false`, mustFB(t, data, "module", "list"))
	code, _, errs = fb(t, data, "module", "disable", "nosuch")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "no such module")

	// A changed module no longer matches its signature: refused, unless
	// the engineer explicitly allows it, which the journal keeps.
	man := filepath.Join(dir, "manifest.json")
	b, err := os.ReadFile(man)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(man, []byte(strings.Replace(string(b), "0.1.0", "0.1.1", 1)), 0o644))
	code, _, errs = fb(t, data, "module", "install", dir)
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "does not verify (tampered)")
	assert.Contains(t, mustFB(t, data, "module", "install", dir, "--allow-unsigned"), "installed conf 0.1.1")
	assert.Contains(t, mustFB(t, data, "module", "list"), "UNSIGNED (allowed by local:")

	// Indicator feeds are signed too.
	feed := filepath.Join(t.TempDir(), "bad-hosts.json")
	require.NoError(t, os.WriteFile(feed, []byte(`{"indicators":[{"type":"domain","value":"bad.example","name":"test"}]}`), 0o644))
	mustFB(t, data, "module", "sign-feed", "bad-hosts", feed, "--key", key)
	assert.Contains(t, mustFB(t, data, "module", "feed", "bad-hosts", feed), "1 indicators, signed by hq")
	cfg, err := d.Modules.Config("ioc")
	require.NoError(t, err)
	assert.Contains(t, string(cfg), "bad.example", "the ioc module's config holds the feed")
	code, _, errs = fb(t, data, "module", "feed", "other-name", feed, "--sig", feed+".sig")
	assert.Equal(t, ExitFail, code, "a signature covers the feed's name too")
	assert.Contains(t, errs, "signature")

	log := applianceLog(t, d.Journal)
	for _, typ := range []string{"module.key_trusted", "module.installed", "module.disabled", "feed.installed", "module.refused", "module.unverified_allowed"} {
		assert.Contains(t, log, typ)
	}
}
