//go:build linux

package pcapng

import (
	"testing"

	"github.com/firebreak-ir/firebreak/internal/leakcheck"
)

// TestMain fails the package on leaked file descriptors or goroutines.
func TestMain(m *testing.M) { leakcheck.Main(m) }
