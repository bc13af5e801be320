package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/firebreak-ir/firebreak/capture"
)

func runAnalyze(e *env, args []string) error {
	f := e.newFlags("analyze", "analyze [--eve FILE] [--case ID] FILE...",
		"Analyse pcap or pcapng captures (gzip too; - reads stdin) and write EVE JSON lines:\n"+
			"flows, DNS, HTTP, TLS and SSH metadata with Suricata's field names, then a stats record.\n"+
			"Packet timestamps drive every time-based decision, so the same capture always gives\n"+
			"the same events. Damaged records are reported with their packet number and skipped.")
	eveOut := f.String("eve", "-", "write EVE JSON lines to this file (- is stdout)")
	caseID := f.String("case", "", "seal each capture into this case's evidence and journal the analysis")
	depth := f.Int64("stream-depth", 0, "bytes of each TCP direction reassembled for the parsers (0: 1 MiB)")
	midstream := f.Bool("midstream", false, "analyse TCP connections whose handshake was not captured")
	quiet := f.Bool("quiet", false, "no progress or summary on stderr")
	files, err := f.parse(args, 1, -1)
	if err != nil {
		return err
	}
	if *caseID != "" {
		return fmt.Errorf("analyze --case: sealing captures into a case's evidence is not built yet; run without --case")
	}
	var out io.Writer = e.stdout
	if *eveOut != "-" {
		fh, err := os.OpenFile(*eveOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer fh.Close()
		out = fh
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	w := capture.NewEVEWriter(out)
	opts := capture.Options{StreamDepth: *depth, Midstream: *midstream,
		Warn: func(w capture.Warning) { fmt.Fprintf(e.stderr, "warning: %s\n", w) }}
	start := time.Now()
	st, err := capture.Analyze(ctx, opts, files, w.Write)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if !*quiet {
		el := time.Since(start)
		fmt.Fprintf(e.stderr, "analyzed %d packets (%d bytes) in %d files, %d flows, %d events, %d warnings in %s (%.0f packets/s)\n",
			st.Packets, st.Bytes, st.Files, st.Flows, st.Events, st.Warnings, el.Round(time.Millisecond), float64(st.Packets)/el.Seconds())
	}
	return nil
}
