package httprepo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/summary"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/walk"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Bounds on what a client's repository can make the reader fetch and hold.
const (
	// MaxSummarySize is the largest summary read: libostree's own limit
	// (OSTREE_MAX_METADATA_SIZE), above which `ostree pull` fails too.
	MaxSummarySize = 10 << 20
	// MaxMetadataObjectSize is the largest metadata object read (the
	// same limit, which libostree applies to every metadata object).
	MaxMetadataObjectSize = 10 << 20
	// DefaultMaxMetadataBytes bounds the metadata bytes one Source
	// fetches in all (see Options.MaxMetadataBytes).
	DefaultMaxMetadataBytes = 1 << 30
	maxConfigSize           = 64 << 10
	maxRefFileSize          = 256
	// headConcurrency is how many HEAD requests HasObjects has in flight.
	headConcurrency = 8
)

// Options configure Open.
type Options struct {
	// MaxMetadataBytes bounds the metadata (commits, dirtrees, dirmetas,
	// detached metadata) the Source fetches in all, which its walks hold
	// in memory while they run; 0 is DefaultMaxMetadataBytes.
	MaxMetadataBytes uint64
	// Timeout bounds the wait for each response's headers (and for each
	// connection); 0 is one minute. A body that stops arriving is the
	// caller's to notice (the receiver's idle timeout does).
	Timeout time.Duration
}

// Source is an archive repository served over HTTP, read as a
// transfer.Source (and a transfer.FilezSource: its file objects go to the
// receiver as the .filez bytes it serves, which the receiver validates).
// The client that serves it is not trusted: every metadata object it serves
// is checked against its checksum, sizes are bounded, redirects are
// refused, and nothing it serves is put in an error message.
type Source struct {
	base   *url.URL
	client *http.Client
	max    uint64
	used   atomic.Uint64

	refs        []transfer.Ref // the summary's main list, nil without a summary
	byName      map[string]object.Checksum
	haveSummary bool

	mu          sync.Mutex
	commits     map[object.Checksum][]byte // commits read, for the send after the walk
	commitBytes int                        // their size, at most maxCommitCache
}

// maxCommitCache bounds the commits a Source keeps after reading them: a
// long history is read again when it is sent rather than held.
const maxCommitCache = 16 << 20

var (
	_ transfer.Source      = (*Source)(nil)
	_ transfer.FilezSource = (*Source)(nil)
)

// Open reads the repository's config (it must be in archive mode) and its
// summary, when it has one, from base (http://HOST:PORT[/PATH]).
func Open(base string, opts Options) (*Source, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("the repository URL must be http://HOST[:PORT][/PATH]")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	s := &Source{
		base: u,
		client: &http.Client{
			Transport: &http.Transport{
				Proxy:                 nil, // the tunnel is local: no $http_proxy
				DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
				ResponseHeaderTimeout: timeout,
				DisableCompression:    true,
				MaxIdleConnsPerHost:   headConcurrency,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return errors.New("the repository's server answered with a redirect, which is not followed")
			},
		},
		max:     opts.MaxMetadataBytes,
		commits: map[object.Checksum][]byte{},
	}
	if s.max == 0 {
		s.max = DefaultMaxMetadataBytes
	}
	config, ok, err := s.get("config", maxConfigSize, false)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("the URL serves no OSTree repository (no config)")
	}
	mode, err := configMode(config)
	if err != nil {
		return nil, err
	}
	if mode != "archive" && mode != "archive-z2" {
		return nil, fmt.Errorf("the repository served is in mode %q; only an archive repository can be read over HTTP (`ostree pull` has the same limit)", printable(mode))
	}
	sum, ok, err := s.get("summary", MaxSummarySize, false)
	if err != nil {
		return nil, err
	}
	if ok {
		refs, err := summary.Refs(sum)
		if err != nil {
			return nil, fmt.Errorf("the repository's summary is malformed: %w", err)
		}
		s.haveSummary = true
		s.byName = make(map[string]object.Checksum, len(refs))
		for _, r := range refs {
			s.refs = append(s.refs, transfer.Ref{Ref: wire.RefName{Name: r.Name}, Commit: r.Commit})
			s.byName[r.Name] = r.Commit
		}
	}
	return s, nil
}

// configMode reads core.mode from a repository's config (a GKeyFile).
func configMode(config []byte) (string, error) {
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(config))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
		case section == "core":
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.TrimSpace(k) == "mode" {
				return strings.TrimSpace(v), nil
			}
		}
	}
	if sc.Err() != nil {
		return "", errors.New("the repository's config is malformed")
	}
	return "", errors.New("the repository's config names no mode (core.mode)")
}

// printable quotes a string the peer sent, for a message.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return wire.Printable(s)
}

// Mode implements the mode query of pkg/transfer: the repository is an
// archive.
func (s *Source) Mode() string { return wire.ModeArchive }

// HasSummary reports whether the repository serves a summary.
func (s *Source) HasSummary() bool { return s.haveSummary }

// ResolveRev resolves a checksum or a ref: from the summary when the
// repository has one, else from its refs/heads file.
func (s *Source) ResolveRev(rev string) (object.Checksum, bool, error) {
	if c, err := object.ParseChecksum(rev); err == nil {
		return c, true, nil
	}
	return s.LookupRef(rev)
}

// LookupRef resolves a ref name (never a checksum).
func (s *Source) LookupRef(name string) (object.Checksum, bool, error) {
	if s.haveSummary {
		c, ok := s.byName[name]
		return c, ok, nil
	}
	if !refPath(name) {
		return object.Zero, false, nil
	}
	data, ok, err := s.get("refs/heads/"+name, maxRefFileSize, false)
	if err != nil || !ok {
		return object.Zero, false, err
	}
	c, err := object.ParseChecksum(strings.TrimSpace(string(data)))
	if err != nil {
		return object.Zero, false, fmt.Errorf("ref %s: the repository's ref file does not hold a checksum", printable(name))
	}
	return c, true, nil
}

