package hqsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

// Configuration HQ publishes for its fleet, under hq/ in the bucket:
//
//	hq/config/config.json, config.json.sig   signed like a feed, under ConfigName
//
// An example of config.json, every setting optional but version:
//
//	{
//	  "version": 7,
//	  "sync":    {"max_rate": 1048576, "interval": "10m"},
//	  "modules": {"portscan": false, "dnstunnel": true}
//	}
//
// version only grows: an appliance refuses a configuration whose version is
// not above the one it applied, so an old file put back in the bucket is
// never applied again. A setting the appliance does not know refuses the
// whole file; nothing is half-applied.
const (
	hqConfigKey = hqPrefix + "config/config.json"
	// ConfigName is the name the signature of HQ's configuration covers
	// (modhost.SignFeed): `firebreak module sign-feed hq/config FILE --key KEY`.
	// It is not a valid feed name, so no feed signature passes for a
	// configuration, nor the other way round.
	ConfigName = "hq/config"
	maxConfig  = 64 << 10

	minInterval = 10 * time.Second
	maxInterval = 24 * time.Hour
)

// Errors of HQ's configuration.
var (
	// ErrConfigInvalid means a configuration HQ published is malformed or
	// names a setting the appliance does not have.
	ErrConfigInvalid = errors.New("invalid HQ configuration")
	// ErrConfigStale means a configuration is not newer than the one the
	// appliance applied: a replay of an old file.
	ErrConfigStale = errors.New("HQ configuration is not newer than the applied one")
)

// Config is what HQ sets on its appliances.
type Config struct {
	// Version orders HQ's configurations; it must be above the applied one.
	Version uint64 `json:"version"`
	// Sync are settings of sync to HQ; nil leaves them as they are.
	Sync *SyncConfig `json:"sync,omitempty"`
	// Modules enables (true) or disables (false) detection modules by
	// name; a module not named keeps its state.
	Modules map[string]bool `json:"modules,omitempty"`

	// SHA256 is the hash of the file, set by ParseConfig.
	SHA256 string `json:"-"`
}

// SyncConfig are the sync settings HQ may set.
type SyncConfig struct {
	// MaxRate is the cap in bytes per second (0: no cap), as --sync-max-rate.
	MaxRate *int64 `json:"max_rate,omitempty"`
	// Interval between runs, as --sync-interval: 10s to 24h.
	Interval *Duration `json:"interval,omitempty"`
}

// Duration is a time.Duration written as "10m" in JSON.
type Duration time.Duration

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"10m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// ParseConfig reads a configuration strictly: one JSON object of known
// settings with valid values, nothing after it.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > maxConfig {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrConfigInvalid, len(data), maxConfig)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return nil, fmt.Errorf("%w: unknown setting %s (this appliance knows version, sync.max_rate, sync.interval, modules)", ErrConfigInvalid, name)
		}
		return nil, fmt.Errorf("%w: %v", ErrConfigInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrConfigInvalid)
	}
	if c.Version == 0 {
		return nil, fmt.Errorf("%w: version is required and above 0", ErrConfigInvalid)
	}
	if s := c.Sync; s != nil {
		if s.MaxRate != nil && *s.MaxRate < 0 {
			return nil, fmt.Errorf("%w: sync.max_rate %d is negative (0 is no cap)", ErrConfigInvalid, *s.MaxRate)
		}
		if s.Interval != nil && (time.Duration(*s.Interval) < minInterval || time.Duration(*s.Interval) > maxInterval) {
			return nil, fmt.Errorf("%w: sync.interval %s is not between %s and %s", ErrConfigInvalid, time.Duration(*s.Interval), minInterval, maxInterval)
		}
	}
	for name := range c.Modules {
		if !publishName.MatchString(name) {
			return nil, fmt.Errorf("%w: module name %q: lower-case letters, digits, - and _", ErrConfigInvalid, name)
		}
	}
	sum := sha256.Sum256(data)
	c.SHA256 = hex.EncodeToString(sum[:])
	return &c, nil
}

