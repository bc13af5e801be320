//go:build linux

package live

import (
	"testing"

	"github.com/firebreak-ir/firebreak/capture/internal/netlab"
)

// TestMain fails the package on leaked file descriptors or goroutines.
func TestMain(m *testing.M) { netlab.Main(m) }
