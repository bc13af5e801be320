package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/argon2"
)

// Errors of accounts and console sessions.
var (
	// ErrBadLogin means the name or password was wrong, or the account is
	// disabled. It never says which.
	ErrBadLogin = errors.New("wrong name or password")
	// ErrAccountInvalid means an account request was malformed.
	ErrAccountInvalid = errors.New("invalid account request")
	// ErrAccountExists means an account of that name exists.
	ErrAccountExists = errors.New("an account with that name exists")
	// ErrNoAccount means no account has that name.
	ErrNoAccount = errors.New("no account with that name")
	// ErrSession means a console session cookie is unknown, expired or
	// logged out.
	ErrSession = errors.New("console session expired or logged out; log in again")
	// ErrCSRF means a state-changing request in a console session lacked
	// the session's CSRF token.
	ErrCSRF = errors.New("missing or wrong X-CSRF-Token for this session")
)

// Password is a password in transit. It prints as REDACTED in logs and %v.
type Password string

// LogValue keeps passwords out of logs.
func (Password) LogValue() slog.Value { return slog.StringValue("REDACTED") }

func (Password) String() string { return "REDACTED" }

// Account is an engineer's login, without its password hash.
type Account struct {
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
	// PasswordChanged is when the password was last set.
	PasswordChanged time.Time `json:"password_changed"`
	Disabled        bool      `json:"disabled,omitempty"`
}

type storedAccount struct {
	Account
	Hash string `json:"hash"` // PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$key
}

// Argon2id parameters (RFC 9106 and OWASP: at least 19 MiB, 2 passes).
// They are kept in each hash, so raising them later leaves old hashes
// verifiable.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// MinPassword and MaxPassword bound a password's length in characters.
const (
	MinPassword = 10
	MaxPassword = 256
)

// Accounts keeps engineers' accounts in bbolt under accounts/<name>.
type Accounts struct {
	db    *bolt.DB
	dummy string // a hash to verify against for unknown names, so timing does not reveal them
}

var bucketAccounts = []byte("accounts")

var accountName = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,31}$`)

// NewAccounts returns the account store in db.
func NewAccounts(db *bolt.DB) (*Accounts, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketAccounts)
		return err
	})
	if err != nil {
		return nil, err
	}
	var pw [18]byte
	rand.Read(pw[:])
	return &Accounts{db: db, dummy: hashPassword(base64.StdEncoding.EncodeToString(pw[:]))}, nil
}

// ValidatePassword says what is wrong with a new password, if anything.
func ValidatePassword(p Password) error {
	n := utf8.RuneCountInString(string(p))
	if !utf8.ValidString(string(p)) || n < MinPassword || n > MaxPassword {
		return fmt.Errorf("%w: the password must be %d to %d characters", ErrAccountInvalid, MinPassword, MaxPassword)
	}
	return nil
}

// Add creates an account.
func (a *Accounts) Add(name string, role Role, pw Password, by string, now time.Time) (Account, error) {
	if !accountName.MatchString(name) {
		return Account{}, fmt.Errorf("%w: name must be 1-32 lower-case letters, digits or ._- starting with a letter", ErrAccountInvalid)
	}
	if !role.Valid() {
		return Account{}, fmt.Errorf("%w: role must be admin, responder or viewer", ErrAccountInvalid)
	}
	if err := ValidatePassword(pw); err != nil {
		return Account{}, err
	}
	acc := storedAccount{Account: Account{Name: name, Role: role, Created: now.UTC(), CreatedBy: by, PasswordChanged: now.UTC()},
		Hash: hashPassword(string(pw))}
	err := a.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		if b.Get([]byte(name)) != nil {
			return fmt.Errorf("%w: %s", ErrAccountExists, name)
		}
		v, _ := json.Marshal(acc)
		return b.Put([]byte(name), v)
	})
	if err != nil {
		return Account{}, err
	}
	return acc.Account, nil
}

// SetPassword replaces an account's password.
func (a *Accounts) SetPassword(name string, pw Password, now time.Time) (Account, error) {
	if err := ValidatePassword(pw); err != nil {
		return Account{}, err
	}
	hash := hashPassword(string(pw))
	return a.update(name, func(s *storedAccount) { s.Hash, s.PasswordChanged = hash, now.UTC() })
}

// SetDisabled disables or re-enables an account; a disabled account cannot
// log in.
func (a *Accounts) SetDisabled(name string, disabled bool) (Account, error) {
	return a.update(name, func(s *storedAccount) { s.Disabled = disabled })
}

func (a *Accounts) update(name string, f func(*storedAccount)) (Account, error) {
	var acc storedAccount
	err := a.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		v := b.Get([]byte(name))
		if v == nil {
			return fmt.Errorf("%w: %s", ErrNoAccount, name)
		}
		if err := json.Unmarshal(v, &acc); err != nil {
			return err
		}
		f(&acc)
		nv, _ := json.Marshal(acc)
		return b.Put([]byte(name), nv)
	})
	return acc.Account, err
}

// Remove deletes an account.
func (a *Accounts) Remove(name string) (Account, error) {
	var acc storedAccount
	err := a.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		v := b.Get([]byte(name))
		if v == nil {
			return fmt.Errorf("%w: %s", ErrNoAccount, name)
		}
		json.Unmarshal(v, &acc)
		return b.Delete([]byte(name))
	})
	return acc.Account, err
}

// Get returns one account.
func (a *Accounts) Get(name string) (Account, error) {
	acc, err := a.get(name)
	return acc.Account, err
}

func (a *Accounts) get(name string) (storedAccount, error) {
	var acc storedAccount
	err := a.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAccounts).Get([]byte(name))
		if v == nil {
			return fmt.Errorf("%w: %s", ErrNoAccount, name)
		}
		return json.Unmarshal(v, &acc)
	})
	return acc, err
}

// List returns every account, by name.
func (a *Accounts) List() ([]Account, error) {
	out := []Account{}
	err := a.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEach(func(_, v []byte) error {
			var acc storedAccount
			if err := json.Unmarshal(v, &acc); err != nil {
				return err
			}
			out = append(out, acc.Account)
			return nil
		})
	})
	return out, err
}

// Verify checks a name and password and returns the account. Every failure
// is ErrBadLogin, and an unknown name costs the same time as a wrong
// password.
func (a *Accounts) Verify(name string, pw Password) (Account, error) {
	if len(name) > 64 || len(pw) > 4*MaxPassword {
		return Account{}, ErrBadLogin
	}
	acc, err := a.get(name)
	if err != nil {
		checkPassword(a.dummy, string(pw))
		return Account{}, ErrBadLogin
	}
	if !checkPassword(acc.Hash, string(pw)) || acc.Disabled {
		return Account{}, ErrBadLogin
	}
	return acc.Account, nil
}

// Caller returns the caller an account stands for in a console session.
func (acc Account) Caller() Caller { return Caller{Actor: "console:" + acc.Name, Role: acc.Role} }

func hashPassword(pw string) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key))
}

// checkPassword verifies pw against a PHC argon2id string, refusing
// parameters that would make a stored hash a denial of service.
func checkPassword(phc, pw string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 64*1024 || t == 0 || t > 4 || p == 0 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) < 16 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
