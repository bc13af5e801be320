package contain

import (
	"testing"

	"github.com/firebreak-ir/firebreak/internal/leakcheck"
)

// TestMain fails the package when tests leak goroutines (the reconcile
// loop) or file descriptors (netlink sockets, namespace handles).
func TestMain(m *testing.M) { leakcheck.Main(m) }
