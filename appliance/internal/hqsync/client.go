package hqsync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// hq is the S3 client and the meter on its connections.
type hq struct {
	s3      *s3.Client
	bucket  string
	conns   *conns
	ids     []age.Identity // Verify: to read encrypted cases
	keep    bool           // Verify: keep the verified entries in the reports
	written atomic.Int64   // bytes written to HQ's sockets
	lim     *limiter       // paces what is sent; HQ's configuration may change its rate
}

func dial(ctx context.Context, o *Options) (*hq, error) {
	o.defaults()
	if err := o.checkTarget(); err != nil {
		return nil, err
	}
	h := &hq{bucket: o.Bucket, lim: newLimiter(o.MaxRate)}
	h.conns = &conns{m: map[*meteredConn]struct{}{}}
	// A BuildableClient, so the SDK can add AWS_CA_BUNDLE to it.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = meteredDialer(h.lim, &h.written, h.conns, o.StallTimeout)
		tr.MaxIdleConnsPerHost = 4
		tr.ResponseHeaderTimeout = o.StallTimeout // a part is acknowledged once stored
	})
	loads := []func(*config.LoadOptions) error{
		config.WithRegion(o.Region),
		config.WithHTTPClient(httpClient),
		// The box is not an EC2 instance; asking the metadata service for
		// credentials only delays a clear error.
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	}
	if c := o.Credentials; c != nil {
		loads = append(loads, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, string(c.SecretAccessKey), "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	h.s3 = s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.BaseEndpoint = aws.String(o.Endpoint)
		so.UsePathStyle = true
		// Checksums are computed by us (SHA-256 of each part) and sent
		// explicitly; the SDK adds none of its own.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		so.Retryer = aws.NopRetryer{} // the run retries, with backoff, from saved state
	})
	return h, nil
}

// hqError is a failed call to HQ: its kind (a sentinel), the operation, and
// what S3 answered.
type hqError struct {
	kind   error
	op     string
	status int
	code   string
	err    error
}

func (e *hqError) Error() string {
	switch {
	case e.code != "":
		return fmt.Sprintf("%v: %s: %d %s", e.kind, e.op, e.status, e.code)
	case e.status != 0:
		return fmt.Sprintf("%v: %s: HTTP %d", e.kind, e.op, e.status)
	}
	// The SDK's message repeats the operation and empty request IDs; the
	// socket error, or else the innermost one, is what a reader needs.
	var oe *net.OpError
	if errors.As(e.err, &oe) {
		return fmt.Sprintf("%v: %s: %v", e.kind, e.op, oe)
	}
	cause := e.err
	for u := errors.Unwrap(cause); u != nil; u = errors.Unwrap(u) {
		cause = u
	}
	return fmt.Sprintf("%v: %s: %v", e.kind, e.op, cause)
}

func (e *hqError) Unwrap() []error { return []error{e.kind, e.err} }

// classify turns what the SDK returned into an hqError of a known kind.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err // stopped by us: not a verdict on HQ
	}
	e := &hqError{kind: ErrUnreachable, op: op, err: err}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.status = re.HTTPStatusCode()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.code = api.ErrorCode()
	}
	switch {
	case e.code == "InvalidAccessKeyId" || e.code == "SignatureDoesNotMatch" || e.code == "AccessDenied" ||
		e.code == "InvalidToken" || e.code == "ExpiredToken" || e.status == http.StatusForbidden ||
		e.code == "XAdminUserNotFound": // versitygw's answer to an unknown access key
		e.kind = ErrCredentials
	case e.code == "NoSuchBucket":
		e.kind = ErrNoBucket
	case e.status == http.StatusInsufficientStorage || e.code == "InsufficientStorage" || e.code == "QuotaExceeded" ||
		e.code == "XMinioStorageFull" || e.code == "StorageFull":
		e.kind = ErrFull
	case e.status != 0 && e.status < 500:
		e.kind = ErrRefused
	case e.status >= 500:
		e.kind = ErrUnreachable // the service is there but not well: retry later
	default:
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
			e.kind = ErrUnreachable
		}
	}
	return e
}

func isNotFound(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NoSuchBucket")
}

func isNoSuchUpload(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "NoSuchUpload"
}

// reachable checks the endpoint answers, the credentials are accepted and
// the bucket is there. A HEAD answer has no body to say which of the last
// two failed, so a refusal is asked again as a one-key listing.
func (h *hq) reachable(ctx context.Context) error {
	_, err := h.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &h.bucket})
	if err == nil {
		return nil
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() == 0 || re.HTTPStatusCode() >= 500 {
		return classify("HeadBucket", err)
	}
	_, err = h.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &h.bucket, MaxKeys: aws.Int32(1)})
	if err == nil {
		return nil
	}
	return classify("ListObjectsV2 "+h.bucket, err)
}

// close drops idle connections, so nothing lingers after the syncer stops.
func (h *hq) close() { h.conns.closeAll() }
