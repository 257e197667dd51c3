package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/ostree-push/ostree-push/internal/bufpool"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/ostreefile"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// The .filez receive path. A file object received as .filez bytes is
// validated strictly in one pass (pkg/ostreefile: libostree's own check of
// a .filez lets four kinds of corruption through), inflating with zlib as
// libostree reads it, and checked against its name. Then:
//
//   - into an archive repository the .filez is written as it is straight
//     into the transaction's staging directory, under XX/REST.filez, where
//     libostree's own write would have put it: the transaction's commit
//     moves it into objects/ with the objects libostree staged itself. It
//     is written under a temporary name at the top of the staging directory
//     (ostree-push-tmp-*) and renamed into XX/ only once whole and valid:
//     libostree moves only XX/ entries, and a staging directory taken up
//     after a crash keeps only XX/ entries with object names (staging.go),
//     so a receiver killed mid-write leaves nothing a later push could
//     make visible. An object the repository has, committed or staged, is
//     checked but not written again (haveFilez);
//   - into any other, its content stream goes to libostree's write: a
//     small object's (up to contentInMemory) once validated, without
//     libostree hashing it again (Txn.WriteContentTrusted); a larger one's
//     as it is inflated, through libostree's checksum-verifying write.

var (
	_ transfer.FilezTxn      = (*txn)(nil)
	_ transfer.FilezBytesTxn = (*txn)(nil)
)

// stagedTempPrefix names an object being written into the staging
// directory, before it is renamed into its XX/ directory.
const stagedTempPrefix = "ostree-push-tmp-"

// stager writes objects into a transaction's staging directory.
type stager struct {
	dir  string   // the staging directory libostree holds
	dirs sync.Map // XX directories known to exist
	seq  atomic.Uint64
}

// WriteFilez implements transfer.FilezTxn for a .filez read from r (one
// too large for the receiver to hold: it is written as it is validated).
func (t *txn) WriteFilez(c object.Checksum, r io.Reader, size uint64) error {
	if t.repo.r.Mode() != wire.ModeArchive {
		return t.writeFilezInflated(c, r, size)
	}
	have, err := t.haveFilez(c)
	switch {
	case err != nil:
	case have:
		// Checked all the same, not written: what the repository has
		// stays as it is, whatever bytes come for it.
		err = t.checkFilez(c, r, size)
	default:
		err = t.stage.write(c, func(w io.Writer) error { return t.checkFilez(c, io.TeeReader(r, w), size) })
	}
	if err != nil {
		return fmt.Errorf("object %s.filez: %w", c, err)
	}
	return nil
}

// WriteFilezBytes implements transfer.FilezBytesTxn: WriteFilez of a
// .filez the receiver holds whole, validated before anything is written.
func (t *txn) WriteFilezBytes(c object.Checksum, data []byte) error {
	if t.repo.r.Mode() != wire.ModeArchive {
		return t.writeFilezBytesInflated(c, data)
	}
	err := t.checkFilez(c, bytes.NewReader(data), uint64(len(data)))
	var have bool
	if err == nil {
		have, err = t.haveFilez(c)
	}
	if err == nil && !have {
		err = t.stage.writeBytes(c, data)
	}
	if err != nil {
		return fmt.Errorf("object %s.filez: %w", c, err)
	}
	return nil
}

// checkFilez validates the .filez of size bytes read from r strictly,
// inflating it with one of the repository's zlib inflaters, and checks
// that it hashes to c.
func (t *txn) checkFilez(c object.Checksum, r io.Reader, size uint64) error {
	return t.repo.CheckFilez(c, r, size)
}

// headerRule is what the repository's mode asks of a file object's header
// beyond ostreefile's rules: in bare and bare-split-xattrs repositories,
// which store xattrs as the filesystem's, libostree's canonical xattr order
// (ostreefile.CheckXattrOrder); nil for the others, which keep the header
// as it is.
func (t *txn) headerRule() func(*ostreefile.FileHeader) error {
	switch t.repo.r.Mode() {
	case wire.ModeBare, wire.ModeBareSplitXattrs:
		return ostreefile.CheckXattrOrder
	}
	return nil
}

// haveFilez tells whether the repository has .filez object c, committed
// or staged in this transaction: it is then not written again (as
// libostree's own writes do not), so that valid bytes deflated another way
// never replace what readers may be serving.
func (t *txn) haveFilez(c object.Checksum) (bool, error) {
	hex := c.String()
	rel := filepath.Join(hex[:2], hex[2:]+".filez")
	for _, p := range []string{filepath.Join(t.stage.dir, rel), filepath.Join(t.repo.r.Path(), "objects", rel)} {
		var st unix.Stat_t
		switch err := unix.Fstatat(unix.AT_FDCWD, p, &st, unix.AT_SYMLINK_NOFOLLOW); {
		case err == nil:
			return true, nil
		case err != unix.ENOENT:
			return false, &os.PathError{Op: "stat", Path: p, Err: err}
		}
	}
	return false, nil
}

// contentInMemory is the largest content stream (header and inflated
// data) WriteFilezBytes inflates into memory to write once validated; a
// larger one is written as it is inflated (writeFilezInflated).
const contentInMemory = 4 << 20

// maxDeflateRatio bounds what deflate makes of each input byte (a
// length-258 match in under two bits: about 1032 to 1).
const maxDeflateRatio = 1032

