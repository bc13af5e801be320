// Package export writes a case's evidence bundle — the evidence files, the
// case journal in a form a shell can re-walk, the evidence list, and signed
// manifests — and verifies one. A police examiner checks a bundle with
// sha256sum, md5sum, openssl and a shell loop alone; README.txt in the
// bundle says how.
//
// The bundle never contains anything the manifests do not cover, and
// Verify never trusts a file before checking it against the signed
// manifest.
package export

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/sha256"
	"crypto/x509"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
	"github.com/firebreak-ir/firebreak/appliance/internal/sm3"
	"github.com/firebreak-ir/firebreak/appliance/internal/vault"
)

// Names of the bundle's fixed files.
const (
	ManifestSHA256 = "MANIFEST.sha256"
	ManifestSM3    = "MANIFEST.sm3"
	ManifestMD5    = "MANIFEST.md5"
	Signature      = "MANIFEST.sha256.sig"
	PublicKey      = "appliance.pub.pem"
	ReadMe         = "README.txt"
	CaseFile       = "case.json"
	EvidenceList   = "evidence-list.csv"
	Entries        = "journal/entries.jsonl"
	Chain          = "journal/chain.txt"
	CanonicalDir   = "journal/canonical"
)

// Input is what a bundle is made from.
type Input struct {
	Case      *cases.Case
	Entries   []journal.Entry
	Open      func(sha256 string) (io.ReadCloser, error) // opens a vault blob
	Key       ed25519.PrivateKey                         // the appliance key that signs the manifest
	Appliance string                                     // appliance ID
	Version   string                                     // firebreak version
	Now       time.Time
	// Progress, if set, is called as bytes of evidence are written.
	Progress func(done, total int64)
	// Actor is who asked for the export, for the provenance record.
	Actor string
	// Digests, if set, returns a vault blob's recorded digests: each blob
	// is then checked with SHA-256 while it is copied and its SM3 and MD5
	// are taken from the record. Nil: all three are computed while copying.
	Digests func(sha256 string) (vault.Digests, error)
	// Reports are added under report/ (the incident report in each
	// language and format), by file name.
	Reports map[string][]byte
	// Modules are the signed module packages the appliance has; each one
	// an analysis of the case ran (matched by the SHA-256 of its wasm) is
	// added under modules/, so the analysis can be repeated from the bundle.
	Modules []*modhost.Package
	// ModuleKey is the PEM public key the modules are signed with, added
	// as modules/signing-key.pem when set.
	ModuleKey []byte
}

// Result says what was written.
type Result struct {
	Files          int    `json:"files"`
	Bytes          int64  `json:"bytes"`
	ManifestSHA256 string `json:"manifest_sha256"` // SHA-256 of MANIFEST.sha256, for the custody record
}

type sums struct{ sha256, sm3, md5 string }

// bundleWriter writes tar members and remembers their digests.
type bundleWriter struct {
	tw    *tar.Writer
	now   time.Time
	files []string
	sums  map[string]sums
	bytes int64
	buf   []byte
}

func (b *bundleWriter) add(name string, size int64, r io.Reader) error {
	return b.addRecorded(name, size, r, nil)
}

