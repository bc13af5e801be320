package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
)

// runHQ is what headquarters runs against its bucket; it needs no daemon.
func runHQ(e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, "Usage: firebreak hq verify --endpoint URL --bucket NAME [--appliance ID] [--identity FILE]\n"+
			"       firebreak hq serve    (not yet built)\n\n"+
			"At headquarters: list the appliances and cases in the bucket and re-verify each case\n"+
			"from the bucket alone: the appliance's signature on the case's cursor, every journal\n"+
			"entry's hash and link, and every evidence blob the entries reference, re-hashed.\n"+
			"Credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS credentials file.\n")
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	switch args[0] {
	case "verify":
	case "serve":
		return fmt.Errorf("the read-only HQ view is %w", hqsync.ErrNotYet)
	default:
		return usagef("unknown subcommand %q", args[0])
	}
	f := e.newFlags("hq verify", "hq verify --endpoint URL --bucket NAME [--appliance ID] [--identity FILE]", "Verify every case in HQ's bucket.")
	f.BoolVar(&f.json, "json", false, "print JSON for scripts")
	endpoint := f.String("endpoint", "", "URL of the S3-compatible service")
	bucket := f.String("bucket", "", "the bucket")
	region := f.String("region", "", "region for request signing (default us-east-1)")
	appliance := f.String("appliance", "", "only this appliance (fb-...)")
	identity := f.String("identity", "", "HQ's age identity file, to read cases the appliances encrypted")
	if _, err := f.parse(args[1:], 0, 0); err != nil {
		return err
	}
	if *endpoint == "" || *bucket == "" {
		return usagef("--endpoint and --bucket are required")
	}
	var ids hqsync.Identities
	if *identity != "" {
		var err error
		if ids, err = hqsync.ReadIdentities(*identity); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var each func(hqsync.CaseReport)
	if !f.json {
		each = func(r hqsync.CaseReport) {
			if r.Error != "" {
				fmt.Fprintf(e.stdout, "FAIL %s\n", r.Error) // names the appliance and case
				return
			}
			if r.Pending {
				fmt.Fprintf(e.stdout, "wait %s %s: no cursor yet, the first segment is on its way\n", r.Appliance, r.Journal)
				return
			}
			fmt.Fprintf(e.stdout, "ok   %s %s: %d entries, head %s, %d blobs (%d bytes) re-hashed\n",
				r.Appliance, r.Journal, r.Entries, r.Head, r.Blobs, r.BlobBytes)
		}
	}
	reports, err := hqsync.Verify(ctx, hqsync.Options{Endpoint: *endpoint, Bucket: *bucket, Region: *region, Identities: ids}, *appliance, each)
	if f.json && reports != nil {
		if perr := printJSON(e.stdout, reports); perr != nil {
			return perr
		}
	}
	if err != nil {
		if errors.Is(err, hqsync.ErrVerify) && len(reports) > 0 {
			n := 0
			for _, r := range reports {
				if r.Error != "" {
					n++
				}
			}
			return fmt.Errorf("%d of %d cases failed verification", n, len(reports))
		}
		return err
	}
	if !f.json {
		fmt.Fprintf(e.stdout, "%d cases verified\n", len(reports))
	}
	return nil
}
