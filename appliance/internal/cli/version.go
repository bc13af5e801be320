package cli

import (
	"fmt"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X .../cli.version=...".
var version = ""

// Version returns the build's version: the one set at build time, else the
// VCS revision Go recorded, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

func runVersion(e *env, args []string) error {
	f := e.newFlags("version", "version", "Print the version of this firebreak binary.")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "firebreak", Version())
	return nil
}