// addRecorded writes a member. With rec, only SHA-256 is computed while
// copying and the SM3 and MD5 are taken from rec, whose SHA-256 the copy
// must match.
func (b *bundleWriter) addRecorded(name string, size int64, r io.Reader, rec *vault.Digests) error {
	if err := b.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: size, ModTime: b.now, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if b.buf == nil {
		b.buf = make([]byte, 1<<20)
	}
	var s sums
	if rec != nil {
		// A vault blob: SHA-256 only, beside the copy.
		h := newAsyncHash(sha256.New())
		n, err := io.CopyBuffer(io.MultiWriter(b.tw, h), r, b.buf)
		s.sha256 = h.sum()
		if err != nil {
			return fmt.Errorf("bundle %s: %w", name, err)
		}
		if n != size {
			return fmt.Errorf("bundle %s: %d bytes, expected %d", name, n, size)
		}
		if s.sha256 != rec.SHA256 {
			return fmt.Errorf("bundle %s: the copy hashes to %s, the recorded digest is %s", name, s.sha256, rec.SHA256)
		}
		s.sm3, s.md5 = rec.SM3, rec.MD5
	} else {
		hs := []hash.Hash{sha256.New(), sm3.New(), md5.New()}
		n, err := io.CopyBuffer(io.MultiWriter(b.tw, hs[0], hs[1], hs[2]), r, b.buf)
		if err != nil {
			return fmt.Errorf("bundle %s: %w", name, err)
		}
		if n != size {
			return fmt.Errorf("bundle %s: %d bytes, expected %d", name, n, size)
		}
		s = sums{hex.EncodeToString(hs[0].Sum(nil)), hex.EncodeToString(hs[1].Sum(nil)), hex.EncodeToString(hs[2].Sum(nil))}
	}
	b.files = append(b.files, name)
	b.sums[name] = s
	b.bytes += size
	return nil
}

func (b *bundleWriter) addBytes(name string, data []byte) error {
	return b.add(name, int64(len(data)), bytes.NewReader(data))
}

