package export

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzExtractChecked feeds arbitrary archives to the extraction the CLI
// runs on what it receives: it must fail cleanly or write plain files
// inside the folder, never panic or write elsewhere.
func FuzzExtractChecked(f *testing.F) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range []struct{ name, body string }{
		{ManifestSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a\n"}, {"a", ""},
		{Chain, "1 00 00\n"}, {Custody, `{"prev":"0"}` + "\n"},
	} {
		tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o444, Size: int64(len(m.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(m.body))
	}
	tw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "bundle")
		ExtractChecked(bytes.NewReader(data), dir)
		filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if p != parent && p != dir && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
				t.Fatalf("%s written outside the bundle folder", p)
			}
			if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				t.Fatalf("%s is a link", p)
			}
			return nil
		})
	})
}

// FuzzReproduceRecord feeds arbitrary case.json and manifest.json to
// Reproduce: a bundle's record is untrusted input, and must give an error,
// never a panic or a file read outside the bundle.
func FuzzReproduceRecord(f *testing.F) {
	f.Add([]byte(`{"analyses":[{"inputs":["`+strings.Repeat("a", 64)+`"],"modules":[{"name":"x","sha256":"`+strings.Repeat("b", 64)+`"}]}]}`),
		[]byte(`{"items":[{"sha256":"`+strings.Repeat("a", 64)+`","file":"../../etc/passwd"}]}`))
	f.Add([]byte(`{}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, caseJSON, manifest []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, CaseFile), caseJSON, 0o600)
		os.WriteFile(filepath.Join(dir, Manifest), manifest, 0o600)
		if _, err := Reproduce(t.Context(), dir, ReproduceOptions{}); err == nil {
			t.Fatal("a bundle without modules or captures reproduced")
		}
	})
}
