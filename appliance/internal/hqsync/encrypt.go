package hqsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Client-side encryption. With Options.Recipients, every blob and journal
// segment is encrypted with age to HQ's recipients on the box, so the
// storage provider holds nothing readable; HQ reads them with the matching
// identity. The layout becomes:
//
//	.../segments/<first>-<last>.age          the segment, one age file
//	.../blobs/<sha256>.age/<n>               part n (000001, ...) of the blob: one
//	                                         age file per chunk of plaintext
//	.../blobs/<sha256>.age/manifest.json     size, chunk, parts; written last
//
// A blob is in the bucket once its manifest is. Each part is its own age
// file, so a cut upload resumes at the first part HQ did not acknowledge.
// The cursor and identity.json stay in clear: they hold sequence numbers,
// hashes and the appliance's public key, and HQ must check them without a
// secret. Names of blobs are their plaintext SHA-256, which lets HQ check
// them after decryption (and tells the provider only which hashes exist).

const ageSuffix = ".age"

func encBlobPrefix(app, j, sum string) string { return blobKey(app, j, sum) + ageSuffix + "/" }
func encManifestKey(app, j, sum string) string {
	return encBlobPrefix(app, j, sum) + "manifest.json"
}
func encPartKey(app, j, sum string, n int32) string {
	return fmt.Sprintf("%s%06d", encBlobPrefix(app, j, sum), n)
}

// encManifest completes an encrypted blob.
type encManifest struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Chunk  int64  `json:"chunk"`
	Parts  int32  `json:"parts"`
}

func parseRecipients(keys []string) ([]age.Recipient, error) {
	var rs []age.Recipient
	for _, k := range keys {
		r, err := age.ParseX25519Recipient(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("%w: recipient %q: %v", ErrConfig, k, err)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// ReadIdentities reads an age identity file (AGE-SECRET-KEY-1… lines) for
// Verify.
func ReadIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("%w: identity file %s: %v", ErrConfig, path, err)
	}
	return ids, nil
}

func encrypt(plain []byte, rs []age.Recipient) ([]byte, error) {
	var b bytes.Buffer
	w, err := age.Encrypt(&b, rs...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ensureEncryptedBlob uploads a blob as encrypted parts, then its manifest.
// The outbox records each part HQ acknowledged, as for a multipart upload.
func (s *Syncer) ensureEncryptedBlob(ctx context.Context, id, sum string, f *os.File, size int64) error {
	app := s.opts.Appliance
	mkey := encManifestKey(app, id, sum)
	if b, err := s.hq.get(ctx, mkey, 4096); err == nil {
		var m encManifest
		if json.Unmarshal(b, &m) == nil && m.SHA256 == sum && m.Size == size {
			return nil // there from an earlier run whose mark was lost
		}
	} else if !errors.Is(err, errMissing) {
		return err
	}
	u, err := s.out.upload(id, sum)
	if err != nil {
		return err
	}
	if u == nil || u.UploadID != ageSuffix {
		u = &upload{UploadID: ageSuffix, Chunk: s.opts.ChunkSize}
	}
	whole := sha256.New()
	buf := make([]byte, u.Chunk)
	var off int64
	n := int32(1)
	for ; off < size || (size == 0 && n == 1); n++ {
		chunk := buf[:min(u.Chunk, size-off)]
		if _, err := f.ReadAt(chunk, off); err != nil && !(err == io.EOF && len(chunk) == 0) {
			return fmt.Errorf("read %s at %d: %w", sum, off, err)
		}
		whole.Write(chunk)
		ps := sha256.Sum256(chunk)
		off += int64(len(chunk))
		if int(n) <= len(u.Parts) {
			if p := u.Parts[n-1]; p.SHA256 != b64(ps[:]) || p.Size != int64(len(chunk)) {
				return fmt.Errorf("%w: %s part %d changed since it was sent", ErrBlobCorrupt, sum, n)
			}
			s.setCurrent(sum, size, off)
			continue
		}
		ct, err := encrypt(chunk, s.recipients)
		if err != nil {
			return err
		}
		s.stats.blobBytes.Add(int64(len(chunk)))
		if err := s.putSmall(ctx, encPartKey(app, id, sum, n), ct, nil); err != nil {
			return err
		}
		u.Parts = append(u.Parts, part{Number: n, Size: int64(len(chunk)), SHA256: b64(ps[:])})
		if err := s.out.setUpload(id, sum, u); err != nil {
			return err
		}
		s.setCurrent(sum, size, off)
	}
	if got := hex.EncodeToString(whole.Sum(nil)); got != sum {
		s.out.setUpload(id, sum, nil)
		return fmt.Errorf("%w: %s now hashes to %s", ErrBlobCorrupt, sum, got)
	}
	m, _ := json.Marshal(encManifest{SHA256: sum, Size: size, Chunk: u.Chunk, Parts: n - 1})
	return s.putSmall(ctx, mkey, m, nil)
}

// hashEncryptedBlob decrypts a blob's parts in order and hashes the
// plaintext.
func (h *hq) hashEncryptedBlob(ctx context.Context, app, j, sum string, ids []age.Identity) (int64, error) {
	b, err := h.get(ctx, encManifestKey(app, j, sum), 4096)
	if err != nil {
		return 0, err
	}
	var m encManifest
	if err := json.Unmarshal(b, &m); err != nil || m.SHA256 != sum || m.Parts < 1 {
		return 0, fmt.Errorf("bad manifest.json")
	}
	if len(ids) == 0 {
		return 0, errNeedIdentity
	}
	hash := sha256.New()
	var n int64
	for p := int32(1); p <= m.Parts; p++ {
		key := encPartKey(app, j, sum, p)
		out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &h.bucket, Key: &key})
		if err != nil {
			if isNotFound(err) {
				return n, fmt.Errorf("part %d is %w", p, errMissing)
			}
			return n, classify("GetObject "+key, err)
		}
		r, err := age.Decrypt(out.Body, ids...)
		if err == nil {
			var c int64
			c, err = io.Copy(hash, r)
			n += c
		}
		out.Body.Close()
		if err != nil {
			return n, fmt.Errorf("part %d does not decrypt: %v", p, err)
		}
	}
	if n != m.Size {
		return n, fmt.Errorf("the parts hold %d bytes, the manifest says %d", n, m.Size)
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != sum {
		return n, fmt.Errorf("the decrypted blob hashes to %s", got)
	}
	return n, nil
}

var errNeedIdentity = errors.New("the case is encrypted: give HQ's age identity (--identity FILE)")

func decryptWith(data []byte, ids []age.Identity) ([]byte, error) {
	if len(ids) == 0 {
		return nil, errNeedIdentity
	}
	r, err := age.Decrypt(bytes.NewReader(data), ids...)
	if err != nil {
		return nil, fmt.Errorf("does not decrypt: %v", err)
	}
	return io.ReadAll(io.LimitReader(r, maxSegmentBytes+1))
}
