package bucket_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/internal/s3test"
)

// The contract: what internal/publish relies on of a Store, held against
// the in-memory one and against a real object store (SeaweedFS), so that
// the publish tests on the memory store say something about real ones.

func TestContractMemory(t *testing.T) {
	contract(t, func(t *testing.T) bucket.Store { return bucket.NewMemory() })
}

func TestContractSeaweedFS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SeaweedFS")
	}
	contract(t, func(t *testing.T) bucket.Store {
		srv, name := s3test.Shared(t)
		for _, kv := range srv.Env() {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		b, err := bucket.Open(context.Background(), bucket.Location{Bucket: name, Prefix: "some/prefix"}, bucket.Options{
			Endpoint: srv.Endpoint, PathStyle: true, Jobs: 8, Region: "us-east-1",
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

func contract(t *testing.T, open func(t *testing.T) bucket.Store) {
	ctx := context.Background()
	t.Run("get", func(t *testing.T) {
		s := open(t)
		if _, _, err := s.Get(ctx, "refs/heads/main", 100); !errors.Is(err, bucket.ErrNotFound) {
			t.Fatalf("missing key: %v, want ErrNotFound", err)
		}
		if ok, err := s.Head(ctx, "refs/heads/main"); ok || err != nil {
			t.Fatalf("Head of a missing key: %v, %v", ok, err)
		}
		etag, err := s.Put(ctx, "refs/heads/main", []byte("abc\n"), bucket.PutOptions{})
		if err != nil || etag == "" {
			t.Fatalf("Put: %q, %v", etag, err)
		}
		data, got, err := s.Get(ctx, "refs/heads/main", 100)
		if err != nil || string(data) != "abc\n" || got != etag {
			t.Fatalf("Get: %q %q %v, want abc and ETag %q", data, got, err, etag)
		}
		if ok, err := s.Head(ctx, "refs/heads/main"); !ok || err != nil {
			t.Fatalf("Head: %v, %v", ok, err)
		}
		if _, _, err := s.Get(ctx, "refs/heads/main", 3); !errors.Is(err, bucket.ErrTooLarge) {
			t.Fatalf("Get over max: %v, want ErrTooLarge", err)
		}
	})
	t.Run("conditions", func(t *testing.T) {
		s := open(t)
		k := "refs/heads/x"
		e1, err := s.Put(ctx, k, []byte("one"), bucket.PutOptions{IfNoneMatch: true})
		if err != nil {
			t.Fatalf("If-None-Match on a new key: %v", err)
		}
		if _, err := s.Put(ctx, k, []byte("two"), bucket.PutOptions{IfNoneMatch: true}); !errors.Is(err, bucket.ErrPrecondition) {
			t.Fatalf("If-None-Match on an existing key: %v, want ErrPrecondition", err)
		}
		if _, err := s.Put(ctx, k, []byte("two"), bucket.PutOptions{IfMatch: `"0123456789abcdef0123456789abcdef"`}); !errors.Is(err, bucket.ErrPrecondition) {
			t.Fatalf("If-Match another ETag: %v, want ErrPrecondition", err)
		}
		e2, err := s.Put(ctx, k, []byte("two"), bucket.PutOptions{IfMatch: e1})
		if err != nil || e2 == e1 {
			t.Fatalf("If-Match its ETag: %q, %v (was %q)", e2, err, e1)
		}
		if _, err := s.Put(ctx, k, []byte("three"), bucket.PutOptions{IfMatch: e1}); !errors.Is(err, bucket.ErrPrecondition) {
			t.Fatalf("If-Match the ETag before: %v, want ErrPrecondition", err)
		}
		if _, err := s.Put(ctx, "refs/heads/none", []byte("x"), bucket.PutOptions{IfMatch: e2}); !errors.Is(err, bucket.ErrPrecondition) {
			t.Fatalf("If-Match on a missing key: %v, want ErrPrecondition", err)
		}
		if data, _, _ := s.Get(ctx, k, 100); string(data) != "two" {
			t.Fatalf("after the refused writes: %q, want two", data)
		}
	})
	t.Run("racing-conditions", func(t *testing.T) {
		// Of writers racing with the same If-Match, one wins.
		s := open(t)
		e, err := s.Put(ctx, "r", []byte("base"), bucket.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = s.Put(ctx, "r", []byte{byte('a' + i)}, bucket.PutOptions{IfMatch: e})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, bucket.ErrPrecondition):
				t.Errorf("a racing writer: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d racing writers won, want 1", won)
		}
	})
	t.Run("checksum", func(t *testing.T) {
		s := open(t)
		wrong := sha256.Sum256([]byte("other"))
		if _, err := s.Put(ctx, "objects/ab/cd.dirmeta", []byte("body"), bucket.PutOptions{SHA256: &wrong}); err == nil {
			t.Fatal("a body that does not match its SHA-256 was taken")
		}
		if ok, _ := s.Head(ctx, "objects/ab/cd.dirmeta"); ok {
			t.Fatal("a refused body is visible")
		}
	})
	t.Run("list", func(t *testing.T) {
		s := open(t)
		var want []string
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range 1003 {
			k := fmt.Sprintf("objects/%02x/%04d.file", i%3, i)
			want = append(want, k)
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if _, err := s.Put(ctx, k, []byte("x"), bucket.PutOptions{}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if _, err := s.Put(ctx, "objectsnot/x", nil, bucket.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		var got []string
		pages := 0
		err := s.List(ctx, "objects/", "", func(keys []string) error {
			pages++
			got = append(got, keys...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || pages < 2 {
			t.Fatalf("listed %d keys in %d pages, want %d in 2 or more", len(got), pages, len(want))
		}
		for i := 1; i < len(got); i++ {
			if got[i-1] >= got[i] {
				t.Fatalf("listed out of order: %s before %s", got[i-1], got[i])
			}
		}
		var after []string
		if err := s.List(ctx, "objects/01/", "objects/01/0500.file", func(keys []string) error {
			after = append(after, keys...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(after) == 0 || after[0] <= "objects/01/0500.file" || after[len(after)-1][:11] != "objects/01/" {
			t.Fatalf("listing after a key: %v", after)
		}
	})
	t.Run("large", func(t *testing.T) {
		s := open(t)
		data := bytes.Repeat([]byte("0123456789abcdef"), (bucket.PartSize+1000)/16)
		if err := s.PutLarge(ctx, "objects/aa/big.filez", bytes.NewReader(data), bucket.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		got, _, err := s.Get(ctx, "objects/aa/big.filez", 1<<30)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(data))
		}
		// A stream that fails half-way leaves nothing.
		r := io.MultiReader(bytes.NewReader(data), errReader{})
		if err := s.PutLarge(ctx, "objects/aa/failed.filez", r, bucket.PutOptions{}); err == nil {
			t.Fatal("a failed stream was uploaded")
		}
		if ok, _ := s.Head(ctx, "objects/aa/failed.filez"); ok {
			t.Fatal("a failed multipart upload is visible")
		}
	})
	t.Run("delete", func(t *testing.T) {
		s := open(t)
		e, err := s.Put(ctx, "refs/heads/gone", []byte("x"), bucket.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "refs/heads/gone", `"0123456789abcdef0123456789abcdef"`); !errors.Is(err, bucket.ErrPrecondition) {
			t.Fatalf("delete If-Match another ETag: %v, want ErrPrecondition", err)
		}
		if err := s.Delete(ctx, "refs/heads/gone", e); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.Head(ctx, "refs/heads/gone"); ok {
			t.Fatal("deleted key is there")
		}
		if err := s.Delete(ctx, "refs/heads/gone", ""); err != nil {
			t.Fatalf("deleting a missing key: %v", err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("the source failed") }
