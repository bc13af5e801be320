package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/firebreak-ir/firebreak/appliance/internal/daemon"
)

func runServe(e *env, args []string) error {
	f := e.newFlags("serve", "serve [--data DIR] [--listen ADDR:PORT] [--manage ADDR:PORT] [--mode bridge|router|port [--bridge NAME] [--port IF]... [--netns NAME]]",
		"Run the appliance daemon on a data directory until SIGINT or SIGTERM.\n"+
			"The CLI reaches it on the socket DIR/firebreak.sock; --listen also serves the API\n"+
			"on a loopback TCP address over plain HTTP, with the web console; --manage serves the\n"+
			"API and the console over HTTPS on any address, with a self-signed certificate made on\n"+
			"first start (DIR/tls). There every call needs a token or a console login\n"+
			"(firebreak token create, firebreak account add).\n"+
			"--mode turns containment on (firebreak isolate); without it the isolation API answers 501.\n"+
			"--capture IF captures live traffic into the traffic view; with --record-case ID the\n"+
			"packets are also recorded into rotating pcapng segments sealed as that case's evidence.")
	listen := f.String("listen", "", "also serve the API on this TCP address, e.g. 127.0.0.1:8080")
	manage := f.String("manage", "", "serve the API and the web console over HTTPS on this address, e.g. 0.0.0.0:8443")
	logLevel := f.String("log-level", "info", "log level: debug, info, warn or error")
	sample := f.Bool("sample", false, "replay the sample captures bundled in the binary into the traffic view")
	var replay multiFlag
	f.Var(&replay, "replay", "replay a capture file into the traffic view (repeatable)")
	var ifaces multiFlag
	f.Var(&ifaces, "capture", "capture live traffic on this interface (repeatable)")
	filter := f.String("filter", "", "capture filter, tcpdump syntax (a supported subset)")
	recordCase := f.String("record-case", "", "record the live traffic as evidence of this case")
	segBytes := f.Int64("segment-size", 0, "rotate evidence segments at this many bytes (0: 1 GiB)")
	segTime := f.Duration("segment-time", 0, "rotate evidence segments after this much packet time (0: 15m)")
	minFree := f.Uint64("min-free", 0, "stop recording before the disk has less free space than this, in bytes (0: 1 GiB)")
	containment := containFlags(f)
	syncing := syncFlags(f)
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	netOpts, err := containment()
	if err != nil {
		return err
	}
	syncOpts, err := syncing()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	// Listen for the signals before anything is printed, so a supervisor
	// that read the start lines may stop the daemon at once.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	d, err := daemon.Start(daemon.Options{DataDir: f.dataDir(), Listen: *listen, Manage: *manage, Version: Version(), Logger: log,
		Sample: *sample, Replay: replay, Containment: netOpts, Sync: syncOpts,
		Capture: daemon.CaptureOptions{Interfaces: ifaces, Filter: *filter, RecordCase: *recordCase,
			SegmentBytes: *segBytes, SegmentTime: *segTime, MinFree: *minFree}})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "firebreak %s serving, appliance %s\n  data:   %s\n  socket: %s\n",
		Version(), d.Dir.Identity.ID(), d.Dir.Path, d.Dir.Socket())
	if d.TCPAddr != nil {
		fmt.Fprintf(e.stdout, "  API:    http://%s/api/v1/ (needs a token: firebreak token create NAME)\n", d.TCPAddr)
		fmt.Fprintf(e.stdout, "  console: http://%s/ (log in with an account: firebreak account add NAME)\n", d.TCPAddr)
	}
	if d.ManageAddr != nil {
		fmt.Fprintf(e.stdout, "console https://%s/ certificate sha256 %s\n", d.ManageAddr, d.ManageCert.Fingerprint)
	}
	if len(ifaces) > 0 {
		rec := "not recorded (no --record-case)"
		if *recordCase != "" {
			rec = "recorded as evidence of " + *recordCase
		}
		fmt.Fprintf(e.stdout, "  capture: %v, %s\n", []string(ifaces), rec)
	}
	if d.Sync != nil {
		fmt.Fprintf(e.stdout, "  sync:   %s bucket %s (firebreak sync status)\n", syncOpts.Endpoint, syncOpts.Bucket)
	}
	if d.Contain != nil {
		fmt.Fprintf(e.stdout, "  netctl: %s mode, containment on (firebreak isolate --help)\n", d.Contain.Mode())
	}
	select {
	case s := <-sig:
		log.Info("stopping", "signal", s.String())
	case err = <-d.Err():
		log.Error("listener failed", "err", err)
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
