// Command firebreak is the incident-response appliance: the daemon
// (firebreak serve) and the CLI that talks to it. All of it is in package cli;
// main must never hold logic of its own, so tests can call cli.Run.
package main

import (
	"os"

	"github.com/firebreak-ir/firebreak/appliance/internal/cli"
)

func main() { os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr)) }
