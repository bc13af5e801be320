package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/firebreak-ir/firebreak/appliance/internal/report"
)

func runReport(e *env, args []string) error {
	f := e.newFlags("report", "report CASE [--lang zh|en] [--format html|md|pdf] [--out FILE]",
		"Write the incident-response report of a case (应急响应报告), in Chinese or English, from the\n"+
			"case and its journal. HTML to stdout by default; --format md writes Markdown; --format pdf\n"+
			"(or --out FILE.pdf) renders a PDF with headless Chromium (Debian package chromium).").clientFlags()
	lang := f.String("lang", "zh", "zh or en")
	format := f.String("format", "", "html, md or pdf (default: from the --out file's extension, else html)")
	out := f.String("out", "", "write to this file instead of stdout")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	if *format == "" {
		switch strings.ToLower(filepath.Ext(*out)) {
		case ".pdf":
			*format = "pdf"
		case ".md":
			*format = "md"
		default:
			*format = "html"
		}
	}
	if *format != "html" && *format != "md" && *format != "pdf" {
		return usagef("--format must be html, md or pdf")
	}
	if *format == "pdf" && *out == "" {
		return usagef("--format pdf needs --out FILE.pdf")
	}
	src := "html"
	if *format == "md" {
		src = "md"
	}
	var html bytes.Buffer
	if err := f.client().do("GET", "/cases/"+pos[0]+"/report?lang="+urlQuery(*lang)+"&format="+src, "", nil, &html); err != nil {
		return err
	}
	switch {
	case *out == "":
		_, err = e.stdout.Write(html.Bytes())
		return err
	case *format == "pdf":
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