// Write writes the bundle of in.Case as a tar stream to w.
func Write(w io.Writer, in Input) (Result, error) {
	bw := &bundleWriter{tw: tar.NewWriter(w), now: in.Now.UTC(), sums: map[string]sums{}}
	c := in.Case

	// Evidence files, named by exhibit.
	var total, done int64
	for _, it := range c.Evidence {
		total += it.Size
	}
	names := map[string]string{} // sha256 → bundle path
	for _, it := range c.Evidence {
		if _, ok := names[it.SHA256]; ok {
			continue
		}
		name := "evidence/" + it.Exhibit
		if it.Category == cases.EvidenceEVE {
			name = EVEDir + "/" + it.Exhibit
		}
		if base := safeName(it.Source.Path); base != "" {
			name += "-" + base
		}
		var rec *vault.Digests
		if in.Digests != nil {
			d, err := in.Digests(it.SHA256)
			if err != nil {
				return Result{}, fmt.Errorf("exhibit %s: %w", it.Exhibit, err)
			}
			rec = &d
		}
		rc, err := in.Open(it.SHA256)
		if err != nil {
			return Result{}, fmt.Errorf("exhibit %s: %w", it.Exhibit, err)
		}
		err = bw.addRecorded(name, it.Size, &progressReader{r: rc, done: &done, total: total, fn: in.Progress}, rec)
		rc.Close()
		if err != nil {
			return Result{}, err
		}
		if got := bw.sums[name].sha256; got != it.SHA256 {
			return Result{}, fmt.Errorf("exhibit %s: the vault copy hashes to %s, not %s; it was changed", it.Exhibit, got, it.SHA256)
		}
		names[it.SHA256] = name
	}

	// The journal: entries as JSON, and for each its canonical bytes and the
	// chain, so `sha256sum` re-walks it.
	var jsonl, chain bytes.Buffer
	enc := json.NewEncoder(&jsonl)
	enc.SetEscapeHTML(false)
	for _, e := range in.Entries {
		enc.Encode(e)
		fmt.Fprintf(&chain, "%d %s %s\n", e.Seq, e.Hash, e.Prev)
		if err := bw.addBytes(fmt.Sprintf("%s/%06d.bin", CanonicalDir, e.Seq), e.Canonical()); err != nil {
			return Result{}, err
		}
	}
	if err := bw.addBytes(Entries, jsonl.Bytes()); err != nil {
		return Result{}, err
	}
	if err := bw.addBytes(Chain, chain.Bytes()); err != nil {
		return Result{}, err
	}
	caseJSON, _ := json.MarshalIndent(c, "", "  ")
	if err := bw.addBytes(CaseFile, caseJSON); err != nil {
		return Result{}, err
	}
	list, err := evidenceList(c, names, bw.sums)
	if err != nil {
		return Result{}, err
	}
	custody, actions := chains(in.Entries)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{EvidenceList, list}, {Manifest, manifestJSON(c, names, bw.sums)}, {Custody, custody}, {Actions, actions},
		{FormRecord, formRecord(c, in)}, {FormList, formList(c, names, bw.sums, in)},
	} {
		if err := bw.addBytes(f.name, f.data); err != nil {
			return Result{}, err
		}
	}

	// What the analyses used and found: the modules, the findings as STIX
	// and the provenance of everything as CASE/UCO; then the report.
	mods, modFiles := moduleFiles(c, in)
	for _, f := range modFiles {
		if err := bw.addBytes(f.name, f.data); err != nil {
			return Result{}, err
		}
	}
	findings, _ := json.MarshalIndent(c.Findings, "", "  ")
	analysis := []namedFile{{Findings, findings}, {STIXBundle, stixOf(c, in)}, {Provenance, provenanceOf(c, in, names, bw.sums, mods)}}
	for _, name := range sortedKeys(in.Reports) {
		analysis = append(analysis, namedFile{ReportDir + "/" + safeName(name), in.Reports[name]})
	}
	for _, f := range analysis {
		if err := bw.addBytes(f.name, f.data); err != nil {
			return Result{}, err
		}
	}
	if err := bw.addBytes(ReadMe, readme(c, in)); err != nil {
		return Result{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(in.Key.Public())
	if err != nil {
		return Result{}, err
	}
	if err := bw.addBytes(PublicKey, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err != nil {
		return Result{}, err
	}

	// Manifests over every file above, then the signature.
	sort.Strings(bw.files)
	var m256, msm3, mmd5 bytes.Buffer
	for _, f := range bw.files {
		s := bw.sums[f]
		fmt.Fprintf(&m256, "%s  %s\n", s.sha256, f)
		fmt.Fprintf(&msm3, "%s  %s\n", s.sm3, f)
		fmt.Fprintf(&mmd5, "%s  %s\n", s.md5, f)
	}
	n := len(bw.files)
	for _, m := range []struct {
		name string
		data []byte
	}{{ManifestSHA256, m256.Bytes()}, {ManifestSM3, msm3.Bytes()}, {ManifestMD5, mmd5.Bytes()}, {Signature, ed25519.Sign(in.Key, m256.Bytes())}} {
		if err := bw.addBytes(m.name, m.data); err != nil {
			return Result{}, err
		}
	}
	if err := bw.tw.Close(); err != nil {
		return Result{}, err
	}
	sum := sha256.Sum256(m256.Bytes())
	return Result{Files: n, Bytes: bw.bytes, ManifestSHA256: hex.EncodeToString(sum[:])}, nil
}

// safeName keeps a file name's letters, digits, dots, dashes and
// underscores, so a name from a customer cannot steer a path.
func safeName(p string) string {
	base := path.Base(strings.ReplaceAll(p, "\\", "/"))
	var b strings.Builder
	for _, r := range base {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := strings.Trim(b.String(), ".")
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

var beijing = time.FixedZone("CST", 8*3600)

// evidenceList is the 清单: one row per exhibit with its integrity values.
func evidenceList(c *cases.Case, names map[string]string, s map[string]sums) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("\ufeff") // spreadsheet programs then read the UTF-8 correctly
	w := csv.NewWriter(&buf)
	w.Write([]string{"exhibit 编号", "category 类别", "format 格式", "file 文件", "size 大小", "sha256", "sm3", "md5",
		"source 来源", "method 提取方法", "collectors 提取人", "collected UTC", "collected 北京时间", "derived from 派生自", "not seized 未扣押原始存储介质原因"})
	for _, it := range c.Evidence {
		f := names[it.SHA256]
		src := strings.Trim(strings.Join([]string{it.Source.Host, it.Source.Interface, it.Source.Path}, " "), " ")
		method := strings.TrimSpace(it.Method.Tool + " " + it.Method.Version + " " + strings.Join(it.Method.Args, " "))
		w.Write([]string{it.Exhibit, it.Category, it.Format, f, fmt.Sprint(it.Size), it.SHA256, s[f].sm3, s[f].md5, src, method,
			strings.Join(it.Collectors, "; "), it.CollectedAt.UTC().Format(time.RFC3339), it.CollectedAt.In(beijing).Format("2006-01-02 15:04:05"),
			strings.Join(it.DerivedFrom, " "), it.NotSeized})
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

func readme(c *cases.Case, in Input) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `Evidence bundle of case %s — %s
Exported %s (UTC) by Firebreak %s on appliance %s.
证据包: 案件 %s, 导出时间 %s (北京时间)。

Every file is listed in MANIFEST.sha256 (SHA-256), MANIFEST.sm3 (SM3) and
MANIFEST.md5 (MD5). MANIFEST.sha256 is signed with the appliance's ed25519
key; the public key is appliance.pub.pem. 每个文件均列于三个清单中；
MANIFEST.sha256 由设备密钥签名。

Check with standard tools, in this folder / 在本目录中用标准工具校验:

  sha256sum -c MANIFEST.sha256
  md5sum -c MANIFEST.md5
  while read -r sum f; do
    [ "$(openssl dgst -sm3 -r "$f" | cut -d' ' -f1)" = "$sum" ] || echo "SM3 FAILED: $f"
  done < MANIFEST.sm3
  openssl pkeyutl -verify -rawin -pubin -inkey appliance.pub.pem \
    -sigfile MANIFEST.sha256.sig -in MANIFEST.sha256

The case journal (custody, findings, actions, notes) is a hash chain.
journal/chain.txt has one line per entry: sequence number, hash, previous
hash; journal/canonical/NNNNNN.bin holds the bytes each hash covers.
案件日志为哈希链, 校验方法:

  prev=0000000000000000000000000000000000000000000000000000000000000000
  while read -r seq hash p; do
    f=journal/canonical/$(printf %%06d "$seq").bin
    [ "$p" = "$prev" ] && [ "$(sha256sum "$f" | cut -c1-64)" = "$hash" ] || echo "CHAIN BROKEN at entry $seq"
    prev=$hash
  done < journal/chain.txt

custody.jsonl (collection, sealing, export) and actions.jsonl (containment and
clean-up, each marked when it changed the scene) are chains of lines a jq loop
re-walks; each line names the journal entry it comes from.
监管链与现场操作记录为逐行哈希链, 校验方法:

  for f in custody.jsonl actions.jsonl; do
    prev=0000000000000000000000000000000000000000000000000000000000000000
    while read -r l; do
      [ "$(printf '%%s' "$l" | jq -r .prev)" = "$prev" ] || echo "BROKEN in $f"
      prev=$(printf '%%s' "$l" | sha256sum | cut -c1-64)
    done < "$f"
  done

evidence/ holds the exhibits; analysis/ the EVE output of each analysis
(eve/), the findings (findings.json), the findings as STIX 2.1 indicators,
sightings and observed data (stix-bundle.json) and the provenance of every
exhibit as a CASE/UCO JSON-LD record (case-uco.jsonld); modules/ the exact
signed detection modules the analyses ran, so that
"firebreak evidence reproduce <this folder>" repeats the analysis; report/
the incident report. analysis/ 为分析结果, modules/ 为所用检测模块, report/
为应急响应报告。

evidence-list.csv is the evidence list (清单) and manifest.json the same with
every field; forms/ holds the extraction record (电子数据提取笔录) and the
extraction list (电子数据提取固定清单) filled in from the case, to be signed;
journal/entries.jsonl has each entry in JSON; case.json is the case as the
journal describes it.
`, c.ID, c.Title, in.Now.UTC().Format("2006-01-02 15:04:05"), in.Version, in.Appliance,
		c.ID, in.Now.In(beijing).Format("2006-01-02 15:04:05"))
	return b.Bytes()
}

type progressReader struct {
	r     io.Reader
	done  *int64
	total int64
	fn    func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	*p.done += int64(n)
	if p.fn != nil && n > 0 {
		p.fn(*p.done, p.total)
	}
	return n, err
}
