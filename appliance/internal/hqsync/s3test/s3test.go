// Package s3test runs a real S3-compatible server, versitygw with its posix
// backend, on loopback for tests of sync and of the HQ side. It is for tests
// only and must never be imported by code that ships.
//
// A test that calls Start is skipped, with the reason, when versitygw is not
// installed; .ci/run installs the pinned Version.
package s3test

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Version is the versitygw release the tests are run against; .ci/run
// installs the same one.
const Version = "v1.8.0"

// The server's root credentials and the bucket Start creates.
const (
	AccessKey = "firebreak-test"
	SecretKey = "firebreak-test-secret-0123456789"
	Bucket    = "firebreak-hq"
)

// Binary finds versitygw on PATH or in $HOME/go/bin, or skips the test.
func Binary(t testing.TB) string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, "go", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("needs versitygw, an S3-compatible server, on PATH or in $HOME/go/bin: " +
		"go install github.com/versity/versitygw/cmd/versitygw@" + Version + " (as .ci/run does)")
	return ""
}

// Gateway is one versitygw process serving a directory on a loopback port.
type Gateway struct {
	t    testing.TB
	bin  string
	Dir  string // the posix backend's root: one folder per bucket
	Addr string
	// NetNS, if set, is the network namespace the server runs in (by
	// `ip netns exec`), so a test can cut the link to it.
	NetNS string
	cmd   *exec.Cmd
}

// Start runs a server in a temporary directory, creates Bucket, and stops
// the server when the test ends.
func Start(t testing.TB) *Gateway {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return StartIn(t, "", addr)
}

// StartIn runs a server on addr inside the named network namespace ("":
// this one), creates Bucket, and stops the server when the test ends.
func StartIn(t testing.TB, netns, addr string) *Gateway {
	g := &Gateway{t: t, bin: Binary(t), Dir: t.TempDir(), Addr: addr, NetNS: netns}
	g.Restart()
	t.Cleanup(g.Kill)
	c := g.Client()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(Bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return g
}

// URL is the endpoint.
func (g *Gateway) URL() string { return "http://" + g.Addr }

// Client is a plain S3 client of the server, with the root credentials.
func (g *Gateway) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(g.URL()),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
}

// Restart starts the server (again) on the same directory and port.
func (g *Gateway) Restart() {
	args := []string{g.bin, "--access", AccessKey, "--secret", SecretKey, "--port", g.Addr, "--quiet", "posix", g.Dir}
	if g.NetNS != "" {
		args = append([]string{"ip", "netns", "exec", g.NetNS}, args...)
	}
	g.cmd = exec.Command(args[0], args[1:]...)
	g.cmd.Stdout, g.cmd.Stderr = io.Discard, io.Discard
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", g.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("versitygw did not listen on %s: %v", g.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL), as a power cut at HQ would.
func (g *Gateway) Kill() {
	if g.cmd != nil && g.cmd.Process != nil {
		g.cmd.Process.Kill()
		g.cmd.Wait()
		g.cmd = nil
	}
}
