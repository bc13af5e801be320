package capture

import (
	"testing"

	"github.com/firebreak-ir/firebreak/internal/leakcheck"
)

// TestMain fails the package when tests leak file descriptors or
// goroutines: Analyze opens files and must close them on every path.
func TestMain(m *testing.M) { leakcheck.Main(m) }
