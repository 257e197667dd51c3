package benchgen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Request classes the counting proxy (Proxy) sorts S3 requests into, in
// the report's column order. LIST is a GET of a bucket (ListObjects,
// ListObjectsV2, ListMultipartUploads, ListObjectVersions); PART is a
// multipart upload's part (PUT ?partNumber) and its creation and
// completion (POST ?uploads, POST ?uploadId); DELETE includes a batch
// delete (POST ?delete); OTHER is anything else (ListBuckets, a bucket's
// location, versioning or ACL, ...).
var RequestClasses = []string{"GET", "HEAD", "PUT", "PART", "LIST", "DELETE", "OTHER"}

// Keys of a proxy's counts besides the request classes.
const (
	CountFailed = "failed" // responses with a status of 400 or more
	CountWire   = "wire"   // bytes read and written on the clients' connections
)

// ClassifyRequest names the class of a path-style S3 request (/BUCKET/KEY).
func ClassifyRequest(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.Path, "/")
	if p == "" {
		return "OTHER" // ListBuckets
	}
	_, key, _ := strings.Cut(p, "/")
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	if key == "" { // the bucket itself
		switch r.Method {
		case http.MethodGet:
			if has("uploads") || has("versions") {
				return "LIST"
			}
			for k := range q {
				if !listParams[k] {
					return "OTHER"
				}
			}
			return "LIST"
		case http.MethodPost:
			if has("delete") {
				return "DELETE"
			}
		case http.MethodHead:
			return "HEAD"
		}
		return "OTHER" // CreateBucket, DeleteBucket, bucket settings
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
		if has("uploadId") {
			return "PART" // ListParts, AbortMultipartUpload
		}
		if r.Method == http.MethodGet && (has("acl") || has("tagging") || has("attributes")) {
			return "OTHER"
		}
		return r.Method
	case http.MethodPut:
		if has("partNumber") {
			return "PART"
		}
		if has("acl") || has("tagging") || has("retention") || has("legal-hold") {
			return "OTHER"
		}
		return "PUT"
	case http.MethodPost:
		if has("uploads") || has("uploadId") {
			return "PART"
		}
	}
	return "OTHER"
}

// listParams are the query parameters of a bucket listing.
var listParams = map[string]bool{
	"list-type": true, "prefix": true, "delimiter": true, "marker": true, "max-keys": true,
	"continuation-token": true, "start-after": true, "encoding-type": true, "fetch-owner": true,
	"x-id": true, // aws-sdk-go-v2 names the operation
}

// Proxy is a reverse proxy in front of an S3 endpoint that counts the
// requests through it by class (ClassifyRequest), the failed ones, and the
// bytes both ways on its clients' connections. It forwards each request
// with the Host header its client sent, which the client's SigV4
// signature covers, so signatures made for the proxy's address verify at
// the store behind it (which must then not care which host it is called
// by: SeaweedFS does not).
type Proxy struct {
	rp     *httputil.ReverseProxy
	mu     sync.Mutex
	counts map[string]int64
	log    io.Writer // when not nil, a line per request (SetLog)
	wire   atomic.Int64
}

// SetLog makes the proxy write a line per request to w: its class, method,
// path and query, and the status of the response.
func (p *Proxy) SetLog(w io.Writer) {
	p.mu.Lock()
	p.log = w
	p.mu.Unlock()
}

// done counts a response with status code to r, and logs the request.
func (p *Proxy) done(r *http.Request, code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if code >= 400 {
		p.counts[CountFailed]++
	}
	if p.log != nil {
		target := r.URL.Path
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		fmt.Fprintf(p.log, "%s\t%s\t%s\t%d\n", ClassifyRequest(r), r.Method, target, code)
	}
}

// NewProxy makes a proxy to target, an http://HOST:PORT URL.
func NewProxy(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("proxy target %q: want http://HOST:PORT", target)
	}
	p := &Proxy{counts: map[string]int64{}}
	p.rp = &httputil.ReverseProxy{
		Director: func(r *http.Request) {
			// r.Host, the Host header sent, stays as the client
			// signed it.
			r.URL.Scheme, r.URL.Host = u.Scheme, u.Host
			// No X-Forwarded-For: the store sees the request as sent.
			r.Header["X-Forwarded-For"] = nil
		},
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			// A pipe: bodies pass as they are, never decompressed.
			DisableCompression: true,
		},
		ModifyResponse: func(resp *http.Response) error {
			p.done(resp.Request, resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.done(r, http.StatusBadGateway)
			http.Error(w, err.Error(), http.StatusBadGateway)
		},
	}
	return p, nil
}

func (p *Proxy) add(k string, n int64) {
	p.mu.Lock()
	p.counts[k] += n
	p.mu.Unlock()
}

// ServeHTTP counts the request and forwards it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.add(ClassifyRequest(r), 1)
	p.rp.ServeHTTP(w, r)
}

// Listener wraps l so that the bytes read and written on the connections
// it accepts are counted (CountWire).
func (p *Proxy) Listener(l net.Listener) net.Listener { return &countingListener{l, &p.wire} }

// Counts returns the counts so far: every class of RequestClasses (0 when
// none), CountFailed and CountWire.
func (p *Proxy) Counts() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := map[string]int64{CountFailed: 0, CountWire: p.wire.Load()}
	for _, k := range RequestClasses {
		c[k] = 0
	}
	for k, v := range p.counts {
		c[k] = v
	}
	return c
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{c, l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// WriteCounts writes counts as lines of KEY TAB VALUE, sorted by key.
func WriteCounts(w io.Writer, counts map[string]int64) error {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	bw := bufio.NewWriter(w)
	for _, k := range keys {
		fmt.Fprintf(bw, "%s\t%d\n", k, counts[k])
	}
	return bw.Flush()
}

// ReadCounts parses what WriteCounts wrote.
func ReadCounts(r io.Reader) (map[string]int64, error) {
	c := map[string]int64{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		k, v, ok := strings.Cut(text, "\t")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("counts line %d: %q", line, text)
		}
		c[k] = n
	}
	return c, sc.Err()
}

// WriteFileAtomic writes data to path through a temporary file and a
// rename, so that a reader waiting for path never sees it half written.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err2 := tmp.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return errors.Join(err, fmt.Errorf("writing %s", path))
	}
	return nil
}
