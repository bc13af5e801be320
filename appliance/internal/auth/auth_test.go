package auth

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func TestRoles(t *testing.T) {
	tests := []struct {
		have, need Role
		ok         bool
	}{
		{Admin, Admin, true}, {Admin, Responder, true}, {Admin, Viewer, true},
		{Responder, Admin, false}, {Responder, Responder, true}, {Responder, Viewer, true},
		{Viewer, Admin, false}, {Viewer, Responder, false}, {Viewer, Viewer, true},
		{"", Viewer, false}, {"root", Viewer, false}, {Admin, "", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.ok, tt.have.Allows(tt.need), "%q allows %q", tt.have, tt.need)
	}
}

func TestTokens(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	ts, err := NewTokens(db)
	require.NoError(t, err)
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

	tok, secret, err := ts.Create("ci-script", Responder, "local:root", now)
	require.NoError(t, err)
	assert.Equal(t, "ci-script", tok.Name)
	assert.Regexp(t, `^fbt_[a-z2-7]{32}$`, secret.Reveal())

	c, err := ts.Authenticate(secret.Reveal())
	require.NoError(t, err)
	assert.Equal(t, Caller{Actor: "token:ci-script", Role: Responder}, c)

	for _, bad := range []string{"", "fbt_", secret.Reveal() + "x", "Bearer " + secret.Reveal(), secret.Reveal()[:20]} {
		_, err := ts.Authenticate(bad)
		assert.ErrorIs(t, err, ErrBadToken, "%q", bad)
	}
	_, _, err = ts.Create("ci-script", Viewer, "x", now)
	assert.ErrorIs(t, err, ErrExists)
	_, _, err = ts.Create("bad name", Viewer, "x", now)
	assert.ErrorIs(t, err, ErrInvalid)
	_, _, err = ts.Create("x", "root", "x", now)
	assert.ErrorIs(t, err, ErrInvalid)

	list, err := ts.List()
	require.NoError(t, err)
	assert.Len(t, list, 1)

	_, err = ts.Revoke("ci-script")
	require.NoError(t, err)
	_, err = ts.Authenticate(secret.Reveal())
	assert.ErrorIs(t, err, ErrBadToken, "a revoked token no longer works")
	_, err = ts.Revoke("ci-script")
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("fbt_supersecret")
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("made", "token", s)
	assert.NotContains(t, buf.String(), "supersecret")
	assert.NotContains(t, fmt.Sprintf("%v %s", s, s), "supersecret")
	assert.Equal(t, "fbt_supersecret", s.Reveal())
}
