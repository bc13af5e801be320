package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/export"
	"golang.org/x/sys/unix"
)

func runEvidence(e *env, args []string) error {
	f := e.newFlags("evidence", "evidence list CASE | evidence collect CASE FILE | evidence export CASE (--out DIR | --archive FILE.tar) | evidence verify DIR | evidence reproduce DIR",
		"List a case's exhibits; seal a file into its evidence (collect); export its evidence bundle (the files, the journal as a hash chain,\n"+
			"the evidence list, and manifests in SHA-256, SM3 and MD5 signed by the appliance key); or\n"+
			"verify a bundle offline (a bundle also verifies with sha256sum, md5sum and openssl alone:\n"+
			"its README.txt says how); or reproduce a bundle's analyses: re-run the bundle's detection\n"+
			"modules over its captures and compare the alerts with the recorded findings.").clientFlags()
	out := f.String("out", "", "export: unpack the bundle into this folder (new or empty)")
	archive := f.String("archive", "", "export: write the bundle as one tar file")
	noPDF := f.Bool("no-pdf", false, "export: leave the PDF report out (HTML and Markdown stay)")
	category := f.String("category", cases.EvidenceFile, "collect: pcap, log, file, memory, screenshot or video")
	host := f.String("host", "", "collect: the host the file was taken from")
	notSeized := f.String("not-seized", "", "collect: why the original medium was not seized")
	desc := f.String("description", "", "collect: what the file is")
	var collectors multiFlag
	f.Var(&collectors, "collector", "collect: an engineer who collected it (give two: the 2016 rules ask for two collectors)")
	witness := f.String("witness", "", "collect: who witnessed the collection")
	var trust multiFlag
	f.Var(&trust, "trust", "reproduce: also accept modules signed with this PEM public key (the first-party key always is)")
	pos, err := f.parse(args, 2, 3)
	if err != nil {
		return err
	}
	if len(pos) == 3 && pos[0] != "collect" {
		return usagef("evidence %s takes one argument", pos[0])
	}
	switch pos[0] {
	case "list":
		var items []cases.EvidenceItem
		if err := f.client().call("GET", "/cases/"+pos[1]+"/evidence", nil, &items); err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, items)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EXHIBIT\tCATEGORY\tSIZE\tSHA256\tSOURCE\tCOLLECTED")
		for _, it := range items {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", it.Exhibit, it.Category, it.Size, it.SHA256, dash(it.Source.Path), it.CollectedAt.Local().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "export":
		if (*out == "") == (*archive == "") {
			return usagef("give exactly one of --out DIR or --archive FILE")
		}
		// The evidence's size, for the progress lines.
		var items []cases.EvidenceItem
		if err := f.client().call("GET", "/cases/"+pos[1]+"/evidence", nil, &items); err != nil {
			return err
		}
		var total int64
		seen := map[string]bool{}
		for _, it := range items {
			if !seen[it.SHA256] {
				seen[it.SHA256] = true
				total += it.Size
			}
		}
		query := ""
		if *noPDF {
			query = "?pdf=false"
		}
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := f.client().do("POST", "/cases/"+pos[1]+"/export"+query, "", nil, pw)
			pw.CloseWithError(err)
			done <- err
		}()
		cr := &countingReader{r: pr, total: total, out: e.stderr, start: time.Now()}
		defer cr.finish()
		if *archive != "" {
			fh, err := os.OpenFile(*archive, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
			if err != nil {
				pr.Close()
				return err
			}
			_, err = io.Copy(fh, cr)
			if cerr := fh.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		} else if err := export.ExtractChecked(cr, *out); err != nil {
			pr.CloseWithError(err)
			if derr := <-done; derr != nil {
				return derr // the daemon's reason comes first: the archive was cut short
			}
			return fmt.Errorf("the exported bundle does not verify: %w", err)
		}
		if err := <-done; err != nil {
			return err
		}
		cr.finish()
		if *out != "" {
			fmt.Fprintf(e.stdout, "exported %s to %s (%d bytes), signature and SHA-256 of every file verified\n", pos[1], *out, cr.n)
		} else {
			fmt.Fprintf(e.stdout, "exported %s to %s (%d bytes)\n", pos[1], *archive, cr.n)
		}
		return nil
	case "collect":
		if len(pos) < 3 {
			return usagef("evidence collect CASE FILE [--category C] [--collector A --collector B] [--witness W]")
		}
		fh, err := os.Open(pos[2])
		if err != nil {
			return err
		}
		defer fh.Close()
		q := url.Values{"category": {*category}, "name": {filepath.Base(pos[2])}, "host": {*host},
			"not_seized_reason": {*notSeized}, "description": {*desc}, "collector": collectors, "witness": {*witness}}
		var item cases.EvidenceItem
		if err := f.client().upload("/cases/"+pos[1]+"/evidence?"+q.Encode(), "application/octet-stream", fh, &item); err != nil {
			return fmt.Errorf("%s: %w", pos[2], err)
		}
		if f.json {
			return printJSON(e.stdout, item)
		}
		fmt.Fprintf(e.stdout, "sealed %s as exhibit %s, sha256 %s, %d bytes\n", pos[2], item.Exhibit, item.SHA256, item.Size)
		return nil
	case "reproduce":
		// Only a bundle that verifies is worth re-running.
		if err := export.Verify(pos[1]); err != nil {
			return fmt.Errorf("%s does not verify, not re-running it: %w", pos[1], err)
		}
		// On the appliance, the daemon's compiled modules serve here too.
		cache := moduleCacheDir()
		if d := filepath.Join(f.dataDir(), "modcache"); writableDir(d) {
			cache = d
		}
		ts, err := moduleTrust(trust)
		if err != nil {
			return err
		}
		res, err := export.Reproduce(context.Background(), pos[1], export.ReproduceOptions{CacheDir: cache, Trust: ts})
		for _, r := range res {
			fmt.Fprintf(e.stdout, "analysis %d: %s with %s: %d findings (%d alerts), the same as recorded\n",
				r.Analysis, strings.Join(r.Inputs, " "), strings.Join(r.Modules, ", "), r.Findings, r.Alerts)
		}
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, res)
		}
		return nil
	case "verify":
		err := export.Verify(pos[1])
		var ps export.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintf(e.stdout, "FAILED %s\n", p)
			}
			return fmt.Errorf("%s: %d problems, first: %s", pos[1], len(ps), ps[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: signature, manifests (SHA-256, SM3, MD5) and journal chain verified\n", pos[1])
		return nil
	}
	return usagef("unknown subcommand %q", pos[0])
}

// countingReader counts the bundle's bytes and prints a progress line
// each second: the bundle is the evidence plus a little.
type countingReader struct {
	r            io.Reader
	n            int64
	total        int64
	out          io.Writer
	start, shown time.Time
	done         bool
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.out != nil && time.Since(c.shown) >= time.Second {
		c.shown = time.Now()
		c.print()
	}
	return n, err
}

func (c *countingReader) print() {
	el := time.Since(c.start).Seconds()
	rate := float64(c.n) / max(el, 1e-3) / (1 << 20)
	if c.total > 0 {
		fmt.Fprintf(c.out, "export: %s of %s of evidence (%d%%), %.0f MiB/s\n", size(c.n), size(c.total), min(100, c.n*100/c.total), rate)
	} else {
		fmt.Fprintf(c.out, "export: %s, %.0f MiB/s\n", size(c.n), rate)
	}
}

func (c *countingReader) finish() {
	if c.out != nil && !c.done {
		c.done = true
		c.print()
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// writableDir reports whether p is a folder this user may write to.
func writableDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir() && unix.Access(p, unix.W_OK) == nil
}
