package benchgen

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ostree-push/ostree-push/internal/s3test"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

func TestClassifyRequest(t *testing.T) {
	for _, c := range []struct{ method, target, want string }{
		{"GET", "/b/objects/ab/cd.filez", "GET"},
		{"GET", "/b/refs/heads/x?x-id=GetObject", "GET"},
		{"HEAD", "/b/objects/ab/cd.dirtree", "HEAD"},
		{"PUT", "/b/objects/ab/cd.filez", "PUT"},
		{"PUT", "/b/summary?x-id=PutObject", "PUT"},
		{"DELETE", "/b/refs/heads/x", "DELETE"},
		{"GET", "/b", "LIST"},
		{"GET", "/b/", "LIST"},
		{"GET", "/b?list-type=2&prefix=objects%2F&continuation-token=x", "LIST"},
		{"GET", "/b?list-type=2&prefix=&encoding-type=url", "LIST"},
		{"GET", "/b?delimiter=%2F&max-keys=1000&prefix=", "LIST"},
		{"GET", "/b?uploads", "LIST"},
		{"GET", "/b?location", "OTHER"},
		{"GET", "/b?versioning", "OTHER"},
		{"HEAD", "/b", "HEAD"},
		{"PUT", "/b", "OTHER"},
		{"GET", "/", "OTHER"},
		{"POST", "/b?delete", "DELETE"},
		{"POST", "/b/big?uploads", "PART"},
		{"PUT", "/b/big?partNumber=2&uploadId=u", "PART"},
		{"POST", "/b/big?uploadId=u", "PART"},
		{"DELETE", "/b/big?uploadId=u", "PART"},
		{"GET", "/b/big?uploadId=u", "PART"},
		{"PUT", "/b/k?acl", "OTHER"},
		{"GET", "/b/k?tagging", "OTHER"},
		{"OPTIONS", "/b/k", "OTHER"},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		if got := ClassifyRequest(r); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.method, c.target, got, c.want)
		}
	}
}

// TestProxy: the store behind the proxy gets each request as the client
// sent it, Host header (which a SigV4 signature covers), signature
// headers and body included, and nothing added; the proxy counts the
// requests by class, the failed ones and the bytes on the connections.
func TestProxy(t *testing.T) {
	type seen struct {
		host, auth, sha, xff, body string
		length                     int64
	}
	got := make(chan seen, 10)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Host, r.Header.Get("Authorization"), r.Header.Get("X-Amz-Content-Sha256"),
			r.Header.Get("X-Forwarded-For"), string(b), r.ContentLength}
		switch {
		case strings.HasSuffix(r.URL.Path, "/missing"):
			http.NotFound(w, r)
		case r.Method == http.MethodGet:
			io.WriteString(w, "content")
		}
	}))
	defer backend.Close()

	p, err := NewProxy(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	p.SetLog(&log)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(p.Listener(l))
	defer srv.Close()
	base := "http://" + l.Addr().String()

	do := func(method, path, body string) *http.Response {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00")
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := do("PUT", "/b/objects/ab/cd.filez", "hello"); resp.StatusCode != 200 {
		t.Fatalf("PUT through the proxy: %s", resp.Status)
	}
	s := <-got
	if s.host != l.Addr().String() || s.body != "hello" || s.length != 5 || s.sha != "UNSIGNED-PAYLOAD" ||
		!strings.HasSuffix(s.auth, "Signature=00") || s.xff != "" {
		t.Errorf("the store got %+v", s)
	}
	do("GET", "/b/refs/heads/main", "")
	do("HEAD", "/b/missing", "")
	do("GET", "/b?list-type=2&prefix=objects%2F", "")
	if resp := do("GET", "/b/missing", ""); resp.StatusCode != 404 {
		t.Errorf("GET of a missing key: %s", resp.Status)
	}
	c := p.Counts()
	want := map[string]int64{"PUT": 1, "GET": 2, "HEAD": 1, "LIST": 1, "PART": 0, "DELETE": 0, "OTHER": 0, CountFailed: 2}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("count %s = %d, want %d (all: %v)", k, c[k], v, c)
		}
	}
	// Five requests with their headers, and two bodies of 5 and 7 bytes.
	if c[CountWire] < 5*200 || c[CountWire] > 5*1000 {
		t.Errorf("wire bytes %d", c[CountWire])
	}
	if lines := strings.Split(strings.TrimSpace(log.String()), "\n"); len(lines) != 5 ||
		lines[0] != "PUT\tPUT\t/b/objects/ab/cd.filez\t200" || lines[4] != "GET\tGET\t/b/missing\t404" {
		t.Errorf("request log:\n%s", log.String())
	}

	var buf bytes.Buffer
	if err := WriteCounts(&buf, c); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCounts(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(c) || back["PUT"] != 1 || back[CountWire] != c[CountWire] {
		t.Errorf("counts read back %v, wrote %v", back, c)
	}
	if _, err := NewProxy("https://example.com"); err == nil {
		t.Error("NewProxy took an https target")
	}
}

// TestProxySeaweedFS: through the proxy, requests signed by the AWS SDK
// for the proxy's address verify at SeaweedFS (which checks the SigV4
// signatures, Host header included), and the bench's bucket helpers
// work.
func TestProxySeaweedFS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SeaweedFS")
	}
	srv, name := s3test.Shared(t)
	p, err := NewProxy(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: p}
	go hs.Serve(p.Listener(l))
	defer hs.Close()
	c := (&s3test.Server{Endpoint: "http://" + l.Addr().String()}).Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String("refs/heads/main"),
		Body: strings.NewReader("0123\n")}); err != nil {
		t.Fatalf("signed PUT through the proxy: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(name), Key: aws.String("refs/heads/main")}); err != nil {
		t.Fatalf("signed HEAD through the proxy: %v", err)
	}
	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("signed LIST through the proxy: %v", err)
	}
	// A signature made with a wrong secret key is refused: the store
	// does check the signatures.
	bad := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + l.Addr().String()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s3test.AccessKey, "wrong-secret-key", "")})
	if _, err := bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String("x"),
		Body: strings.NewReader("x")}); err == nil {
		t.Fatal("a PUT signed with a wrong key was taken")
	}
	cn := p.Counts()
	if cn["PUT"] != 2 || cn["HEAD"] != 1 || cn["LIST"] != 1 || cn[CountFailed] != 1 {
		t.Errorf("counts %v", cn)
	}

	if err := CheckBucket(srv.Endpoint, name, "main", "0123", 0); err != nil {
		t.Errorf("CheckBucket: %v", err)
	}
	if err := CheckBucket(srv.Endpoint, name, "main", "4567", 0); err == nil {
		t.Error("CheckBucket took a ref holding another commit")
	}
	if err := CheckBucket(srv.Endpoint, name, "main", "0123", 1); err == nil {
		t.Error("CheckBucket took objects/ with no key for one")
	}
	if err := CreateBucket(srv.Endpoint, name+"-bench"); err != nil {
		t.Fatal(err)
	}
	if err := CheckBucket(srv.Endpoint, name+"-bench", "main", "0123", 0); err == nil {
		t.Error("CheckBucket took a new bucket")
	}
}
