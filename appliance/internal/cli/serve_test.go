package cli

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeManage starts `firebreak serve --manage` as the appliance image
// does, reads the console line it prints, and checks the fingerprint there
// against the certificate on disk and the one the port serves.
func TestServeManage(t *testing.T) {
	dir := t.TempDir()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		e := &env{stdout: pw, stderr: io.Discard, getenv: func(string) string { return "" }}
		done <- e.run([]string{"serve", "--data", dir, "--manage", "127.0.0.1:0", "--listen", "127.0.0.1:0"})
		pw.Close()
	}()
	line := regexp.MustCompile(`^console https://(127\.0\.0\.1:\d+)/ certificate sha256 ([0-9a-f]{64})$`)
	var addr, fp string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			addr, fp = m[1], m[2]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	require.NotEmpty(t, addr, "serve printed no console line")

	raw, err := os.ReadFile(filepath.Join(dir, "tls", "cert.pem"))
	require.NoError(t, err)
	blk, _ := pem.Decode(raw)
	require.NotNil(t, blk)
	sum := sha256.Sum256(blk.Bytes)
	assert.Equal(t, hex.EncodeToString(sum[:]), fp, "the printed fingerprint is the certificate's on disk")
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	served := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw)
	conn.Close()
	assert.Equal(t, fp, hex.EncodeToString(served[:]), "and the one the management port serves")

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case code := <-done:
		assert.Equal(t, ExitOK, code)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

func TestServeRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	code, _, errs := fb(t, t.TempDir(), "serve", "--listen", "0.0.0.0:0")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "use --manage")
}
