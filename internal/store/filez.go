package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/ostreefile"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// The archive receive path. A file object received as .filez bytes is
// written to a private scratch archive repository under the destination's
// tmp/ (same filesystem), validated strictly in one pass as it is written
// (pkg/ostreefile: libostree's own check of a .filez lets four kinds of
// corruption through), and then imported into the destination's
// transaction with trust: libostree links it into the staging directory as
// it is, without inflating and deflating it again. The scratch repository
// is removed when the transaction ends, and a stale one (from a killed
// receiver) by the next receiver.

const scratchPrefix = "ostree-push-scratch-"

// scratch is one receiver's scratch repository, locked while in use.
type scratch struct {
	dir  string
	repo *libostree.Repo
	lock *os.File
	dirs sync.Map // objects/XX directories made

	infs idle[*libostree.Inflater] // zlib inflaters, closed with the scratch
}

// newScratch removes stale scratch repositories under tmp and makes one.
// A scratch repository appears under its name (scratchPrefix) only once
// its lock is held: it is made under another name (scratchNewPrefix),
// locked, then renamed, so that another receiver's sweep never sees one
// that is being made.
func newScratch(repoPath string) (*scratch, error) {
	tmp := filepath.Join(repoPath, "tmp")
	cleanStaleScratch(tmp)
	made, err := os.MkdirTemp(tmp, scratchNewPrefix)
	if err != nil {
		return nil, fmt.Errorf("scratch repository: %w", err)
	}
	dir := filepath.Join(tmp, scratchPrefix+strings.TrimPrefix(filepath.Base(made), scratchNewPrefix))
	lock, err := os.OpenFile(filepath.Join(made, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err == nil {
		err = os.Rename(made, dir)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(made)
		return nil, fmt.Errorf("scratch repository: %w", err)
	}
	repo, err := libostree.Create(filepath.Join(dir, "repo"), libostree.ModeArchive, nil)
	if err != nil {
		lock.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &scratch{dir: dir, repo: repo, lock: lock, infs: idle[*libostree.Inflater]{make: libostree.NewInflater}}, nil
}

// scratchNewPrefix names a scratch repository being made, before it is
// locked and renamed; one left behind by a receiver that died then is
// removed once it is an hour old.
const scratchNewPrefix = "ostree-push-new-scratch-"

// cleanStaleScratch removes scratch repositories whose lock nobody holds.
func cleanStaleScratch(tmp string) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(tmp, e.Name())
		switch {
		case !e.IsDir():
			continue
		case strings.HasPrefix(e.Name(), scratchNewPrefix):
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(dir)
			}
			continue
		case !strings.HasPrefix(e.Name(), scratchPrefix):
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR, 0)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				os.RemoveAll(dir) // an older receiver's, dead before its lock
			}
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(dir)
		}
		f.Close()
	}
}

func (s *scratch) close() {
	if s == nil {
		return
	}
	s.repo.Close()
	os.RemoveAll(s.dir)
	s.lock.Close()
	s.infs.close()
}

// objectPath is where the scratch repository keeps object c's .filez.
func (s *scratch) objectPath(c object.Checksum) string {
	hex := c.String()
	return filepath.Join(s.dir, "repo", "objects", hex[:2], hex[2:]+".filez")
}

// WriteFilez implements transfer.FilezTxn. Into an archive repository the
// .filez is stored as it is, once validated; into any other, it is
// validated the same way while its content stream goes to libostree's
// checksum-verifying write.
func (t *txn) WriteFilez(c object.Checksum, r io.Reader, size uint64) error {
	if t.repo.Mode() != wire.ModeArchive {
		return t.writeFilezInflated(c, r, size)
	}
	sc, err := t.scratch()
	if err != nil {
		return err
	}
	// The scratch repository is private: the object is written under its
	// final name (a small one once validated, a large one as it is
	// validated), and removed once imported or refused.
	path := sc.objectPath(c)
	if err := sc.ensureDir(filepath.Dir(path)); err != nil {
		return err
	}
	defer os.Remove(path)
	// Inflated with zlib, as libostree reads it (and faster than
	// compress/flate); the rules are ostreefile's either way.
	inf, err := sc.infs.get()
	if err != nil {
		return err
	}
	var sum object.Checksum
	if size <= filezInMemory {
		sum, err = writeFilezBuffered(path, r, size, inf)
	} else {
		sum, err = writeFilezStreamed(path, r, size, inf)
	}
	sc.infs.put(inf)
	if err != nil {
		return fmt.Errorf("object %s.filez: %w", c, err)
	}
	if sum != c {
		return fmt.Errorf("object %s.filez: its content hashes to %s", c, sum)
	}
	return t.t.ImportObject(sc.repo, object.Name{Checksum: c, Type: object.File}, true)
}

