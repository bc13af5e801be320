package hqsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// What HQ publishes for its appliances, under hq/ in the bucket:
//
//	hq/modules/NAME/manifest.json, module.wasm, signature.json   a signed module
//	hq/feeds/NAME.json, NAME.json.sig                            a signed indicator feed
//	hq/config/config.json, config.json.sig                       signed settings (config.go)
//
// Appliances pull them when online and install only what verifies against
// a key they trust; the bucket itself is never trusted.
const hqPrefix = "hq/"

func hqModuleKey(name, file string) string { return hqPrefix + "modules/" + name + "/" + file }
func hqFeedKey(name string) string         { return hqPrefix + "feeds/" + name + ".json" }

// Size limits of what is pulled.
const (
	maxPullWasm  = 64 << 20
	maxPullSmall = 1 << 20
	maxPullFeed  = 64 << 20
)

// Puller installs what HQ publishes. It checks each signature against the
// appliance's trusted keys, installs, and journals what it installed or
// refused; ErrUnchanged says it had the item already, another error
// refuses the item.
type Puller interface {
	PullModule(ctx context.Context, name string, manifest, wasm, signature []byte) error
	HasFeed(name, sha256 string) bool
	PullFeed(ctx context.Context, name string, data, signature []byte) error
	// PullConfig verifies HQ's configuration (VerifyConfig) and applies it,
	// the sync settings through Syncer.ApplyConfig.
	PullConfig(ctx context.Context, data, signature []byte) error
	// AppliedConfig is the configuration applied last, nil if none; New
	// starts with its sync settings.
	AppliedConfig() *Config
}

// PullStatus is what the last pull from hq/ did.
type PullStatus struct {
	Modules int      `json:"modules"` // installed by the last pull
	Feeds   int      `json:"feeds"`
	Config  bool     `json:"config,omitempty"`  // the last pull applied a new configuration
	Refused []string `json:"refused,omitempty"` // what HQ published that did not verify, and why
}

// pull installs the modules and feeds HQ published that the appliance does
// not have. Objects are fetched again only when their ETag changed, so an
// idle link carries a listing, not the modules.
func (s *Syncer) pull(ctx context.Context) error {
	if s.opts.Pull == nil {
		return nil
	}
	var st PullStatus
	if s.retry.Swap(false) {
		clear(s.refused)
	}
	objs, err := s.hq.listObjects(ctx, hqPrefix)
	if err != nil {
		return err
	}
	modules := map[string]bool{}
	for key := range objs {
		rest, ok := strings.CutPrefix(key, hqPrefix+"modules/")
		if name, file, _ := strings.Cut(rest, "/"); ok && file == "module.wasm" {
			modules[name] = true
		}
	}
	for name := range modules {
		key := hqModuleKey(name, "module.wasm")
		tag := objs[key] + objs[hqModuleKey(name, "manifest.json")] + objs[hqModuleKey(name, "signature.json")]
		if s.pulled[key] == tag || s.refused[key] == tag {
			continue
		}
		err := s.pullModule(ctx, name)
		if err == nil {
			st.Modules++
		}
		if done, err := s.pullDone(key, tag, err, &st); !done {
			return err
		}
	}
	for key := range objs {
		name, ok := strings.CutSuffix(strings.TrimPrefix(key, hqPrefix+"feeds/"), ".json")
		if !ok || !strings.HasPrefix(key, hqPrefix+"feeds/") || strings.Contains(name, "/") {
			continue
		}
		tag := objs[key] + objs[key+".sig"]
		if s.pulled[key] == tag || s.refused[key] == tag {
			continue
		}
		err := s.pullFeed(ctx, name)
		if err == nil {
			st.Feeds++
		}
		if done, err := s.pullDone(key, tag, err, &st); !done {
			return err
		}
	}
	if tag := objs[hqConfigKey]; tag != "" {
		tag += objs[hqConfigKey+".sig"]
		if s.pulled[hqConfigKey] != tag && s.refused[hqConfigKey] != tag {
			err := s.pullConfig(ctx)
			st.Config = err == nil
			if done, err := s.pullDone(hqConfigKey, tag, err, &st); !done {
				return err
			}
		}
	}
	s.mu.Lock()
	s.st.Pull = &st
	s.mu.Unlock()
	return nil
}

// ErrUnchanged is a pulled item the appliance already had.
var ErrUnchanged = errors.New("already installed")

