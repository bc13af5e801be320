package export

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// Extract unpacks a bundle's tar stream into dir, which must be empty or
// not exist. Only regular files are written, each inside dir: a member
// named with "..", an absolute path or a link is refused.
func Extract(r io.Reader, dir string) error {
	_, err := extract(r, dir, false)
	return err
}

// ExtractChecked unpacks a bundle like Extract and checks it on the way:
// each file's SHA-256 is computed as it is written and compared with the
// signed MANIFEST.sha256, the signature is checked, and so are the journal
// and the custody and action chains. It reads the evidence once; the SM3
// and MD5 lists are left to Verify. It returns nil or Problems.
func ExtractChecked(r io.Reader, dir string) error {
	got, err := extract(r, dir, true)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return checkBundle(root, []string{ManifestSHA256}, sortedKeys(got), func(_, file string) (string, error) {
		sum, ok := got[file]
		if !ok {
			return "", errMissing
		}
		return sum, nil
	})
}

func extract(r io.Reader, dir string, hash bool) (map[string]string, error) {
	sums := map[string]string{}
	buf := make([]byte, 1<<20)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if ents, err := os.ReadDir(dir); err != nil {
		return nil, err
	} else if len(ents) > 0 {
		return nil, fmt.Errorf("%s is not empty", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return sums, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read bundle: %w", err)
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("bundle member %q refused: only plain files inside the bundle", h.Name)
		}
		if _, dup := sums[name]; dup {
			return nil, fmt.Errorf("bundle member %q refused: it appears twice", h.Name)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
		if err != nil {
			return nil, err
		}
		var w io.Writer = f
		var hs *asyncHash
		if hash {
			hs = newAsyncHash(sha256.New())
			w = io.MultiWriter(f, hs)
		}
		_, err = io.CopyBuffer(w, tr, buf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		sums[name] = "" // kept for the duplicate check when not hashing
		if hs != nil {
			sums[name] = hs.sum()
		}
		if err != nil {
			return nil, err
		}
	}
}
