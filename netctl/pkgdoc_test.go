package netctl

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs: every package under netctl/ says what it is for and
// what it must never do.
func TestPackageDocs(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() == "testdata" {
			return err
		}
		pkgs, err := parser.ParseDir(token.NewFileSet(), path, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		for name, pkg := range pkgs {
			var doc string
			for _, f := range pkg.Files {
				if f.Doc != nil {
					doc += f.Doc.Text()
				}
			}
			if doc == "" {
				t.Errorf("package %s (%s) has no doc comment", name, path)
			} else if !strings.Contains(doc, "never") {
				t.Errorf("package %s (%s): doc comment does not say what it must never do", name, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
