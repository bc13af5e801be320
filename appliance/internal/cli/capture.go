package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/firebreak-ir/firebreak/appliance/internal/sensor"
	"github.com/firebreak-ir/firebreak/capture"
)

func runCapture(e *env, args []string) error {
	f := e.newFlags("capture", "capture status | capture events TYPE [--limit N] | capture hosts",
		"What the appliance sees on the wire: its sources and counters, the latest events of a\n"+
			"type (dns, http, tls, ssh, dhcp, flow, ...) as EVE JSON, and the hosts seen in traffic.").clientFlags()
	limit := f.Int("limit", 20, "how many events")
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
		var hosts []capture.Host
		if err := c.call("GET", "/capture/hosts", nil, &hosts); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, hosts)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IP\tMAC\tNAMES\tSERVICES\tFLOWS\tLAST SEEN")
		for _, h := range hosts {
			var names, svcs []string
			for _, n := range h.Names {
				names = append(names, n.Name)
			}
			for _, s := range h.Services {
				svcs = append(svcs, fmt.Sprintf("%d/%s", s.Port, strings.ToLower(s.Proto)))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", h.IP, dash(strings.Join(h.MACs, ",")), dash(strings.Join(names, ",")),
				dash(strings.Join(svcs, ",")), h.Flows, h.LastSeen.Format("2006-01-02 15:04:05Z07:00"))
		}
		return tw.Flush()
	}
	return usagef("want: capture status | capture events TYPE | capture hosts")
}
