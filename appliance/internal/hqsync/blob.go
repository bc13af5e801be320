package hqsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// metaSHA256 is the object metadata that names a blob's SHA-256: S3 checks
// each part of a multipart upload, not the whole object, so HQ tools and
// the idempotence check read it from here.
const metaSHA256 = "sha256"

// unsignedPayload skips SigV4's own SHA-256 pass over the body: the body's
// SHA-256 is already in the signed x-amz-checksum-sha256 header, which the
// server checks, so the signature still covers the bytes.
func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
}

func b64(sum []byte) string { return base64.StdEncoding.EncodeToString(sum) }

// putSmall uploads bytes in one PUT with their SHA-256, which the server
// checks before it stores anything. Putting the same bytes again replaces
// the object with itself, so every PUT is idempotent.
func (s *Syncer) putSmall(ctx context.Context, key string, data []byte, meta map[string]string) error {
	sum := sha256.Sum256(data)
	if s.tamper != nil {
		data = s.tamper(key, 0, data)
	}
	s.stats.puts.Add(1)
	_, err := s.hq.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:         &s.hq.bucket,
		Key:            &key,
		Body:           bytes.NewReader(data),
		ContentLength:  aws.Int64(int64(len(data))),
		ChecksumSHA256: aws.String(b64(sum[:])),
		Metadata:       meta,
	}, unsignedPayload)
	return classify("PutObject "+key, err)
}

// ensureBlob puts a vault blob in the bucket unless the outbox or the
// bucket says it is there.
func (s *Syncer) ensureBlob(ctx context.Context, id, sum string) error {
	if s.out.blobDone(id, sum) {
		return nil
	}
	f, err := s.opts.Vault.Open(sum)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBlobMissing, sum, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if s.recipients != nil {
		s.setCurrent(sum, fi.Size(), 0)
		defer s.setCurrent("", 0, 0)
		if err := s.ensureEncryptedBlob(ctx, id, sum, f, fi.Size()); err != nil {
			return err
		}
		s.stats.blobs.Add(1)
		return s.out.setBlobDone(id, sum)
	}
	key := blobKey(s.opts.Appliance, id, sum)
	head, err := s.hq.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.hq.bucket, Key: &key})
	switch {
	case err == nil && aws.ToInt64(head.ContentLength) == fi.Size() && head.Metadata[metaSHA256] == sum:
		return s.out.setBlobDone(id, sum) // there from an earlier run whose mark was lost
	case err != nil && !isNotFound(err):
		return classify("HeadObject "+key, err)
	}
	s.setCurrent(sum, fi.Size(), 0)
	defer s.setCurrent("", 0, 0)
	if fi.Size() <= s.opts.ChunkSize {
		data, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			return fmt.Errorf("%w: %s", ErrBlobCorrupt, sum)
		}
		s.stats.blobBytes.Add(int64(len(data)))
		if err := s.putSmall(ctx, key, data, map[string]string{metaSHA256: sum}); err != nil {
			return err
		}
	} else if err := s.multipart(ctx, id, sum, key, f, fi.Size()); err != nil {
		return err
	}
	s.stats.blobs.Add(1)
	return s.out.setBlobDone(id, sum)
}

// multipart uploads a large blob in chunks. The upload ID and every part
// the server acknowledged are saved in the outbox as they happen, so after a
// cut link, a killed server or a restarted box the upload continues at the
// first part not acknowledged: at most one chunk is sent again.
func (s *Syncer) multipart(ctx context.Context, id, sum, key string, f *os.File, size int64) error {
	u, err := s.out.upload(id, sum)
	if err != nil {
		return err
	}
	if u == nil {
		s.stats.puts.Add(1)
		out, err := s.hq.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket:            &s.hq.bucket,
			Key:               &key,
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
			Metadata:          map[string]string{metaSHA256: sum},
		})
		if err != nil {
			return classify("CreateMultipartUpload "+key, err)
		}
		u = &upload{UploadID: aws.ToString(out.UploadId), Chunk: s.opts.ChunkSize}
		if err := s.out.setUpload(id, sum, u); err != nil {
			return err
		}
	}
	whole := sha256.New()
	buf := make([]byte, u.Chunk)
	var off int64
	for n := int32(1); off < size; n++ {
		chunk := buf[:min(u.Chunk, size-off)]
		if _, err := f.ReadAt(chunk, off); err != nil {
			return fmt.Errorf("read %s at %d: %w", sum, off, err)
		}
		whole.Write(chunk)
		ps := sha256.Sum256(chunk)
		if int(n) <= len(u.Parts) {
			// Sent in an earlier run; only re-read, to hash the whole blob.
			if p := u.Parts[n-1]; p.SHA256 != b64(ps[:]) || p.Size != int64(len(chunk)) {
				return fmt.Errorf("%w: %s part %d changed since it was sent", ErrBlobCorrupt, sum, n)
			}
			off += int64(len(chunk))
			s.setCurrent(sum, size, off)
			continue
		}
		body := chunk
		if s.tamper != nil {
			body = s.tamper(key, n, append([]byte(nil), chunk...))
		}
		s.stats.puts.Add(1)
		s.stats.blobBytes.Add(int64(len(body)))
		out, err := s.hq.s3.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:         &s.hq.bucket,
			Key:            &key,
			UploadId:       &u.UploadID,
			PartNumber:     aws.Int32(n),
			Body:           bytes.NewReader(body),
			ContentLength:  aws.Int64(int64(len(body))),
			ChecksumSHA256: aws.String(b64(ps[:])),
		}, unsignedPayload)
		if err != nil {
			s.log.Debug("part not acknowledged", "blob", sum, "part", n, "err", err)
			if isNoSuchUpload(err) {
				// HQ dropped the upload (expired, or aborted by a
				// lifecycle rule): start it again on the next run.
				s.out.setUpload(id, sum, nil)
			}
			return classify(fmt.Sprintf("UploadPart %s #%d", key, n), err)
		}
		u.Parts = append(u.Parts, part{Number: n, Size: int64(len(chunk)), SHA256: b64(ps[:]), ETag: aws.ToString(out.ETag)})
		if err := s.out.setUpload(id, sum, u); err != nil {
			return err
		}
		off += int64(len(chunk))
		s.setCurrent(sum, size, off)
	}
	if got := hex.EncodeToString(whole.Sum(nil)); got != sum {
		s.hq.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.hq.bucket, Key: &key, UploadId: &u.UploadID})
		s.out.setUpload(id, sum, nil)
		return fmt.Errorf("%w: %s now hashes to %s", ErrBlobCorrupt, sum, got)
	}
	parts := make([]types.CompletedPart, len(u.Parts))
	for i, p := range u.Parts {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag), ChecksumSHA256: aws.String(p.SHA256)}
	}
	s.stats.puts.Add(1)
	_, err = s.hq.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.hq.bucket,
		Key:             &key,
		UploadId:        &u.UploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil && isNoSuchUpload(err) {
		// Completed by a run that died before it could record it?
		head, herr := s.hq.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.hq.bucket, Key: &key})
		if herr == nil && aws.ToInt64(head.ContentLength) == size && head.Metadata[metaSHA256] == sum {
			return nil
		}
		s.out.setUpload(id, sum, nil)
	}
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return classify("CompleteMultipartUpload "+key, err)
}
