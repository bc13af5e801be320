package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const moduleTestdata = "../../../../shared/testdata"

// watModule writes a module directory holding the ABI conformance module
// (WebAssembly text, compiled and checked in by modhost's tests) and a
// key pair, and returns the directory and the key files.
func watModule(t *testing.T) (dir, key, pub string) {
	wasm, err := os.ReadFile("../modhost/testdata/conformance.wasm")
	require.NoError(t, err)
	root := t.TempDir()
	dir = filepath.Join(root, "conf")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "module.wasm"), wasm, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"name":"conf","version":"0.1.0","kind":"detect",
		"subscriptions":[{"event":"flow"}],"techniques":["T1046"],"limits":{"alerts_per_batch":1000}}`), 0o644))
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(sk)
	require.NoError(t, err)
	key, pub = filepath.Join(root, "k.pem"), filepath.Join(root, "k.pub")
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "FIREBREAK MODULE KEY", Bytes: pk}), 0o644))
	return dir, key, pub
}

func TestModuleSignVerifyTest(t *testing.T) {
	if _, err := os.Stat(moduleTestdata); err != nil {
		t.Skip("shared test data not found at " + moduleTestdata)
	}
	data := t.TempDir()
	dir, key, pub := watModule(t)
	pcap := moduleTestdata + "/pcap/malicious/ndpi-tcp_scan.pcapng"

	code, _, errs := fb(t, data, "module", "verify", dir)
	require.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "module conf: module is not signed")
	code, _, errs = fb(t, data, "module", "test", dir, pcap)
	require.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "module is not signed")

	code, out, errs := fb(t, data, "module", "sign", dir, "--key", key)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "signed "+dir)
	code, _, errs = fb(t, data, "module", "verify", dir)
	require.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "signed by a key that is not trusted")
	code, out, errs = fb(t, data, "module", "verify", dir, "--trust", pub)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "conf 0.1.0: manifest valid, signed by k.pub")

	code, out, errs = fb(t, data, "module", "test", dir, pcap, "--trust", pub)
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 8, out) // one per flow and the total
	assert.Equal(t, "192.168.1.178 -> 192.168.1.2 conformance", lines[0])
	assert.Equal(t, " ->  conformance total", lines[7])

	// A changed wasm no longer verifies.
	wasm := filepath.Join(dir, "module.wasm")
	b, err := os.ReadFile(wasm)
	require.NoError(t, err)
	b[len(b)-1] ^= 1
	require.NoError(t, os.WriteFile(wasm, b, 0o644))
	code, _, errs = fb(t, data, "module", "verify", dir, "--trust", pub)
	require.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "module signature does not verify (tampered)")
}

func TestModuleUsage(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"module"}, ExitUsage, "missing subcommand"},
		{[]string{"module", "frob"}, ExitUsage, "unknown subcommand"},
		{[]string{"module", "sign", "x"}, ExitUsage, "--key is required"},
		{[]string{"module", "test", "portscan"}, ExitUsage, "wrong number of arguments"},
		{[]string{"module", "install", "/nonexistent"}, ExitFail, "no such file"},
		{[]string{"module", "enable"}, ExitUsage, "wrong number of arguments"},
		{[]string{"module", "feed", "x"}, ExitUsage, "wrong number of arguments"},
		{[]string{"analyze", "--modules", "nosuch", "x.pcap"}, ExitFail, "nosuch"},
	} {
		code, _, errs := fb(t, data, tc.args...)
		assert.Equal(t, tc.code, code, "%v: %s", tc.args, errs)
		assert.Contains(t, errs, tc.err, "%v", tc.args)
	}
}

// TestModuleNew scaffolds a module and builds it as an outside author
// would: its test passes natively and it builds for wasip1.
func TestModuleNew(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	data, dir := t.TempDir(), t.TempDir()
	code, out, errs := fb(t, data, "module", "new", "lfi", "--dir", dir)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "wrote "+filepath.Join(dir, "lfi"))
	code, _, errs = fb(t, data, "module", "new", "lfi", "--dir", dir)
	require.Equal(t, ExitFail, code, "an existing folder is not overwritten")
	assert.Contains(t, errs, "exists")
	code, _, errs = fb(t, data, "module", "new", "Bad Name", "--dir", dir)
	require.Equal(t, ExitUsage, code)
	assert.Contains(t, errs, "name")

	sdkDir, err := filepath.Abs("../../../sdk")
	require.NoError(t, err)
	mod := filepath.Join(dir, "lfi")
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/lfi\n\ngo 1.24\n\n"+
		"require github.com/firebreak-ir/firebreak/sdk v0.0.0\n\nreplace github.com/firebreak-ir/firebreak/sdk => "+sdkDir+"\n"), 0o644))
	for _, c := range []struct {
		env  []string
		args []string
	}{
		{nil, []string{"test", "./..."}},
		{[]string{"GOOS=wasip1", "GOARCH=wasm"}, []string{"build", "-buildmode=c-shared", "-o", "module.wasm", "."}},
	} {
		cmd := exec.Command(gobin, c.args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), c.env...)
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %v: %s", c.args, b)
	}
	_, err = os.Stat(filepath.Join(mod, "module.wasm"))
	require.NoError(t, err)
}
