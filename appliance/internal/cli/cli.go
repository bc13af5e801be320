// Package cli is the firebreak command: `firebreak serve` runs the daemon,
// every other verb talks to it over the local API socket in the data
// directory. Run is the whole program; main only calls it.
//
// Exit codes: 0 ok, 1 the operation failed, 2 usage error. Errors are one
// line on stderr. The CLI never prints a secret except the one it was asked
// to create.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// verb is one CLI verb.
type verb struct {
	summary string
	run     func(e *env, args []string) error
}

var verbs map[string]verb

func init() {
	verbs = map[string]verb{
		"serve":    {"run the appliance daemon", runServe},
		"account":  {"console accounts for engineers: add, list, passwd, disable", runAccount},
		"case":     {"open, work and verify incident cases", runCase},
		"analyze":  {"analyse captures and write EVE JSON", runAnalyze},
		"capture":  {"what the appliance sees on the wire: sources, events, hosts", runCapture},
		"evidence": {"list, export and verify a case's evidence", runEvidence},
		"report":   {"write a case's incident-response report (zh, en; HTML or PDF)", runReport},
		"hq":       {"at headquarters: verify the cases in the HQ bucket", runHQ},
		"isolate":  {"contain hosts: isolate, plan, confirm, release", runIsolate},
		"module":   {"WebAssembly detection modules: list, verify, sign, test", runModule},
		"sync":     {"sync to headquarters: status, now, pause, resume", runSync},
		"token":    {"manage API tokens for scripts", runToken},
		"triage":   {"host triage: collect, scan, plan, apply, undo on a host's files", runTriage},
		"version":  {"print the version", runVersion},
	}
}

// env is what a verb runs with.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usageError is a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// Run runs the firebreak command with args (without the program name) and
// returns the exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return e.run(args)
}

func (e *env) run(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		e.usage(e.stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	v, ok := verbs[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "firebreak: unknown command %q (see firebreak --help)\n", args[0])
		return ExitUsage
	}
	err := v.run(e, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "firebreak %s: %s\n", args[0], oneLine(err.Error()))
		return ExitUsage
	default:
		fmt.Fprintf(e.stderr, "firebreak %s: %s\n", args[0], oneLine(err.Error()))
		return ExitFail
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (e *env) usage(w io.Writer) {
	fmt.Fprintln(w, "firebreak: the incident-response appliance.\n\nUsage: firebreak COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, verbs[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'firebreak COMMAND --help' for a command's flags.")
	fmt.Fprintln(w, "The data directory is --data DIR, or $FIREBREAK_DATA, or ./firebreak-data.")
}

// flags is a verb's flag set with the flags every client verb shares.
type flags struct {
	*flag.FlagSet
	e        *env
	data     string
	json     bool
	engineer string
}

// newFlags returns a flag set for "firebreak NAME", whose usage line is
// usage and whose help is help.
func (e *env) newFlags(name, usage, help string) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), e: e}
	f.SetOutput(io.Discard)
	f.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: firebreak %s\n\n%s\n\nFlags:\n", usage, help)
		f.SetOutput(e.stdout)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
	f.StringVar(&f.data, "data", "", "data directory (default $FIREBREAK_DATA or ./firebreak-data)")
	return f
}

// clientFlags adds --json and --as, for verbs that call the daemon.
func (f *flags) clientFlags() *flags {
	f.BoolVar(&f.json, "json", false, "print JSON for scripts")
	f.StringVar(&f.engineer, "as", "", "the engineer doing this, recorded in the journal (default $FIREBREAK_ENGINEER)")
	return f
}

// parse parses args, allowing flags after positional arguments, and returns
// the positional ones. It checks their count is within [min, max] (max < 0:
// no limit).
func (f *flags) parse(args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.Usage()
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = f.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return nil, usagef("wrong number of arguments (see --help)")
	}
	return pos, nil
}

// dataDir resolves the data directory: --data, then $FIREBREAK_DATA, then
// ./firebreak-data.
func (f *flags) dataDir() string {
	switch {
	case f.data != "":
		return f.data
	case f.e.getenv("FIREBREAK_DATA") != "":
		return f.e.getenv("FIREBREAK_DATA")
	}
	return "firebreak-data"
}

func sortStrings(s []string) []string { sort.Strings(s); return s }
