// Package hqsync is sync to headquarters: store-and-forward of every case
// journal and the vault blobs its entries reference to an S3-compatible
// bucket at HQ, and HQ's verification of what arrived.
//
// Sync runs in its own goroutine and never blocks capture, analysis or the
// API; nothing on the box waits for a link. It never uploads an entry before
// the blobs it references, never moves a case's cursor before its segment or
// backwards, never deletes from the bucket or puts other content under a
// blob's or a segment's name (with encryption, a part sent again is a new
// ciphertext of the same plaintext), and never logs or returns the secret
// access key or HQ's age identities.
package hqsync

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
	bolt "go.etcd.io/bbolt"
)

// Options configure sync. The first group is the target, which is also all
// that Verify needs; the second is what the daemon wires in. Zero values are
// the documented defaults.
type Options struct {
	// Endpoint is the URL of the S3-compatible service, e.g.
	// https://s3.hq.example.com or http://127.0.0.1:7070. Required.
	Endpoint string
	// Bucket is the bucket at HQ. Required; it must exist.
	Bucket string
	// Region for request signing. Default "us-east-1" (what MinIO, Ceph and
	// versitygw accept).
	Region string
	// Credentials for the bucket. Nil reads the standard AWS_ACCESS_KEY_ID
	// and AWS_SECRET_ACCESS_KEY, else the shared credentials file
	// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE).
	Credentials *Credentials
	// Recipients are HQ's age public keys (age1…). With any, blobs and
	// journal segments are encrypted to them on the box before they leave
	// it, so the storage provider cannot read the evidence (see encrypt.go
	// for the layout). The box never holds the matching private key.
	Recipients []string
	// Identities are HQ's age private keys; only Verify uses them, to read
	// encrypted cases. They print and log as REDACTED.
	Identities Identities
	// KeepLog makes Verify keep each verified case's entries in its report
	// (CaseReport.Log), for HQ's read-only view.
	KeepLog bool
	// MaxRate caps the bytes per second sync sends to HQ, headers included,
	// so the customer's uplink is not saturated. Zero is no cap.
	MaxRate int64
	// Interval between runs when nothing fails. Default 5 minutes. A run is
	// also started by Now.
	Interval time.Duration
	// ChunkSize is the part size of multipart uploads; a blob larger than
	// one chunk is uploaded in parts and a cut link costs at most one part.
	// Default 16 MiB, at least 5 MiB (S3's smallest part).
	ChunkSize int64
	// StallTimeout is how long a connection to HQ may make no progress (a
	// write that does not drain, an answer that does not come) before it is
	// given up and the run retried: a link that drops packets is noticed
	// without waiting for TCP to give up. Default 60 s.
	StallTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed run; the wait
	// doubles with each failure and is drawn uniformly below the bound
	// (full jitter). Defaults 2 s and 5 minutes.
	MinBackoff, MaxBackoff time.Duration

	// DB holds the outbox. Required to sync.
	DB *bolt.DB
	// Journal is read, never written. Required to sync.
	Journal *journal.Store
	// Vault holds the blobs. Required to sync.
	Vault *vault.Vault
	// Appliance is the appliance ID and Key its signing key; the cursor of
	// every case is signed with it and identity.json carries its public half.
	Appliance string
	Key       ed25519.PrivateKey
	// Pull, if set, installs the modules and feeds HQ publishes under hq/
	// (see pull.go) after each run that reached HQ.
	Pull Puller
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Credentials are an S3 access key.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey Secret
}

// Secret is a string that prints and logs as REDACTED.
type Secret string

// LogValue keeps the secret out of logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// String keeps the secret out of formatted errors.
func (Secret) String() string { return "REDACTED" }

// Format keeps the secret out of every fmt verb, %#v included.
func (Secret) Format(f fmt.State, _ rune) { fmt.Fprint(f, "REDACTED") }

// Identities are age private keys that print and log as REDACTED.
type Identities []age.Identity

// LogValue keeps the keys out of logs.
func (Identities) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Format keeps the keys out of every fmt verb.
func (Identities) Format(f fmt.State, _ rune) { fmt.Fprint(f, "REDACTED") }

// LogValue shows the key ID only.
func (c *Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key_id", c.AccessKeyID), slog.String("secret", "REDACTED"))
}

const (
	defaultRegion     = "us-east-1"
	defaultInterval   = 5 * time.Minute
	defaultChunk      = 16 << 20
	minChunk          = 5 << 20
	defaultStall      = 60 * time.Second
	defaultMinBackoff = 2 * time.Second
	defaultMaxBackoff = 5 * time.Minute
)

func (o *Options) defaults() {
	if o.Region == "" {
		o.Region = defaultRegion
	}
	if o.Interval <= 0 {
		o.Interval = defaultInterval
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = defaultChunk
	}
	o.ChunkSize = max(o.ChunkSize, minChunk)
	if o.StallTimeout <= 0 {
		o.StallTimeout = defaultStall
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = defaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// checkTarget validates Endpoint and Bucket.
func (o *Options) checkTarget() error {
	if o.Endpoint == "" || o.Bucket == "" {
		return fmt.Errorf("%w: an endpoint and a bucket are required", ErrConfig)
	}
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: endpoint %q is not an http(s) URL", ErrConfig, o.Endpoint)
	}
	if _, err := parseRecipients(o.Recipients); err != nil {
		return err
	}
	if o.MaxRate < 0 {
		return fmt.Errorf("%w: negative max rate", ErrConfig)
	}
	return nil
}

// target names the outbox of one destination: the same bucket with other
// recipients is another destination, whose objects are all sent again.
func (o *Options) target() string {
	t := o.Endpoint + " " + o.Bucket
	if len(o.Recipients) > 0 {
		sum := sha256.Sum256([]byte(strings.Join(o.Recipients, "\n")))
		t += " age:" + hex.EncodeToString(sum[:8])
	}
	return t
}
