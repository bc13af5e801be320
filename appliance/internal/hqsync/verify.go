package hqsync

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
)

// CaseReport is HQ's verification of one case (one journal) in the bucket.
type CaseReport struct {
	Appliance string       `json:"appliance"`
	Journal   string       `json:"journal"`
	Entries   uint64       `json:"entries"` // entries covered by the cursor, all verified
	Head      journal.Hash `json:"head"`
	Segments  int          `json:"segments"`
	Blobs     int          `json:"blobs"` // referenced blobs, each re-hashed
	BlobBytes int64        `json:"blob_bytes"`
	Beyond    int          `json:"unacknowledged_segments,omitempty"` // segments past the cursor, ignored
	Encrypted bool         `json:"encrypted,omitempty"`               // segments were age-encrypted
	Pending   bool         `json:"pending,omitempty"`                 // no cursor yet: the first segment is on its way
	Error     string       `json:"error,omitempty"`
	// Log holds the verified entries, when Verify was asked to keep them.
	Log []journal.Entry `json:"-"`
}

// Verify lists the appliances (or only one) and their cases in the bucket
// and re-verifies each case from the bucket alone: the cursor's signature
// against the appliance's key, every entry's hash and link up to the
// cursor, and every blob those entries reference, re-hashed. It reads only;
// it never writes to the bucket. The error joins every case that failed.
func Verify(ctx context.Context, opts Options, appliance string, each func(CaseReport)) ([]CaseReport, error) {
	opts.defaults()
	h, err := dial(ctx, &opts)
	if err != nil {
		return nil, err
	}
	defer h.close()
	h.ids, h.keep = opts.Identities, opts.KeepLog
	if err := h.reachable(ctx); err != nil {
		return nil, err
	}
	apps, err := h.listPrefixes(ctx, appliancesPrefix)
	if err != nil {
		return nil, err
	}
	var reports []CaseReport
	var errs []error
	found := false
	for _, app := range apps {
		if appliance != "" && app != appliance {
			continue
		}
		found = true
		pub, err := h.identity(ctx, app)
		var he *hqError
		if errors.As(err, &he) {
			return reports, err
		}
		if err != nil {
			errs = append(errs, &VerifyError{Appliance: app, Detail: err.Error()})
			continue
		}
		cases, err := h.listPrefixes(ctx, applianceKey(app)+"cases/")
		if err != nil {
			return reports, err
		}
		for _, j := range cases {
			r, err := h.verifyCase(ctx, app, j, pub)
			if err != nil {
				var he *hqError
				if errors.As(err, &he) && !errors.Is(err, ErrRefused) {
					return reports, err // HQ itself failed: not a verdict on the case
				}
				r.Error = err.Error()
				errs = append(errs, err)
			}
			reports = append(reports, r)
			if each != nil {
				each(r)
			}
		}
	}
	if appliance != "" && !found {
		return nil, fmt.Errorf("%w: no appliance %s in bucket %s", ErrVerify, appliance, opts.Bucket)
	}
	return reports, errors.Join(errs...)
}

