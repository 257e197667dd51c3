package libostree

// #include "shim.h"
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// Txn is a libostree transaction on a Repo. Objects written through it are
// staged in the repo's tmp/ and become visible in objects/, together with
// the refs set through it, only when Commit succeeds. Abort (or Close of the
// Repo) leaves the repository's objects and refs as they were; libostree
// keeps the staged objects so that a later transaction can resume them.
//
// The write methods and SetRef may be called from several goroutines at
// once; Commit and Abort must not race with a write still running.
type Txn struct {
	repo    *Repo
	staging string // the staging directory libostree holds, or ""

	mu   sync.Mutex // guards done; held through SetRef, Commit and Abort
	done bool
}

// Stats is what a committed transaction reports.
type Stats struct {
	MetadataObjectsTotal   uint64
	MetadataObjectsWritten uint64
	ContentObjectsTotal    uint64
	ContentObjectsWritten  uint64
	ContentBytesWritten    uint64
}

// ErrTransactionDone is returned by a Txn that was committed or aborted.
var ErrTransactionDone = errors.New("libostree: transaction already committed or aborted")

// PrepareTransaction starts a transaction. resumed is true when libostree
// picked up the staging directory of an earlier, interrupted transaction
// (its objects count as present).
func (r *Repo) PrepareTransaction() (t *Txn, resumed bool, err error) {
	if err := r.checkOpen(); err != nil {
		return nil, false, err
	}
	if r.txn != nil {
		return nil, false, errors.New("libostree: a transaction is already open on this repository")
	}
	tmp := r.tmpDir()
	before := openStagingDirs(tmp)
	var res C.gboolean
	var gerr *C.GError
	ok := C.ostree_repo_prepare_transaction(r.ptr, &res, nil, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return nil, false, wrap(gerr, "preparing transaction in %s", r.path)
	}
	r.txn = &Txn{repo: r}
	for dir := range openStagingDirs(tmp) {
		if !before[dir] {
			r.txn.staging = dir
		}
	}
	return r.txn, res != 0, nil
}

// StagingDir is the directory under the repository's tmp/ in which
// libostree stages the transaction's objects (tmp/staging-BOOTID-XXXXXX),
// which it keeps locked until the transaction ends: found as the directory
// the process opened while it prepared the transaction (libostree has no
// call that names it). "" when it could not be told.
func (t *Txn) StagingDir() string { return t.staging }

// tmpDir is the repository's tmp/ with symbolic links resolved, as
// /proc/self/fd shows the files under it; "" when it cannot be resolved.
func (r *Repo) tmpDir() string {
	abs, err := filepath.Abs(filepath.Join(r.path, "tmp"))
	if err != nil {
		return ""
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return ""
	}
	return abs
}

// openStagingDirs lists the staging directories under tmp that this
// process has open, as /proc/self/fd shows them.
func openStagingDirs(tmp string) map[string]bool {
	dirs := map[string]bool{}
	if tmp == "" {
		return dirs
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return dirs
	}
	prefix := tmp + "/staging-"
	for _, fd := range fds {
		link, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err != nil || !strings.HasPrefix(link, prefix) || strings.ContainsRune(link[len(prefix):], '/') || strings.HasSuffix(link, "-lock") {
			continue
		}
		if fi, err := os.Stat(link); err == nil && fi.IsDir() {
			dirs[link] = true
		}
	}
	return dirs
}

// Done reports whether the transaction was committed or aborted.
func (t *Txn) Done() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done
}

// Repo returns the repository the transaction writes to.
func (t *Txn) Repo() *Repo { return t.repo }

func (t *Txn) check() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return ErrTransactionDone
	}
	return nil
}

// WriteMetadata writes a metadata object (commit, dirtree or dirmeta) from
// untrusted bytes. The bytes must hash to name's checksum, or nothing is
// written and an error is returned. For CommitMeta, the checksum names the
// commit and the bytes are its detached metadata (a{sv} in normal form).
func (t *Txn) WriteMetadata(name object.Name, data []byte) error {
	if err := t.check(); err != nil {
		return err
	}
	if !name.Type.IsMeta() {
		return fmt.Errorf("writing %s: not a metadata object", name)
	}
	var cs cstrs
	defer cs.free()
	var p *C.guint8
	if len(data) > 0 {
		p = (*C.guint8)(unsafe.Pointer(&data[0]))
	}
	var gerr *C.GError
	ok := C.opush_write_metadata(t.repo.ptr, C.int(name.Type), cs.add(name.Checksum.String()),
		p, C.gsize(len(data)), &gerr)
	runtime.KeepAlive(data)
	runtime.KeepAlive(t)
	if ok == 0 {
		return wrap(gerr, "writing %s", name)
	}
	return nil
}

// inlineContentMax is the largest content stream WriteContent buffers in
// memory; larger ones are streamed to libostree through a pipe.
const inlineContentMax = 1 << 20

