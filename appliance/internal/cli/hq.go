package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/hqsync"
	"github.com/firebreak-ir/firebreak/appliance/internal/hqview"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

// runHQ is what headquarters runs against its bucket; it needs no daemon.
func runHQ(e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, "Usage: firebreak hq verify --endpoint URL --bucket NAME [--appliance ID] [--identity FILE]\n"+
			"       firebreak hq publish module DIR --endpoint URL --bucket NAME\n"+
			"       firebreak hq publish feed NAME FILE [--sig FILE.sig] --endpoint URL --bucket NAME\n"+
			"       firebreak hq publish config FILE [--sig FILE.sig] --endpoint URL --bucket NAME\n"+
			"       firebreak hq serve --endpoint URL --bucket NAME [--identity FILE] [--listen 127.0.0.1:8090] [--refresh 5m]\n\n"+
			"At headquarters: list the appliances and cases in the bucket and re-verify each case\n"+
			"from the bucket alone: the appliance's signature on the case's cursor, every journal\n"+
			"entry's hash and link, and every evidence blob the entries reference, re-hashed.\n"+
			"publish puts a signed module (firebreak module sign) or indicator feed (firebreak module\n"+
			"sign-feed) under hq/ in the bucket; every appliance syncing to it pulls it when online and\n"+
			"installs it if the signing key is one it trusts (firebreak module trust).\n"+
			"publish config puts HQ's settings for the fleet (sync.max_rate, sync.interval, modules to\n"+
			"enable or disable, and a version that only grows), signed with firebreak module sign-feed\n"+
			"hq/config FILE --key KEY; each appliance applies it if it verifies and is newer than the\n"+
			"one it has, and journals what changed or why it refused it.\n"+
			"serve verifies every case as verify does and serves a read-only view on loopback: the\n"+
			"cases with their verification and, for each verified case, the console's case pages\n"+
			"(case, timeline, triage, evidence, report) over the entries HQ verified, read-only;\n"+
			"every change is refused. It prints the view's address with its access token.\n"+
			"Credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS credentials file.\n")
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	switch args[0] {
	case "verify":
	case "publish":
		return hqPublish(e, args[1:])
	case "serve":
		return hqServe(e, args[1:])
	default:
		return usagef("unknown subcommand %q", args[0])
	}
	f := e.newFlags("hq verify", "hq verify --endpoint URL --bucket NAME [--appliance ID] [--identity FILE]", "Verify every case in HQ's bucket.")
	f.BoolVar(&f.json, "json", false, "print JSON for scripts")
	bucket := bucketFlags(f, true)
	appliance := f.String("appliance", "", "only this appliance (fb-...)")
	if _, err := f.parse(args[1:], 0, 0); err != nil {
		return err
	}
	opts, err := bucket()
	if err != nil {
		return err
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
	reports, err := hqsync.Verify(ctx, opts, *appliance, each)
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

// bucketFlags adds the flags naming HQ's bucket (and, with identity, HQ's
// age identity); the function it returns checks them once parsed.
func bucketFlags(f *flags, identity bool) func() (hqsync.Options, error) {
	endpoint := f.String("endpoint", "", "URL of the S3-compatible service")
	bucket := f.String("bucket", "", "the bucket")
	region := f.String("region", "", "region for request signing (default us-east-1)")
	var id *string
	if identity {
		id = f.String("identity", "", "HQ's age identity file, to read cases the appliances encrypted")
	}
	return func() (hqsync.Options, error) {
		o := hqsync.Options{Endpoint: *endpoint, Bucket: *bucket, Region: *region}
		if o.Endpoint == "" || o.Bucket == "" {
			return o, usagef("--endpoint and --bucket are required")
		}
		if id != nil && *id != "" {
			var err error
			if o.Identities, err = hqsync.ReadIdentities(*id); err != nil {
				return o, err
			}
		}
		return o, nil
	}
}

func hqPublish(e *env, args []string) error {
	f := e.newFlags("hq publish", "hq publish module DIR | feed NAME FILE | config FILE [--sig FILE.sig]  --endpoint URL --bucket NAME",
		"Publish a signed module, indicator feed or configuration for the appliances to pull.")
	bucket := bucketFlags(f, false)
	sigPath := f.String("sig", "", "a feed's or configuration's signature (default FILE.sig)")
	pos, err := f.parse(args, 2, 3)
	if err != nil {
		return err
	}
	opts, err := bucket()
	if err != nil {
		return err
	}
	var name string
	files := map[string][]byte{}
	switch {
	case pos[0] == "module" && len(pos) == 2:
		p, err := readModuleDir(pos[1])
		if err != nil {
			return err
		}
		m, err := modhost.ParseManifest(p.Manifest)
		if err != nil {
			return err
		}
		name = m.Name
		files["manifest.json"], files["module.wasm"], files["signature.json"] = p.Manifest, p.Wasm, p.Signature
	case pos[0] == "feed" && len(pos) == 3:
		name = pos[1]
		if files["feed"], err = os.ReadFile(pos[2]); err != nil {
			return err
		}
		if *sigPath == "" {
			*sigPath = pos[2] + ".sig"
		}
		if files["signature"], err = os.ReadFile(*sigPath); err != nil {
			return err
		}
	case pos[0] == "config" && len(pos) == 2:
		name = "config"
		if files["config"], err = os.ReadFile(pos[1]); err != nil {
			return err
		}
		if *sigPath == "" {
			*sigPath = pos[1] + ".sig"
		}
		if files["signature"], err = os.ReadFile(*sigPath); err != nil {
			return err
		}
		if _, err := hqsync.ParseConfig(files["config"]); err != nil {
			return fmt.Errorf("%s: %w", pos[1], err)
		}
	default:
		return usagef("publish module DIR, publish feed NAME FILE, or publish config FILE")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := hqsync.Publish(ctx, opts, pos[0], name, files); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "published %s %s under hq/ in %s\n", pos[0], name, opts.Bucket)
	return nil
}

func hqServe(e *env, args []string) error {
	f := e.newFlags("hq serve", "hq serve --endpoint URL --bucket NAME [--identity FILE] [--listen ADDR] [--refresh D]",
		"Serve HQ's read-only view of the cases in the bucket, re-verified every --refresh.")
	bucket := bucketFlags(f, true)
	listen := f.String("listen", "127.0.0.1:8090", "loopback address to serve the view on")
	refresh := f.Duration("refresh", 5*time.Minute, "how often to re-verify the bucket")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	opts, err := bucket()
	if err != nil {
		return err
	}
	opts.KeepLog = true
	if host, _, err := net.SplitHostPort(*listen); err != nil || (host != "localhost" && !isLoopbackIP(host)) {
		return usagef("--listen %s: the HQ view is served on loopback only (put a TLS proxy with its own login in front to share it)", *listen)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	view := hqview.New(version, slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer view.Close()
	verify := func() {
		reports, err := hqsync.Verify(ctx, opts, "", nil)
		if err != nil && !errors.Is(err, hqsync.ErrVerify) {
			fmt.Fprintf(e.stderr, "hq serve: verification did not run: %v\n", oneLine(err.Error()))
			return
		}
		view.Set(reports, time.Now())
		fmt.Fprintf(e.stderr, "verified %d cases\n", len(reports))
	}
	verify()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: view, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stdout, "hq view http://%s/?token=%s\n", l.Addr(), view.Token())
	go func() {
		t := time.NewTicker(*refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				srv.Close()
				return
			case <-t.C:
				verify()
			}
		}
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func isLoopbackIP(s string) bool {
	ip, err := netip.ParseAddr(s)
	return err == nil && ip.IsLoopback()
}
