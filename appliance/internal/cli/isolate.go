package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/api"
	"github.com/firebreak-ir/firebreak/appliance/internal/contain"
	"github.com/firebreak-ir/firebreak/netctl"
)

// isolateSub is one `firebreak isolate` subcommand.
type isolateSub struct {
	usage, help string
	run         func(f *flags, args []string) error
}

const isolateTarget = "--ip ADDR|--mac MAC|--link IF --case ID --reason TEXT [--ttl D] [--confirm-within D] [--allow ADDR[:PORT][/tcp|/udp]]... [--force]"

var isolateSubs = map[string]isolateSub{
	"add": {"isolate add " + isolateTarget,
		"Cut a host off the network now, journaled in the case. An address and its MAC may be given\n" +
			"together (--ip and --mac), which also cuts the host's IPv6 link-local and NDP. Isolating the\n" +
			"gateway or the appliance's own management address is refused without --force.\n" +
			"--confirm-within D rolls the isolation back by itself unless 'isolate confirm' is run within D.",
		isolateAdd},
	"plan": {"isolate plan " + isolateTarget,
		"Dry run of 'isolate add': the kernel changes it would make, the safety concerns, and the\n" +
			"live flows it would cut (once the capture engine supplies them). Changes nothing.",
		isolatePlan},
	"list":    {"isolate list", "List the isolations in force.", isolateList},
	"confirm": {"isolate confirm ID", "Confirm an isolation added with --confirm-within, so that it stays.", isolateConfirm},
	"release": {"isolate release ID|--all [--case ID] [--reason TEXT]", "End an isolation, or every one (of a case, with --case), and restore the traffic.", isolateRelease},
}

func runIsolate(e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stdout, "Usage: firebreak isolate SUBCOMMAND [flags]\n\n"+
			"Contain hosts from the appliance (needs 'firebreak serve --mode ...'). Every change is\n"+
			"an entry in the case's journal, with the approving engineer.\n\nSubcommands:")
		names := make([]string, 0, len(isolateSubs))
		for n := range isolateSubs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(e.stdout, "  %-8s %s\n", n, strings.SplitN(isolateSubs[n].help, "\n", 2)[0])
		}
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	sub, ok := isolateSubs[args[0]]
	if !ok {
		return usagef("unknown subcommand %q (see firebreak isolate --help)", args[0])
	}
	f := e.newFlags("isolate "+args[0], sub.usage, sub.help).clientFlags()
	return sub.run(f, args[1:])
}

// requestFlags adds the flags of add and plan; the returned function builds
// the request after parsing.
func requestFlags(f *flags) func() (contain.Request, error) {
	var req contain.Request
	var allow multiFlag
	f.StringVar(&req.IP, "ip", "", "the host's IPv4 or IPv6 address, or a CIDR")
	f.StringVar(&req.MAC, "mac", "", "the host's MAC (with --ip: cut both; alone: cut every frame from or to it)")
	f.StringVar(&req.Link, "link", "", "port mode: the port to take down")
	f.StringVar(&req.Case, "case", "", "the case this isolation belongs to (required)")
	f.StringVar(&req.Reason, "reason", "", "why the host is cut off (required)")
	f.StringVar(&req.TTL, "ttl", "", "end the isolation by itself after this long, e.g. 4h (default: until released)")
	f.StringVar(&req.ConfirmWithin, "confirm-within", "", "roll back by itself unless confirmed within this long, e.g. 2m")
	f.Var(&allow, "allow", "traffic still allowed: ADDR, CIDR or ADDR:PORT[/tcp|/udp] (repeatable)")
	f.BoolVar(&req.Force, "force", false, "apply even if it would cut the gateway or the management address (journaled)")
	return func() (contain.Request, error) {
		req.Exceptions = allow
		if req.IP == "" && req.MAC == "" && req.Link == "" {
			return req, usagef("give --ip, --mac or --link")
		}
		if req.Case == "" {
			return req, usagef("--case is required")
		}
		if strings.TrimSpace(req.Reason) == "" {
			return req, usagef("--reason is required")
		}
		for name, v := range map[string]string{"--ttl": req.TTL, "--confirm-within": req.ConfirmWithin} {
			if v == "" {
				continue
			}
			if _, err := time.ParseDuration(v); err != nil {
				return req, usagef("%s %q: want a duration such as 90s, 30m or 4h", name, v)
			}
		}
		for _, a := range allow {
			if _, err := netctl.ParseException(a); err != nil {
				return req, usagef("--allow: %v", err)
			}
		}
		return req, nil
	}
}

