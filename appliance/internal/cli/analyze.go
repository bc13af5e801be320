package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"

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
	filter := f.String("filter", "", "keep only packets this tcpdump-style expression accepts (Ethernet captures)")
	modules := f.String("modules", "", "detection modules: every embedded one (default), none, or NAME,... (firebreak module list)")
	var collectors multiFlag
	f.Var(&collectors, "collector", "with --case: an engineer who collected the captures (give two: the 2016 rules ask for two collectors)")
	witness := f.String("witness", "", "with --case: who witnessed the collection")
	files, err := f.parse(args, 1, -1)
	if err != nil {
		return err
	}
	var out io.Writer = e.stdout
	if *eveOut != "-" {
		fh, err := createNew(*eveOut)
		if err != nil {
			return err
		}
		defer fh.Close()
		out = fh
	}
	if *caseID != "" {
		if *filter != "" {
			return usagef("--filter is not available with --case yet: the whole capture is sealed and analysed")
		}
		if *modules != "" && *modules != "all" && *modules != "none" {
			return usagef("with --case the daemon runs its modules: --modules all or none")
		}
		return analyzeCase(f, *caseID, files, out, *depth, *midstream, *modules == "none", *quiet, url.Values{"collector": collectors, "witness": {*witness}})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	defer batchGC()()
	w := capture.NewEVEWriter(out)
	opts := capture.Options{StreamDepth: *depth, Midstream: *midstream, BPF: *filter,
		Warn: func(w capture.Warning) { fmt.Fprintf(e.stderr, "warning: %s\n", w) }}
	if !*quiet && isTerminal(e.stderr) {
		opts.Progress = progressBar(e.stderr)
	}
	start := time.Now()
	emit, modulesDone, err := modulePipeline(ctx, e, *modules, nil, false, nil, &opts, w.Write)
	if err != nil {
		return err
	}
	st, err := capture.Analyze(ctx, opts, files, emit)
	modulesDone(*quiet)
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

// analyzeCase seals each capture into the case's evidence through the
// daemon, has the daemon analyse them as one capture, and writes the EVE
// output it kept.
func analyzeCase(f *flags, id string, files []string, out io.Writer, depth int64, midstream, noModules, quiet bool, who url.Values) error {
	c := f.client()
	var inputs []string
	for _, name := range files {
		if name == "-" {
			return usagef("--case needs capture files, not stdin")
		}
		fh, err := os.Open(name)
		if err != nil {
			return err
		}
		var item cases.EvidenceItem
		q := url.Values{"category": {cases.EvidencePcap}, "name": {filepath.Base(name)},
			"not_seized_reason": {"network traffic has no original medium; the capture file handed over is the evidence"}}
		q["collector"], q["witness"] = who["collector"], who["witness"]
		err = c.upload("/cases/"+id+"/evidence?"+q.Encode(), "application/octet-stream", fh, &item)
		fh.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !quiet {
			fmt.Fprintf(f.e.stderr, "sealed %s as exhibit %s, sha256 %s, %d bytes\n", name, item.Exhibit, item.SHA256, item.Size)
		}
		inputs = append(inputs, item.SHA256)
	}
	var done struct {
		cases.AnalysisCompleted
		Findings, Alerts int
	}
	req := map[string]any{"inputs": inputs, "stream_depth": depth, "midstream": midstream, "no_modules": noModules}
	if err := c.call("POST", "/cases/"+id+"/analyses", req, &done); err != nil {
		return err
	}
	for _, w := range done.Warnings {
		fmt.Fprintf(f.e.stderr, "warning: %s\n", w)
	}
	if !quiet {
		st := done.Stats
		fmt.Fprintf(f.e.stderr, "analyzed %d packets in %d files, %d flows, %d events, %d warnings; EVE output kept as sha256 %s\n",
			st["packets"], st["files"], st["flows"], st["events"], st["warnings"], done.Output)
		var names []string
		for _, m := range done.Modules {
			names = append(names, m.Name)
		}
		if len(names) > 0 {
			fmt.Fprintf(f.e.stderr, "modules %s: %d alerts, %d findings recorded in the case\n", strings.Join(names, ","), done.Alerts, done.Findings)
		} else {
			fmt.Fprintf(f.e.stderr, "no detection modules ran\n")
		}
	}
	return c.do("GET", "/cases/"+id+"/evidence/"+done.Output, "", nil, out)
}

// createNew creates a file to write output to, refusing to overwrite a
// regular file that exists (a device such as /dev/null is fine).
func createNew(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s exists; not overwriting it", path)
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
}

// isTerminal reports whether w is a terminal, where a progress bar helps.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws how far the analysis has read each file on one line.
func progressBar(w io.Writer) func(file string, read, size int64) {
	return func(file string, read, size int64) {
		name := filepath.Base(file)
		if size <= 0 {
			fmt.Fprintf(w, "\r%-30.30s %d MiB read", name, read>>20)
			return
		}
		const width = 30
		done := int(read * width / size)
		fmt.Fprintf(w, "\r%-30.30s [%s%s] %3d%% of %d MiB", name, strings.Repeat("#", done), strings.Repeat(".", width-done), read*100/size, size>>20)
		if read >= size {
			fmt.Fprintln(w)
		}
	}
}

// batchGC tunes the garbage collector for an analysis, unless the user set
// GOGC or GOMEMLIMIT. Its live heap is small (flow table, reassembly and
// parser state: tens of MiB) and its garbage large (every event): collecting
// when the heap has grown five-fold rather than two-fold spares most of the
// collector's work, about a fifth of the analysis time. The limit keeps a
// large live heap (many flows, full reassembly caps) from growing five-fold.
// It returns the function that restores the settings.
func batchGC() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	gc, limit := debug.SetGCPercent(400), debug.SetMemoryLimit(1<<30)
	return func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	}
}