// errContentTooLarge stops a validation whose content stream is over
// contentInMemory, to start again streaming.
var errContentTooLarge = errors.New("content stream too large to hold")

// writeFilezBytesInflated is WriteFilezBytes into a repository that does
// not store .filez: the content stream is inflated into memory, and
// written without libostree hashing it once it has passed every rule and
// hashes to c (a stream over contentInMemory goes writeFilezInflated's way).
func (t *txn) writeFilezBytesInflated(c object.Checksum, data []byte) error {
	inf, err := t.repo.infs.get()
	if err != nil {
		return err
	}
	defer t.repo.infs.put(inf)
	var content []byte
	defer func() { bufpool.Put(content) }()
	sum, err := ostreefile.ValidateFilezOpts(bytes.NewReader(data), uint64(len(data)), ostreefile.FilezOptions{
		Inflater: inf,
		Header:   t.headerRule(),
		Content: func(streamLen uint64) (io.Writer, error) {
			if streamLen > contentInMemory {
				return nil, errContentTooLarge
			}
			// Room for what the deflate stream can make, at most
			// streamLen: what the header declares costs nothing
			// before the data bears it out (a 36-byte object may
			// declare 4 MiB).
			hint := streamLen
			if most := uint64(len(data))*maxDeflateRatio + 4096; hint > most {
				hint = most
			}
			content = bufpool.Get(int(hint))[:0]
			return (*appender)(&content), nil
		},
	})
	switch {
	case errors.Is(err, errContentTooLarge):
		return t.writeFilezInflated(c, bytes.NewReader(data), uint64(len(data)))
	case err != nil:
		return fmt.Errorf("object %s.filez: %w", c, err)
	case sum != c:
		return fmt.Errorf("object %s.filez: its content hashes to %s", c, sum)
	}
	return t.t.WriteContentTrusted(c, content)
}

// appender is an io.Writer that appends to a slice (ValidateFilezOpts
// writes no more than the stream length it announced).
type appender []byte

func (a *appender) Write(p []byte) (int, error) {
	*a = append(*a, p...)
	return len(p), nil
}

// writeBytes stages object c, a .filez of data.
func (st *stager) writeBytes(c object.Checksum, data []byte) error {
	return st.write(c, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// write stages .filez object c: fill writes it into a new file under a
// temporary name, which is renamed into c's XX/ directory only when fill
// and the file's close succeeded, and removed otherwise. The file is a bare
// descriptor, not an *os.File: open, write, close and rename for a small
// object.
func (st *stager) write(c object.Checksum, fill func(w io.Writer) error) error {
	hex := c.String()
	sub := filepath.Join(st.dir, hex[:2])
	if _, ok := st.dirs.Load(hex[:2]); !ok {
		if err := os.Mkdir(sub, 0o775); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		st.dirs.Store(hex[:2], true)
	}
	tmp := filepath.Join(st.dir, stagedTempPrefix+strconv.FormatUint(st.seq.Add(1), 10))
	fd, err := unix.Open(tmp, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return &os.PathError{Op: "open", Path: tmp, Err: err}
	}
	err = fill(fdWriter{fd, tmp})
	if err == nil && umaskHides0644 {
		if err = unix.Fchmod(fd, 0o644); err != nil {
			err = &os.PathError{Op: "chmod", Path: tmp, Err: err}
		}
	}
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: tmp, Err: cerr}
	}
	if err == nil {
		// Never over an object already staged (the first of two
		// writes of one object stays); unix, not os.Rename, which first
		// looks whether the target is a directory: one lstat(2) per
		// object.
		dst := filepath.Join(sub, hex[2:]+".filez")
		rerr := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
		if rerr == unix.EINVAL || rerr == unix.ENOSYS {
			rerr = unix.Rename(tmp, dst) // a filesystem without RENAME_NOREPLACE
		}
		switch {
		case rerr == unix.EEXIST:
			os.Remove(tmp)
		case rerr != nil:
			err = &os.LinkError{Op: "rename", Old: tmp, New: dst, Err: rerr}
		}
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// fdWriter writes to a file descriptor, the file at path.
type fdWriter struct {
	fd   int
	path string
}

func (w fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(w.fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &os.PathError{Op: "write", Path: w.path, Err: err}
		}
		n += m
	}
	return n, nil
}

// umaskHides0644 tells whether the process's umask takes bits of 0644
// away, so that a staged object needs a chmod to have libostree's mode.
// Read once, at start, before any goroutine creates files.
var umaskHides0644 = func() bool {
	old := unix.Umask(0o022)
	unix.Umask(old)
	return old&0o644 != 0
}()

// writeFilezInflated is WriteFilez into a repository that does not store
// .filez: the content stream ValidateFilezOpts checks is written through
// the transaction as it is inflated. libostree verifies the checksum of
// what it writes; a .filez that breaks a rule after its content (bytes
// after the deflate stream, say) fails the push all the same.
func (t *txn) writeFilezInflated(c object.Checksum, r io.Reader, size uint64) error {
	inf, err := t.repo.infs.get()
	if err != nil {
		return err
	}
	defer t.repo.infs.put(inf)
	var (
		pw   *io.PipeWriter
		done = make(chan error, 1)
	)
	sum, verr := ostreefile.ValidateFilezOpts(r, size, ostreefile.FilezOptions{
		Inflater: inf,
		Header:   t.headerRule(),
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
