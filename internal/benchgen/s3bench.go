package benchgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ostree-push/ostree-push/internal/s3test"
)

// The object-store case of ci/bench: one SeaweedFS per bench run
// (RunS3Server), a fresh bucket per tool and run (CreateBucket), a
// counting proxy per timed command (RunProxy) and a check of the bucket
// after it (CheckBucket).

// RunS3Server starts SeaweedFS (s3test.StartAt) with its data in dir,
// writes its S3 endpoint, the weed process's id and the writing
// identity's access key and secret key, one a line, to infoPath
// (atomically: ci/bench waits for the file), and stops it when the
// process gets SIGTERM or SIGINT; it fails when weed exits before.
func RunS3Server(weed, dir, infoPath string) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	// weed runs in dir: a relative path would be taken from there.
	weed, err := filepath.Abs(weed)
	if err != nil {
		return err
	}
	srv, err := s3test.StartAt(weed, dir)
	if err != nil {
		return err
	}
	defer srv.Stop()
	if err := WriteFileAtomic(infoPath, []byte(fmt.Sprintf("%s\n%d\n%s\n%s\n",
		srv.Endpoint, srv.Pid(), s3test.AccessKey, s3test.SecretKey))); err != nil {
		return err
	}
	select {
	case <-sigs:
		return nil
	case <-srv.Exited():
		return fmt.Errorf("SeaweedFS exited (see %s)", filepath.Join(dir, "weed.log"))
	}
}

// RunProxy serves a counting Proxy to target on a free port of 127.0.0.1,
// writes its URL (http://127.0.0.1:PORT) to addrPath, atomically, and on
// SIGTERM or SIGINT finishes the requests under way, writes the counts
// to countsPath (WriteCounts) and returns. When logPath is not "", it
// logs every request there (Proxy.SetLog).
func RunProxy(target, addrPath, countsPath, logPath string) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	p, err := NewProxy(target)
	if err != nil {
		return err
	}
	var logw *bufio.Writer
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = bufio.NewWriter(f)
		defer logw.Flush()
		p.SetLog(logw)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(p.Listener(l)) }()
	if err := WriteFileAtomic(addrPath, []byte("http://"+l.Addr().String()+"\n")); err != nil {
		srv.Close()
		return err
	}
	select {
	case <-sigs:
	case err := <-served:
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errShut := srv.Shutdown(ctx)
	var buf bytes.Buffer
	WriteCounts(&buf, p.Counts())
	return errors.Join(errShut, WriteFileAtomic(countsPath, buf.Bytes()))
}

// s3Client is a client of the writing identity at endpoint.
func s3Client(endpoint string) *s3.Client {
	return (&s3test.Server{Endpoint: endpoint}).Client()
}

// CreateBucket makes the bucket name at endpoint, its volumes allocated
// before any tool is timed (s3test's CreateWarmBucket).
func CreateBucket(endpoint, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return (&s3test.Server{Endpoint: endpoint}).CreateWarmBucket(ctx, name)
}

// CheckBucket checks what a publish left in bucket (an archive repository
// at its top): refs/heads/REF holds commit, and objects/ holds exactly
// objects keys.
func CheckBucket(endpoint, bucket, ref, commit string, objects int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := s3Client(endpoint)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("refs/heads/" + ref)})
	if err != nil {
		return fmt.Errorf("reading ref %s: %w", ref, err)
	}
	b, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		return fmt.Errorf("reading ref %s: %w", ref, err)
	}
	if got := strings.TrimSpace(string(b)); got != commit {
		return fmt.Errorf("ref %s is %q, want %s", ref, got, commit)
	}
	n := 0
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("objects/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing objects/: %w", err)
		}
		n += len(page.Contents)
	}
	if n != objects {
		return fmt.Errorf("objects/ has %d keys, want %d", n, objects)
	}
	return nil
}
