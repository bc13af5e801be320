package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "firebreak-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "firebreak")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build firebreak: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serve starts `firebreak serve` on dir and waits until its socket answers.
func serve(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--data", dir)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	c := client(dir)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := c.Get("http://firebreak/api/v1/status"); err == nil {
			resp.Body.Close()
			return cmd
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("daemon did not come up: %s", logs.String())
	return nil
}

func client(dir string) *http.Client {
	sock := filepath.Join(dir, "firebreak.sock")
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
}

func run(t *testing.T, dir string, args ...string) (string, error) {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "FIREBREAK_DATA="+dir)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Every append the daemon acknowledged survives SIGKILL, and the chain
// verifies after the restart.
func TestAcknowledgedEntriesSurviveSIGKILL(t *testing.T) {
	dir := t.TempDir()
	daemon := serve(t, dir)
	id, err := run(t, dir, "case", "new", "--title", "crash test")
	require.NoError(t, err, id)

	c := client(dir)
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				text := fmt.Sprintf("writer %d note %d", w, i)
				body, _ := json.Marshal(map[string]string{"text": text})
				resp, err := c.Post("http://firebreak/api/v1/cases/"+id+"/notes", "application/json", bytes.NewReader(body))
				if err != nil {
					return // the daemon is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked = append(acked, text)
					mu.Unlock()
				}
			}
		})
	}
	// Kill it mid-stream, once a good number of appends are acknowledged.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, daemon.Process.Signal(syscall.SIGKILL))
	daemon.Wait()
	close(stop)
	wg.Wait()
	t.Logf("%d appends acknowledged before SIGKILL", len(acked))

	serve(t, dir)
	out, err := run(t, dir, "case", "verify", id)
	require.NoError(t, err, out)
	assert.Contains(t, out, "chain verified")

	out, err = run(t, dir, "case", "show", id, "--json")
	require.NoError(t, err)
	var cs struct{ Notes []struct{ Text string } }
	require.NoError(t, json.Unmarshal([]byte(out), &cs))
	have := map[string]bool{}
	for _, n := range cs.Notes {
		have[n.Text] = true
	}
	for _, a := range acked {
		assert.True(t, have[a], "acknowledged note %q lost", a)
	}
	assert.GreaterOrEqual(t, len(cs.Notes), len(acked))
}

func TestSecondDaemonFailsClearly(t *testing.T) {
	dir := t.TempDir()
	serve(t, dir)
	start := time.Now()
	out, err := exec.Command(binary, "serve", "--data", dir).CombinedOutput()
	require.Error(t, err)
	assert.Equal(t, 1, err.(*exec.ExitError).ExitCode())
	assert.Contains(t, string(out), "in use by another firebreak daemon")
	assert.Less(t, time.Since(start), 5*time.Second)
	// The first daemon still answers.
	_, err = run(t, dir, "case", "list")
	assert.NoError(t, err)
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").CombinedOutput()
	require.NoError(t, err)
	assert.Regexp(t, `^firebreak \S+\n$`, string(out))
}
