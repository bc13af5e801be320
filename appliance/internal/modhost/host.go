package modhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/firebreak-ir/firebreak/sdk"
)

// Options configure a Host. The zero value is usable: no on-disk cache, an
// empty trust store (so only AllowUnsigned loads anything), no grants
// beyond "state", nothing journaled.
type Options struct {
	// CacheDir holds wazero's compilation cache, so a module already
	// compiled (same wasm, same wazero, same CPU) loads in milliseconds.
	// Empty: compile in memory only.
	CacheDir string
	// Trust holds the keys whose signatures are accepted.
	Trust *TrustStore
	// AllowUnsigned loads a module whose signature is missing, untrusted or
	// does not verify. It is the engineer's explicit choice, and every
	// module loaded under it is journaled (module.unverified_allowed).
	AllowUnsigned bool
	// Grants are the capabilities an engineer granted, by module name,
	// beyond "state" and "propose", which every module that asks has.
	// "net" is never granted.
	Grants map[string][]string
	// Mounts map a granted fs_read guest path to a host directory. The
	// directory is opened with os.OpenRoot, so neither ".." nor a symlink
	// leads out of it; it is mounted read-only.
	Mounts map[string]string
	// Journal records loads, refusals, faults, restarts and disabling, in
	// the appliance journal. Nil records nothing (the log still has it).
	Journal func(ctx context.Context, typ string, payload any) error
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// MaxFaults disables a module after this many faults. Default 3.
	MaxFaults int
	// BatchBytes is the buffer each module reserves for batches. Default
	// 256 KiB.
	BatchBytes int
	// BatchEvents is the most events in one batch. Default 512.
	BatchEvents int
	// Uninterruptible names trusted keys (as added to Trust) whose modules
	// are compiled without wazero's interruption checks: 4–5× faster guest
	// code, but a loop in such a module cannot be stopped, so it hangs the
	// analysis. Default: none; every module can be stopped at its deadline.
	// See RATIONALE.md.
	Uninterruptible []string
}

// Host loads and runs modules. Its methods are safe for concurrent use;
// a Module is driven by one goroutine at a time (a wazero instance is not
// safe for concurrent calls).
type Host struct {
	opts  Options
	log   *slog.Logger
	cache wazero.CompilationCache

	mu   sync.Mutex
	mods map[string]*Module

	noInterrupt bool // benchmarks only: see SetInterruptible
}

// New returns a host. Close it to release the compiled modules.
func New(opts Options) (*Host, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Trust == nil {
		opts.Trust = NewTrustStore()
	}
	if opts.MaxFaults <= 0 {
		opts.MaxFaults = 3
	}
	if opts.BatchEvents <= 0 {
		opts.BatchEvents = 512
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 256 << 10
	}
	h := &Host{opts: opts, log: opts.Logger.With("component", "modhost"), mods: map[string]*Module{}}
	if opts.CacheDir != "" {
		if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("module cache: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("module cache: %w", err)
		}
		h.cache = c
	} else {
		h.cache = wazero.NewCompilationCache()
	}
	return h, nil
}

// Trust is the host's trust store.
func (h *Host) Trust() *TrustStore { return h.opts.Trust }

func (h *Host) journal(ctx context.Context, typ string, payload any) {
	if h.opts.Journal == nil {
		return
	}
	if err := h.opts.Journal(ctx, typ, payload); err != nil {
		h.log.Error("journal module event", "type", typ, "err", err)
	}
}

// Modules lists the loaded modules, by name.
func (h *Host) Modules() []*Module {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Module, 0, len(h.mods))
	for _, m := range h.mods {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Manifest.Name < out[j].Manifest.Name })
	return out
}

// Module returns the loaded module with that name.
func (h *Host) Module(name string) (*Module, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, ok := h.mods[name]
	return m, ok
}

// Close closes every module and the cache.
func (h *Host) Close(ctx context.Context) error {
	var errs []error
	for _, m := range h.Modules() {
		errs = append(errs, m.Close(ctx))
	}
	errs = append(errs, h.cache.Close(ctx))
	return errors.Join(errs...)
}

var hostFuncs = map[string]bool{"emit": true, "log": true, "kv_get": true, "kv_set": true, "kv_delete": true,
	"match_compile": true, "match": true}

var guestExports = []string{"fb_abi_version", "fb_buffer", "fb_init", "fb_batch", "fb_flush"}

// Load verifies, checks and compiles a module and registers it under its
// name. It refuses a second module with the same name (ErrDuplicate). Every
// refusal is journaled (module.refused) with its reason.
func (h *Host) Load(ctx context.Context, p *Package, config []byte) (*Module, error) {
	m, err := h.load(ctx, p, config)
	if err != nil {
		name := ""
		if m != nil {
			name = m.Manifest.Name
			m.Close(ctx)
		}
		h.journal(ctx, "module.refused", map[string]any{"module": name, "source": p.Source, "error": err.Error()})
		return nil, err
	}
	h.journal(ctx, "module.loaded", map[string]any{"module": m.Manifest.Name, "version": m.Manifest.Version,
		"source": p.Source, "sha256": m.SHA256, "signer": m.Signer, "capabilities": m.Manifest.Capabilities})
	return m, nil
}

