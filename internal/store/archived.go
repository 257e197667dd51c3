package store

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/ostreefile"
	"github.com/ostree-push/ostree-push/pkg/sign"
)

// Objects as an archive repository stores them, for publishing into an
// object store laid out as one (internal/publish): each checked before it
// leaves as ostree-receive checks what it is sent, so that a repository
// damaged on disk never spreads its damage to readers.

// ReadArchived returns object n as an archive repository's objects/ holds
// it: a metadata object as it is, a file object as its .filez (the stored
// one, or made from a bare repository's file). One of at most max bytes
// (as .filez: by its content's size for a bare repository's) comes whole
// as data; a larger file object comes as large, a stream whose last Read
// returns an error instead of io.EOF when the object turned out not to be
// what its name says (the caller must not publish it then), and which the
// caller closes.
//
// The checks: a commit, dirtree or dirmeta must hash to its name and pass
// libostree's structure checks (libostree.ValidateMetadata); a commit's
// detached metadata must be an a{sv} of signatures pkg/sign can read; a
// .filez must pass every strict rule of pkg/ostreefile and hash to its
// name, whether stored or made here.
func (s *Repo) ReadArchived(n object.Name, max uint64) (data []byte, large io.ReadCloser, err error) {
	switch n.Type {
	case object.File:
		if s.r.Mode() == libostree.ModeArchive {
			return s.readStoredFilez(n.Checksum, max)
		}
		return s.makeFilez(n.Checksum, max)
	case object.CommitMeta:
		meta, ok, err := s.r.ReadCommitMeta(n.Checksum)
		if err == nil && !ok {
			err = errors.New("it is not in the repository")
		}
		if err == nil {
			_, err = sign.FingerprintOf(meta)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("the detached metadata of %s: %w", n.Checksum, err)
		}
		return meta, nil, nil
	}
	data, err = s.r.ReadMetadata(n)
	if err != nil {
		return nil, nil, err
	}
	if got := object.Checksum(sha256.Sum256(data)); got != n.Checksum {
		return nil, nil, fmt.Errorf("%s: the repository's copy hashes to %s", n, got)
	}
	if err := libostree.ValidateMetadata(n.Type, data); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", n, err)
	}
	return data, nil, nil
}

// CheckFilez validates a .filez strictly, inflating with one of the
// repository's zlib inflaters, and checks that it hashes to c.
func (s *Repo) CheckFilez(c object.Checksum, r io.Reader, size uint64) error {
	inf, err := s.infs.get()
	if err != nil {
		return err
	}
	defer s.infs.put(inf)
	sum, err := ostreefile.ValidateFilezWith(r, size, inf)
	if err == nil && sum != c {
		err = fmt.Errorf("its content hashes to %s", sum)
	}
	return err
}

func (s *Repo) readStoredFilez(c object.Checksum, max uint64) ([]byte, io.ReadCloser, error) {
	f, size, err := s.OpenFilez(c)
	if err != nil {
		return nil, nil, err
	}
	if size > max {
		return nil, newCheckedStream(f, func(r io.Reader) error { return s.CheckFilez(c, r, size) }), nil
	}
	defer f.Close()
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, fmt.Errorf("reading file object %s: %w", c, err)
	}
	if err := s.CheckFilez(c, bytes.NewReader(data), size); err != nil {
		return nil, nil, fmt.Errorf("file object %s: %w", c, err)
	}
	return data, nil, nil
}

func (s *Repo) makeFilez(c object.Checksum, max uint64) ([]byte, io.ReadCloser, error) {
	filez, ok, err := s.CompressFilez(c, max)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		if err := s.CheckFilez(c, bytes.NewReader(filez), uint64(len(filez))); err != nil {
			return nil, nil, fmt.Errorf("file object %s as made here: %w", c, err)
		}
		return filez, nil, nil
	}
	// Too large to hold: deflated as it is read, its content hashed on the
	// way (what is deflated is the content that hashed to c).
	cr, size, err := s.OpenContent(c)
	if err != nil {
		return nil, nil, err
	}
	h, content, err := ostreefile.ParseContentStream(cr, size)
	if err != nil {
		cr.Close()
		return nil, nil, fmt.Errorf("file object %s: %w", c, err)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cr.Close()
		pw.CloseWithError(writeFilez(pw, c, h, content, size-uint64(len(h.ContentStreamHeader()))))
	}()
	return nil, &madeStream{PipeReader: pr, done: done}, nil
}

// writeFilez writes the .filez of a file object with header h and size
// bytes of content, checking that header and content hash to c.
func writeFilez(w io.Writer, c object.Checksum, h *ostreefile.FileHeader, content io.Reader, size uint64) error {
	if _, err := w.Write(h.FilezHeader(size)); err != nil {
		return err
	}
	hash := sha256.New()
	hash.Write(h.ContentStreamHeader())
	zw, err := flate.NewWriter(w, CompressLevel)
	if err != nil {
		return err
	}
	n, err := io.Copy(zw, io.TeeReader(content, hash))
	if err != nil {
		return fmt.Errorf("file object %s: %w", c, err)
	}
	if uint64(n) != size {
		return fmt.Errorf("file object %s: %d bytes of content, not %d", c, n, size)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if got := object.Checksum(hash.Sum(nil)); got != c {
		return fmt.Errorf("file object %s: its content hashes to %s", c, got)
	}
	return nil
}

// madeStream is the reading end of a .filez made as it is read.
type madeStream struct {
	*io.PipeReader
	done chan struct{}
}

func (m *madeStream) Close() error {
	m.PipeReader.CloseWithError(errors.New("closed"))
	<-m.done
	return nil
}

// checkedStream hands out what r gives while check reads the same bytes
// in step; at the end of r, the result of check is the last Read's error
// (io.EOF when the object passed).
type checkedStream struct {
	r      io.ReadCloser
	pw     *io.PipeWriter
	result chan error
	err    error // once r ended
}

func newCheckedStream(r io.ReadCloser, check func(io.Reader) error) *checkedStream {
	pr, pw := io.Pipe()
	cs := &checkedStream{r: r, pw: pw, result: make(chan error, 1)}
	go func() {
		err := check(pr)
		if err == nil {
			// The check read what it needed; what is left (nothing, for
			// a valid object) must still be drained for r to go on.
			_, err = io.Copy(io.Discard, pr)
		}
		pr.CloseWithError(err)
		cs.result <- err
	}()
	return cs
}

func (cs *checkedStream) Read(p []byte) (int, error) {
	if cs.err != nil {
		return 0, cs.err
	}
	n, err := cs.r.Read(p)
	if n > 0 {
		if _, werr := cs.pw.Write(p[:n]); werr != nil {
			// The check ended early: its verdict is the error.
			cs.pw.Close()
			cs.err = <-cs.result
			if cs.err == nil {
				cs.err = werr
			}
			return 0, cs.err
		}
	}
	if err == io.EOF {
		cs.pw.Close()
		if cs.err = <-cs.result; cs.err == nil {
			cs.err = io.EOF
		}
		return n, cs.err
	}
	return n, err
}

func (cs *checkedStream) Close() error {
	if cs.err == nil {
		cs.pw.CloseWithError(errors.New("closed"))
		cs.err = <-cs.result
	}
	return cs.r.Close()
}
