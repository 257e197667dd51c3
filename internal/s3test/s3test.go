package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The writing identity's keys (SeaweedFS's s3.json, written by Start).
const (
	AccessKey = "ostree-push-test"
	SecretKey = "ostree-push-test-secret-key-0123456789"
)

// Server is a running SeaweedFS.
type Server struct {
	Dir      string // its data, config and weed.log
	Endpoint string // the S3 gateway, http://127.0.0.1:PORT
	cmd      *exec.Cmd
	exited   chan struct{} // closed when weed has exited, with waitErr
	waitErr  error
}

// Weed returns the weed binary ci/setup builds: $OSTREE_PUSH_WEED, else
// build/weed at the top of the source tree.
func Weed() (string, error) {
	if p := os.Getenv("OSTREE_PUSH_WEED"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "build", "weed")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("SeaweedFS is not built (run ci/setup): %w", err)
			}
			return p, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = up
	}
}

// Require skips the test when there is no weed binary, or fails it under
// CI=true; it returns the binary.
func Require(t testing.TB) string {
	t.Helper()
	w, err := Weed()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return w
}

const s3Config = `{
  "identities": [
    {"name": "anonymous", "actions": ["Read"]},
    {"name": "publisher",
     "credentials": [{"accessKey": %q, "secretKey": %q}],
     "actions": ["Admin", "Read", "List", "Tagging", "Write"]}
  ]
}
`

// freePorts finds n TCP ports free on 127.0.0.1 (free when asked: weed
// binds them a moment later).
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		p := l.Addr().(*net.TCPAddr).Port
		// weed's gRPC ports are given; none may clash with another's
		// default of port+10000 either.
		if p > 55000 {
			continue
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// Start starts SeaweedFS in a new t.TempDir() and stops it when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	weed := Require(t)
	s, err := StartAt(weed, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Logf("stopping SeaweedFS: %v", err)
		}
	})
	return s
}

// StartAt starts SeaweedFS with its data in dir (for the benchmarks,
// which stop it themselves).
func StartAt(weed, dir string) (*Server, error) {
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(s3Config, AccessKey, SecretKey)), 0o600); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	cmd := exec.Command(weed, "server",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir="+data,
		"-master.port="+p(0), "-master.port.grpc="+p(1),
		"-volume.port="+p(2), "-volume.port.grpc="+p(3),
		"-filer", "-filer.port="+p(4), "-filer.port.grpc="+p(5),
		"-s3", "-s3.port="+p(6), "-s3.port.grpc="+p(7), "-s3.config="+cfg,
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-master.volumeSizeLimitMB=64", "-volume.max=0",
	)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Endpoint: "http://127.0.0.1:" + p(6), cmd: cmd, exited: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); close(s.exited) }()
	err = s.waitReady(60 * time.Second)
	if err == nil {
		err = s.warmUp()
	}
	if err != nil {
		s.Stop()
		log, _ := os.ReadFile(filepath.Join(dir, "weed.log"))
		return nil, fmt.Errorf("SeaweedFS did not come up: %v\n%s", err, tail(string(log), 3000))
	}
	return s, nil
}

// warmUp makes a bucket and writes into it: a fresh SeaweedFS holds its
// first volume allocation for about 9 seconds, which this pays before any
// test or benchmark starts its clock.
func (s *Server) warmUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return s.CreateWarmBucket(ctx, "ostree-push-warm-up")
}

// CreateWarmBucket makes bucket name, then writes and deletes an object in
// it: SeaweedFS gives each bucket volumes of its own, allocated on the
// first write into it, which a benchmark must not charge to its first
// timed tool.
func (s *Server) CreateWarmBucket(ctx context.Context, name string) error {
	c := s.Client()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return err
	}
	key := aws.String("ostree-push-warm-up")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(name), Key: key, Body: strings.NewReader("x")}); err != nil {
		return err
	}
	_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: key})
	return err
}

var shared struct {
	sync.Mutex
	srv     *Server
	err     error
	dir     string
	buckets int
}

// Shared returns the test process's SeaweedFS, started on first use (one
// start, with its warm-up, for all the tests of a package), and a new
// bucket in it for the test. The package's TestMain calls StopShared.
func Shared(t testing.TB) (*Server, string) {
	t.Helper()
	weed := Require(t)
	shared.Lock()
	if shared.srv == nil && shared.err == nil {
		shared.dir, shared.err = os.MkdirTemp("", "ostree-push-seaweedfs-")
		if shared.err == nil {
			shared.srv, shared.err = StartAt(weed, shared.dir)
		}
	}
	srv, err := shared.srv, shared.err
	shared.buckets++
	name := fmt.Sprintf("test-%d", shared.buckets)
	shared.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	srv.CreateBucket(t, name)
	return srv, name
}

// StopShared stops the server Shared started, if any, and removes its data.
func StopShared() {
	shared.Lock()
	defer shared.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
		shared.srv = nil
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// waitReady waits until the S3 gateway answers a signed ListBuckets.
func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("weed exited: %v", s.waitErr)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, last = s.Client().ListBuckets(ctx, &s3.ListBucketsInput{})
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

// Client is an S3 client of the writing identity.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	})
}

// Env is the environment under which the standard AWS chain reaches the
// server as the writing identity (for commands: ostree-push, rclone, aws).
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// CreateBucket makes a bucket, readable anonymously over plain HTTP at
// URL(name).
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
}

// URL is where a bucket (and prefix) is read over plain HTTP, path-style:
// an ostree remote's url.
func (s *Server) URL(bucketAndPrefix string) string {
	return s.Endpoint + "/" + strings.Trim(bucketAndPrefix, "/")
}

// Pid is the weed process's id (its process group's too): the benchmarks
// read its CPU time.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Exited is closed when weed has exited.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Stop stops the server (SIGTERM, then SIGKILL after 2 s: its data is thrown away).
func (s *Server) Stop() error {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(2 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
		return errors.New("SeaweedFS did not stop within 2 s of SIGTERM; killed")
	}
}