// VerifyConfig checks a configuration HQ published against the trusted
// keys and the configuration applied (nil if none) and returns it with the
// name of the key that signed it. It returns ErrUnchanged for the applied
// file itself, ErrConfigStale for an older one, a trust error
// (modhost.IsTrustError) for one unsigned, tampered with or signed by a key
// the appliance does not trust, and ErrConfigInvalid for a malformed one.
func VerifyConfig(trust *modhost.TrustStore, data, sig []byte, applied *Config) (*Config, string, error) {
	sum := sha256.Sum256(data)
	if applied != nil && applied.SHA256 == hex.EncodeToString(sum[:]) {
		return nil, "", ErrUnchanged
	}
	signer, err := trust.VerifyFeed(ConfigName, data, sig)
	if err != nil {
		return nil, "", fmt.Errorf("configuration signature: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, "", err
	}
	if applied != nil && c.Version <= applied.Version {
		return nil, "", fmt.Errorf("%w: version %d, applied %d", ErrConfigStale, c.Version, applied.Version)
	}
	return c, signer, nil
}

// ApplyConfig applies HQ's sync settings to the running syncer and returns
// what changed, as "setting: old → new".
func (s *Syncer) ApplyConfig(c *SyncConfig) []string {
	if c == nil {
		return nil
	}
	var changes []string
	if c.MaxRate != nil {
		s.mu.Lock()
		old := s.st.MaxRate
		s.st.MaxRate = *c.MaxRate
		s.mu.Unlock()
		if old != *c.MaxRate {
			s.hq.lim.set(*c.MaxRate)
			changes = append(changes, fmt.Sprintf("sync.max_rate: %d → %d", old, *c.MaxRate))
		}
	}
	if c.Interval != nil {
		old := s.interval()
		if d := time.Duration(*c.Interval); old != d {
			s.every.Store(int64(d))
			changes = append(changes, fmt.Sprintf("sync.interval: %s → %s", old, d))
		}
	}
	return changes
}

// interval is the time between runs: HQ's setting if it made one, else
// the option.
func (s *Syncer) interval() time.Duration {
	if d := s.every.Load(); d > 0 {
		return time.Duration(d)
	}
	return s.opts.Interval
}

// applyStoredConfig applies the sync settings of the configuration the
// appliance applied before it restarted, so they hold from the first run.
func (o *Options) applyStoredConfig() {
	if o.Pull == nil {
		return
	}
	c := o.Pull.AppliedConfig()
	if c == nil || c.Sync == nil {
		return
	}
	if c.Sync.MaxRate != nil {
		o.MaxRate = *c.Sync.MaxRate
	}
	if c.Sync.Interval != nil {
		o.Interval = time.Duration(*c.Sync.Interval)
	}
}

// pullConfig fetches HQ's configuration and hands it to the Puller.
func (s *Syncer) pullConfig(ctx context.Context) error {
	data, err := s.hq.get(ctx, hqConfigKey, maxConfig)
	if err != nil {
		return err
	}
	sig, err := s.hq.get(ctx, hqConfigKey+".sig", maxPullSmall)
	if err != nil && !errors.Is(err, errMissing) {
		return err
	}
	return s.opts.Pull.PullConfig(ctx, data, sig)
}

// ModuleChanges lists what setting modules as c says would change, given
// each module's current state (name → enabled); a module c names that is
// not on the appliance refuses the configuration.
func ModuleChanges(c *Config, current map[string]bool) (map[string]bool, []string, error) {
	set := map[string]bool{}
	var changes []string
	for _, name := range slices.Sorted(maps.Keys(c.Modules)) {
		on := c.Modules[name]
		was, ok := current[name]
		if !ok {
			return nil, nil, fmt.Errorf("%w: module %s is not on this appliance", ErrConfigInvalid, name)
		}
		if was != on {
			set[name] = on
			changes = append(changes, fmt.Sprintf("module %s: %s → %s", name, onOff(was), onOff(on)))
		}
	}
	return set, changes, nil
}

func onOff(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}
