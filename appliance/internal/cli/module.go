package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
	"github.com/firebreak-ir/firebreak/appliance/internal/modstore"
	"github.com/firebreak-ir/firebreak/capture"
)

func runModule(e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, "Usage: firebreak module list                      the appliance's modules and what runs\n"+
			"       firebreak module install DIR [--allow-unsigned]\n"+
			"       firebreak module enable|disable NAME\n"+
			"       firebreak module trust NAME KEY.pub\n"+
			"       firebreak module feed NAME FILE [--sig FILE.sig]\n"+
			"       firebreak module embedded                  the modules built into this binary\n"+
			"       firebreak module verify DIR [--trust KEY.pub]\n"+
			"       firebreak module sign DIR --key KEY\n"+
			"       firebreak module sign-feed NAME FILE --key KEY\n"+
			"       firebreak module test MODULE CAPTURE... [--midstream] [--config FILE] [--allow-unsigned] [--trust KEY.pub]\n"+
			"       firebreak module new NAME [--dir DIR]\n\n"+
			"WebAssembly detection modules (sdk/ABI.md). The first-party modules are embedded in\n"+
			"the binary, signed by the first-party key it also embeds; the appliance runs them, and\n"+
			"the modules installed since, over every traffic source and analysis (firebreak analyze\n"+
			"runs them without a daemon).\n"+
			"A module directory holds module.wasm, manifest.json and signature.json. MODULE is the\n"+
			"name of an embedded module or a module directory.\n")
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	switch args[0] {
	case "list":
		return moduleListDaemon(e, args[1:])
	case "embedded":
		return moduleList(e, args[1:])
	case "install":
		return moduleInstall(e, args[1:])
	case "enable", "disable":
		return moduleEnable(e, args[1:], args[0] == "enable")
	case "trust":
		return moduleTrustKey(e, args[1:])
	case "feed":
		return moduleFeed(e, args[1:])
	case "sign-feed":
		return moduleSignFeed(e, args[1:])
	case "verify":
		return moduleVerify(e, args[1:])
	case "sign":
		return moduleSign(e, args[1:])
	case "test":
		return moduleTest(e, args[1:])
	case "new":
		return moduleNew(e, args[1:])
	}
	return usagef("unknown subcommand %q", args[0])
}

