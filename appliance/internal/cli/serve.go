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
	f := e.newFlags("serve", "serve [--data DIR] [--listen ADDR:PORT] [--mode bridge|router|port [--bridge NAME] [--port IF]... [--netns NAME]]",
		"Run the appliance daemon on a data directory until SIGINT or SIGTERM.\n"+
			"The CLI reaches it on the socket DIR/firebreak.sock; --listen also serves the API\n"+
			"on a TCP address (loopback only for now), where every call needs a token.\n"+
			"--mode turns containment on (firebreak isolate); without it the isolation API answers 501.")
	listen := f.String("listen", "", "also serve the API on this TCP address, e.g. 127.0.0.1:8080")
	logLevel := f.String("log-level", "info", "log level: debug, info, warn or error")
	sample := f.Bool("sample", false, "replay the sample captures bundled in the binary into the traffic view")
	var replay multiFlag
	f.Var(&replay, "replay", "replay a capture file into the traffic view (repeatable)")
	containment := containFlags(f)
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
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	d, err := daemon.Start(daemon.Options{DataDir: f.dataDir(), Listen: *listen, Version: Version(), Logger: log,
		Sample: *sample, Replay: replay, Containment: netOpts})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "firebreak %s serving, appliance %s\n  data:   %s\n  socket: %s\n",
		Version(), d.Dir.Identity.ID(), d.Dir.Path, d.Dir.Socket())
	if d.TCPAddr != nil {
		fmt.Fprintf(e.stdout, "  API:    http://%s/api/v1/ (needs a token: firebreak token create NAME)\n", d.TCPAddr)
	}
	if d.Contain != nil {
		fmt.Fprintf(e.stdout, "  netctl: %s mode, containment on (firebreak isolate --help)\n", d.Contain.Mode())
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
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