// listPrefixes returns the names one level below prefix.
func (h *hq) listPrefixes(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(h.s3, &s3.ListObjectsV2Input{Bucket: &h.bucket, Prefix: &prefix, Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("ListObjectsV2 "+prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/"))
		}
	}
	return out, nil
}

func (h *hq) listKeys(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	err := h.eachObject(ctx, prefix, func(o types.Object) { out = append(out, strings.TrimPrefix(aws.ToString(o.Key), prefix)) })
	return out, err // S3 lists in key order: segment names sort by sequence
}

// eachObject calls fn with every object under prefix, in key order.
func (h *hq) eachObject(ctx context.Context, prefix string, fn func(types.Object)) error {
	p := s3.NewListObjectsV2Paginator(h.s3, &s3.ListObjectsV2Input{Bucket: &h.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return classify("ListObjectsV2 "+prefix, err)
		}
		for _, o := range page.Contents {
			fn(o)
		}
	}
	return nil
}

func (h *hq) get(ctx context.Context, key string, max int64) ([]byte, error) {
	out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &h.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%s: %w", key, errMissing)
		}
		return nil, classify("GetObject "+key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		return nil, classify("GetObject "+key, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", key, max)
	}
	return b, nil
}

func (h *hq) identity(ctx context.Context, app string) (ed25519.PublicKey, error) {
	b, err := h.get(ctx, identityKey(app), 4096)
	if err != nil {
		return nil, err
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("identity.json: %v", err)
	}
	pub, err := hex.DecodeString(id.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("identity.json: bad public key")
	}
	if got := applianceID(pub); got != app || id.Appliance != app {
		return nil, fmt.Errorf("identity.json: the key is appliance %s's, not %s's", got, app)
	}
	return pub, nil
}

func (h *hq) verifyCase(ctx context.Context, app, j string, pub ed25519.PublicKey) (CaseReport, error) {
	r := CaseReport{Appliance: app, Journal: j}
	bad := func(seq uint64, format string, args ...any) error {
		return &VerifyError{Appliance: app, Journal: j, Seq: seq, Detail: fmt.Sprintf(format, args...)}
	}
	cb, err := h.get(ctx, cursorKey(app, j), 1<<16)
	if errors.Is(err, errMissing) {
		r.Pending = true // blobs may be there; HQ trusts nothing without a cursor
		return r, nil
	}
	if err != nil {
		return r, err
	}
	var c Cursor
	if err := json.Unmarshal(cb, &c); err != nil {
		return r, bad(0, "cursor.json: %v", err)
	}
	if c.Appliance != app || c.Journal != j || !c.verify(pub) {
		return r, bad(0, "cursor.json is not signed by appliance %s for this case", app)
	}
	names, err := h.listKeys(ctx, segmentsKey(app, j))
	if err != nil {
		return r, err
	}
	var prev journal.Hash
	next := uint64(1)
	refs := map[string]uint64{} // blob → first entry that references it
	var order []string
	for _, name := range names {
		first, last, ok := parseSegmentName(strings.TrimSuffix(name, ageSuffix))
		if !ok {
			return r, bad(next, "stray object segments/%s", name)
		}
		if next > c.Seq {
			r.Beyond++ // sent, but the cursor does not cover it yet
			continue
		}
		if first != next {
			return r, bad(next, "segment %s: want one starting at %d", name, next)
		}
		data, err := h.get(ctx, segmentsKey(app, j)+name, maxSegmentBytes)
		var he *hqError
		if errors.As(err, &he) {
			return r, err
		} else if err != nil {
			return r, bad(first, "%v", err)
		}
		if strings.HasSuffix(name, ageSuffix) {
			r.Encrypted = true
			if data, err = decryptWith(data, h.ids); err != nil {
				return r, bad(first, "segment %s: %v", name, err)
			}
		}
		id, entries, err := decodeSegment(data)
		if err != nil || id != j {
			return r, bad(first, "segment %s cannot be read: %v", name, err)
		}
		r.Segments++
		for i := range entries {
			e := &entries[i]
			switch {
			case e.Seq != next:
				return r, bad(next, "segment %s holds entry %d where %d belongs", name, e.Seq, next)
			case e.ComputeHash() != e.Hash:
				return r, bad(e.Seq, "content does not match its hash %s", e.Hash)
			case e.Prev != prev:
				return r, bad(e.Seq, "previous hash %s, but entry %d has hash %s", e.Prev, e.Seq-1, prev)
			}
			for _, sum := range blobRefs(e) {
				if _, seen := refs[sum]; !seen {
					refs[sum] = e.Seq
					order = append(order, sum)
				}
			}
			prev, next = e.Hash, next+1
			if h.keep {
				r.Log = append(r.Log, *e)
			}
		}
		if next-1 != last {
			return r, bad(next, "segment %s ends at %d", name, next-1)
		}
	}
	r.Entries, r.Head = next-1, prev
	if next-1 != c.Seq || prev != c.Hash {
		r.Log = nil
		return r, bad(next, "the cursor names entry %d %s; the segments end at %d %s", c.Seq, c.Hash, next-1, prev)
	}
	for _, sum := range order {
		n, err := h.hashBlob(ctx, blobKey(app, j, sum), sum)
		if errors.Is(err, errMissing) {
			n, err = h.hashEncryptedBlob(ctx, app, j, sum, h.ids)
		}
		if err != nil {
			var he *hqError
			if errors.As(err, &he) && !errors.Is(err, ErrRefused) {
				return r, err
			}
			return r, bad(refs[sum], "blob %s: %v", sum, err)
		}
		r.Blobs++
		r.BlobBytes += n
	}
	return r, nil
}

var errMissing = errors.New("missing from the bucket")

// hashBlob streams an object through SHA-256.
func (h *hq) hashBlob(ctx context.Context, key, sum string) (int64, error) {
	out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &h.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return 0, errMissing
		}
		return 0, classify("GetObject "+key, err)
	}
	defer out.Body.Close()
	hash := sha256.New()
	n, err := io.Copy(hash, out.Body)
	if err != nil {
		return n, classify("GetObject "+key, err)
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != sum {
		return n, fmt.Errorf("the object hashes to %s", got)
	}
	return n, nil
}
