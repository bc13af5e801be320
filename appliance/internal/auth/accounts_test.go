package auth

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func newAccounts(t *testing.T) (*Accounts, *bolt.DB) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	a, err := NewAccounts(db)
	require.NoError(t, err)
	return a, db
}

func TestAccounts(t *testing.T) {
	a, db := newAccounts(t)
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	acc, err := a.Add("alice", Responder, "correct horse battery", "local:root", now)
	require.NoError(t, err)
	assert.Equal(t, Account{Name: "alice", Role: Responder, Created: now, CreatedBy: "local:root", PasswordChanged: now}, acc)

	got, err := a.Verify("alice", "correct horse battery")
	require.NoError(t, err)
	assert.Equal(t, Caller{Actor: "console:alice", Role: Responder}, got.Caller())
	for _, bad := range []struct{ name, pw string }{{"alice", "correct horse batter"}, {"alice", ""}, {"bob", "correct horse battery"}, {"ALICE", "correct horse battery"}} {
		_, err := a.Verify(bad.name, Password(bad.pw))
		assert.ErrorIs(t, err, ErrBadLogin, "%+v", bad)
	}

	// The store keeps an argon2id hash, never the password.
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		v := string(tx.Bucket(bucketAccounts).Get([]byte("alice")))
		assert.NotContains(t, v, "correct horse")
		assert.Contains(t, v, "$argon2id$v=19$m=19456,t=2,p=1$")
		return nil
	}))

	_, err = a.Add("alice", Admin, "another password", "x", now)
	assert.ErrorIs(t, err, ErrAccountExists)
	for _, bad := range []struct {
		name string
		role Role
		pw   string
	}{{"Alice", Viewer, "0123456789"}, {"", Viewer, "0123456789"}, {"bob", "root", "0123456789"}, {"bob", Viewer, "short"},
		{"bob", Viewer, strings.Repeat("x", MaxPassword+1)}, {"bob smith", Viewer, "0123456789"}, {"<b>", Viewer, "0123456789"}} {
		_, err := a.Add(bad.name, bad.role, Password(bad.pw), "x", now)
		assert.ErrorIs(t, err, ErrAccountInvalid, "%+v", bad)
	}

	_, err = a.SetPassword("alice", "a new long password", now)
	require.NoError(t, err)
	_, err = a.Verify("alice", "correct horse battery")
	assert.ErrorIs(t, err, ErrBadLogin, "the old password stops working")
	_, err = a.Verify("alice", "a new long password")
	assert.NoError(t, err)

	_, err = a.SetDisabled("alice", true)
	require.NoError(t, err)
	_, err = a.Verify("alice", "a new long password")
	assert.ErrorIs(t, err, ErrBadLogin, "a disabled account cannot log in")
	_, err = a.SetDisabled("alice", false)
	require.NoError(t, err)

	list, err := a.List()
	require.NoError(t, err)
	assert.Len(t, list, 1)
	_, err = a.Remove("alice")
	require.NoError(t, err)
	_, err = a.Remove("alice")
	assert.ErrorIs(t, err, ErrNoAccount)
	_, err = a.Verify("alice", "a new long password")
	assert.ErrorIs(t, err, ErrBadLogin)
}

func TestPasswordRedacted(t *testing.T) {
	p := Password("hunter2hunter2")
	assert.Equal(t, "REDACTED", fmt.Sprint(p))
	assert.Equal(t, "REDACTED", p.LogValue().String())
}

// FuzzCheckPassword feeds stored-hash strings to the verifier: a damaged or
// hostile hash must never verify or make the verifier run away.
func FuzzCheckPassword(f *testing.F) {
	good := hashPassword("correct horse battery")
	f.Add(good, "correct horse battery")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdA$a2V5", "x")
	f.Add("$argon2id$v=19$m=8,t=1,p=0$c2FsdA$a2V5a2V5a2V5a2V5a2V5", "x")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, phc, pw string) {
		ok := checkPassword(phc, pw)
		if ok && phc != good {
			// Only a well-formed hash of pw may verify.
			parts := strings.Split(phc, "$")
			if len(parts) != 6 || parts[1] != "argon2id" {
				t.Fatalf("%q verified %q", phc, pw)
			}
		}
		if phc == good && ok != (pw == "correct horse battery") {
			t.Fatalf("the good hash answered %v for %q", ok, pw)
		}
	})
}