func (h *Host) load(ctx context.Context, p *Package, config []byte) (*Module, error) {
	man, err := ParseManifest(p.Manifest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Source, err)
	}
	sum := sha256.Sum256(p.Wasm)
	m := &Module{h: h, Manifest: man, SHA256: hex.EncodeToString(sum[:]), config: config,
		log: h.log.With("module", man.Name), state: map[string][]byte{}, stderr: &tail{max: 2048}}
	signer, err := h.opts.Trust.Verify(p)
	if err != nil {
		if !h.opts.AllowUnsigned || !IsTrustError(err) {
			return m, fmt.Errorf("module %s from %s: %w", man.Name, p.Source, err)
		}
		signer = ""
		h.journal(ctx, "module.unverified_allowed", map[string]any{"module": man.Name, "version": man.Version,
			"source": p.Source, "sha256": m.SHA256, "reason": err.Error()})
		m.log.Warn("loading a module whose signature does not verify, as the engineer allowed", "reason", err)
	}
	m.Signer = signer
	for _, sub := range man.Subscriptions {
		k, _ := sdkKind(sub.Event)
		m.mask |= 1 << k
		if k == sdk.KindPacket {
			m.filter = sub.Filter
		}
	}
	if err := h.grant(m); err != nil {
		return m, err
	}
	interrupt := !h.noInterrupt
	for _, k := range h.opts.Uninterruptible {
		if signer != "" && k == signer {
			interrupt = false
			m.uninterruptible = true
		}
	}
	cfg := wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(h.cache).
		WithMemoryLimitPages(man.Limits.memoryPages()).
		WithCloseOnContextDone(interrupt)
	m.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, m.rt); err != nil {
		return m, fmt.Errorf("module %s: wasi: %w", man.Name, err)
	}
	if err := m.hostModule(ctx); err != nil {
		return m, fmt.Errorf("module %s: host functions: %w", man.Name, err)
	}
	m.compiled, err = m.rt.CompileModule(ctx, p.Wasm)
	if err != nil {
		return m, fmt.Errorf("module %s: compile: %w: %v", man.Name, ErrABI, err)
	}
	for _, f := range m.compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod == "firebreak" && !hostFuncs[name] || mod != "firebreak" && mod != wasi_snapshot_preview1.ModuleName {
			return m, fmt.Errorf("module %s: imports %s.%s: %w", man.Name, mod, name, ErrABI)
		}
	}
	exp := m.compiled.ExportedFunctions()
	for _, name := range guestExports {
		if _, ok := exp[name]; !ok {
			return m, fmt.Errorf("module %s: no export %s: %w", man.Name, name, ErrABI)
		}
	}
	if _, ok := exp["fb_file"]; !ok && m.wants(sdk.KindFile) {
		return m, fmt.Errorf("module %s: subscribes to file events but has no export fb_file: %w", man.Name, ErrABI)
	}
	if _, ok := m.compiled.ExportedMemories()["memory"]; !ok {
		return m, fmt.Errorf("module %s: no exported memory: %w", man.Name, ErrABI)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.mods[man.Name]; ok {
		return m, fmt.Errorf("module %s: %w", man.Name, ErrDuplicate)
	}
	h.mods[man.Name] = m
	return m, nil
}

// grant checks the manifest's capabilities against the engineer's grants
// and opens the granted mounts.
func (h *Host) grant(m *Module) error {
	// "propose" needs no grant: a proposal is inert until an engineer
	// approves it (host triage), so a cleanup module loads anywhere.
	granted := map[string]bool{"state": true, "propose": true}
	for _, c := range h.opts.Grants[m.Manifest.Name] {
		granted[c] = true
	}
	for _, c := range m.Manifest.Capabilities {
		if c == "net" {
			return fmt.Errorf("module %s: capability net: %w: modules never get network access", m.Manifest.Name, ErrNotGranted)
		}
		if !granted[c] {
			return fmt.Errorf("module %s: capability %s: %w", m.Manifest.Name, c, ErrNotGranted)
		}
	}
	for _, guest := range m.Manifest.Mounts() {
		dir, ok := h.opts.Mounts[guest]
		if !ok {
			return fmt.Errorf("module %s: capability fs_read:%s: %w: no host directory is mapped to %s", m.Manifest.Name, guest, ErrNotGranted, guest)
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			return fmt.Errorf("module %s: mount %s: %w", m.Manifest.Name, guest, err)
		}
		m.roots = append(m.roots, mount{guest, root})
	}
	return nil
}

func (m *Module) hostModule(ctx context.Context) error {
	i32 := api.ValueTypeI32
	b := m.rt.NewHostModuleBuilder("firebreak")
	fn := func(name string, f api.GoModuleFunc, params, results []api.ValueType) {
		b.NewFunctionBuilder().WithGoModuleFunction(f, params, results).Export(name)
	}
	fn("emit", m.hostEmit, []api.ValueType{i32, i32}, []api.ValueType{i32})
	fn("log", m.hostLog, []api.ValueType{i32, i32, i32}, nil)
	fn("kv_get", m.hostKVGet, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
	fn("kv_set", m.hostKVSet, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
	fn("kv_delete", m.hostKVDelete, []api.ValueType{i32, i32}, []api.ValueType{i32})
	fn("match_compile", m.hostMatchCompile, []api.ValueType{i32, i32, i32}, []api.ValueType{i32})
	fn("match", m.hostMatch, []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32})
	_, err := b.Instantiate(ctx)
	return err
}
