package capture

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// testdataDir returns ../shared/testdata relative to the repository root
// (the directory holding go.mod), or skips the test when it is absent.
func testdataDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test directory; cannot locate ../shared/testdata")
		}
		dir = parent
	}
	td := filepath.Join(dir, "..", "shared", "testdata")
	if _, err := os.Stat(filepath.Join(td, "pcap")); err != nil {
		t.Skipf("shared test data not found at %s: %v", td, err)
	}
	return td
}

// TestDump writes the EVE output of the capture named by FIREBREAK_DUMP to
// stdout; a debugging aid, skipped otherwise.
func TestDump(t *testing.T) {
	path := os.Getenv("FIREBREAK_DUMP")
	if path == "" {
		t.Skip("set FIREBREAK_DUMP=capture.pcap to print its EVE output")
	}
	w := NewEVEWriter(os.Stdout)
	opts := Options{Warn: func(w Warning) { t.Log(w) }, Midstream: os.Getenv("FIREBREAK_MIDSTREAM") != ""}
	st, err := Analyze(context.Background(), opts, []string{path}, w.Write)
	w.Flush()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
}