// refPath reports whether name can be a ref file's path under refs/heads:
// slash-separated, no empty, "." or ".." part, printable ASCII.
func refPath(name string) bool {
	if name == "" || len(name) > wire.MaxRefNameLen {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] >= 0x7f || name[i] == '%' || name[i] == '?' || name[i] == '#' || name[i] == '\\' {
			return false
		}
	}
	return true
}

// Refs lists the summary's refs; a repository without a summary cannot be
// listed (name the refs instead).
func (s *Source) Refs() ([]transfer.Ref, error) {
	if !s.haveSummary {
		return nil, errors.New("the repository serves no summary, so its refs cannot be listed: name the refs to push")
	}
	return s.refs, nil
}

// Commit loads a commit.
func (s *Source) Commit(c object.Checksum) (transfer.CommitInfo, bool, error) {
	data, ok, err := s.Metadata(object.Name{Checksum: c, Type: object.Commit})
	if err != nil || !ok {
		return transfer.CommitInfo{}, false, err
	}
	parent, err := walk.Parent(data)
	if err != nil {
		return transfer.CommitInfo{}, false, fmt.Errorf("commit %s: %w", c, err)
	}
	return transfer.CommitInfo{Parent: parent}, true, nil
}

// Reachable implements transfer.Source with pkg/walk over HTTP.
func (s *Source) Reachable(commits []object.Checksum) ([]object.Name, error) {
	return walk.Reachable(s, commits...)
}

// ReadMetadata implements transfer.Source.
func (s *Source) ReadMetadata(n object.Name) ([]byte, error) {
	data, ok, err := s.Metadata(n)
	if err == nil && !ok {
		err = fmt.Errorf("the repository lacks %s", n)
	}
	return data, err
}

// Metadata implements walk.Loader: a metadata object, checked against its
// checksum (detached metadata has none to check).
func (s *Source) Metadata(n object.Name) ([]byte, bool, error) {
	if n.Type == object.Commit {
		s.mu.Lock()
		data, ok := s.commits[n.Checksum]
		s.mu.Unlock()
		if ok {
			return data, true, nil
		}
	}
	if !n.Type.IsMeta() {
		return nil, false, fmt.Errorf("%s is not a metadata object", n)
	}
	data, ok, err := s.get(objectPath(n), MaxMetadataObjectSize, true)
	if err != nil || !ok {
		return nil, ok, err
	}
	if n.Type != object.CommitMeta && sha256.Sum256(data) != n.Checksum {
		return nil, false, fmt.Errorf("the repository served %s with other content (its checksum does not match)", n)
	}
	if n.Type == object.Commit {
		s.mu.Lock()
		if s.commitBytes+len(data) <= maxCommitCache {
			s.commits[n.Checksum] = data
			s.commitBytes += len(data)
		}
		s.mu.Unlock()
	}
	return data, true, nil
}

// HasObjects implements walk.Loader with HEAD requests, several at once.
func (s *Source) HasObjects(names []object.Name) ([]bool, error) {
	have := make([]bool, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, headConcurrency)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			have[i], errs[i] = s.head(objectPath(n))
		}()
	}
	wg.Wait()
	return have, errors.Join(errs...)
}

// OpenFilez implements transfer.FilezSource: the .filez bytes served, for
// the receiver to validate.
func (s *Source) OpenFilez(c object.Checksum) (io.ReadCloser, uint64, error) {
	n := object.Name{Checksum: c, Type: object.File}
	resp, err := s.request(http.MethodGet, objectPath(n))
	if err != nil {
		return nil, 0, err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("the repository lacks %s", n)
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("%s: HTTP status %d", n, resp.StatusCode)
	case resp.ContentLength < 0:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("%s: the server sent no Content-Length", n)
	}
	return resp.Body, uint64(resp.ContentLength), nil
}

// OpenContent is not offered: the receiver takes file objects as .filez.
func (s *Source) OpenContent(c object.Checksum) (io.ReadCloser, uint64, error) {
	return nil, 0, errors.New("an archive repository over HTTP sends file objects as .filez only")
}

// objectPath is where an archive repository keeps object n.
func objectPath(n object.Name) string {
	hex := n.Checksum.String()
	ext := n.Type.String()
	if n.Type == object.File {
		ext = "filez"
	}
	return "objects/" + hex[:2] + "/" + hex[2:] + "." + ext
}

func (s *Source) request(method, path string) (*http.Response, error) {
	u := s.base.JoinPath(path)
	req, err := http.NewRequestWithContext(context.Background(), method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "ostree-receive")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp, nil
}

// get fetches path, at most max bytes of it; ok is false on 404. With meta
// the bytes count against the metadata budget.
func (s *Source) get(path string, max int64, meta bool) ([]byte, bool, error) {
	resp, err := s.request(http.MethodGet, path)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, false, nil
	default:
		return nil, false, fmt.Errorf("%s: HTTP status %d", path, resp.StatusCode)
	}
	if resp.ContentLength > max {
		return nil, false, fmt.Errorf("%s: %d bytes, over the limit of %d", path, resp.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, false, fmt.Errorf("%s: over the limit of %d bytes", path, max)
	}
	if meta {
		if used := s.used.Add(uint64(len(data))); used > s.max {
			return nil, false, fmt.Errorf("the repository's metadata exceeds %d bytes in all; giving up", s.max)
		}
	}
	return data, true, nil
}

// head reports whether path exists.
func (s *Source) head(path string) (bool, error) {
	resp, err := s.request(http.MethodHead, path)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("%s: HTTP status %d", path, resp.StatusCode)
}