// refusal adds what to do to an unsafe-refusal error from the daemon.
func refusal(err error) error {
	var ae *api.Error
	if errors.As(err, &ae) && strings.Contains(ae.Message, "refused without force") {
		return fmt.Errorf("%w; the refusal is journaled in the case; re-run with --force to override", err)
	}
	return err
}

func isolateAdd(f *flags, args []string) error {
	build := requestFlags(f)
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	req, err := build()
	if err != nil {
		return err
	}
	var res contain.Result
	if err := f.client().call("POST", "/isolations", req, &res); err != nil {
		return refusal(err)
	}
	if f.json {
		return printJSON(f.e.stdout, res)
	}
	w := f.e.stdout
	iso := res.Isolation
	fmt.Fprintf(w, "%s applied: %s isolated (case %s, approved by %s)\n", iso.ID, iso.TargetString(), iso.Case, iso.Approver)
	printTimes(f, iso)
	if len(iso.Exceptions) > 0 {
		fmt.Fprintf(w, "  allowed:    %s\n", strings.Join(iso.Exceptions, ", "))
	}
	for _, c := range iso.Concerns {
		fmt.Fprintf(w, "  FORCED:     %s\n", c.Message)
	}
	fmt.Fprintf(w, "  kernel:     %d changes in %v\n", len(res.Report.Changes), time.Duration(res.Report.TookUS)*time.Microsecond)
	for _, x := range res.Report.Warnings {
		fmt.Fprintf(w, "  warning:    %s\n", x)
	}
	for _, h := range res.Hints {
		fmt.Fprintf(w, "  hint:       %s\n", h)
	}
	return nil
}

func printTimes(f *flags, iso contain.Isolation) {
	w := f.e.stdout
	if !iso.Expires.IsZero() {
		fmt.Fprintf(w, "  expires:    %s (in %v)\n", iso.Expires.Local().Format(time.RFC3339), time.Until(iso.Expires).Round(time.Second))
	}
	if !iso.ConfirmBy.IsZero() && !iso.Confirmed {
		fmt.Fprintf(w, "  confirm by: %s (in %v), or it rolls back: firebreak isolate confirm %s\n",
			iso.ConfirmBy.Local().Format(time.RFC3339), time.Until(iso.ConfirmBy).Round(time.Second), iso.ID)
	}
}

func isolatePlan(f *flags, args []string) error {
	build := requestFlags(f)
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	req, err := build()
	if err != nil {
		return err
	}
	var pl contain.Plan
	if err := f.client().call("POST", "/isolations/plan", req, &pl); err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, pl)
	}
	w := f.e.stdout
	fmt.Fprintf(w, "plan: isolate %s (case %s)\n", pl.Isolation.TargetString(), pl.Isolation.Case)
	if pl.Refused != "" {
		fmt.Fprintf(w, "  REFUSED without --force: %s\n", pl.Refused)
	} else {
		for _, c := range pl.Isolation.Concerns {
			fmt.Fprintf(w, "  warning: %s (forced)\n", c.Message)
		}
	}
	if len(pl.Isolation.Concerns) == 0 {
		fmt.Fprintln(w, "  safety: not the gateway nor a management address")
	}
	fmt.Fprintf(w, "  kernel changes (%d):\n", len(pl.Changes))
	for _, c := range pl.Changes {
		fmt.Fprintf(w, "    %s\n", c)
	}
	for _, h := range pl.Hints {
		fmt.Fprintf(w, "  hint: %s\n", h)
	}
	if pl.FlowsNote != "" {
		fmt.Fprintf(w, "  live flows: %s\n", pl.FlowsNote)
	} else {
		fmt.Fprintf(w, "  live flows that would be cut (%d):\n", len(pl.Flows))
		for _, fl := range pl.Flows {
			spared := ""
			if fl.Spared {
				spared = " (allowed by an exception)"
			}
			fmt.Fprintf(w, "    %s %s:%d -> %s:%d %s, %d packets%s\n", fl.Proto, fl.SrcIP, fl.SrcPort, fl.DestIP, fl.DstPort, fl.App, fl.Packets, spared)
		}
	}
	return nil
}

