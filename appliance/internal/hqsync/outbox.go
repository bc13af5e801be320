package hqsync

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/firebreak-ir/firebreak/appliance/internal/journal"
	bolt "go.etcd.io/bbolt"
)

// The outbox in bbolt holds what HQ has acknowledged and the uploads in
// flight; what HQ has not acknowledged is every journal entry after the
// acknowledged cursor and every blob those entries reference. Everything is
// under one bucket per target, so pointing the box at another bucket starts
// that bucket from zero:
//
//	hqsync/paused                              "1" while an engineer has paused sync
//	hqsync/targets/<endpoint bucket>/acked/<journal>   seq (8 bytes) and hash (32): HQ's cursor
//	hqsync/targets/<...>/plan/<journal>        first and last seq of the segment in flight
//	hqsync/targets/<...>/blobs/<journal>/<sha256>      present once the blob is in the bucket
//	hqsync/targets/<...>/uploads/<journal>/<sha256>    a multipart upload: ID, chunk size, parts sent
//	hqsync/targets/<...>/identity              present once identity.json is in the bucket
var (
	bucketRoot    = []byte("hqsync")
	bucketTargets = []byte("targets")
	keyPaused     = []byte("paused")
	bucketAcked   = []byte("acked")
	bucketPlan    = []byte("plan")
	bucketBlobs   = []byte("blobs")
	bucketUploads = []byte("uploads")
	keyIdentity   = []byte("identity")
)

type outbox struct {
	db     *bolt.DB
	target []byte
}

func openOutbox(db *bolt.DB, target string) (*outbox, error) {
	o := &outbox{db: db, target: []byte(target)}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketRoot)
		if err != nil {
			return err
		}
		ts, err := root.CreateBucketIfNotExists(bucketTargets)
		if err != nil {
			return err
		}
		t, err := ts.CreateBucketIfNotExists(o.target)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketAcked, bucketPlan, bucketBlobs, bucketUploads} {
			if _, err := t.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create sync outbox: %w", err)
	}
	return o, nil
}

func (o *outbox) t(tx *bolt.Tx) *bolt.Bucket {
	return tx.Bucket(bucketRoot).Bucket(bucketTargets).Bucket(o.target)
}

func (o *outbox) view(fn func(t *bolt.Bucket) error) error {
	return o.db.View(func(tx *bolt.Tx) error { return fn(o.t(tx)) })
}

func (o *outbox) update(fn func(t *bolt.Bucket) error) error {
	return o.db.Update(func(tx *bolt.Tx) error { return fn(o.t(tx)) })
}

func (o *outbox) paused() (p bool) {
	o.db.View(func(tx *bolt.Tx) error {
		p = tx.Bucket(bucketRoot).Get(keyPaused) != nil
		return nil
	})
	return p
}

func (o *outbox) setPaused(p bool) error {
	return o.db.Update(func(tx *bolt.Tx) error {
		if p {
			return tx.Bucket(bucketRoot).Put(keyPaused, []byte("1"))
		}
		return tx.Bucket(bucketRoot).Delete(keyPaused)
	})
}

// acked returns what HQ has acknowledged of a journal.
func (o *outbox) acked(id string) (seq uint64, h journal.Hash) {
	o.view(func(t *bolt.Bucket) error {
		if v := t.Bucket(bucketAcked).Get([]byte(id)); len(v) == 40 {
			seq = binary.BigEndian.Uint64(v)
			copy(h[:], v[8:])
		}
		return nil
	})
	return seq, h
}

// ack records a cursor HQ holds and ends the plan that led to it.
func (o *outbox) ack(id string, seq uint64, h journal.Hash) error {
	return o.update(func(t *bolt.Bucket) error {
		v := append(binary.BigEndian.AppendUint64(nil, seq), h[:]...)
		if err := t.Bucket(bucketAcked).Put([]byte(id), v); err != nil {
			return err
		}
		return t.Bucket(bucketPlan).Delete([]byte(id))
	})
}

func (o *outbox) plan(id string) (first, last uint64, ok bool) {
	o.view(func(t *bolt.Bucket) error {
		if v := t.Bucket(bucketPlan).Get([]byte(id)); len(v) == 16 {
			first, last, ok = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), true
		}
		return nil
	})
	return first, last, ok
}

func (o *outbox) setPlan(id string, first, last uint64) error {
	return o.update(func(t *bolt.Bucket) error {
		return t.Bucket(bucketPlan).Put([]byte(id), binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, first), last))
	})
}

func blobMark(id, sum string) []byte { return []byte(id + "/" + sum) }

func (o *outbox) blobDone(id, sum string) (done bool) {
	o.view(func(t *bolt.Bucket) error {
		done = t.Bucket(bucketBlobs).Get(blobMark(id, sum)) != nil
		return nil
	})
	return done
}

func (o *outbox) setBlobDone(id, sum string) error {
	return o.update(func(t *bolt.Bucket) error {
		if err := t.Bucket(bucketUploads).Delete(blobMark(id, sum)); err != nil {
			return err
		}
		return t.Bucket(bucketBlobs).Put(blobMark(id, sum), []byte{})
	})
}

func (o *outbox) identityDone() (done bool) {
	o.view(func(t *bolt.Bucket) error {
		done = t.Get(keyIdentity) != nil
		return nil
	})
	return done
}

func (o *outbox) setIdentityDone() error {
	return o.update(func(t *bolt.Bucket) error { return t.Put(keyIdentity, []byte("1")) })
}

// upload is the resumable state of one multipart upload.
type upload struct {
	UploadID string `json:"upload_id"`
	Chunk    int64  `json:"chunk"`
	Parts    []part `json:"parts"` // in part-number order, no gaps
}

type part struct {
	Number int32  `json:"n"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // base64, as S3 takes it
	ETag   string `json:"etag"`
}

func (o *outbox) upload(id, sum string) (u *upload, err error) {
	err = o.view(func(t *bolt.Bucket) error {
		v := t.Bucket(bucketUploads).Get(blobMark(id, sum))
		if v == nil {
			return nil
		}
		u = new(upload)
		return json.Unmarshal(v, u)
	})
	return u, err
}

func (o *outbox) setUpload(id, sum string, u *upload) error {
	return o.update(func(t *bolt.Bucket) error {
		if u == nil {
			return t.Bucket(bucketUploads).Delete(blobMark(id, sum))
		}
		v, err := json.Marshal(u)
		if err != nil {
			return err
		}
		return t.Bucket(bucketUploads).Put(blobMark(id, sum), v)
	})
}
