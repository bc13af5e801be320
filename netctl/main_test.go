package netctl

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/firebreak-ir/firebreak/internal/leakcheck"
)

// TestMain fails the package when tests leak goroutines or file
// descriptors (netlink sockets, namespace handles, packet sockets).
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	os.Exit(leakcheck.Run(m))
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
