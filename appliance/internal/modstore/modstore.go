// Package modstore keeps what the appliance runs besides its embedded
// first-party modules: modules an engineer installed on site or HQ
// published, the indicator feeds the ioc module matches, the keys trusted
// to sign them, and which modules are enabled.
//
// It never installs a module or feed whose signature does not verify
// against a trusted key, unless an engineer explicitly allowed an unsigned
// module (the caller journals that choice). Files are written atomically,
// so a killed appliance keeps either the old or the new state.
//
// Layout under the data directory's modules/ folder:
//
//	trust/NAME.pub            ed25519 public keys (PEM) trusted besides the first-party key
//	installed/NAME/           module.wasm, manifest.json, signature.json
//	feeds/NAME.json, .sig     indicator feeds and their signatures
//	state.json                installed modules' records and disabled modules
package modstore

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/datadir"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
)

// Errors.
var (
	ErrNotFound = errors.New("no such module")
	ErrInvalid  = errors.New("invalid")
)

// Sources of a module.
const (
	Embedded  = "embedded"
	Installed = "installed"
)

// Module is a module the appliance has.
type Module struct {
	Name          string    `json:"name"`
	Version       string    `json:"version"`
	Kind          string    `json:"kind"`
	Source        string    `json:"source"` // Embedded or Installed
	SHA256        string    `json:"sha256"` // of module.wasm
	Digest        string    `json:"digest"` // of the signed message: manifest and wasm
	Signer        string    `json:"signer,omitempty"`
	Unsigned      bool      `json:"unsigned,omitempty"` // installed under the explicit allow flag
	Enabled       bool      `json:"enabled"`
	Subscriptions []string  `json:"subscriptions"`
	Capabilities  []string  `json:"capabilities,omitempty"`
	Techniques    []string  `json:"techniques,omitempty"`
	InstalledAt   time.Time `json:"installed_at,omitzero"`
	InstalledBy   string    `json:"installed_by,omitempty"`
	From          string    `json:"from,omitempty"` // "upload", "hq"
	Refused       string    `json:"refused,omitempty"`
}

// Feed is an installed indicator feed.
type Feed struct {
	Name        string    `json:"name"`
	SHA256      string    `json:"sha256"`
	Size        int       `json:"size"`
	Indicators  int       `json:"indicators"`
	Signer      string    `json:"signer"`
	InstalledAt time.Time `json:"installed_at"`
	From        string    `json:"from,omitempty"`
}

type state struct {
	Installed map[string]Module `json:"installed"`
	Disabled  map[string]bool   `json:"disabled"`
	Feeds     map[string]Feed   `json:"feeds"`
}

// Store is the appliance's module store. It is safe for concurrent use.
type Store struct {
	dir   string
	trust *modhost.TrustStore
	now   func() time.Time

	// embedded are the modules built into the binary, read, described and
	// signature-checked once, on first use (hashing them is seconds on a
	// slow CPU, which the daemon's start need not wait for): they cannot
	// change while it runs.
	embeddedOnce sync.Once
	embedded     []embeddedModule
	embeddedErr  error

	// OnFeeds, if set, is called after a feed is installed (outside the
	// store's lock): the daemon reconfigures the ioc module of the live
	// sources with it.
	OnFeeds func()

	mu sync.Mutex
	st state
}

type embeddedModule struct {
	pkg *modhost.Package
	m   Module
}

