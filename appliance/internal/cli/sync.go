package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
)

// syncFlags adds serve's sync flags; the function it returns reads them.
func syncFlags(f *flags) func() (hqsync.Options, error) {
	endpoint := f.String("sync-endpoint", "", "sync cases to HQ: URL of the S3-compatible service, e.g. https://s3.hq.example.com\n"+
		"(credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS credentials file)")
	bucket := f.String("sync-bucket", "", "the HQ bucket (required with --sync-endpoint)")
	region := f.String("sync-region", "", "region for request signing (default us-east-1)")
	rate := f.String("sync-max-rate", "0", "cap on the bytes per second sync sends, e.g. 500k or 2M (1024-based; 0: no cap)")
	interval := f.Duration("sync-interval", 0, "time between sync runs (0: 5m); firebreak sync now runs one at once")
	var recipients multiFlag
	f.Var(&recipients, "sync-recipient", "encrypt blobs and journal segments to this HQ age public key, age1... (repeatable)")
	return func() (hqsync.Options, error) {
		if *endpoint == "" {
			if *bucket != "" {
				return hqsync.Options{}, usagef("--sync-bucket needs --sync-endpoint")
			}
			return hqsync.Options{}, nil
		}
		if *bucket == "" {
			return hqsync.Options{}, usagef("--sync-endpoint needs --sync-bucket")
		}
		r, err := parseRate(*rate)
		if err != nil {
			return hqsync.Options{}, usagef("--sync-max-rate: %v", err)
		}
		return hqsync.Options{Endpoint: *endpoint, Bucket: *bucket, Region: *region, MaxRate: r, Interval: *interval,
			Recipients: recipients}, nil
	}
}

// parseRate reads a byte count with an optional k, M or G suffix (1024-based)
// and an optional "/s".
func parseRate(s string) (int64, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/s")
	s = strings.TrimSuffix(strings.TrimSuffix(s, "iB"), "B")
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, s = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, s = 1<<30, s[:n-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a byte rate", s)
	}
	return v * mult, nil
}

func runSync(e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, "Usage: firebreak sync status|now|pause|resume\n\n"+
			"Sync ships every case journal and its evidence to HQ's S3 bucket, in the\n"+
			"background, whenever a link is up (start serve with --sync-endpoint and --sync-bucket).\n"+
			"  status  what HQ has acknowledged of each journal, the upload in flight, the last error\n"+
			"  now     run at once instead of waiting for the interval or the backoff;\n"+
			"          --wait follows the run (a progress bar on a terminal) and fails if it fails\n"+
			"  pause   stop syncing (and cut the upload in flight) until resume; journaled, kept across restarts\n"+
			"  resume  sync again\n")
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	cmd := args[0]
	switch cmd {
	case "status", "now", "pause", "resume":
	default:
		return usagef("unknown subcommand %q", cmd)
	}
	f := e.newFlags("sync "+cmd, "sync "+cmd, "See firebreak sync --help.").clientFlags()
	var wait *bool
	if cmd == "now" {
		wait = f.Bool("wait", false, "wait for the run to end, showing its progress")
	}
	if _, err := f.parse(args[1:], 0, 0); err != nil {
		return err
	}
	if wait != nil && *wait {
		return syncNowWait(f)
	}
	var st hqsync.Status
	var err error
	if cmd == "status" {
		err = f.client().call("GET", "/sync", nil, &st)
	} else {
		err = f.client().call("POST", "/sync/"+cmd, nil, &st)
	}
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, st)
	}
	return printSyncStatus(e, st)
}

// syncNowWait starts a run and follows it to its end: the blob being
// uploaded as a progress bar on a terminal, then the status. A run that
// fails is an error.
func syncNowWait(f *flags) error {
	c := f.client()
	var before, st hqsync.Status
	if err := c.call("GET", "/sync", nil, &before); err != nil {
		return err
	}
	if err := c.call("POST", "/sync/now", nil, &st); err != nil {
		return err
	}
	var bar func(string, int64, int64)
	if isTerminal(f.e.stderr) {
		bar = progressBar(f.e.stderr)
	}
	for {
		if err := c.call("GET", "/sync", nil, &st); err != nil {
			return err
		}
		if st.LastRun.After(before.LastRun) && st.State != "running" {
			break
		}
		if p := st.Current; p != nil && bar != nil {
			bar("blob "+p.SHA256[:min(12, len(p.SHA256))], p.Done, p.Size)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if f.json {
		if err := printJSON(f.e.stdout, st); err != nil {
			return err
		}
	} else if err := printSyncStatus(f.e, st); err != nil {
		return err
	}
	if st.LastError != "" && st.LastRun.After(st.LastSuccess) {
		return fmt.Errorf("the sync run failed: %s", st.LastError)
	}
	return nil
}

func printSyncStatus(e *env, st hqsync.Status) error {
	fmt.Fprintf(e.stdout, "sync to %s bucket %s: %s\n", st.Endpoint, st.Bucket, st.State)
	if st.MaxRate > 0 {
		fmt.Fprintf(e.stdout, "  rate cap:     %d B/s\n", st.MaxRate)
	}
	if !st.LastSuccess.IsZero() {
		fmt.Fprintf(e.stdout, "  last success: %s\n", st.LastSuccess.Format(time.RFC3339))
	}
	if st.LastError != "" {
		fmt.Fprintf(e.stdout, "  last error:   %s (%d failures in a row)\n", st.LastError, st.Failures)
	}
	if !st.NextRun.IsZero() && st.State != "running" && !st.Paused {
		fmt.Fprintf(e.stdout, "  next run:     %s\n", st.NextRun.Format(time.RFC3339))
	}
	if c := st.Current; c != nil {
		fmt.Fprintf(e.stdout, "  uploading:    %s, %d of %d bytes\n", c.SHA256, c.Done, c.Size)
	}
	fmt.Fprintf(e.stdout, "  sent:         %d bytes since start\n\n", st.BytesSent)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOURNAL\tLOCAL\tAT HQ\tPENDING")
	for _, j := range st.Journals {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", j.Journal, j.Local, j.Acked, j.Local-min(j.Acked, j.Local))
	}
	return tw.Flush()
}
