package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/firebreak-ir/firebreak/appliance/internal/api"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
	"github.com/firebreak-ir/firebreak/appliance/internal/datadir"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

// hqPuller installs what HQ publishes into the module store, exactly as an
// engineer's upload is installed but never unsigned, and journals each
// install and refusal as HQ's doing.
type hqPuller struct{ d *Daemon }

const hqActor = "hq"

func (p hqPuller) journal(ctx context.Context, typ string, payload any) error {
	_, err := p.d.Journal.Append(ctx, journal.Record{Journal: casebook.ApplianceJournal, Actor: hqActor, Type: typ, Payload: payload})
	return err
}

func (p hqPuller) PullModule(ctx context.Context, name string, manifest, wasm, sig []byte) error {
	pkg := &modhost.Package{Manifest: manifest, Wasm: wasm, Signature: sig, Source: "hq:" + name}
	if p.d.Modules.Has(pkg) {
		return hqsync.ErrUnchanged
	}
	_, err := api.InstallModule(ctx, p.d.Modules, pkg, false, hqActor, "hq", p.journal)
	if err != nil {
		p.journal(ctx, "module.pull_refused", map[string]string{"module": name, "error": err.Error()})
	}
	return err
}

func (p hqPuller) HasFeed(name, sum string) bool { return p.d.Modules.HasFeed(name, sum) }

func (p hqPuller) PullFeed(ctx context.Context, name string, data, sig []byte) error {
	f, err := p.d.Modules.InstallFeed(name, data, sig, "hq")
	if err != nil {
		p.journal(ctx, "feed.pull_refused", map[string]string{"feed": name, "error": err.Error()})
		return err
	}
	return p.journal(ctx, "feed.installed", f)
}

// The configuration HQ published that the appliance applied last, and its
// signature, kept so its sync settings hold across restarts and an older
// file is refused.
const hqConfigFile = "hq-config.json"

func (p hqPuller) configPath() string { return filepath.Join(p.d.Dir.Path, hqConfigFile) }

// AppliedConfig reads the configuration applied last. The file is checked
// again against the trusted keys: one that no longer verifies is not used.
func (p hqPuller) AppliedConfig() *hqsync.Config {
	data, err := os.ReadFile(p.configPath())
	if err != nil {
		return nil
	}
	sig, _ := os.ReadFile(p.configPath() + ".sig")
	if _, err := p.d.Modules.Trust().VerifyFeed(hqsync.ConfigName, data, sig); err != nil {
		p.d.log.Warn("the HQ configuration applied before no longer verifies; not used", "err", err)
		return nil
	}
	c, err := hqsync.ParseConfig(data)
	if err != nil {
		p.d.log.Warn("the HQ configuration applied before does not parse; not used", "err", err)
		return nil
	}
	return c
}

// PullConfig verifies HQ's configuration and applies all of it or none:
// every module it names must be on the appliance. It journals what changed,
// or the refusal with its reason.
func (p hqPuller) PullConfig(ctx context.Context, data, sig []byte) error {
	c, signer, err := hqsync.VerifyConfig(p.d.Modules.Trust(), data, sig, p.AppliedConfig())
	var set map[string]bool
	var changes []string
	if err == nil {
		set, changes, err = p.moduleChanges(c)
	}
	if err == nil {
		// Kept before it is applied: a crash in between applies it again at
		// the next start, never an older one.
		if err = datadir.WriteFileAtomic(p.configPath()+".sig", sig, 0o600); err == nil {
			err = datadir.WriteFileAtomic(p.configPath(), data, 0o600)
		}
	}
	if errors.Is(err, hqsync.ErrUnchanged) {
		return err
	}
	if err != nil {
		if jerr := p.journal(ctx, "config.pull_refused", map[string]string{"error": err.Error()}); jerr != nil {
			return jerr
		}
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(set)) {
		if _, err := p.d.Modules.SetEnabled(name, set[name]); err != nil {
			return fmt.Errorf("apply HQ configuration %d: %w", c.Version, err)
		}
	}
	if p.d.Sync != nil {
		changes = append(p.d.Sync.ApplyConfig(c.Sync), changes...)
	}
	if changes == nil {
		changes = []string{}
	}
	return p.journal(ctx, "config.applied", map[string]any{"version": c.Version, "sha256": c.SHA256, "signer": signer, "changes": changes})
}

func (p hqPuller) moduleChanges(c *hqsync.Config) (map[string]bool, []string, error) {
	if len(c.Modules) == 0 {
		return nil, nil, nil
	}
	all, err := p.d.Modules.List()
	if err != nil {
		return nil, nil, err
	}
	current := map[string]bool{}
	for _, m := range all {
		if m.Refused == "" || m.Enabled {
			current[m.Name] = m.Enabled
		}
	}
	return hqsync.ModuleChanges(c, current)
}
