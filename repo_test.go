package firebreak

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs checks that every package has a doc comment that says
// what it is for and what it must never do.
func TestPackageDocs(t *testing.T) {
	docs := map[string]string{} // folder → doc comment
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "firebreak-data") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		if _, ok := docs[dir]; !ok {
			docs[dir] = ""
		}
		if f.Doc != nil {
			docs[dir] += f.Doc.Text()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, doc := range docs {
		if doc == "" {
			t.Errorf("%s: the package has no doc comment", dir)
		} else if !strings.Contains(doc, "never") {
			t.Errorf("%s: the package doc does not say what the package must never do", dir)
		}
	}
	if len(docs) < 5 {
		t.Fatalf("found only %d packages; is the test running at the repository root?", len(docs))
	}
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatal("not at the repository root")
	}
}
