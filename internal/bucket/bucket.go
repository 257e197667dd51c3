package bucket

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Store is what publishing needs of a bucket; *Bucket and *Memory are one.
// Keys are relative to the bucket's prefix.
type Store interface {
	// Get reads key whole, refusing one of more than max bytes
	// (ErrTooLarge); ErrNotFound when there is none.
	Get(ctx context.Context, key string, max int64) (data []byte, etag string, err error)
	// Head reports whether key exists.
	Head(ctx context.Context, key string) (bool, error)
	// List calls fn with every key under prefix after startAfter (""
	// for all), in order, a page of up to 1000 at a time.
	List(ctx context.Context, prefix, startAfter string, fn func(keys []string) error) error
	// Put writes key with body as its whole content; ErrPrecondition
	// when o's condition does not hold.
	Put(ctx context.Context, key string, body []byte, o PutOptions) (etag string, err error)
	// PutLarge writes key with what r gives (of a size not known ahead)
	// in parts of partSize bytes: nothing is visible unless all of it is
	// written.
	PutLarge(ctx context.Context, key string, r io.Reader, o PutOptions) error
	// Delete removes key; with ifMatch, only while it has that ETag
	// (ErrPrecondition otherwise). Removing a missing key is no error.
	Delete(ctx context.Context, key, ifMatch string) error
	// Requests counts the requests made so far, by kind.
	Requests() Counts
}

// PutOptions are a write's condition and headers.
type PutOptions struct {
	IfMatch      string // write only while the key has this ETag
	IfNoneMatch  bool   // write only when the key does not exist
	CacheControl string
	ContentType  string // "" is application/octet-stream
	// SHA256 is the body's SHA-256 when the caller knows it (a metadata
	// object's name); Put computes it otherwise. The store checks the
	// body against it.
	SHA256 *[32]byte
}

var (
	// ErrNotFound is a key that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPrecondition is a conditional write or delete whose condition
	// did not hold: another writer was first.
	ErrPrecondition = errors.New("precondition failed")
	// ErrTooLarge is a body over the size the caller would read.
	ErrTooLarge = errors.New("too large")
)

// Counts are requests made, by kind.
type Counts struct {
	Get, Head, List, Put, Delete, Part int64
}

// Total is the number of requests.
func (c Counts) Total() int64 { return c.Get + c.Head + c.List + c.Put + c.Delete + c.Part }

func (c Counts) String() string {
	return fmt.Sprintf("%d requests (%d GET, %d HEAD, %d LIST, %d PUT, %d part, %d DELETE)",
		c.Total(), c.Get, c.Head, c.List, c.Put, c.Part, c.Delete)
}

type counters struct {
	get, head, list, put, del, part atomic.Int64
}

func (c *counters) snapshot() Counts {
	return Counts{Get: c.get.Load(), Head: c.head.Load(), List: c.list.Load(), Put: c.put.Load(), Delete: c.del.Load(), Part: c.part.Load()}
}

// Location is an s3://BUCKET[/PREFIX] URL.
type Location struct {
	Bucket string
	Prefix string // without leading or trailing slash; "" for the whole bucket
}

func (l Location) String() string {
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

// IsURL reports whether s is meant as an s3:// URL.
func IsURL(s string) bool { return strings.HasPrefix(s, "s3://") }

// ParseURL parses s3://BUCKET[/PREFIX].
func ParseURL(s string) (Location, error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return Location{}, fmt.Errorf("%q is not an s3:// URL", s)
	}
	b, p, _ := strings.Cut(rest, "/")
	p = strings.Trim(p, "/")
	if err := checkBucketName(b); err != nil {
		return Location{}, fmt.Errorf("%q: %w", s, err)
	}
	for _, seg := range strings.Split(p, "/") {
		if p != "" && (seg == "" || seg == "." || seg == "..") {
			return Location{}, fmt.Errorf("%q: the prefix has an empty, . or .. part", s)
		}
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '?' || r == '#' || r == '\\' {
			return Location{}, fmt.Errorf("%q: the prefix holds %q", s, r)
		}
	}
	return Location{Bucket: b, Prefix: p}, nil
}

