// Package auth says who is calling the appliance and what they may do:
// roles, the authenticated caller, and API tokens for scripts.
//
// A token's secret is shown once, when it is created; the store keeps only
// its SHA-256, and this package must never log a secret.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors of token handling.
var (
	// ErrBadToken means the token is unknown, revoked or malformed.
	ErrBadToken = errors.New("invalid or revoked token")
	// ErrInvalid means a token request was malformed.
	ErrInvalid = errors.New("invalid token request")
	// ErrExists means a token of that name exists.
	ErrExists = errors.New("a token with that name exists")
	// ErrNotFound means no token has that name.
	ErrNotFound = errors.New("no token with that name")
)

// Role is what a caller may do. Each role may do everything the roles below
// it may.
type Role string

// Roles, from most to least powerful.
const (
	Admin     Role = "admin"     // manages tokens, engineers and the appliance
	Responder Role = "responder" // works cases: every change to a case
	Viewer    Role = "viewer"    // reads
)

var rank = map[Role]int{Viewer: 1, Responder: 2, Admin: 3}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return rank[r] > 0 }

// Allows reports whether a caller with role r may act as need.
func (r Role) Allows(need Role) bool { return rank[r] >= rank[need] && rank[need] > 0 }

// Caller is an authenticated caller. Actor is what the journal records.
type Caller struct {
	Actor string
	Role  Role
}

// Secret is a token secret. It prints as REDACTED in logs and %v.
type Secret string

// LogValue keeps secrets out of logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

func (Secret) String() string { return "REDACTED" }

// Reveal returns the secret itself, to show once to the person who made it.
func (s Secret) Reveal() string { return string(s) }

// Token describes an API token without its secret.
type Token struct {
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}

// Tokens keeps API tokens in bbolt under tokens/<sha256 of secret>.
type Tokens struct {
	db *bolt.DB
}

var bucketTokens = []byte("tokens")

const tokenPrefix = "fbt_"

// NewTokens returns the token store in db.
func NewTokens(db *bolt.DB) (*Tokens, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketTokens)
		return err
	})
	return &Tokens{db: db}, err
}

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// Create makes a token and returns its secret, which is not kept.
func (t *Tokens) Create(name string, role Role, by string, now time.Time) (Token, Secret, error) {
	if !tokenName.MatchString(name) {
		return Token{}, "", fmt.Errorf("%w: name must be 1-64 letters, digits or ._@-", ErrInvalid)
	}
	if !role.Valid() {
		return Token{}, "", fmt.Errorf("%w: role must be admin, responder or viewer", ErrInvalid)
	}
	var raw [20]byte
	rand.Read(raw[:])
	secret := Secret(tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:])))
	tok := Token{Name: name, Role: role, Created: now.UTC(), CreatedBy: by}
	err := t.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if _, ok := find(b, name); ok {
			return fmt.Errorf("%w: %s", ErrExists, name)
		}
		v, _ := json.Marshal(tok)
		return b.Put(digest(secret), v)
	})
	if err != nil {
		return Token{}, "", err
	}
	return tok, secret, nil
}

// Authenticate returns the caller a bearer token stands for.
func (t *Tokens) Authenticate(secret string) (Caller, error) {
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 128 {
		return Caller{}, ErrBadToken
	}
	var tok Token
	err := t.db.View(func(tx *bolt.Tx) error {
		d := digest(Secret(secret))
		// Look the digest up, then compare in constant time, so the lookup
		// is not a timing oracle for the secret.
		k, v := tx.Bucket(bucketTokens).Cursor().Seek(d)
		if k == nil || subtle.ConstantTimeCompare(k, d) != 1 {
			return ErrBadToken
		}
		return json.Unmarshal(v, &tok)
	})
	if err != nil {
		return Caller{}, err
	}
	return Caller{Actor: "token:" + tok.Name, Role: tok.Role}, nil
}

// List returns every token, without secrets.
func (t *Tokens) List() ([]Token, error) {
	var out []Token
	err := t.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(_, v []byte) error {
			var tok Token
			if err := json.Unmarshal(v, &tok); err != nil {
				return err
			}
			out = append(out, tok)
			return nil
		})
	})
	return out, err
}

// Revoke deletes the token called name.
func (t *Tokens) Revoke(name string) (Token, error) {
	var tok Token
	err := t.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		k, ok := find(b, name)
		if !ok {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		json.Unmarshal(b.Get(k), &tok)
		return b.Delete(k)
	})
	return tok, err
}

func find(b *bolt.Bucket, name string) ([]byte, bool) {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var tok Token
		if json.Unmarshal(v, &tok) == nil && tok.Name == name {
			return append([]byte(nil), k...), true
		}
	}
	return nil, false
}

func digest(s Secret) []byte {
	sum := sha256.Sum256([]byte(s))
	return []byte(hex.EncodeToString(sum[:]))
}
