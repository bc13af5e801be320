package triage_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/triage"
	"github.com/firebreak-ir/firebreak/internal/netlab"
)

// writeKey writes an OpenSSH private key file and returns its signer.
func writeKey(t *testing.T, path string) (ssh.Signer, []byte) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	blk, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	b := pem.EncodeToMemory(blk)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	s, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return s, b
}

// TestTriageSSH collects from a live host over SSH: Debian's sshd runs in
// a network namespace of the test's own, with a host key and a client key
// made here; the volatile data and the triage set land in the vault, in
// order of volatility, and the key never reaches the log or the journal.
func TestTriageSSH(t *testing.T) {
	netlab.RequireRoot(t)
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/sshd"); err != nil {
			t.Skip("sshd not installed (apt-get install openssh-server)")
		}
		sshd = "/usr/sbin/sshd"
	}
	ns := netlab.NewNS(t, netlab.Prefix(t)+"-host")
	dir := t.TempDir()
	hostSigner, _ := writeKey(t, filepath.Join(dir, "host_ed25519"))
	clientSigner, clientPEM := writeKey(t, filepath.Join(dir, "id_ed25519"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientSigner.PublicKey()), 0o600))
	cfg := fmt.Sprintf("Port 2222\nListenAddress 127.0.0.1\nHostKey %s/host_ed25519\nPidFile %s/sshd.pid\n"+
		"AuthorizedKeysFile %s/authorized_keys\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"+
		"KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel VERBOSE\n", dir, dir, dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600))
	require.NoError(t, os.MkdirAll("/run/sshd", 0o755)) // its privilege-separation directory
	var sshdLog bytes.Buffer
	cmd := exec.Command("ip", "netns", "exec", ns.Name, sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = &sshdLog, &sshdLog
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// Wait for sshd to listen, inside the namespace.
	require.Eventually(t, func() bool {
		return ns.Do(func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:2222", 200*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		}) == nil
	}, 10*time.Second, 50*time.Millisecond, "sshd did not start: %s", &sshdLog)

	// A miner on the live host, as ps shows it.
	miner := exec.Command("bash", "-c", `exec -a "xmrig --donate-level 1 -o stratum+tcp://pool.example:3333" sleep 120`)
	require.NoError(t, miner.Start())
	t.Cleanup(func() {
		miner.Process.Kill()
		miner.Wait()
	})

	e := newEnv(t)
	var logs bytes.Buffer
	pkgs, trust := modules(t)
	svc := triage.New(triage.Options{Book: e.book, Vault: e.vault, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Version: "test",
		Packages: pkgs, Trust: trust, CacheDir: cacheDir})
	ctx := context.Background()
	spec := triage.Spec{Target: "ssh://root@127.0.0.1:2222", Identity: filepath.Join(dir, "id_ed25519"),
		HostKey: ssh.FingerprintSHA256(hostSigner.PublicKey())}

	// A wrong host key is refused before anything is sent.
	bad := spec
	bad.HostKey = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	err = ns.Do(func() error { _, err := triage.Open(ctx, bad); return err })
	require.ErrorIs(t, err, triage.ErrTarget)
	assert.Contains(t, err.Error(), "is not the expected")

	var tg triage.Target
	require.NoError(t, ns.Do(func() error { var err error; tg, err = triage.Open(ctx, spec); return err }))
	start := time.Now()
	col, err := svc.Collect(ctx, "alice", e.caseID, tg)
	require.NoError(t, tg.Close())
	require.NoError(t, err, "sshd log: %s", &sshdLog)
	t.Logf("collected %d files over SSH in %s, %d exhibits, %d skipped", len(col.Files), time.Since(start).Round(time.Millisecond), col.Exhibits, len(col.Skipped))
	assert.Equal(t, "ssh", col.Kind)
	assert.Contains(t, col.HostKey, ssh.FingerprintSHA256(hostSigner.PublicKey()))

	// Volatile data first, in order of volatility.
	require.GreaterOrEqual(t, len(col.Files), 6)
	for i, name := range []string{"processes", "process-executables", "process-ids", "network-connections", "logged-in-users", "crontabs"} {
		f := col.Files[i]
		assert.True(t, f.Volatile, f.Path)
		assert.Contains(t, f.Path, name)
	}
	ps, err := readVault(e, col.Files[0].SHA256)
	require.NoError(t, err)
	assert.Contains(t, ps, "sshd", "the process list shows the sshd serving us")
	ss, err := readVault(e, col.Files[3].SHA256)
	require.NoError(t, err)
	assert.Contains(t, ss, "127.0.0.1:2222", "the connection list shows our session")

	// The files land in the vault, byte for byte, with their metadata.
	byPath := map[string]cases.TriageFile{}
	for _, f := range col.Files {
		byPath[f.Path] = f
	}
	passwd, ok := byPath["/etc/passwd"]
	require.True(t, ok, "/etc/passwd collected")
	assert.Equal(t, fileHash(t, "/etc/passwd"), passwd.SHA256)
	fi, err := os.Stat("/etc/passwd")
	require.NoError(t, err)
	assert.Equal(t, fi.Size(), passwd.Size)
	assert.NotZero(t, passwd.Inode)
	assert.WithinDuration(t, fi.ModTime(), passwd.MTime, time.Millisecond)
	assert.True(t, e.vault.Has(passwd.SHA256))
	c := e.view(t)
	item := c.EvidenceByHash(passwd.SHA256)
	require.NotNil(t, item, "/etc/passwd is an exhibit")
	assert.Equal(t, "ssh://root@127.0.0.1:2222", item.Source.Host)

	// The processes module reads the volatile data: the miner is found.
	res, err := svc.Scan(ctx, "alice", e.caseID, "ssh://root@127.0.0.1:2222")
	require.NoError(t, err)
	var minerFound bool
	for _, f := range res.Findings {
		if f.Module == "processes" {
			t.Logf("%s: %s", f.Path, f.Signature)
			minerFound = minerFound || strings.Contains(f.Signature, fmt.Sprintf("cryptocurrency miner pid %d", miner.Process.Pid))
		}
	}
	assert.True(t, minerFound, "the miner in the live host's process list")

	// The key never reaches the log or the journal.
	keyBody := strings.Split(strings.TrimSpace(string(clientPEM)), "\n")[1]
	assert.NotContains(t, logs.String(), keyBody)
	var all bytes.Buffer
	require.NoError(t, e.store.Entries(e.caseID, 0, func(en journal.Entry) error { all.Write(en.Payload); return nil }))
	assert.NotContains(t, all.String(), keyBody)
	assert.NotContains(t, all.String(), "BEGIN OPENSSH PRIVATE KEY")
}

func readVault(e *env, sum string) (string, error) {
	f, err := e.vault.Open(sum)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(f)
	return b.String(), err
}
