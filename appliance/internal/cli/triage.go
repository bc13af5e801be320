package cli

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/firebreak-ir/firebreak/appliance/internal/api"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/triage"
)

const triageUsage = "triage collect|scan|plan --case ID --target DIR|ARCHIVE|ssh://USER@HOST[:PORT] [--identity KEY] [--known-hosts FILE|--host-key SHA256:...]\n" +
	"       firebreak triage apply --case ID --step ID [--step ID]...\n" +
	"       firebreak triage undo --case ID --step ID\n" +
	"       firebreak triage show --case ID"

func runTriage(e *env, args []string) error {
	f := e.newFlags("triage", triageUsage,
		"Host triage and eradication. collect copies a target's volatile data (live hosts) and its\n"+
			"triage set (accounts, cron, systemd units, startup files, SSH keys, ld.so.preload, auth and\n"+
			"web logs, web content, set-user-ID files) into the case's evidence with their original\n"+
			"metadata; scan runs the host detection modules over what was collected (collecting first if\n"+
			"nothing was); plan asks the cleanup modules how to remove what was found; apply approves and\n"+
			"applies steps (the original of every file changed is kept in the vault); undo restores a\n"+
			"step's files byte for byte. A target is a host's disk mounted on the box (read-only is enough\n"+
			"for collect and scan), a tar/zip triage archive, or a live host over SSH (collect and scan).").clientFlags()
	caseID := f.String("case", "", "the case (required)")
	target := f.String("target", "", "collect, scan, plan: the target")
	identity := f.String("identity", "", "ssh: the private key file to log in with")
	knownHosts := f.String("known-hosts", "", "ssh: a known_hosts file holding the host's key")
	hostKey := f.String("host-key", "", "ssh: the host key's fingerprint (SHA256:...)")
	var steps stringList
	f.Var(&steps, "step", "apply, undo: a step ID (S12.3), repeatable for apply")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	if *caseID == "" {
		return usagef("--case is required")
	}
	spec := triage.Spec{Target: *target, Identity: *identity, KnownHosts: *knownHosts, HostKey: *hostKey}
	if spec.Target != "" && !strings.HasPrefix(spec.Target, "ssh://") {
		// The daemon resolves paths itself: make them absolute here.
		if abs, err := filepath.Abs(spec.Target); err == nil {
			spec.Target = abs
		}
	}
	if spec.Identity != "" {
		if abs, err := filepath.Abs(spec.Identity); err == nil {
			spec.Identity = abs
		}
	}
	if spec.KnownHosts != "" {
		if abs, err := filepath.Abs(spec.KnownHosts); err == nil {
			spec.KnownHosts = abs
		}
	}
	base := "/cases/" + *caseID + "/triage"
	c := f.client()
	switch pos[0] {
	case "collect", "scan", "plan":
		if spec.Target == "" {
			return usagef("--target is required")
		}
	case "apply", "undo":
		if len(steps) == 0 {
			return usagef("--step is required")
		}
		if pos[0] == "undo" && len(steps) != 1 {
			return usagef("undo takes one --step")
		}
	case "show":
	default:
		return usagef("unknown triage subcommand %q (collect, scan, plan, apply, undo, show)", pos[0])
	}
	switch pos[0] {
	case "collect":
		var col triage.Collection
		if err := c.call("POST", base+"/collect", api.TriageRequest{Spec: spec}, &col); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, col)
		}
		printCollection(e, &col)
	case "scan":
		var res api.TriageScan
		if err := c.call("POST", base+"/scan", api.TriageRequest{Spec: spec}, &res); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, res)
		}
		if res.Collected != nil {
			printCollection(e, res.Collected)
		}
		fmt.Fprintf(e.stdout, "scanned %d files, %d log lines, %d web requests: %d findings\n", res.Files, res.Lines, res.Requests, len(res.Findings))
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FINDING\tSEV\tMODULE\tPATH\tSIGNATURE")
		for _, fd := range res.Findings {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", fd.ID, fd.Severity, fd.Module, quotePath(fd.Path), fd.Signature)
		}
		return tw.Flush()
	case "plan":
		var plan cases.TriagePlan
		if err := c.call("POST", base+"/plan", api.TriageRequest{Spec: spec}, &plan); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, plan)
		}
		printSteps(e, plan.Steps)
	case "apply":
		var out []cases.TriageStepRec
		for _, id := range steps {
			var rec cases.TriageStepRec
			// Naming a step here is the engineer's approval; a step already
			// approved (in the console) is applied as it is.
			err := c.call("POST", base+"/steps/"+id+"/approve", nil, &rec)
			if err != nil && !strings.Contains(err.Error(), "is approved") {
				return fmt.Errorf("approve %s: %w", id, err)
			}
			if err := c.call("POST", base+"/steps/"+id+"/apply", nil, &rec); err != nil {
				return fmt.Errorf("apply %s: %w", id, err)
			}
			out = append(out, rec)
			if !f.json {
				printStepDone(e, "applied", rec)
			}
		}
		if f.json {
			return printJSON(e.stdout, out)
		}
	case "undo":
		var rec cases.TriageStepRec
		if err := c.call("POST", base+"/steps/"+steps[0]+"/undo", nil, &rec); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, rec)
		}
		printStepDone(e, "undone", rec)
	case "show":
		var st cases.TriageState
		if err := c.call("GET", base, nil, &st); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, st)
		}
		for _, col := range st.Collections {
			fmt.Fprintf(e.stdout, "collection %s from %s (%s), %s\n", col.ID, col.Target, col.Kind, col.At.Local().Format("2006-01-02 15:04"))
		}
		for _, p := range st.Plans {
			fmt.Fprintf(e.stdout, "plan of %s for %s by %s:\n", p.At.Local().Format("2006-01-02 15:04"), p.Target, p.By)
			printSteps(e, p.Steps)
		}
	}
	return nil
}

func printCollection(e *env, col *triage.Collection) {
	cut := 0
	for _, f := range col.Files {
		if f.Truncated {
			cut++
		}
	}
	fmt.Fprintf(e.stdout, "collected %d files from %s (%s) into the vault: %d new exhibits, %d kept cut, %d skipped\n",
		len(col.Files), col.Target, col.Kind, col.Exhibits, cut, len(col.Skipped))
	for _, s := range col.Skipped {
		fmt.Fprintf(e.stdout, "  skipped %s: %s\n", quotePath(s.Path), s.Reason)
	}
}

func printSteps(e *env, steps []cases.TriageStepRec) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tACTION\tTARGET\tDETAIL\tANSWERS\tREFUSED")
	for _, s := range steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Status, s.Type, quotePath(s.Target), dash(oneLine(s.Detail)),
			dash(strings.Join(s.Answers, ",")), dash(s.Refused))
	}
	tw.Flush()
}

func printStepDone(e *env, what string, rec cases.TriageStepRec) {
	fmt.Fprintf(e.stdout, "%s %s: %s %s\n", what, rec.ID, rec.Type, quotePath(rec.Target))
	for _, ch := range rec.Changes {
		fmt.Fprintf(e.stdout, "  %s  before %s  after %s\n", quotePath(ch.Path), dash(ch.Before), dash(ch.After))
	}
}

// quotePath shows a path as is, or quoted when it holds a newline or
// other control characters, so that one line stays one line.
func quotePath(p string) string {
	if strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strconv.Quote(p)
	}
	return p
}
