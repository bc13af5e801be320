package modhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/firebreak-ir/firebreak/sdk"
)

// Module is a loaded module: verified, compiled, and registered. It runs
// in one instance at a time, started on first use and discarded on a
// fault; its key-value state outlives the instance.
type Module struct {
	Manifest *Manifest
	SHA256   string // of the wasm
	Signer   string // name of the trusted key; "" if loaded unverified

	uninterruptible bool // compiled without interruption checks (Options.Uninterruptible)

	h        *Host
	log      *slog.Logger
	config   []byte
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	roots    []mount
	mask     uint64 // subscribed kinds, bit per sdk.Kind
	filter   string // of its packet subscription ("" for every packet)
	tap      int    // index of that filter among the pipeline's packet taps

	inst    api.Module
	fnBatch api.Function // cached: looking exports up per call costs µs
	fnFlush api.Function
	bufPtr  uint32
	view    []byte // the batch buffer in guest memory; nil after a call
	pending int    // bytes of the batch being filled
	events  int    // records of the batch being filled

	state      map[string][]byte
	stateBytes int
	sets       []*matcher
	setBytes   int
	seen       []bool
	stderr     *tail

	// Per call.
	alerts  []sdk.Alert
	actions []sdk.Action
	emitted int
	logs    int
	lastErr string
	fault   *FaultError

	faults   int // faults so far
	skip     int // events not delivered before the next restart (backoff)
	disabled bool
	closed   bool
}

type mount struct {
	guest string
	root  *os.Root
}

func sdkKind(name string) (sdk.Kind, bool) { return sdk.KindByName(name) }

// wants reports whether the module subscribes to kind k.
func (m *Module) wants(k sdk.Kind) bool { return m.mask&(1<<k) != 0 }

// Disabled reports whether the module was disabled after repeated faults.
func (m *Module) Disabled() bool { return m.disabled }

// Interruptible reports whether the module can be stopped at its deadline
// (false only for modules signed by a key in Options.Uninterruptible).
func (m *Module) Interruptible() bool { return !m.uninterruptible }

// Faults is the number of faults so far.
func (m *Module) Faults() int { return m.faults }

// start instantiates the module and runs it up to a successful fb_init.
func (m *Module) start(ctx context.Context) error {
	fsc := wazero.NewFSConfig()
	for _, mt := range m.roots {
		fsc = fsc.WithFSMount(mt.root.FS(), mt.guest)
	}
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithStderr(m.stderr).WithFSConfig(fsc)
	m.stderr.reset()
	m.sets, m.setBytes = nil, 0 // pattern sets belong to the instance
	cctx, cancel := context.WithTimeout(experimental.WithMemoryAllocator(ctx, mmapAllocator), m.Manifest.Limits.deadline())
	inst, err := m.rt.InstantiateModule(cctx, m.compiled, cfg)
	cancel()
	if err != nil {
		return m.classify(ctx, cctx, "instantiate", err)
	}
	m.inst = inst
	if f := inst.ExportedFunction("_initialize"); f != nil {
		if _, err := m.call(ctx, "_initialize", f); err != nil {
			return err
		}
	}
	v, err := m.call(ctx, "fb_abi_version", inst.ExportedFunction("fb_abi_version"))
	if err != nil {
		return err
	}
	if v != sdk.ABIVersion {
		return m.faultf("fb_abi_version", ErrTrap, "the module implements ABI version %d, the host version %d", v, sdk.ABIVersion)
	}
	size := uint64(m.h.opts.BatchBytes)
	if len(m.config) > int(size) {
		return m.faultf("fb_init", ErrFailed, "config of %d bytes is larger than the batch buffer", len(m.config))
	}
	ptr, err := m.call(ctx, "fb_buffer", inst.ExportedFunction("fb_buffer"), size)
	if err != nil {
		return err
	}
	m.bufPtr = uint32(ptr)
	if _, ok := inst.Memory().Read(m.bufPtr, uint32(size)); !ok {
		return m.faultf("fb_buffer", ErrBadPointer, "buffer %#x+%d is outside memory", ptr, size)
	}
	inst.Memory().Write(m.bufPtr, m.config)
	if rc, err := m.call(ctx, "fb_init", inst.ExportedFunction("fb_init"), uint64(len(m.config))); err != nil {
		return err
	} else if uint32(rc) != 0 {
		return m.faultf("fb_init", ErrFailed, "status %d: %s", int32(rc), m.lastErr)
	}
	m.fnBatch = inst.ExportedFunction("fb_batch")
	m.fnFlush = inst.ExportedFunction("fb_flush")
	return nil
}