// checkBucketName applies S3's rules for bucket names (3 to 63 lower-case
// letters, digits, dots and hyphens, starting and ending with a letter or
// digit).
func checkBucketName(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q is not 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && c != '.' && c != '-' || (i == 0 || i == len(b)-1) && !alnum {
			return fmt.Errorf("bucket name %q: use lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit", b)
		}
	}
	return nil
}

// Options configure Open. Credentials, region and endpoint otherwise come
// from the standard AWS chain: the environment (AWS_ACCESS_KEY_ID,
// AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_S3, ...), the shared config
// and credentials files, SSO, web identity, the instance metadata.
type Options struct {
	Profile   string // a profile of the shared files; "" is AWS_PROFILE or default
	Region    string // "" is the chain's; us-east-1 for an endpoint without one
	Endpoint  string // an S3-compatible store's URL; "" is the chain's or AWS's
	PathStyle bool   // address the bucket in the path, not the host name
	Jobs      int    // requests at once; sizes the connection pool
	Retries   int    // attempts beyond the first for a failed request
}

// ResponseTimeout is how long a request waits for the store's answer once
// it is sent (a large body's upload is not counted).
const ResponseTimeout = 2 * time.Minute

// CleanupTimeout bounds the requests that clean up after a failed or
// interrupted publish (aborting a multipart upload, putting refs back),
// which run whatever became of the publish's context.
const CleanupTimeout = 30 * time.Second

// Cleanup is the context of a clean-up request after ctx failed or was
// cancelled: not cancelled with it, but bounded.
func Cleanup(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
}

// Bucket is a bucket (and prefix) reached through the S3 API.
type Bucket struct {
	loc    Location
	client *s3.Client
	n      counters
}