// moduleTrust is the trust store of the CLI: the embedded first-party key
// and any --trust keys.
func moduleTrust(extra []string) (*modhost.TrustStore, error) {
	ts := modhost.NewTrustStore()
	if k, err := firstparty.Key(); err == nil {
		if err := ts.Add("first-party", k); err != nil {
			return nil, err
		}
	}
	for _, path := range extra {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		pub, err := modstore.ParseKey(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := ts.Add(filepath.Base(path), pub); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// signingKey loads the --key a signing command needs.
func signingKey(path string) (ed25519.PrivateKey, error) {
	if path == "" {
		return nil, usagef("--key is required")
	}
	return modhost.LoadKey(path)
}

// readModuleDir reads a module directory as a package.
func readModuleDir(dir string) (*modhost.Package, error) {
	p := &modhost.Package{Source: dir}
	var err error
	if p.Manifest, err = os.ReadFile(filepath.Join(dir, "manifest.json")); err != nil {
		return nil, err
	}
	if p.Wasm, err = os.ReadFile(filepath.Join(dir, "module.wasm")); err != nil {
		return nil, err
	}
	if p.Signature, err = os.ReadFile(filepath.Join(dir, "signature.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return p, nil
}

// modulePackages resolves names of embedded modules or module directories.
func modulePackages(sel []string) ([]*modhost.Package, error) {
	embedded, embErr := firstparty.Packages()
	byName := map[string]*modhost.Package{}
	for _, p := range embedded {
		byName[strings.TrimPrefix(p.Source, "embedded:")] = p
	}
	var out []*modhost.Package
	for _, s := range sel {
		if p, ok := byName[s]; ok {
			out = append(out, p)
			continue
		}
		if st, err := os.Stat(s); err == nil && st.IsDir() {
			p, err := readModuleDir(s)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
			continue
		}
		if embErr != nil {
			return nil, fmt.Errorf("module %s: %w", s, embErr)
		}
		return nil, fmt.Errorf("module %s: %w (embedded: %s)", s, modhost.ErrNotFound, strings.Join(sortedKeys(byName), ", "))
	}
	return out, nil
}

func sortedKeys(m map[string]*modhost.Package) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// moduleCacheDir is where the CLI keeps wazero's compilation cache.
func moduleCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "firebreak", "modules")
	}
	return ""
}

// modulePipeline loads the selected modules ("" or "all": every embedded
// module; "none": none) and returns the emit function that runs them
// before next, and a function that reports and releases them. When
// modules run, it configures opts for them (modhost.Pipeline.Configure).
func modulePipeline(ctx context.Context, e *env, sel string, trust []string, allowUnsigned bool, config []byte, opts *capture.Options, next func(*capture.Event) error) (func(*capture.Event) error, func(quiet bool), error) {
	if sel == "none" {
		return next, func(bool) {}, nil
	}
	var names []string
	if sel == "" || sel == "all" {
		pkgs, err := firstparty.Packages()
		if errors.Is(err, firstparty.ErrNotBuilt) {
			fmt.Fprintf(e.stderr, "warning: %v; analysing without modules\n", err)
			return next, func(bool) {}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		for _, p := range pkgs {
			names = append(names, strings.TrimPrefix(p.Source, "embedded:"))
		}
	} else {
		names = strings.Split(sel, ",")
	}
	pkgs, err := modulePackages(names)
	if err != nil {
		return nil, nil, err
	}
	ts, err := moduleTrust(trust)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The trusted tier: modules signed with the first-party key (built from
	// modules/ in this repository, unit- and fuzz-tested) run without
	// wazero's interruption checks, which cost 2–5× on guest code; every
	// other module can be stopped at its deadline. See modhost/RATIONALE.md.
	h, err := modhost.New(modhost.Options{CacheDir: moduleCacheDir(), Trust: ts, AllowUnsigned: allowUnsigned, Logger: log,
		Uninterruptible: []string{"first-party"}})
	if err != nil {
		return nil, nil, err
	}
	var mods []*modhost.Module
	for _, p := range pkgs {
		m, err := h.Load(ctx, p, config)
		if err != nil {
			h.Close(ctx)
			return nil, nil, err
		}
		mods = append(mods, m)
	}
	p := h.Pipeline(ctx, mods, next)
	p.Configure(opts)
	done := func(quiet bool) {
		if err := p.Finish(); err != nil {
			fmt.Fprintf(e.stderr, "warning: modules: %v\n", err)
		}
		if !quiet {
			var parts []string
			for _, m := range mods {
				st := p.Stats[m.Manifest.Name]
				s := fmt.Sprintf("%s %d alerts", m.Manifest.Name, st.Alerts)
				if st.Faults > 0 {
					s += fmt.Sprintf(", %d faults (%s)", st.Faults, st.LastFault)
				}
				if st.Disabled {
					s += ", disabled"
				}
				parts = append(parts, s)
			}
			fmt.Fprintf(e.stderr, "modules: %s\n", strings.Join(parts, "; "))
		}
		h.Close(ctx)
	}
	return p.Emit, done, nil
}

func moduleList(e *env, args []string) error {
	f := e.newFlags("module embedded", "module embedded", "List the modules embedded in this binary, with their signature check.")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	pkgs, err := firstparty.Packages()
	if err != nil {
		return err
	}
	ts, err := moduleTrust(nil)
	if err != nil {
		return err
	}
	type row struct {
		Name, Version, Kind, Signature string
		Subscriptions, Techniques      []string
	}
	var rows []row
	for _, p := range pkgs {
		m, err := modhost.ParseManifest(p.Manifest)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Source, err)
		}
		sig := "ok"
		if signer, err := ts.Verify(p); err != nil {
			sig = err.Error()
		} else {
			sig = "ok (" + signer + ")"
		}
		r := row{Name: m.Name, Version: m.Version, Kind: m.Kind, Signature: sig, Techniques: m.Techniques}
		for _, s := range m.Subscriptions {
			r.Subscriptions = append(r.Subscriptions, s.Event)
		}
		rows = append(rows, r)
	}
	if f.json {
		return printJSON(e.stdout, rows)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tKIND\tEVENTS\tTECHNIQUES\tSIGNATURE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Version, r.Kind, strings.Join(r.Subscriptions, ","), strings.Join(r.Techniques, ","), r.Signature)
	}
	return tw.Flush()
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func moduleVerify(e *env, args []string) error {
	f := e.newFlags("module verify", "module verify DIR [--trust KEY.pub]...",
		"Check a module directory: its manifest, and its signature against the first-party key and --trust keys.")
	var trust stringList
	f.Var(&trust, "trust", "also trust this PEM ed25519 public key (repeatable)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	p, err := readModuleDir(pos[0])
	if err != nil {
		return err
	}
	m, err := modhost.ParseManifest(p.Manifest)
	if err != nil {
		return err
	}
	ts, err := moduleTrust(trust)
	if err != nil {
		return err
	}
	signer, err := ts.Verify(p)
	if err != nil {
		return fmt.Errorf("module %s: %w", m.Name, err)
	}
	fmt.Fprintf(e.stdout, "%s %s: manifest valid, signed by %s\n", m.Name, m.Version, signer)
	return nil
}

func moduleSign(e *env, args []string) error {
	f := e.newFlags("module sign", "module sign DIR --key KEY",
		"Sign a module directory (module.wasm and manifest.json) with an ed25519 key (PKCS#8 PEM),\n"+
			"writing signature.json. The manifest is validated first.")
	keyPath := f.String("key", "", "the signing key (PKCS#8 PEM ed25519)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	key, err := signingKey(*keyPath)
	if err != nil {
		return err
	}
	p, err := readModuleDir(pos[0])
	if err != nil {
		return err
	}
	if _, err := modhost.ParseManifest(p.Manifest); err != nil {
		return err
	}
	sig := modhost.Sign(key, p.Manifest, p.Wasm)
	if err := os.WriteFile(filepath.Join(pos[0], "signature.json"), sig, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "signed %s with key %.16s\n", pos[0], modhost.Fingerprint(key.Public().(ed25519.PublicKey)))
	return nil
}

func moduleTest(e *env, args []string) error {
	f := e.newFlags("module test", "module test MODULE CAPTURE... [--midstream] [--config FILE] [--allow-unsigned]",
		"Run one module over captures and print its alerts, one per line: SRC -> DST SIGNATURE\n"+
			"(--json: the EVE alert events).")
	midstream := f.Bool("midstream", false, "analyse TCP connections whose handshake was not captured")
	allow := f.Bool("allow-unsigned", false, "load the module even if its signature is missing or does not verify")
	configFile := f.String("config", "", "the module's config (JSON), e.g. an indicator feed for ioc")
	var trust stringList
	f.Var(&trust, "trust", "also trust this PEM ed25519 public key (repeatable)")
	pos, err := f.parse(args, 2, -1)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	w := capture.NewEVEWriter(e.stdout)
	next := func(ev *capture.Event) error {
		if ev.EventType != "alert" {
			return nil
		}
		if f.json {
			return w.Write(ev)
		}
		_, err := fmt.Fprintf(e.stdout, "%s -> %s %s\n", ev.SrcIP, ev.DestIP, ev.Alert.Signature)
		return err
	}
	var config []byte
	if *configFile != "" {
		if config, err = os.ReadFile(*configFile); err != nil {
			return err
		}
	}
	opts := capture.Options{Midstream: *midstream, NoStats: true}
	emit, done, err := modulePipeline(ctx, e, pos[0], trust, *allow, config, &opts, next)
	if err != nil {
		return err
	}
	_, err = capture.Analyze(ctx, opts, pos[1:], emit)
	done(true)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

func moduleNew(e *env, args []string) error {
	f := e.newFlags("module new", "module new NAME [--dir DIR]",
		"Write the skeleton of a detection module into DIR/NAME: main.go (Go, with the SDK),\n"+
			"main_test.go, manifest.json and README.md. Build it with\n"+
			"GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o module.wasm .")
	dir := f.String("dir", ".", "where to create the module's folder")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	name := pos[0]
	m := modhost.Manifest{Name: name, Version: "0.1.0", Kind: "detect", Subscriptions: []modhost.Subscription{{Event: "http"}},
		Capabilities: []string{"state"}, Techniques: []string{"T1190"}, Description: "What " + name + " finds."}
	if err := m.Validate(); err != nil {
		return usagef("%v", err)
	}
	out := filepath.Join(*dir, name)
	if err := os.Mkdir(out, 0o755); err != nil {
		return err
	}
	manifest, _ := json.MarshalIndent(m, "", "  ")
	files := map[string]string{
		"manifest.json": string(manifest) + "\n",
		"main.go":       strings.ReplaceAll(scaffoldMain, "NAME", name),
		"main_test.go":  strings.ReplaceAll(scaffoldTest, "NAME", name),
		"README.md":     strings.ReplaceAll(scaffoldREADME, "NAME", name),
	}
	for file, body := range files {
		if err := os.WriteFile(filepath.Join(out, file), []byte(body), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "wrote %s; outside this repository: go mod init, then go get github.com/firebreak-ir/firebreak/sdk\n", out)
	return nil
}

const scaffoldMain = `// Command NAME is a Firebreak detection module (sdk/ABI.md). Say here what
// it finds, and what it must never do.
package main

import (
	"strings"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&module{}) }

type module struct{}

func (m *module) Init(config []byte) error { return nil }

// Batch sees every event the manifest subscribes to. Strings from an event
// alias the host's buffer: copy what you keep (strings.Clone).
func (m *module) Batch(b sdk.Batch) error {
	return b.Each(func(ev sdk.Event) error {
		if ev.Kind() != sdk.KindHTTP || !strings.Contains(ev.Str(sdk.FieldHTTPURL), "/etc/passwd") {
			return nil
		}
		a := sdk.Alert{Signature: "NAME: /etc/passwd requested", Severity: 2, Techniques: []string{"T1190"}}
		return sdk.EmitAlert(a.On(ev))
	})
}

func (m *module) Flush() error { return nil }
`

const scaffoldTest = `//go:build !wasip1

package main

import (
	"net/netip"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func TestModule(t *testing.T) {
	sdk.Test.Reset()
	var b sdk.Builder
	b.Begin(sdk.Header{Kind: sdk.KindHTTP, Proto: 6, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), DstPort: 80})
	b.Str(sdk.FieldHTTPURL, "/../../etc/passwd")
	b.End()
	m := &module{}
	if err := m.Init(nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Batch(b.Batch()); err != nil {
		t.Fatal(err)
	}
	if len(sdk.Test.Alerts) != 1 {
		t.Fatalf("alerts: %v", sdk.Test.Alerts)
	}
}
`

const scaffoldREADME = `# NAME

## Name

` + "`NAME`" + ` 0.1.0, a detection module (ATT&CK T1190).

## Description

What it finds, how, and what it misses.

## Subscriptions

` + "`http`" + `.

## Capabilities

` + "`state`" + ` only.

## Examples

` + "```sh\nfirebreak module test ./NAME CAPTURE.pcap\n```" + `
`
