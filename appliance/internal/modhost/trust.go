package modhost

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
)

// Package is a module as distributed: its manifest, its wasm and the
// signature over both (signature.json; nil when unsigned).
type Package struct {
	Manifest  []byte
	Wasm      []byte
	Signature []byte
	Source    string // where it came from, for messages: "embedded", a path
}

// Signature is signature.json: the fingerprint of the signing key and the
// ed25519 signature of SignedMessage.
type Signature struct {
	Key       string `json:"key"`
	Signature string `json:"signature"` // base64
}

// SignedMessage is what a module signature covers: a domain string, then
// the SHA-256 of the manifest and of the wasm, so that neither can be
// swapped or changed alone.
func SignedMessage(manifest, wasm []byte) []byte {
	m := sha256.Sum256(manifest)
	w := sha256.Sum256(wasm)
	msg := append([]byte("firebreak module signature v1\x00"), m[:]...)
	return append(msg, w[:]...)
}

// Fingerprint is the SHA-256 of the raw public key, in hex (the same as the
// appliance identity's fingerprint).
func Fingerprint(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:])
}

// Sign signs a package's manifest and wasm and returns signature.json.
func Sign(key ed25519.PrivateKey, manifest, wasm []byte) []byte {
	sig := Signature{
		Key:       Fingerprint(key.Public().(ed25519.PublicKey)),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, SignedMessage(manifest, wasm))),
	}
	b, _ := json.MarshalIndent(sig, "", "  ")
	return append(b, '\n')
}

// TrustStore holds the public keys whose module signatures the appliance
// accepts, by fingerprint. It is safe for concurrent use.
type TrustStore struct {
	mu   sync.RWMutex
	keys map[string]trusted
}

type trusted struct {
	pub  ed25519.PublicKey
	name string
}

// NewTrustStore returns an empty trust store.
func NewTrustStore() *TrustStore { return &TrustStore{keys: map[string]trusted{}} }

// Add trusts pub under a name for messages ("first-party", "appliance").
func (t *TrustStore) Add(name string, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("trust %s: not an ed25519 public key", name)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keys[Fingerprint(pub)] = trusted{pub, name}
	return nil
}

// Keys lists the trusted keys as "name fingerprint", sorted.
func (t *TrustStore) Keys() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for fp, k := range t.keys {
		out = append(out, k.name+" "+fp)
	}
	sort.Strings(out)
	return out
}

// Verify checks a package's signature and returns the name of the key
// that signed it. It fails with ErrUnsigned, ErrBadSignature or
// ErrUntrustedKey.
func (t *TrustStore) Verify(p *Package) (string, error) {
	return t.verify(p.Signature, "signature.json", SignedMessage(p.Manifest, p.Wasm))
}

// SignedFeed is what the signature of an indicator feed (or any file HQ
// publishes) covers: a domain string, then the SHA-256 of its name and of
// its bytes, so a feed cannot be renamed or changed.
func SignedFeed(name string, data []byte) []byte {
	n := sha256.Sum256([]byte(name))
	d := sha256.Sum256(data)
	msg := append([]byte("firebreak feed signature v1\x00"), n[:]...)
	return append(msg, d[:]...)
}

// SignFeed signs a named file and returns its signature (the format of
// signature.json).
func SignFeed(key ed25519.PrivateKey, name string, data []byte) []byte {
	sig := Signature{
		Key:       Fingerprint(key.Public().(ed25519.PublicKey)),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, SignedFeed(name, data))),
	}
	b, _ := json.MarshalIndent(sig, "", "  ")
	return append(b, '\n')
}

// VerifyFeed checks the signature of a named file and returns the name of
// the key that signed it.
func (t *TrustStore) VerifyFeed(name string, data, sig []byte) (string, error) {
	return t.verify(sig, name+".sig", SignedFeed(name, data))
}

func (t *TrustStore) verify(sigJSON []byte, file string, msg []byte) (string, error) {
	if len(sigJSON) == 0 {
		return "", ErrUnsigned
	}
	var sig Signature
	if err := json.Unmarshal(sigJSON, &sig); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrBadSignature, file, err)
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return "", fmt.Errorf("%w: %s: malformed signature", ErrBadSignature, file)
	}
	t.mu.RLock()
	k, ok := t.keys[sig.Key]
	t.mu.RUnlock()
	if !ok {
		return "", fmt.Errorf("%w: key %.16s", ErrUntrustedKey, sig.Key)
	}
	if !ed25519.Verify(k.pub, msg, raw) {
		return "", fmt.Errorf("%w: key %s %.16s", ErrBadSignature, k.name, sig.Key)
	}
	return k.name, nil
}

// IsTrustError reports whether err is a refusal of the signature check.
func IsTrustError(err error) bool {
	return errors.Is(err, ErrUnsigned) || errors.Is(err, ErrBadSignature) || errors.Is(err, ErrUntrustedKey)
}

// LoadKey reads an ed25519 private key, PKCS#8 PEM, for signing modules.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ed25519 key", path)
	}
	return key, nil
}