// Open makes the client for loc. It sends no request.
func Open(ctx context.Context, loc Location, o Options) (*Bucket, error) {
	jobs := max(o.Jobs, 1)
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = max(t.MaxIdleConns, 2*jobs)
		t.MaxIdleConnsPerHost = 2 * jobs
		// A store that takes a request and never answers fails it (and
		// it is retried) rather than hanging the publish.
		t.ResponseHeaderTimeout = ResponseTimeout
	})
	load := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = o.Retries + 1
				// No client-wide retry budget: with many requests at
				// once against a flaky store, the standard one runs out
				// and fails requests that have retries left.
				so.RateLimiter = ratelimit.None
			})
		}),
	}
	if o.Profile != "" {
		load = append(load, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Region != "" {
		load = append(load, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if o.Endpoint == "" && cfg.BaseEndpoint == nil && os.Getenv("AWS_ENDPOINT_URL_S3") == "" {
			return nil, errors.New("no AWS region: set AWS_REGION, a region in the profile, or --s3-region")
		}
		cfg.Region = "us-east-1" // what S3-compatible stores expect when they ignore it
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		// The body's checksum is always ours (PutOptions.SHA256), given
		// as a header: no second pass by the SDK, no trailers, which
		// some S3-compatible stores do not take.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Bucket{loc: loc, client: client}, nil
}

// Location is where the bucket is.
func (b *Bucket) Location() Location { return b.loc }

// Requests counts the requests made so far.
func (b *Bucket) Requests() Counts { return b.n.snapshot() }

func (b *Bucket) key(k string) *string {
	if b.loc.Prefix == "" {
		return aws.String(k)
	}
	return aws.String(b.loc.Prefix + "/" + k)
}

// classify turns the store's answers that mean something here into this
// package's errors, keeping the rest as they are.
func classify(err error, key string) error {
	if err == nil {
		return nil
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return fmt.Errorf("%s: %w", key, ErrNotFound)
		case http.StatusPreconditionFailed:
			return fmt.Errorf("%s: %w", key, ErrPrecondition)
		case http.StatusConflict:
			// A conditional write that raced another (S3's
			// ConditionalRequestConflict): the other writer is first.
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorCode() == "ConditionalRequestConflict" {
				return fmt.Errorf("%s: %w", key, ErrPrecondition)
			}
		}
	}
	return fmt.Errorf("%s: %w", key, err)
}

// Get implements Store.
func (b *Bucket) Get(ctx context.Context, key string, max int64) ([]byte, string, error) {
	b.n.get.Add(1)
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.loc.Bucket, Key: b.key(key)})
	if err != nil {
		return nil, "", classify(err, key)
	}
	defer out.Body.Close()
	if out.ContentLength != nil && *out.ContentLength > max {
		return nil, "", fmt.Errorf("%s: %d bytes: %w", key, *out.ContentLength, ErrTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", key, err)
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Errorf("%s: over %d bytes: %w", key, max, ErrTooLarge)
	}
	return data, aws.ToString(out.ETag), nil
}

// Head implements Store.
func (b *Bucket) Head(ctx context.Context, key string) (bool, error) {
	b.n.head.Add(1)
	_, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.loc.Bucket, Key: b.key(key)})
	err = classify(err, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// List implements Store.
func (b *Bucket) List(ctx context.Context, prefix, startAfter string, fn func(keys []string) error) error {
	full := *b.key(prefix)
	in := &s3.ListObjectsV2Input{Bucket: &b.loc.Bucket, Prefix: &full}
	if startAfter != "" {
		in.StartAfter = b.key(startAfter)
	}
	strip := len(full) - len(prefix)
	for {
		b.n.list.Add(1)
		out, err := b.client.ListObjectsV2(ctx, in)
		if err != nil {
			return classify(err, prefix)
		}
		keys := make([]string, 0, len(out.Contents))
		for _, o := range out.Contents {
			k := aws.ToString(o.Key)
			if len(k) < strip || !strings.HasPrefix(k, full) {
				return fmt.Errorf("listing %s: the store answered with key %q, outside it", prefix, k)
			}
			keys = append(keys, k[strip:])
		}
		if err := fn(keys); err != nil {
			return err
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		if out.NextContinuationToken == nil || len(keys) == 0 {
			return fmt.Errorf("listing %s: the store said there is more but gave no way on", prefix)
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

func (o *PutOptions) contentType() *string {
	if o.ContentType == "" {
		return aws.String("application/octet-stream")
	}
	return aws.String(o.ContentType)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// Put implements Store.
func (b *Bucket) Put(ctx context.Context, key string, body []byte, o PutOptions) (string, error) {
	sum := o.SHA256
	if sum == nil {
		s := sha256.Sum256(body)
		sum = &s
	}
	in := &s3.PutObjectInput{
		Bucket:         &b.loc.Bucket,
		Key:            b.key(key),
		Body:           bytes.NewReader(body),
		ContentLength:  aws.Int64(int64(len(body))),
		ContentType:    o.contentType(),
		CacheControl:   optional(o.CacheControl),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		IfMatch:        optional(o.IfMatch),
	}
	if o.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	b.n.put.Add(1)
	out, err := b.client.PutObject(ctx, in)
	if err != nil {
		err = classify(err, key)
		if o.IfMatch != "" && errors.Is(err, ErrNotFound) {
			// S3 answers If-Match on a missing key with 404: the key
			// it was to match is gone, which is the condition failing.
			err = fmt.Errorf("%s: %w", key, ErrPrecondition)
		}
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// Delete implements Store.
func (b *Bucket) Delete(ctx context.Context, key, ifMatch string) error {
	b.n.del.Add(1)
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.loc.Bucket, Key: b.key(key), IfMatch: optional(ifMatch)})
	err = classify(err, key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