// Open opens (creating) the store in dir and loads its trusted keys with
// the first-party key.
func Open(dir string) (*Store, error) {
	for _, d := range []string{"trust", "installed", "feeds"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	s := &Store{dir: dir, trust: modhost.NewTrustStore(), now: time.Now,
		st: state{Installed: map[string]Module{}, Disabled: map[string]bool{}, Feeds: map[string]Feed{}}}
	if k, err := firstparty.Key(); err == nil {
		if err := s.trust.Add("first-party", k); err != nil {
			return nil, err
		}
	}
	keys, err := filepath.Glob(filepath.Join(dir, "trust", "*.pub"))
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		b, err := os.ReadFile(k)
		if err != nil {
			return nil, err
		}
		pub, err := ParseKey(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		s.trust.Add(strings.TrimSuffix(filepath.Base(k), ".pub"), pub)
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err == nil {
		if err := json.Unmarshal(b, &s.st); err != nil {
			return nil, fmt.Errorf("modules/state.json: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	s.st = s.st.clone() // fills in the maps a hand-edited file left out
	return s, nil
}

// embeddedModules reads and checks the embedded modules the first time.
func (s *Store) embeddedModules() ([]embeddedModule, error) {
	s.embeddedOnce.Do(func() {
		emb, err := firstparty.Packages()
		if err != nil && !errors.Is(err, firstparty.ErrNotBuilt) {
			s.embeddedErr = err
			return
		}
		for _, p := range emb {
			m := describe(p)
			m.Source = Embedded
			if m.Refused == "" {
				if m.Signer, err = s.trust.Verify(p); err != nil {
					m.Refused = err.Error()
				}
			}
			s.embedded = append(s.embedded, embeddedModule{p, m})
		}
	})
	return s.embedded, s.embeddedErr
}

// Trust is the store's trust store: the first-party key and trust/*.pub.
func (s *Store) Trust() *modhost.TrustStore { return s.trust }

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// ParseKey reads a PEM ed25519 public key (PKIX, as openssl writes it, or
// the raw 32 bytes).
func ParseKey(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: not a PEM public key", ErrInvalid)
	}
	if len(blk.Bytes) == ed25519.PublicKeySize {
		return ed25519.PublicKey(blk.Bytes), nil
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an ed25519 key", ErrInvalid)
	}
	return pub, nil
}

// TrustKey trusts a PEM ed25519 public key under name (HQ's signing key,
// a partner's) from now on, and returns its fingerprint.
func (s *Store) TrustKey(name string, pemKey []byte) (string, error) {
	if !nameRE.MatchString(name) {
		return "", fmt.Errorf("%w: key name %q: lower-case letters, digits, - and _", ErrInvalid, name)
	}
	pub, err := ParseKey(pemKey)
	if err != nil {
		return "", err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "ED25519 PUBLIC KEY", Bytes: pub})
	if err := datadir.WriteFileAtomic(filepath.Join(s.dir, "trust", name+".pub"), out, 0o600); err != nil {
		return "", err
	}
	return modhost.Fingerprint(pub), s.trust.Add(name, pub)
}

// List returns every module: the embedded ones, then the installed ones.
func (s *Store) List() ([]Module, error) {
	emb, err := s.embeddedModules()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Module{}
	for _, e := range emb {
		m := e.m
		if _, over := s.st.Installed[m.Name]; over {
			m.Refused = "replaced by an installed module of the same name"
		}
		m.Enabled = m.Refused == "" && !s.st.Disabled[m.Name]
		out = append(out, m)
	}
	names := slices.Sorted(maps.Keys(s.st.Installed))
	for _, n := range names {
		m := s.st.Installed[n]
		m.Enabled = !s.st.Disabled[n]
		out = append(out, m)
	}
	return out, nil
}

func describe(p *modhost.Package) Module {
	sum := sha256.Sum256(p.Wasm)
	m := Module{Name: strings.TrimPrefix(p.Source, "embedded:"), SHA256: hex.EncodeToString(sum[:]), Digest: digest(p), Subscriptions: []string{}}
	man, err := modhost.ParseManifest(p.Manifest)
	if err != nil {
		m.Refused = err.Error()
		return m
	}
	m.Name, m.Version, m.Kind, m.Capabilities, m.Techniques = man.Name, man.Version, man.Kind, man.Capabilities, man.Techniques
	for _, sub := range man.Subscriptions {
		m.Subscriptions = append(m.Subscriptions, sub.Event)
	}
	return m
}

// Install checks a module package — manifest, signature against the
// trusted keys (unless allowUnsigned), size — and installs it, replacing
// an installed module of the same name or shadowing the embedded one.
// The caller compiles it first (modhost.Host.Load) and journals the
// install.
func (s *Store) Install(p *modhost.Package, allowUnsigned bool, by, from string) (Module, error) {
	m := describe(p)
	if m.Refused != "" {
		return Module{}, fmt.Errorf("%w: %s", ErrInvalid, m.Refused)
	}
	signer, err := s.trust.Verify(p)
	switch {
	case err == nil:
		m.Signer = signer
	case allowUnsigned && modhost.IsTrustError(err):
		m.Unsigned = true
	default:
		return Module{}, err
	}
	m.Source, m.InstalledAt, m.InstalledBy, m.From, m.Enabled = Installed, s.now().UTC(), by, from, true
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := filepath.Join(s.dir, "installed", m.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Module{}, err
	}
	for name, data := range map[string][]byte{"module.wasm": p.Wasm, "manifest.json": p.Manifest, "signature.json": p.Signature} {
		if data == nil {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		if err := datadir.WriteFileAtomic(filepath.Join(dir, name), data, 0o600); err != nil {
			return Module{}, err
		}
	}
	next := s.st.clone()
	next.Installed[m.Name] = m
	delete(next.Disabled, m.Name)
	return m, s.save(next)
}

// SetEnabled enables or disables a module by name.
func (s *Store) SetEnabled(name string, on bool) (Module, error) {
	all, err := s.List()
	if err != nil {
		return Module{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range all {
		if m.Name != name || (m.Source == Embedded && s.st.Installed[name].Name != "") {
			continue
		}
		if on && m.Refused != "" {
			return Module{}, fmt.Errorf("%w: module %s cannot run: %s", ErrInvalid, name, m.Refused)
		}
		next := s.st.clone()
		if on {
			delete(next.Disabled, name)
		} else {
			next.Disabled[name] = true
		}
		m.Enabled = on
		return m, s.save(next)
	}
	return Module{}, fmt.Errorf("%w: %s", ErrNotFound, name)
}

// Packages are the modules to run: the enabled embedded modules not
// replaced by an installed one, and the enabled installed modules.
func (s *Store) Packages() ([]*modhost.Package, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	emb, err := s.embeddedModules()
	if err != nil {
		return nil, err
	}
	byName := map[string]*modhost.Package{}
	for _, e := range emb {
		byName[e.m.Name] = e.pkg
	}
	var out []*modhost.Package
	for _, m := range all {
		if !m.Enabled {
			continue
		}
		if m.Source == Embedded {
			out = append(out, byName[m.Name])
			continue
		}
		p, err := s.readInstalled(m.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (s *Store) readInstalled(name string) (*modhost.Package, error) {
	dir := filepath.Join(s.dir, "installed", name)
	p := &modhost.Package{Source: "installed:" + name}
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

// digest names a package by what its signature covers.
func digest(p *modhost.Package) string {
	d := sha256.Sum256(modhost.SignedMessage(p.Manifest, p.Wasm))
	return hex.EncodeToString(d[:])
}

// Has reports whether this very package (manifest and wasm) is installed.
func (s *Store) Has(p *modhost.Package) bool {
	m, err := modhost.ParseManifest(p.Manifest)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Installed[m.Name].Digest == digest(p)
}

// feedFile is an indicator feed in the ioc module's config format.
type feedFile struct {
	Indicators []json.RawMessage `json:"indicators"`
}

// InstallFeed checks a feed's signature (always required) and format and
// installs it under name.
func (s *Store) InstallFeed(name string, data, sig []byte, from string) (Feed, error) {
	if !nameRE.MatchString(name) {
		return Feed{}, fmt.Errorf("%w: feed name %q: lower-case letters, digits, - and _", ErrInvalid, name)
	}
	signer, err := s.trust.VerifyFeed(name, data, sig)
	if err != nil {
		return Feed{}, fmt.Errorf("feed %s: %w", name, err)
	}
	var ff feedFile
	if err := json.Unmarshal(data, &ff); err != nil {
		return Feed{}, fmt.Errorf("%w: feed %s: %v", ErrInvalid, name, err)
	}
	sum := sha256.Sum256(data)
	f := Feed{Name: name, SHA256: hex.EncodeToString(sum[:]), Size: len(data), Indicators: len(ff.Indicators),
		Signer: signer, InstalledAt: s.now().UTC(), From: from}
	if err := s.saveFeed(f, data, sig); err != nil {
		return Feed{}, err
	}
	if s.OnFeeds != nil {
		s.OnFeeds()
	}
	return f, nil
}

func (s *Store) saveFeed(f Feed, data, sig []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	base := filepath.Join(s.dir, "feeds", f.Name)
	if err := datadir.WriteFileAtomic(base+".json", data, 0o600); err != nil {
		return err
	}
	if err := datadir.WriteFileAtomic(base+".sig", sig, 0o600); err != nil {
		return err
	}
	next := s.st.clone()
	next.Feeds[f.Name] = f
	return s.save(next)
}

// HasFeed reports whether the feed is installed with these bytes.
func (s *Store) HasFeed(name, sum string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Feeds[name].SHA256 == sum
}

// Feeds lists the installed feeds, by name.
func (s *Store) Feeds() []Feed {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Feed{}
	for _, n := range slices.Sorted(maps.Keys(s.st.Feeds)) {
		out = append(out, s.st.Feeds[n])
	}
	return out
}

// Config is the init config of a module: for the ioc module, every
// installed feed's indicators together; nil for the others.
func (s *Store) Config(module string) ([]byte, error) {
	if module != "ioc" {
		return nil, nil
	}
	feeds := s.Feeds()
	if len(feeds) == 0 {
		return nil, nil
	}
	var all feedFile
	for _, f := range feeds {
		b, err := os.ReadFile(filepath.Join(s.dir, "feeds", f.Name+".json"))
		if err != nil {
			return nil, err
		}
		var ff feedFile
		if err := json.Unmarshal(b, &ff); err != nil {
			return nil, fmt.Errorf("feed %s: %w", f.Name, err)
		}
		all.Indicators = append(all.Indicators, ff.Indicators...)
	}
	return json.Marshal(all)
}

// clone copies the state for a change (the records are replaced whole,
// never changed in place), with every map made.
func (st state) clone() state {
	next := state{Installed: maps.Clone(st.Installed), Disabled: maps.Clone(st.Disabled), Feeds: maps.Clone(st.Feeds)}
	if next.Installed == nil {
		next.Installed = map[string]Module{}
	}
	if next.Disabled == nil {
		next.Disabled = map[string]bool{}
	}
	if next.Feeds == nil {
		next.Feeds = map[string]Feed{}
	}
	return next
}

// save writes the state and, once it is on disk, makes it current.
func (s *Store) save(next state) error {
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	if err := datadir.WriteFileAtomic(filepath.Join(s.dir, "state.json"), b, 0o600); err != nil {
		return err
	}
	s.st = next
	return nil
}
