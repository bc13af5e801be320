// Package firstparty holds the first-party modules embedded in the
// firebreak binary: `make modules` (run by `make build`) builds
// modules/<name>/ for wasip1, signs each with the first-party key and
// writes it under wasm/, with the public key, which this package embeds.
// A binary built without that step (plain `go build`) embeds none and says
// so. It must never hold a module that was not built from modules/.
package firstparty

import (
	"crypto/ed25519"
	"embed"
	"encoding/pem"
	"errors"
	"io/fs"
	"path"
	"sort"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

//go:embed all:wasm
var files embed.FS

// ErrNotBuilt is a binary built without the first-party modules.
var ErrNotBuilt = errors.New("this binary was built without the first-party modules (make build embeds them)")

// Key is the first-party public key the build embedded.
func Key() (ed25519.PublicKey, error) {
	b, err := files.ReadFile("wasm/firstparty.pub")
	if err != nil {
		return nil, ErrNotBuilt
	}
	blk, _ := pem.Decode(b)
	if blk == nil || len(blk.Bytes) != ed25519.PublicKeySize {
		return nil, errors.New("firstparty.pub: not an ed25519 public key")
	}
	return ed25519.PublicKey(blk.Bytes), nil
}

// Packages are the embedded modules, by name.
func Packages() ([]*modhost.Package, error) {
	entries, err := fs.ReadDir(files, "wasm")
	if err != nil {
		return nil, err
	}
	var out []*modhost.Package
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := path.Join("wasm", e.Name())
		p := &modhost.Package{Source: "embedded:" + e.Name()}
		if p.Manifest, err = files.ReadFile(path.Join(dir, "manifest.json")); err != nil {
			return nil, err
		}
		if p.Wasm, err = files.ReadFile(path.Join(dir, "module.wasm")); err != nil {
			return nil, err
		}
		if p.Signature, err = files.ReadFile(path.Join(dir, "signature.json")); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, ErrNotBuilt
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out, nil
}
