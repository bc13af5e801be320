package netctl

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain fails the package when tests leak goroutines or file
// descriptors (netlink sockets, namespace handles, packet sockets).
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	// The runtime's network poller opens its descriptors on first use;
	// start it before taking the baseline.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	fds, goroutines := openFDs(), runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) && (openFDs() > fds || runtime.NumGoroutine() > goroutines) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := openFDs(); n > fds {
			fmt.Fprintf(os.Stderr, "leaked %d file descriptors\n", n-fds)
			code = 1
		}
		if n := runtime.NumGoroutine(); n > goroutines {
			buf := make([]byte, 1<<16)
			fmt.Fprintf(os.Stderr, "leaked %d goroutines:\n%s\n", n-goroutines, buf[:runtime.Stack(buf, true)])
			code = 1
		}
	}
	os.Exit(code)
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// helperEnv makes the test binary act as a daemon that applies a state
// and then waits to be killed (see TestBridgeSurvivesKill).
const helperEnv = "FBNC_HELPER_STATE"

type helperInput struct {
	Options Options
	State   State
}

func runHelper() int {
	var in helperInput
	if err := json.Unmarshal([]byte(os.Getenv(helperEnv)), &in); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctl, err := New(in.Options)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rep, err := ctl.Set(in.State)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("ready %d\n", len(rep.Changes))
	select {} // until SIGKILL
}
