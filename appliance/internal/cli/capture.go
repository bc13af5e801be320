package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/sensor"
	"github.com/firebreak-ir/firebreak/capture"
)

func runCapture(e *env, args []string) error {
	f := e.newFlags("capture", "capture status | capture events TYPE [--limit N] | capture hosts [--case ID]",
		"What the appliance sees on the wire: its sources and counters, the latest events of a\n"+
			"type (dns, http, tls, ssh, dhcp, flow, ...) as EVE JSON, and the hosts seen in traffic;\n"+
			"with --case, joined to that case's asset list, with the listed assets never seen.").clientFlags()
	limit := f.Int("limit", 20, "how many events")
	caseID := f.String("case", "", "hosts: join them to this case's asset list")
	pos, err := f.parse(args, 1, 2)
	if err != nil {
		return err
	}
	c := f.client()
	switch {
	case pos[0] == "status" && len(pos) == 1:
		var st sensor.Status
		if err := c.call("GET", "/capture", nil, &st); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, st)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SOURCE\tKIND\tSTATE\tPACKETS\tBYTES\tWARNINGS")
		for _, s := range st.Sources {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", s.Name, s.Kind, s.State, s.Packets, s.Bytes, s.Warnings)
		}
		tw.Flush()
		var parts []string
		for typ, n := range st.Events {
			parts = append(parts, fmt.Sprintf("%s=%d", typ, n))
		}
		fmt.Fprintf(e.stdout, "events: %s\nhosts: %d\n", strings.Join(sortStrings(parts), " "), st.Hosts)
		return nil
	case pos[0] == "events" && len(pos) == 2:
		var evs []capture.Event
		if err := c.call("GET", fmt.Sprintf("/capture/events?type=%s&limit=%d", urlQuery(pos[1]), *limit), nil, &evs); err != nil {
			return err
		}
		w := capture.NewEVEWriter(e.stdout)
		for i := range evs {
			w.Write(&evs[i])
		}
		return w.Flush()
	case pos[0] == "hosts" && len(pos) == 1:
		var inv struct {
			Hosts []struct {
				capture.Host
				Asset *cases.Asset `json:"asset"`
			} `json:"hosts"`
			Unseen   []cases.Asset `json:"unseen_assets"`
			Unlisted int           `json:"unlisted_private_hosts"`
		}
		var err error
		if *caseID != "" {
			err = c.call("GET", "/capture/hosts?case="+urlQuery(*caseID), nil, &inv)
		} else {
			err = c.call("GET", "/capture/hosts", nil, &inv.Hosts)
		}
		if err != nil {
			return err
		}
		if f.json {
			if *caseID != "" {
				return printJSON(e.stdout, inv)
			}
			return printJSON(e.stdout, inv.Hosts)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprint(tw, "IP\tMAC\tNAMES\tSERVICES\tFLOWS\tLAST SEEN")
		if *caseID != "" {
			fmt.Fprint(tw, "\tASSET")
		}
		fmt.Fprintln(tw)
		for _, h := range inv.Hosts {
			var names, svcs []string
			for _, n := range h.Names {
				names = append(names, n.Name)
			}
			for _, s := range h.Services {
				svcs = append(svcs, fmt.Sprintf("%d/%s", s.Port, strings.ToLower(s.Proto)))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s", h.IP, dash(strings.Join(h.MACs, ",")), dash(strings.Join(names, ",")),
				dash(strings.Join(svcs, ",")), h.Flows, h.LastSeen.Format("2006-01-02 15:04:05Z07:00"))
			if *caseID != "" {
				switch {
				case h.Asset != nil:
					fmt.Fprintf(tw, "\t%s", dash(strings.TrimSpace(h.Asset.Hostname+" "+h.Asset.Role)))
				case h.Private:
					fmt.Fprint(tw, "\tNOT ON THE LIST")
				default:
					fmt.Fprint(tw, "\t-")
				}
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
		if *caseID != "" {
			fmt.Fprintf(e.stdout, "%d private hosts not on the asset list; %d listed assets not seen in traffic\n", inv.Unlisted, len(inv.Unseen))
			for _, a := range inv.Unseen {
				fmt.Fprintf(e.stdout, "  not seen: %s %s %s\n", a.IP, a.Hostname, a.MAC)
			}
		}
		return nil
	}
	return usagef("want: capture status | capture events TYPE | capture hosts")
}
