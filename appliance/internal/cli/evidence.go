package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/export"
)

func runEvidence(e *env, args []string) error {
	f := e.newFlags("evidence", "evidence list CASE | evidence export CASE (--out DIR | --archive FILE.tar) | evidence verify DIR",
		"List a case's exhibits; export its evidence bundle (the files, the journal as a hash chain,\n"+
			"the evidence list, and manifests in SHA-256, SM3 and MD5 signed by the appliance key); or\n"+
			"verify a bundle offline. A bundle also verifies with sha256sum, md5sum and openssl alone:\n"+
			"its README.txt says how.").clientFlags()
	out := f.String("out", "", "export: unpack the bundle into this folder (new or empty)")
	archive := f.String("archive", "", "export: write the bundle as one tar file")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
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
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := f.client().do("POST", "/cases/"+pos[1]+"/export", "", nil, pw)
			pw.CloseWithError(err)
			done <- err
		}()
		cr := &countingReader{r: pr}
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
		} else if err := export.Extract(cr, *out); err != nil {
			pr.CloseWithError(err)
			<-done
			return err
		}
		if err := <-done; err != nil {
			return err
		}
		if *out != "" {
			if err := export.Verify(*out); err != nil {
				return fmt.Errorf("the exported bundle does not verify: %w", err)
			}
			fmt.Fprintf(e.stdout, "exported %s to %s (%d bytes), verified\n", pos[1], *out, cr.n)
		} else {
			fmt.Fprintf(e.stdout, "exported %s to %s (%d bytes)\n", pos[1], *archive, cr.n)
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

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
