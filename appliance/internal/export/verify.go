package export

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/sm3"
)

// ErrInvalid means a bundle failed verification; the error is a *Problems.
var ErrInvalid = errors.New("evidence bundle does not verify")

// Problem is one thing wrong with a bundle, naming the file and, where it
// applies, the line.
type Problem struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Detail string `json:"detail"`
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", p.File, p.Line, p.Detail)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Detail)
}

// Problems is every problem Verify found, in the order it checks.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return "evidence bundle does not verify: " + strings.Join(s, "; ")
}

func (ps Problems) Is(target error) bool { return target == ErrInvalid }

// Verify checks the bundle in dir: the manifest's signature, every file
// against all three manifests, that no file is outside them, and the
// journal's hash chain. It returns nil or Problems.
func Verify(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	var files []string
	fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	hashes := map[string]func() hash.Hash{ManifestSHA256: sha256.New, ManifestSM3: sm3.New, ManifestMD5: md5.New}
	return checkBundle(root, []string{ManifestSHA256, ManifestSM3, ManifestMD5}, files, func(manifest, file string) (string, error) {
		return digestFile(root, file, hashes[manifest]())
	})
}

// checkBundle is what Verify and ExtractChecked check: the signature over
// MANIFEST.sha256; each line of the manifests named against the file's
// digest, which digest computes or looks up; that none of files is outside
// the manifests; the journal's chain and the custody and action chains.
// It returns nil or Problems.
func checkBundle(root *os.Root, manifests, files []string, digest func(manifest, file string) (string, error)) error {
	var ps Problems
	bad := func(file string, line int, f string, a ...any) {
		ps = append(ps, Problem{File: file, Line: line, Detail: fmt.Sprintf(f, a...)})
	}
	manifest, err := root.ReadFile(ManifestSHA256)
	if err != nil {
		bad(ManifestSHA256, 0, "cannot read: %v", err)
		return ps
	}
	checkSignature(root, manifest, bad)
	covered := map[string]bool{ManifestSHA256: true, ManifestSM3: true, ManifestMD5: true, Signature: true}
	for _, name := range manifests {
		data := manifest
		if name != ManifestSHA256 {
			if data, err = root.ReadFile(name); err != nil {
				bad(name, 0, "cannot read: %v", err)
				continue
			}
		}
		for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			want, file, ok := strings.Cut(line, "  ")
			if !ok || file == "" {
				bad(name, i+1, "not a '<digest>  <file>' line")
				continue
			}
			covered[file] = true
			got, err := digest(name, file)
			switch {
			case err != nil:
				bad(file, 0, "listed in %s line %d but %v", name, i+1, err)
			case got != want:
				bad(file, 0, "%s line %d: content does not match its digest", name, i+1)
			}
		}
	}
	for _, f := range files {
		if !covered[f] {
			bad(f, 0, "not listed in the manifests")
		}
	}
	verifyChain(root, bad)
	for _, f := range []string{Custody, Actions} {
		verifyLines(root, f, bad)
	}
	if len(ps) > 0 {
		return dedupe(ps)
	}
	return nil
}

// errMissing is a file a manifest lists that the bundle does not hold.
var errMissing = errors.New("is missing or outside the bundle")

func checkSignature(root *os.Root, manifest []byte, bad func(string, int, string, ...any)) {
	pub, err := readPublicKey(root)
	if err != nil {
		bad(PublicKey, 0, "%v", err)
	} else if sig, err := root.ReadFile(Signature); err != nil {
		bad(Signature, 0, "cannot read: %v", err)
	} else if !ed25519.Verify(pub, manifest, sig) {
		bad(Signature, 0, "the signature does not match MANIFEST.sha256 and appliance.pub.pem")
	}
}

// dedupe keeps the first problem reported for each file and line, so one
// changed file is named once, not once per manifest.
func dedupe(ps Problems) Problems {
	seen := map[string]bool{}
	var out Problems
	for _, p := range ps {
		k := p.File + "\x00" + strconv.Itoa(p.Line)
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

func readPublicKey(root *os.Root) (ed25519.PublicKey, error) {
	b, err := root.ReadFile(PublicKey)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %v", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("not a PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("not an ed25519 key")
	}
	return pub, nil
}

func digestFile(root *os.Root, name string, h hash.Hash) (string, error) {
	f, err := root.Open(name)
	if err != nil {
		return "", errMissing
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verifyChain re-walks journal/chain.txt: each line's canonical bytes hash
// to its hash, its previous hash is the line before's, and the JSON entry
// says the same.
func verifyChain(root *os.Root, bad func(string, int, string, ...any)) {
	chain, err := root.ReadFile(Chain)
	if err != nil {
		bad(Chain, 0, "cannot read: %v", err)
		return
	}
	entries := map[uint64]journal.Entry{}
	if f, err := root.Open(Entries); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for n := 1; sc.Scan(); n++ {
			var e journal.Entry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				bad(Entries, n, "not a journal entry: %v", err)
				continue
			}
			if e.ComputeHash() != e.Hash {
				bad(Entries, n, "entry %d does not hash to its recorded hash", e.Seq)
			}
			entries[e.Seq] = e
		}
		f.Close()
	} else {
		bad(Entries, 0, "cannot read: %v", err)
	}
	var prev journal.Hash
	var want uint64 = 1
	for i, line := range strings.Split(strings.TrimSuffix(string(chain), "\n"), "\n") {
		n := i + 1
		f := strings.Fields(line)
		var h, p journal.Hash
		seq, err := strconv.ParseUint(f0(f), 10, 64)
		if len(f) != 3 || err != nil || h.UnmarshalText([]byte(f[1])) != nil || p.UnmarshalText([]byte(f[2])) != nil {
			bad(Chain, n, "not a 'seq hash prev' line")
			return
		}
		switch {
		case seq != want:
			bad(Chain, n, "entry %d where entry %d belongs: an entry was removed or moved", seq, want)
			return
		case p != prev:
			bad(Chain, n, "entry %d's previous hash is not entry %d's hash", seq, seq-1)
			return
		}
		canon, err := root.ReadFile(fmt.Sprintf("%s/%06d.bin", CanonicalDir, seq))
		if err != nil || sha256.Sum256(canon) != [32]byte(h) {
			bad(Chain, n, "entry %d's canonical bytes do not hash to %s", seq, h)
			return
		}
		if e, ok := entries[seq]; !ok || e.Hash != h || !bytes.Equal(e.Canonical(), canon) {
			bad(Chain, n, "entry %d differs from journal/entries.jsonl", seq)
			return
		}
		prev, want = h, want+1
	}
	if uint64(len(entries)) != want-1 {
		bad(Entries, 0, "has %d entries, the chain %d", len(entries), want-1)
	}
}

func f0(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// verifyLines re-walks a line chain (custody.jsonl, actions.jsonl): each
// line's prev is the SHA-256 of the line before it.
func verifyLines(root *os.Root, name string, bad func(string, int, string, ...any)) {
	data, err := root.ReadFile(name)
	if err != nil {
		bad(name, 0, "cannot read: %v", err)
		return
	}
	prev := zeroHash
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" && i == 0 {
			return // an empty chain
		}
		var l chainLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			bad(name, i+1, "not a chain line: %v", err)
			return
		}
		if l.Prev != prev {
			bad(name, i+1, "prev does not match the line before: a line was removed, added or changed")
			return
		}
		sum := sha256.Sum256([]byte(line))
		prev = hex.EncodeToString(sum[:])
	}
}
