package bucket_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/bucket"
)

// A store that answers 503 (S3's SlowDown) is asked again, with backoff,
// up to Options.Retries times; one that keeps failing fails the request.
func TestRetries(t *testing.T) {
	var attempts atomic.Int32
	failures := int32(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) <= failures {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`<Error><Code>SlowDown</Code><Message>slow down</Message></Error>`))
			return
		}
		w.Header().Set("ETag", `"abc"`)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	open := func(retries int) *bucket.Bucket {
		b, err := bucket.Open(context.Background(), bucket.Location{Bucket: "bkt"}, bucket.Options{
			Endpoint: srv.URL, PathStyle: true, Retries: retries, Region: "us-east-1",
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	start := time.Now()
	b := open(4)
	etag, err := b.Put(context.Background(), "refs/heads/x", []byte("x"), bucket.PutOptions{})
	if err != nil || etag != `"abc"` {
		t.Fatalf("Put after two 503s: %q, %v", etag, err)
	}
	if n := attempts.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	if c := b.Requests(); c.Put != 1 {
		t.Fatalf("counted %v, want one PUT", c)
	}
	t.Logf("two retries took %v", time.Since(start))

	attempts.Store(0)
	failures = 100
	if _, err := open(1).Put(context.Background(), "refs/heads/x", []byte("x"), bucket.PutOptions{}); err == nil {
		t.Fatal("a store failing every attempt: Put succeeded")
	}
	if n := attempts.Load(); n != 2 {
		t.Fatalf("%d attempts with one retry, want 2", n)
	}
}

// The store's answers to conditional writes become ErrPrecondition: 412,
// 409 ConditionalRequestConflict, and 404 to an If-Match (the key is gone).
func TestConditionAnswers(t *testing.T) {
	var status atomic.Int32
	var code atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		w.Write([]byte(`<Error><Code>` + code.Load().(string) + `</Code></Error>`))
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	b, err := bucket.Open(context.Background(), bucket.Location{Bucket: "bkt", Prefix: "p"}, bucket.Options{
		Endpoint: srv.URL, PathStyle: true, Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		status int
		code   string
		opts   bucket.PutOptions
		want   error
	}{
		{412, "PreconditionFailed", bucket.PutOptions{IfNoneMatch: true}, bucket.ErrPrecondition},
		{409, "ConditionalRequestConflict", bucket.PutOptions{IfMatch: `"x"`}, bucket.ErrPrecondition},
		{404, "NoSuchKey", bucket.PutOptions{IfMatch: `"x"`}, bucket.ErrPrecondition},
		{404, "NoSuchKey", bucket.PutOptions{}, bucket.ErrNotFound},
	} {
		status.Store(int32(c.status))
		code.Store(c.code)
		_, err := b.Put(context.Background(), "refs/heads/x", []byte("x"), c.opts)
		if !errors.Is(err, c.want) {
			t.Errorf("%d %s: %v, want %v", c.status, c.code, err, c.want)
		}
	}
}