// filezInMemory is the largest .filez WriteFilez validates in memory and
// then writes to its scratch file in one write(2); a larger one is written
// as it is validated.
const filezInMemory = 1 << 20

// writeFilezBuffered reads a .filez of size bytes from r, validates it and
// only then writes it to a new file at path: four system calls for the
// file, without an os.File (whose poller registration costs five more).
func writeFilezBuffered(path string, r io.Reader, size uint64, inf ostreefile.RawInflater) (object.Checksum, error) {
	var sum object.Checksum
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return sum, err
	}
	sum, err := ostreefile.ValidateFilezWith(bytes.NewReader(buf), size, inf)
	if err != nil {
		return sum, err
	}
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return sum, &os.PathError{Op: "open", Path: path, Err: err}
	}
	for b := buf; len(b) > 0 && err == nil; {
		var n int
		n, err = unix.Write(fd, b)
		b = b[n:]
	}
	if err == nil {
		err = unix.Fchmod(fd, 0o644) // whatever the umask
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return sum, &os.PathError{Op: "write", Path: path, Err: err}
	}
	return sum, nil
}

// writeFilezStreamed writes a .filez of size bytes from r to a new file at
// path as it validates it.
func writeFilezStreamed(path string, r io.Reader, size uint64, inf ostreefile.RawInflater) (object.Checksum, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return object.Checksum{}, err
	}
	sum, verr := ostreefile.ValidateFilezWith(io.TeeReader(r, f), size, inf)
	if err := f.Chmod(0o644); err != nil && verr == nil {
		verr = err
	}
	if err := f.Close(); err != nil && verr == nil {
		verr = err
	}
	return sum, verr
}

// ensureDir makes an objects/XX directory of the scratch repository once.
func (s *scratch) ensureDir(dir string) error {
	if _, ok := s.dirs.Load(dir); ok {
		return nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	s.dirs.Store(dir, true)
	return nil
}

// scratch makes the transaction's scratch repository on first use.
func (t *txn) scratch() (*scratch, error) {
	t.scratchOnce.Do(func() {
		t.sc, t.scErr = newScratch(t.repo.r.Path())
	})
	return t.sc, t.scErr
}

// writeFilezInflated is WriteFilez into a repository that does not store
// .filez: the content stream ValidateFilezOpts checks is written through
// the transaction as it is inflated. libostree verifies the checksum of
// what it writes; a .filez that breaks a rule after its content (bytes
// after the deflate stream, say) fails the push all the same.
func (t *txn) writeFilezInflated(c object.Checksum, r io.Reader, size uint64) error {
	inf, err := libostree.NewInflater()
	if err != nil {
		return err
	}
	defer inf.Close()
	var (
		pw   *io.PipeWriter
		done = make(chan error, 1)
	)
	sum, verr := ostreefile.ValidateFilezOpts(r, size, ostreefile.FilezOptions{
		Inflater: inf,
		Content: func(streamLen uint64) (io.Writer, error) {
			pr, w := io.Pipe()
			pw = w
			go func() {
				err := t.t.WriteContent(c, pr, streamLen)
				// Whatever is still written now fails, so the
				// validation does not wait on a reader that is gone.
				pr.CloseWithError(errContentWritten(err))
				done <- err
			}()
			return w, nil
		},
	})
	if pw == nil {
		if verr == nil {
			verr = errors.New("no content stream")
		}
		return fmt.Errorf("object %s.filez: %w", c, verr)
	}
	if verr == nil && sum != c {
		verr = fmt.Errorf("its content hashes to %s", sum)
	}
	pw.CloseWithError(verr)
	werr := <-done
	switch {
	case verr != nil && !errors.Is(verr, errWritten):
		return fmt.Errorf("object %s.filez: %w", c, verr)
	case werr != nil:
		return fmt.Errorf("object %s.filez: %w", c, werr)
	}
	return nil
}

// errWritten is what a content writer sees once libostree stopped reading.
var errWritten = errors.New("libostree stopped reading the content stream")

func errContentWritten(err error) error {
	if err != nil {
		return fmt.Errorf("%w: %v", errWritten, err)
	}
	return errWritten
}
