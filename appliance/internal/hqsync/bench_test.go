package hqsync

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
)

// BenchmarkSyncVsPlainUpload compares a clean sync of a case (a 128 MiB
// pcap, a small blob, the journal) with the S3 client's own plain upload of
// the same blob files, one PutObject each, to the same server in the same
// run. The ratio is the cost of chunking, per-part checksums, the outbox
// and the journal segments.
func BenchmarkSyncVsPlainUpload(b *testing.B) {
	g := startGateway(b)
	var syncTime, plainTime time.Duration
	var bytes int64
	for i := range b.N {
		bx := newBox(b)
		bx.note(b, caseID, 50)
		bx.collect(b, caseID, bigBlob, 1)
		bx.collect(b, caseID, 1<<20, 2)
		bytes = 0
		for _, n := range bx.blobs {
			bytes += n
		}
		s := bx.syncer(b, bx.options(g))
		start := time.Now()
		_, err := s.RunOnce(context.Background())
		require.NoError(b, err)
		syncTime += time.Since(start)

		c := g.Client()
		start = time.Now()
		for sum := range bx.blobs {
			p, err := bx.v.Path(sum)
			require.NoError(b, err)
			f, err := os.Open(p)
			require.NoError(b, err)
			_, err = c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket),
				Key: aws.String(fmt.Sprintf("plain/%d/%s", i, sum)), Body: f})
			f.Close()
			require.NoError(b, err)
		}
		plainTime += time.Since(start)
	}
	syncMBs := float64(bytes) * float64(b.N) / syncTime.Seconds() / 1e6
	plainMBs := float64(bytes) * float64(b.N) / plainTime.Seconds() / 1e6
	b.ReportMetric(syncMBs, "sync-MB/s")
	b.ReportMetric(plainMBs, "plain-MB/s")
	b.ReportMetric(syncMBs/plainMBs, "ratio")
}

// BenchmarkMaxRate30s holds the bandwidth cap over a 30-second transfer (the
// must-show figure; TestMaxRate is the 5-second version make test runs).
func BenchmarkMaxRate30s(b *testing.B) {
	g := startGateway(b)
	const rate = 2 << 20
	for range b.N {
		bx := newBox(b)
		bx.collect(b, caseID, 30*rate, 7)
		o := bx.options(g)
		o.MaxRate = rate
		o.ChunkSize = 6 << 20
		s := bx.syncer(b, o)
		start := time.Now()
		rep, err := s.RunOnce(context.Background())
		require.NoError(b, err)
		got := float64(rep.Wire) / time.Since(start).Seconds()
		b.ReportMetric(got, "B/s")
		b.ReportMetric(100*got/rate, "%-of-cap")
	}
}