// WriteContent writes a content (file) object from r, which must yield
// exactly length bytes of libostree's content stream (header and data). The
// stream must hash to csum and end where its header says, or nothing is
// written and an error is returned. Memory use stays bounded whatever the
// length.
func (t *Txn) WriteContent(csum object.Checksum, r io.Reader, length uint64) error {
	if err := t.check(); err != nil {
		return err
	}
	// Check the header before libostree sees it: it trusts the declared
	// header length enough to compute the data length from it, and it
	// ignores any data after a symlink's header.
	var head [8 + 12]byte
	if length < uint64(len(head)) {
		return fmt.Errorf("content object %s: stream of %d bytes is shorter than a file header", csum, length)
	}
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return fmt.Errorf("content object %s: %w", csum, noEOF(err))
	}
	hlen := uint64(binary.BigEndian.Uint32(head[:4]))
	if hlen < 12 || hlen > length-8 {
		return fmt.Errorf("content object %s: header length %d does not fit a stream of %d bytes", csum, hlen, length)
	}
	// The header is (uuuusa(ayay)): uid, gid, mode, rdev big-endian first.
	mode := binary.BigEndian.Uint32(head[8+8 : 8+12])
	if mode&syscall.S_IFMT == syscall.S_IFLNK && length != 8+hlen {
		return fmt.Errorf("content object %s: a symlink carries %d bytes of data", csum, length-8-hlen)
	}
	if length <= inlineContentMax {
		buf := make([]byte, length)
		copy(buf, head[:])
		if _, err := io.ReadFull(r, buf[len(head):]); err != nil {
			return fmt.Errorf("content object %s: %w", csum, noEOF(err))
		}
		return t.writeContent(csum, buf, -1, length)
	}
	return t.writeContentPiped(csum, io.MultiReader(bytesReader(head[:]), r), length)
}

func (t *Txn) writeContentPiped(csum object.Checksum, r io.Reader, length uint64) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	copyErr := make(chan error, 1)
	go func() {
		_, err := io.CopyN(pw, r, int64(length))
		pw.Close()
		copyErr <- err
	}()
	werr := t.writeContent(csum, nil, int(pr.Fd()), length)
	pr.Close() // unblocks the copier if libostree stopped reading early
	cerr := <-copyErr
	if cerr != nil && werr == nil {
		return fmt.Errorf("content object %s: %w", csum, noEOF(cerr))
	}
	if werr != nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) && !isBrokenPipe(cerr) {
		// The input failed first; that is the more useful error.
		return fmt.Errorf("content object %s: %w", csum, noEOF(cerr))
	}
	runtime.KeepAlive(pr)
	return werr
}

func (t *Txn) writeContent(csum object.Checksum, data []byte, fd int, length uint64) error {
	var cs cstrs
	defer cs.free()
	var p *C.guint8
	if data != nil {
		p = (*C.guint8)(unsafe.Pointer(&data[0]))
	}
	var gerr *C.GError
	ok := C.opush_write_content(t.repo.ptr, cs.add(csum.String()), p, C.int(fd), C.guint64(length), &gerr)
	runtime.KeepAlive(data)
	runtime.KeepAlive(t)
	if ok == 0 {
		return wrap(gerr, "writing content object %s", csum)
	}
	return nil
}

// WriteContentTrusted writes a content (file) object from stream, the
// whole of libostree's content stream (header and data) in memory, under
// the name csum without hashing it: the caller has checked that stream
// hashes to csum and that its header is in normal form (as
// ostreefile.ValidateFilezOpts does for the stream it hands out), which
// saves libostree's own SHA-256 (GLib's, several times slower than Go's).
// Nothing is written when the repository or the transaction has the object.
func (t *Txn) WriteContentTrusted(csum object.Checksum, stream []byte) error {
	if err := t.check(); err != nil {
		return err
	}
	if len(stream) < 8+12 {
		return fmt.Errorf("content object %s: stream of %d bytes is shorter than a file header", csum, len(stream))
	}
	var cs cstrs
	defer cs.free()
	var gerr *C.GError
	ok := C.opush_write_content_trusted(t.repo.ptr, cs.add(csum.String()),
		(*C.guint8)(unsafe.Pointer(&stream[0])), C.guint64(len(stream)), &gerr)
	runtime.KeepAlive(stream)
	runtime.KeepAlive(t)
	if ok == 0 {
		return wrap(gerr, "writing content object %s", csum)
	}
	return nil
}

