package modstore

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

func TestInstalledModulesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, err = s.TrustKey("hq", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	require.NoError(t, err)

	wasm, err := os.ReadFile("../modhost/testdata/conformance.wasm")
	require.NoError(t, err)
	man := []byte(`{"name":"conf","version":"0.1.0","kind":"detect","subscriptions":[{"event":"flow"}],"techniques":["T1046"]}`)
	p := &modhost.Package{Manifest: man, Wasm: wasm, Signature: modhost.Sign(key, man, wasm)}
	m, err := s.Install(p, false, "alice", "upload")
	require.NoError(t, err)
	assert.Equal(t, "hq", m.Signer)
	assert.True(t, s.Has(p))
	_, err = s.SetEnabled("conf", false)
	require.NoError(t, err)

	bad := *p
	bad.Manifest = []byte(`{"name":"conf","version":"0.2.0","kind":"detect","subscriptions":[{"event":"flow"}],"techniques":["T1046"]}`)
	_, err = s.Install(&bad, false, "alice", "upload")
	assert.ErrorIs(t, err, modhost.ErrBadSignature)

	feed := []byte(`{"indicators":[{"type":"ip","value":"203.0.113.9"}]}`)
	_, err = s.InstallFeed("hq-feed", feed, modhost.SignFeed(key, "hq-feed", feed), "hq")
	require.NoError(t, err)
	_, err = s.InstallFeed("hq-feed", append(feed, ' '), modhost.SignFeed(key, "hq-feed", feed), "hq")
	assert.ErrorIs(t, err, modhost.ErrBadSignature)

	again, err := Open(dir)
	require.NoError(t, err)
	all, err := again.List()
	require.NoError(t, err)
	var got *Module
	for i := range all {
		if all[i].Name == "conf" {
			got = &all[i]
		}
	}
	require.NotNil(t, got, "installed before the restart")
	assert.False(t, got.Enabled, "disabled before the restart")
	assert.Equal(t, "0.1.0", got.Version)
	assert.Len(t, again.Feeds(), 1)
	cfg, err := again.Config("ioc")
	require.NoError(t, err)
	assert.Contains(t, string(cfg), "203.0.113.9")
	_, err = again.SetEnabled("conf", true)
	require.NoError(t, err)
	pkgs, err := again.Packages()
	require.NoError(t, err)
	assert.Equal(t, "installed:conf", pkgs[len(pkgs)-1].Source, "the trusted key is remembered too")
	_, err = again.TrustKey("../etc", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	assert.ErrorIs(t, err, ErrInvalid)
}