// call calls fn within the module's deadline and turns every way it can
// fail into a *FaultError.
func (m *Module) call(ctx context.Context, name string, fn api.Function, args ...uint64) (uint64, error) {
	if fn == nil {
		return 0, m.faultf(name, ErrTrap, "not exported")
	}
	m.fault, m.emitted, m.logs = nil, 0, 0
	m.alerts, m.actions = m.alerts[:0], m.actions[:0]
	cctx, cancel := context.WithTimeout(ctx, m.Manifest.Limits.deadline())
	res, err := fn.Call(cctx, args...)
	cancel()
	m.view = nil // the guest may have grown (moved) its memory
	if err != nil {
		return 0, m.classify(ctx, cctx, name, err)
	}
	if m.fault != nil {
		return 0, m.fault
	}
	if len(res) == 0 {
		return 0, nil
	}
	return res[0], nil
}

func (m *Module) classify(ctx, cctx context.Context, name string, err error) error {
	if m.fault != nil {
		return m.fault
	}
	if ctx.Err() != nil {
		return ctx.Err() // the analysis was cancelled: not the module's fault
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		switch ee.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return m.faultf(name, ErrDeadline, "stopped after %s", m.Manifest.Limits.deadline())
		case sys.ExitCodeContextCanceled:
			return ctx.Err()
		}
		return m.faultf(name, ErrTrap, "exited with code %d%s", ee.ExitCode(), m.stderr.suffix())
	}
	if errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return m.faultf(name, ErrDeadline, "stopped after %s", m.Manifest.Limits.deadline())
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return m.faultf(name, ErrTrap, "%s%s", msg, m.stderr.suffix())
}

func (m *Module) faultf(call string, kind error, format string, args ...any) *FaultError {
	m.fault = &FaultError{Module: m.Manifest.Name, Call: call, Err: kind, Detail: fmt.Sprintf(format, args...)}
	return m.fault
}

// discard closes the instance after a fault or at the end.
func (m *Module) discard(ctx context.Context) {
	if m.inst != nil {
		m.inst.Close(ctx)
		m.inst, m.fnBatch, m.fnFlush, m.view = nil, nil, nil, nil
	}
	m.pending, m.events = 0, 0
}

// Close releases the module. It is safe at any step of the lifecycle,
// after a failed load or init, and more than once.
func (m *Module) Close(ctx context.Context) error {
	if m.closed {
		return nil
	}
	m.closed = true
	m.discard(ctx)
	var errs []error
	if m.rt != nil {
		errs = append(errs, m.rt.Close(ctx))
	}
	for _, mt := range m.roots {
		errs = append(errs, mt.root.Close())
	}
	if m.h != nil {
		m.h.mu.Lock()
		if m.h.mods[m.Manifest.Name] == m {
			delete(m.h.mods, m.Manifest.Name)
		}
		m.h.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Host functions. Each checks every address range it is given; one outside
// the guest's memory is a fault, raised by panicking out of the call (wazero
// recovers it and the call returns an error).

func (m *Module) mem(mod api.Module, fn string, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		panic(m.faultf(fn, ErrBadPointer, "%s(ptr=%#x, len=%d) outside the module's %d bytes of memory", fn, ptr, n, mod.Memory().Size()))
	}
	return b
}

func ret(stack []uint64, v int32) { stack[0] = api.EncodeI32(v) }

func (m *Module) hostEmit(ctx context.Context, mod api.Module, stack []uint64) {
	b := m.mem(mod, "emit", uint32(stack[0]), uint32(stack[1]))
	ev, rest, ok := sdk.Batch(b).Next()
	if !ok || len(rest) != 0 {
		ret(stack, sdk.StatusInvalid)
		return
	}
	m.emitted++
	if m.emitted > m.Manifest.Limits.alerts() {
		panic(m.faultf("emit", ErrFlood, "more than %d alerts or actions in one call", m.Manifest.Limits.alerts()))
	}
	switch ev.Kind() {
	case sdk.KindAlert:
		if ev.Str(sdk.FieldSignature) == "" {
			ret(stack, sdk.StatusInvalid)
			return
		}
		m.alerts = append(m.alerts, sdk.DecodeAlert(ev))
	case sdk.KindAction:
		if !m.Manifest.Has("propose") {
			ret(stack, sdk.StatusForbidden)
			return
		}
		m.actions = append(m.actions, sdk.DecodeAction(ev))
	default:
		ret(stack, sdk.StatusInvalid)
		return
	}
	ret(stack, sdk.StatusOK)
}

const (
	maxLogLine     = 1024
	maxLogsPerCall = 64
	maxKey         = 256
	maxSetBytes    = 32 << 10
)

func (m *Module) hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	level := int32(stack[0])
	b := m.mem(mod, "log", uint32(stack[1]), uint32(stack[2]))
	if len(b) > maxLogLine {
		b = b[:maxLogLine]
	}
	line := strings.ToValidUTF8(string(b), "?")
	if level >= sdk.LevelError {
		m.lastErr = line
	}
	m.logs++
	if m.logs > maxLogsPerCall {
		return
	}
	lv := slog.LevelDebug + slog.Level(4*min(max(level, 0), 3))
	m.log.Log(ctx, lv, line)
}