func isolateList(f *flags, args []string) error {
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	var list []contain.Isolation
	if err := f.client().call("GET", "/isolations", nil, &list); err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(f.e.stdout, "no isolations in force")
		return nil
	}
	tw := tabwriter.NewWriter(f.e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCASE\tTARGET\tALLOWED\tEXPIRES\tCONFIRM\tBY\tREASON")
	for _, iso := range list {
		exp, conf := "-", "-"
		if !iso.Expires.IsZero() {
			exp = iso.Expires.Local().Format("2006-01-02 15:04:05")
		}
		switch {
		case iso.Confirmed:
			conf = "confirmed"
		case !iso.ConfirmBy.IsZero():
			conf = "by " + iso.ConfirmBy.Local().Format("15:04:05")
		}
		allowed := strings.Join(iso.Exceptions, ",")
		if allowed == "" {
			allowed = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", iso.ID, iso.Case, iso.TargetString(), allowed, exp, conf, iso.Approver, oneLine(iso.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, iso := range list {
		if iso.Problem != "" {
			fmt.Fprintf(f.e.stdout, "%s: %s\n", iso.ID, iso.Problem)
		}
	}
	return nil
}

func isolateConfirm(f *flags, args []string) error {
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	var iso contain.Isolation
	if err := f.client().call("POST", "/isolations/"+urlPath(pos[0])+"/confirm", struct{}{}, &iso); err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, iso)
	}
	fmt.Fprintf(f.e.stdout, "%s confirmed: %s stays isolated\n", iso.ID, iso.TargetString())
	printTimes(f, iso)
	return nil
}

func isolateRelease(f *flags, args []string) error {
	all := f.Bool("all", false, "release every isolation in force")
	caseID := f.String("case", "", "with --all: only this case's isolations")
	reason := f.String("reason", "", "why it ends (journaled)")
	pos, err := f.parse(args, 0, 1)
	if err != nil {
		return err
	}
	var ended []contain.Ended
	body := map[string]any{"reason": *reason}
	switch {
	case *all && len(pos) == 0:
		body["all"] = true
		body["case"] = *caseID
		err = f.client().call("POST", "/isolations/release", body, &ended)
	case !*all && len(pos) == 1 && *caseID == "":
		err = f.client().call("POST", "/isolations/"+urlPath(pos[0])+"/release", body, &ended)
	default:
		return usagef("give an isolation ID or --all (see --help)")
	}
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(f.e.stdout, ended)
	}
	if len(ended) == 0 {
		fmt.Fprintln(f.e.stdout, "no isolations in force")
	}
	for _, e := range ended {
		fmt.Fprintf(f.e.stdout, "%s released: %s reachable again (%d kernel changes)", e.ID, e.Target, len(e.Report.Changes))
		if e.Dropped != nil {
			fmt.Fprintf(f.e.stdout, "; %d packets dropped while isolated", e.Dropped.Packets)
		}
		fmt.Fprintln(f.e.stdout)
	}
	return nil
}

func urlPath(s string) string { return strings.ReplaceAll(urlQuery(s), "+", "%20") }

// containFlags adds serve's containment flags; the returned function
// builds netctl's options after parsing (a zero Mode: containment off).
func containFlags(f *flags) func() (netctl.Options, error) {
	mode := f.String("mode", "", "containment: bridge (inline, a bridge over the --port links), router (the box is the\nsegment's gateway) or port (isolation takes a --port link down); empty: containment off")
	bridge := f.String("bridge", "", "bridge mode: the bridge to create or use (default fbbr0)")
	var ports multiFlag
	f.Var(&ports, "port", "a bridge port (bridge mode), or a link isolation may take down (port mode) (repeatable)")
	ns := f.String("netns", "", "contain in this network namespace (a name under /var/run/netns, or a path) instead of the daemon's")
	return func() (netctl.Options, error) {
		o := netctl.Options{Mode: netctl.Mode(*mode), Bridge: *bridge, Ports: ports, NetNS: *ns}
		switch o.Mode {
		case "":
			if *bridge != "" || len(ports) > 0 || *ns != "" {
				return o, usagef("--bridge, --port and --netns need --mode")
			}
			return o, nil
		case netctl.ModeBridge:
			if len(ports) < 2 {
				return o, usagef("--mode bridge needs at least two --port links")
			}
		case netctl.ModePort:
			if len(ports) == 0 {
				return o, usagef("--mode port needs the --port links it may take down")
			}
		case netctl.ModeRouter:
		default:
			return o, usagef("--mode %q: want bridge, router or port", *mode)
		}
		if *bridge != "" && o.Mode != netctl.ModeBridge {
			return o, usagef("--bridge is for --mode bridge")
		}
		if o.NetNS != "" && !strings.Contains(o.NetNS, "/") {
			o.NetNS = "/var/run/netns/" + o.NetNS
		}
		return o, nil
	}
}
