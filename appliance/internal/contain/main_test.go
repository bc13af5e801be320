package contain

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain fails the package when tests leak goroutines (the reconcile
// loop) or file descriptors (netlink sockets, namespace handles).
func TestMain(m *testing.M) {
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	fds, goroutines := openFDs(), runtime.NumGoroutine()
	code := m.Run()
	// The fuzzing engine starts goroutines of its own (signal handling).
	if f := flag.Lookup("test.fuzz"); code == 0 && (f == nil || f.Value.String() == "") {
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
