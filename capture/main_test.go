package capture

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain fails the package when tests leak file descriptors or
// goroutines: Analyze opens files and must close them on every path.
func TestMain(m *testing.M) {
	// Initialise the runtime's poller (epoll and eventfd descriptors) so
	// that it does not count as a leak.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	fds := countFDs()
	gs := runtime.NumGoroutine()
	code := m.Run()
	// The fuzzing engine runs its own goroutines; check leaks in plain runs.
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(code)
	}
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(code)
	}
	if code == 0 {
		deadline := time.Now().Add(2 * time.Second)
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
