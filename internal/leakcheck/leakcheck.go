// Package leakcheck fails a test binary whose tests leaked goroutines or
// file descriptors (sockets, rings, files, netlink handles). It is for
// TestMain only and must never be imported by code that ships.
package leakcheck

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// Main runs the tests and exits non-zero if, once they passed, more
// goroutines or file descriptors are open than before (after a grace period
// for things shutting down). Fuzzing and benchmark runs are not checked:
// their engines keep goroutines of their own. Use it as
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit, for a TestMain that does more.
func Run(m *testing.M) int {
	// Start the runtime's network poller (epoll, eventfd) so its
	// descriptors are in the baseline.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	fds, gs := openFDs(), runtime.NumGoroutine()
	code := m.Run()
	if code != 0 || engineRun() {
		return code
	}
	deadline := time.Now().Add(3 * time.Second)
	for (openFDs() > fds || runtime.NumGoroutine() > gs) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := openFDs(); n > fds {
		fmt.Fprintf(os.Stderr, "leaked %d file descriptors\n", n-fds)
		code = 1
	}
	if n := runtime.NumGoroutine(); n > gs {
		buf := make([]byte, 1<<16)
		fmt.Fprintf(os.Stderr, "leaked %d goroutines:\n%s\n", n-gs, buf[:runtime.Stack(buf, true)])
		code = 1
	}
	return code
}

func engineRun() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker", "test.bench"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}
