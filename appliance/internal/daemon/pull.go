package daemon

import (
	"context"

	"github.com/firebreak-ir/firebreak/appliance/internal/api"
	"github.com/firebreak-ir/firebreak/appliance/internal/casebook"
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