// CopyObject copies one object from src into the transaction, verifying
// its checksum as it is written: one crossing into C for the load and the
// write. Copying CommitMeta copies the commit's detached metadata, if any.
func (t *Txn) CopyObject(src *Repo, name object.Name) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := src.checkOpen(); err != nil {
		return err
	}
	if !name.Type.Valid() {
		return fmt.Errorf("copying %s: invalid object type", name)
	}
	var cs cstrs
	defer cs.free()
	var gerr *C.GError
	ok := C.opush_copy_object(t.repo.ptr, src.ptr, C.int(name.Type), cs.add(name.Checksum.String()), &gerr)
	runtime.KeepAlive(t)
	runtime.KeepAlive(src)
	if ok == 0 {
		return wrap(gerr, "copying %s", name)
	}
	return nil
}

// ImportObject imports one object from src with
// ostree_repo_import_object_from_with_trust. With trusted false libostree
// checks the object's checksum first; between two archive repositories on
// one filesystem it then links or copies the compressed .filez as it is,
// without recompressing.
func (t *Txn) ImportObject(src *Repo, name object.Name, trusted bool) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := src.checkOpen(); err != nil {
		return err
	}
	var cs cstrs
	defer cs.free()
	var ctrusted C.gboolean
	if trusted {
		ctrusted = 1
	}
	var gerr *C.GError
	ok := C.ostree_repo_import_object_from_with_trust(t.repo.ptr, src.ptr, C.OstreeObjectType(name.Type),
		cs.add(name.Checksum.String()), ctrusted, nil, &gerr)
	runtime.KeepAlive(t)
	runtime.KeepAlive(src)
	if ok == 0 {
		return wrap(gerr, "importing %s", name)
	}
	return nil
}

// SetRef stages a ref update in the transaction
// (ostree_repo_transaction_set_ref): Commit writes it after the objects.
// A zero checksum deletes the ref. A later update of the same ref
// replaces an earlier one.
func (t *Txn) SetRef(name string, c object.Checksum) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := ValidateRef(name); err != nil {
		return err
	}
	var cs cstrs
	defer cs.free()
	return t.locked(func() {
		C.ostree_repo_transaction_set_ref(t.repo.ptr, nil, cs.add(name), cs.checksum(c))
	})
}

// SetCollectionRef stages a collection ref update in the transaction
// (ostree_repo_transaction_set_collection_ref), as SetRef does.
func (t *Txn) SetCollectionRef(collectionID, name string, c object.Checksum) error {
	if err := t.check(); err != nil {
		return err
	}
	if collectionID == "" {
		return ValidateCollectionID(collectionID)
	}
	if err := validateRefName(collectionID, name); err != nil {
		return err
	}
	var cs cstrs
	defer cs.free()
	ref := C.OstreeCollectionRef{collection_id: cs.add(collectionID), ref_name: cs.add(name)}
	return t.locked(func() {
		C.ostree_repo_transaction_set_collection_ref(t.repo.ptr, &ref, cs.checksum(c))
	})
}

// locked runs f with t.mu held, unless the transaction is done.
func (t *Txn) locked(f func()) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return ErrTransactionDone
	}
	f()
	runtime.KeepAlive(t)
	return nil
}

// Commit ends the transaction with ostree_repo_commit_transaction: the
// staged objects are moved into objects/ (synced first, unless fsync is
// off), then the staged refs are written, one by one. On failure the
// transaction is aborted; objects may be in objects/ already, and some
// refs written.
func (t *Txn) Commit() (Stats, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return Stats{}, ErrTransactionDone
	}
	var st C.OstreeRepoTransactionStats
	var gerr *C.GError
	ok := C.ostree_repo_commit_transaction(t.repo.ptr, &st, nil, &gerr)
	runtime.KeepAlive(t)
	if ok == 0 {
		err := wrap(gerr, "committing transaction in %s", t.repo.path)
		// libostree leaves the transaction open on failure: abort it.
		t.abortLocked()
		return Stats{}, err
	}
	t.finish()
	return Stats{
		MetadataObjectsTotal:   uint64(st.metadata_objects_total),
		MetadataObjectsWritten: uint64(st.metadata_objects_written),
		ContentObjectsTotal:    uint64(st.content_objects_total),
		ContentObjectsWritten:  uint64(st.content_objects_written),
		ContentBytesWritten:    uint64(st.content_bytes_written),
	}, nil
}

// Abort ends the transaction without making anything visible. Aborting a
// finished transaction is harmless.
func (t *Txn) Abort() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.abortLocked()
}

// abortLocked is Abort with t.mu held.
func (t *Txn) abortLocked() error {
	if t.done {
		return nil
	}
	var gerr *C.GError
	ok := C.ostree_repo_abort_transaction(t.repo.ptr, nil, &gerr)
	runtime.KeepAlive(t)
	t.finish()
	if ok == 0 {
		return wrap(gerr, "aborting transaction in %s", t.repo.path)
	}
	return nil
}

// finish marks the transaction done (t.mu held).
func (t *Txn) finish() {
	t.done = true
	if t.repo.txn == t {
		t.repo.txn = nil
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
