package httprepo

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/ostreefile"
	"github.com/ostree-push/ostree-push/pkg/summary"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/walk"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// ServedRef is a ref a Server lists, under the name the puller gives it.
type ServedRef struct {
	Name   string
	Commit object.Checksum
}

// Server serves a local repository over HTTP on 127.0.0.1 as an archive
// repository, read-only, for an ostree-push 1.x server to pull from
// through an ssh tunnel. It serves the objects, and in place of the
// repository's own files a config naming the mode, a summary listing only
// refs, and their ref files: the repository's config (its remotes and
// their credentials), its other refs and anything else in its directory
// are not served. A repository not in archive mode has its file objects
// deflated as they are asked for.
type Server struct {
	URL string // http://127.0.0.1:PORT

	src     transfer.Source
	meta    walk.Loader
	refs    map[string]object.Checksum
	summary []byte
	srv     *http.Server
	ln      net.Listener
	served  chan error

	objects, bytes atomic.Uint64
}

// configFile is the config served: libostree's pull reads the mode.
const configFile = "[core]\nrepo_version=1\nmode=archive-z2\n"

// Serve starts serving src, whose metadata meta reads (ok false when an
// object is missing), with refs listed in the summary.
func Serve(src transfer.Source, meta walk.Loader, refs []ServedRef) (*Server, error) {
	s := &Server{src: src, meta: meta, refs: map[string]object.Checksum{}, served: make(chan error, 1)}
	var entries []summary.Entry
	for _, r := range refs {
		data, ok, err := meta.Metadata(object.Name{Checksum: r.Commit, Type: object.Commit})
		if err == nil && !ok {
			err = fmt.Errorf("commit %s is missing", r.Commit)
		}
		if err != nil {
			return nil, err
		}
		e, err := summary.CommitEntry(r.Name, r.Commit, data)
		if err != nil {
			return nil, fmt.Errorf("ref %s: %w", r.Name, err)
		}
		entries = append(entries, e)
		s.refs[r.Name] = r.Commit
	}
	sum, err := summary.Write(entries, "archive-z2", uint64(time.Now().Unix()))
	if err != nil {
		return nil, err
	}
	s.summary = sum
	s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + s.ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: time.Minute}
	go func() { s.served <- s.srv.Serve(s.ln) }()
	return s, nil
}

// Served returns how many objects, and how many bytes of them, were served.
func (s *Server) Served() (objects, bytes uint64) { return s.objects.Load(), s.bytes.Load() }

// Close stops serving.
func (s *Server) Close() error {
	err := s.srv.Close()
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "read-only", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/config":
		s.bytesOut(w, r, []byte(configFile))
	case p == "/summary":
		s.bytesOut(w, r, s.summary)
	case strings.HasPrefix(p, "/refs/heads/"):
		c, ok := s.refs[strings.TrimPrefix(p, "/refs/heads/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		s.bytesOut(w, r, []byte(c.String()+"\n"))
	case strings.HasPrefix(p, "/objects/"):
		n, ok := parseObjectPath(strings.TrimPrefix(p, "/objects/"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		s.object(w, r, n)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) bytesOut(w http.ResponseWriter, r *http.Request, data []byte) {
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	w.Header().Set("Content-Type", "application/octet-stream")
	if r.Method == http.MethodGet {
		w.Write(data)
	}
}

// parseObjectPath reads "XX/YYYY….TYPE" (archive layout).
func parseObjectPath(p string) (object.Name, bool) {
	dir, file, ok := strings.Cut(p, "/")
	if !ok || len(dir) != 2 {
		return object.Name{}, false
	}
	hex, ext, ok := strings.Cut(file, ".")
	if !ok {
		return object.Name{}, false
	}
	c, err := object.ParseChecksum(dir + hex)
	if err != nil {
		return object.Name{}, false
	}
	for _, t := range []object.Type{object.Commit, object.DirTree, object.DirMeta, object.CommitMeta} {
		if ext == t.String() {
			return object.Name{Checksum: c, Type: t}, true
		}
	}
	if ext == "filez" {
		return object.Name{Checksum: c, Type: object.File}, true
	}
	return object.Name{}, false
}

func (s *Server) object(w http.ResponseWriter, r *http.Request, n object.Name) {
	if n.Type != object.File {
		data, ok, err := s.meta.Metadata(n)
		switch {
		case err != nil:
			http.Error(w, "cannot read the object", http.StatusInternalServerError)
		case !ok:
			http.NotFound(w, r)
		default:
			s.count(r, uint64(len(data)))
			s.bytesOut(w, r, data)
		}
		return
	}
	have, err := s.meta.HasObjects([]object.Name{n})
	if err != nil || !have[0] {
		http.NotFound(w, r)
		return
	}
	if fs, ok := s.src.(transfer.FilezSource); ok && isArchive(s.src) {
		rc, size, err := fs.OpenFilez(n.Checksum)
		if err != nil {
			http.Error(w, "cannot read the object", http.StatusInternalServerError)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Length", fmt.Sprint(size))
		if r.Method == http.MethodGet {
			s.count(r, size)
			io.Copy(w, rc)
		}
		return
	}
	// Deflated as it goes: an archive's .filez is the header, then the
	// content as a raw deflate stream (none for a symlink).
	rc, size, err := s.src.OpenContent(n.Checksum)
	if err != nil {
		http.Error(w, "cannot read the object", http.StatusInternalServerError)
		return
	}
	defer rc.Close()
	h, data, err := ostreefile.ParseContentStream(rc, size)
	if err != nil {
		http.Error(w, "cannot read the object", http.StatusInternalServerError)
		return
	}
	if r.Method != http.MethodGet {
		return
	}
	n2 := size - uint64(len(h.ContentStreamHeader()))
	head := h.FilezHeader(n2)
	w.Write(head)
	written := uint64(len(head))
	if !h.IsSymlink() {
		cw := &countingWriter{w: w}
		fw, _ := flate.NewWriter(cw, 6)
		if _, err := io.Copy(fw, data); err != nil {
			return
		}
		fw.Close()
		written += cw.n
	}
	s.count(r, written)
}

func (s *Server) count(r *http.Request, n uint64) {
	if r.Method == http.MethodGet {
		s.objects.Add(1)
		s.bytes.Add(n)
	}
}

type countingWriter struct {
	w io.Writer
	n uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}

func isArchive(src transfer.Source) bool {
	m, ok := src.(interface{ Mode() string })
	return ok && m.Mode() == wire.ModeArchive
}
