// Package modbuild builds WebAssembly modules from Go source with the
// standard toolchain (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared) and
// signs them, for the build (make modules) and for tests. It runs the go
// command; it must never be linked into the appliance binary.
package modbuild

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

// Wasm builds the main package in dir into out.
func Wasm(ctx context.Context, dir, out string) error {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, gobin, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", abs, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w: %s", dir, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// Package builds the module in dir (main.go and manifest.json) and signs
// it with key (nil: unsigned).
func Package(ctx context.Context, dir, tmp string, key ed25519.PrivateKey) (*modhost.Package, error) {
	manifest, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	out := filepath.Join(tmp, filepath.Base(dir)+".wasm")
	if err := Wasm(ctx, dir, out); err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	p := &modhost.Package{Manifest: manifest, Wasm: wasm, Source: dir}
	if key != nil {
		p.Signature = modhost.Sign(key, manifest, wasm)
	}
	return p, nil
}

// Write writes a package as a module directory: module.wasm,
// manifest.json and signature.json.
func Write(p *modhost.Package, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string][]byte{"module.wasm": p.Wasm, "manifest.json": p.Manifest}
	if p.Signature != nil {
		files["signature.json"] = p.Signature
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// LoadOrCreateKey reads an ed25519 private key (PKCS#8 PEM) from path,
// creating one if the file does not exist: a development build signs its
// first-party modules with a key of its own; a release build is given the
// release key.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		return key, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	}
	if err != nil {
		return nil, err
	}
	return modhost.LoadKey(path)
}

// FirstParty builds every module under modulesDir, signs each with key,
// and writes them under outDir (one directory each) with the public key
// as outDir/firstparty.pub, which the binary embeds and trusts.
func FirstParty(ctx context.Context, modulesDir, outDir string, key ed25519.PrivateKey) ([]string, error) {
	entries, err := os.ReadDir(modulesDir)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "modbuild")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var built []string
	for _, e := range entries {
		dir := filepath.Join(modulesDir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "manifest.json")); !e.IsDir() || err != nil {
			continue
		}
		p, err := Package(ctx, dir, tmp, key)
		if err != nil {
			return built, err
		}
		if err := Write(p, filepath.Join(outDir, e.Name())); err != nil {
			return built, err
		}
		built = append(built, e.Name())
	}
	pub := key.Public().(ed25519.PublicKey)
	return built, os.WriteFile(filepath.Join(outDir, "firstparty.pub"), pem.EncodeToMemory(&pem.Block{Type: "FIREBREAK MODULE KEY", Bytes: pub}), 0o644)
}
