package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/contain"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/internal/netlab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveWith starts `firebreak serve --data dir args...` and waits until its
// socket answers.
func serveWith(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--data", dir}, args...)...)
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
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("daemon did not come up: %s", logs.String())
	return nil
}

func caseJournal(t *testing.T, dir, id string) []journal.Entry {
	out, err := run(t, dir, "case", "log", id, "--json")
	require.NoError(t, err, out)
	var es []journal.Entry
	require.NoError(t, json.Unmarshal([]byte(out), &es))
	return es
}

func ofType(es []journal.Entry, typ string) []journal.Entry {
	var out []journal.Entry
	for _, e := range es {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestIsolationSurvivesSIGKILL is issue 5's restart item at the product
// level: the daemon is killed with SIGKILL while A is isolated; the kernel
// keeps dropping; the restarted daemon adopts the filters (none re-added,
// none replaced, no datagram through), and the TTL set before the kill
// ends the isolation on time.
func TestIsolationSurvivesSIGKILL(t *testing.T) {
	lab := netlab.NewBridgeLab(t)
	dir := t.TempDir()
	args := []string{"--mode", "bridge", "--netns", lab.Name + "-app", "--port", "pa", "--port", "pb", "--port", "pc"}
	d := serveWith(t, dir, args...)
	lab.WaitFlowing(t, netlab.BV4, netlab.BV6)
	id, err := run(t, dir, "case", "new", "--title", "restart under isolation")
	require.NoError(t, err, id)
	out, err := run(t, dir, "isolate", "add", "--ip", netlab.AV4, "--mac", netlab.AMAC, "--case", id,
		"--reason", "beaconing", "--ttl", "8s", "--json")
	require.NoError(t, err, out)
	var res contain.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	expires := res.Isolation.Expires
	filters := func() string {
		var b bytes.Buffer
		for _, p := range lab.Ports {
			b.WriteString(lab.App.TC(t, "filter", "show", "dev", p, "ingress"))
		}
		return b.String()
	}
	before := filters()
	require.NotEmpty(t, before)

	s := netlab.StartStream(t, lab.A.NS, lab.Stream, netlab.BV4+":9000", time.Millisecond)
	from := s.WaitSent(t, time.Now())
	require.NoError(t, d.Process.Signal(syscall.SIGKILL))
	d.Wait()
	killed := time.Now()
	time.Sleep(300 * time.Millisecond)
	assert.Zero(t, s.ReceivedBetween(from, s.WaitSent(t, time.Now())), "the kernel kept dropping with the daemon dead")

	serveWith(t, dir, args...)
	t.Logf("daemon back %v after SIGKILL", time.Since(killed))
	end := s.WaitSent(t, time.Now().Add(200*time.Millisecond))
	assert.Zero(t, s.ReceivedBetween(from, end), "no datagram got through across the kill and the restart")
	assert.Equal(t, before, filters(), "every filter adopted, none re-added or replaced")

	es := caseJournal(t, dir, id)
	adopted := ofType(es, contain.TypeAdopted)
	require.Len(t, adopted, 1)
	var a contain.Adopted
	require.NoError(t, adopted[0].Decode(&a))
	assert.Empty(t, a.Changes, "nothing re-applied")
	assert.Positive(t, a.Kept)
	assert.True(t, a.Expires.Equal(expires), "the TTL continues: %v vs %v", a.Expires, expires)
	list, err := run(t, dir, "isolate", "list", "--json")
	require.NoError(t, err)
	var isos []contain.Isolation
	require.NoError(t, json.Unmarshal([]byte(list), &isos))
	require.Len(t, isos, 1)
	assert.Equal(t, res.Isolation.ID, isos[0].ID)

	// At the expiry set before the kill, the isolation ends by itself.
	_, ok := s.WaitRecv(expires, 10*time.Second)
	require.True(t, ok, "traffic did not come back after the TTL")
	assert.Zero(t, s.ReceivedBetween(from, s.LastSentBefore(expires.Add(-50*time.Millisecond))), "released before the TTL")
	t.Logf("TIMING TTL after restart: expiry due %v, traffic back %v after it", expires.Format(time.RFC3339Nano), time.Since(expires).Round(time.Millisecond))
	require.Eventually(t, func() bool { return len(ofType(caseJournal(t, dir, id), contain.TypeExpired)) == 1 }, 3*time.Second, 50*time.Millisecond)
	es = caseJournal(t, dir, id)
	var e contain.Ended
	require.NoError(t, ofType(es, contain.TypeExpired)[0].Decode(&e))
	assert.True(t, e.At.Equal(expires))
	// The drop counters, journaled a few seconds after the isolation by
	// the restarted daemon, show A kept sending and was stopped.
	verified := ofType(es, contain.TypeVerified)
	require.Len(t, verified, 1)
	var v contain.Verified
	require.NoError(t, verified[0].Decode(&v))
	assert.Greater(t, v.Dropped.Packets, uint64(1000))
	t.Logf("journal: %s %s", verified[0].Type, verified[0].Payload)
	out, err = run(t, dir, "case", "verify", id)
	require.NoError(t, err, out)
}
