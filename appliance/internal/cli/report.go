package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/firebreak-ir/firebreak/appliance/internal/report"
)

func runReport(e *env, args []string) error {
	f := e.newFlags("report", "report CASE [--lang zh|en] [--out FILE.html|FILE.pdf]",
		"Write the incident-response report of a case (应急响应报告), in Chinese or English, from the\n"+
			"case and its journal. HTML to stdout by default; --out FILE.pdf renders a PDF with headless\n"+
			"Chromium (Debian package chromium).").clientFlags()
	lang := f.String("lang", "zh", "zh or en")
	out := f.String("out", "", "write to this file instead of stdout (.pdf renders a PDF)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	var html bytes.Buffer
	if err := f.client().do("GET", "/cases/"+pos[0]+"/report?lang="+urlQuery(*lang), "", nil, &html); err != nil {
		return err
	}
	switch {
	case *out == "":
		_, err = e.stdout.Write(html.Bytes())
		return err
	case strings.HasSuffix(strings.ToLower(*out), ".pdf"):
		if fi, err := os.Stat(*out); err == nil && fi.Mode().IsRegular() {
			return fmt.Errorf("%s exists; not overwriting it", *out)
		}
		if err := report.PDF(context.Background(), html.Bytes(), *out); err != nil {
			return err
		}
	default:
		fh, err := createNew(*out)
		if err != nil {
			return err
		}
		_, err = fh.Write(html.Bytes())
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stderr, "report of %s written to %s\n", pos[0], *out)
	return nil
}