func (m *Module) hostKVGet(ctx context.Context, mod api.Module, stack []uint64) {
	k := m.mem(mod, "kv_get", uint32(stack[0]), uint32(stack[1]))
	out := m.mem(mod, "kv_get", uint32(stack[2]), uint32(stack[3]))
	v, ok := m.state[string(k)]
	switch {
	case !ok:
		ret(stack, sdk.StatusNotFound)
	case len(v) > len(out):
		ret(stack, sdk.StatusTooSmall)
	default:
		ret(stack, int32(copy(out, v)))
	}
}

func (m *Module) hostKVSet(ctx context.Context, mod api.Module, stack []uint64) {
	k := m.mem(mod, "kv_set", uint32(stack[0]), uint32(stack[1]))
	v := m.mem(mod, "kv_set", uint32(stack[2]), uint32(stack[3]))
	if len(k) == 0 || len(k) > maxKey {
		ret(stack, sdk.StatusInvalid)
		return
	}
	old, had := m.state[string(k)]
	size := m.stateBytes + len(v) - len(old)
	if !had {
		size += len(k)
	}
	if size > m.Manifest.Limits.state() {
		ret(stack, sdk.StatusQuota)
		return
	}
	m.state[string(k)] = append([]byte(nil), v...)
	m.stateBytes = size
	ret(stack, sdk.StatusOK)
}

func (m *Module) hostKVDelete(ctx context.Context, mod api.Module, stack []uint64) {
	k := m.mem(mod, "kv_delete", uint32(stack[0]), uint32(stack[1]))
	if v, ok := m.state[string(k)]; ok {
		m.stateBytes -= len(k) + len(v)
		delete(m.state, string(k))
	}
	ret(stack, sdk.StatusOK)
}

func (m *Module) hostMatchCompile(ctx context.Context, mod api.Module, stack []uint64) {
	b := m.mem(mod, "match_compile", uint32(stack[0]), uint32(stack[1]))
	if len(m.sets) >= maxPatternSets {
		ret(stack, sdk.StatusLimit)
		return
	}
	if m.setBytes+len(b) > maxSetBytes {
		ret(stack, sdk.StatusLimit)
		return
	}
	var pats [][]byte
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 || 1+n > len(b) || len(pats) == maxPatterns {
			ret(stack, sdk.StatusInvalid)
			return
		}
		pats = append(pats, b[1:1+n])
		b = b[1+n:]
	}
	m.setBytes += int(uint32(stack[1]))
	m.sets = append(m.sets, newMatcher(pats, uint32(stack[2])&sdk.MatchFold != 0))
	ret(stack, int32(len(m.sets)-1))
}

func (m *Module) hostMatch(ctx context.Context, mod api.Module, stack []uint64) {
	set := uint32(stack[0])
	data := m.mem(mod, "match", uint32(stack[1]), uint32(stack[2]))
	ocap := uint64(uint32(stack[4]))
	if ocap*4 > math.MaxUint32 {
		panic(m.faultf("match", ErrBadPointer, "match(out cap=%d) larger than memory", ocap))
	}
	out := m.mem(mod, "match", uint32(stack[3]), uint32(ocap*4))
	if int(set) >= len(m.sets) {
		ret(stack, sdk.StatusInvalid)
		return
	}
	mt := m.sets[set]
	if len(m.seen) < mt.n {
		m.seen = make([]bool, mt.n)
	}
	n := 0
	if ocap > 0 {
		mt.scan(data, m.seen[:mt.n], func(idx int32) bool {
			out[4*n], out[4*n+1], out[4*n+2], out[4*n+3] = byte(idx), byte(idx>>8), 0, 0
			n++
			return uint64(n) < ocap
		})
	}
	ret(stack, int32(n))
}

// tail keeps the first max bytes written to the guest's stderr since the
// instance started, for the fault report: a Go guest's panic or "out of
// memory" comes first, the goroutine dump after it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (t *tail) reset() { t.mu.Lock(); t.b = t.b[:0]; t.mu.Unlock() }

func (t *tail) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(strings.ToValidUTF8(string(t.b), "?"))
	if s == "" {
		return ""
	}
	if i := strings.Index(s, "\n"); i > 0 && i < len(s) {
		// The first line says what happened; keep a few more for context.
		lines := strings.SplitN(s, "\n", 4)
		s = strings.Join(lines[:min(len(lines), 3)], " | ")
	}
	return ": stderr: " + s
}