// pullDone records the outcome of one item: done, or (for an HQ failure)
// the error that stops the run, so the item is tried again next run.
func (s *Syncer) pullDone(key, tag string, err error, st *PullStatus) (bool, error) {
	var he *hqError
	if errors.As(err, &he) {
		return false, err
	}
	if err != nil && !errors.Is(err, ErrUnchanged) {
		st.Refused = append(st.Refused, strings.TrimPrefix(key, hqPrefix)+": "+err.Error())
		s.log.Warn("refused what HQ published", "object", key, "err", err)
		s.refused[key] = tag
		return true, nil
	}
	s.pulled[key] = tag
	return true, nil
}

func (s *Syncer) pullModule(ctx context.Context, name string) error {
	wasm, err := s.hq.get(ctx, hqModuleKey(name, "module.wasm"), maxPullWasm)
	if err != nil {
		return err
	}
	manifest, err := s.hq.get(ctx, hqModuleKey(name, "manifest.json"), maxPullSmall)
	if err != nil {
		return err
	}
	sig, err := s.hq.get(ctx, hqModuleKey(name, "signature.json"), maxPullSmall)
	if err != nil && !errors.Is(err, errMissing) {
		return err
	}
	return s.opts.Pull.PullModule(ctx, name, manifest, wasm, sig)
}

func (s *Syncer) pullFeed(ctx context.Context, name string) error {
	data, err := s.hq.get(ctx, hqFeedKey(name), maxPullFeed)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if s.opts.Pull.HasFeed(name, hex.EncodeToString(sum[:])) {
		return ErrUnchanged
	}
	sig, err := s.hq.get(ctx, hqFeedKey(name)+".sig", maxPullSmall)
	if err != nil && !errors.Is(err, errMissing) {
		return err
	}
	return s.opts.Pull.PullFeed(ctx, name, data, sig)
}

var publishName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// listObjects maps every key under prefix to its ETag.
func (h *hq) listObjects(ctx context.Context, prefix string) (map[string]string, error) {
	out := map[string]string{}
	err := h.eachObject(ctx, prefix, func(o types.Object) { out[aws.ToString(o.Key)] = aws.ToString(o.ETag) })
	return out, err
}

// Publish puts files under hq/ for the appliances to pull: a module
// directory's three files (kind "module"), a feed and its signature (kind
// "feed"), or HQ's configuration and its signature (kind "config", name
// "config"; checked with ParseConfig first). It refuses what is not
// signed; the appliances check the signature against their own trusted
// keys.
func Publish(ctx context.Context, opts Options, kind, name string, files map[string][]byte) error {
	if !publishName.MatchString(name) {
		return fmt.Errorf("publish %s %q: names are lower-case letters, digits, - and _", kind, name)
	}
	keys := map[string]string{}
	switch kind {
	case "module":
		for _, f := range []string{"manifest.json", "module.wasm", "signature.json"} {
			keys[f] = hqModuleKey(name, f)
		}
	case "feed":
		keys["feed"], keys["signature"] = hqFeedKey(name), hqFeedKey(name)+".sig"
	case "config":
		if name != "config" {
			return fmt.Errorf("publish config: HQ publishes one configuration, named config")
		}
		if _, err := ParseConfig(files["config"]); err != nil && len(files["config"]) > 0 {
			return fmt.Errorf("publish config: %w", err)
		}
		keys["config"], keys["signature"] = hqConfigKey, hqConfigKey+".sig"
	default:
		return fmt.Errorf("publish: %q is not module, feed or config", kind)
	}
	for f := range keys {
		if len(files[f]) == 0 {
			return fmt.Errorf("publish %s %s: %s is missing (appliances install only what is signed)", kind, name, f)
		}
	}
	h, err := dial(ctx, &opts)
	if err != nil {
		return err
	}
	defer h.close()
	// The signature last: an appliance that lists in between sees the old
	// signature with new bytes, refuses, and retries at its next run.
	order := []string{"manifest.json", "module.wasm", "feed", "config", "signature.json", "signature"}
	for _, f := range order {
		key, ok := keys[f]
		if !ok {
			continue
		}
		sum := sha256.Sum256(files[f])
		_, err := h.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &h.bucket, Key: &key, Body: bytes.NewReader(files[f]),
			ContentLength: aws.Int64(int64(len(files[f]))), ChecksumSHA256: aws.String(b64(sum[:]))}, unsignedPayload)
		if err != nil {
			return classify("PutObject "+key, err)
		}
	}
	return nil
}
