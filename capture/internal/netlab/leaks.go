//go:build linux

package netlab

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// Main runs the tests and exits non-zero when they leaked file descriptors
// (sockets, rings, segment files) or goroutines. Use it as
//
//	func TestMain(m *testing.M) { netlab.Main(m) }
func Main(m *testing.M) {
	// Initialise the runtime poller (epoll, eventfd) so it is not a leak.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	fds, gs := countFDs(), runtime.NumGoroutine()
	code := m.Run()
	fuzzing := false
	for _, name := range []string{"test.fuzz", "test.fuzzworker", "test.bench"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			fuzzing = true
		}
	}
	if code == 0 && !fuzzing {
		deadline := time.Now().Add(3 * time.Second)
		for (countFDs() > fds || runtime.NumGoroutine() > gs) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := countFDs(); n > fds {
			fmt.Fprintf(os.Stderr, "leaked %d file descriptors\n", n-fds)
			code = 1
		}
		if n := runtime.NumGoroutine(); n > gs {
			fmt.Fprintf(os.Stderr, "leaked %d goroutines\n", n-gs)
			code = 1
		}
	}
	os.Exit(code)
}

func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}
