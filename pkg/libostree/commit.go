package libostree

// #include "shim.h"
import "C"

import (
	"runtime"
	"time"
	"unsafe"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// Commit is what ostree-push reads from a commit object.
type Commit struct {
	Checksum  object.Checksum
	Parent    object.Checksum // object.Zero when the commit has no parent
	Timestamp time.Time
	Subject   string
	Body      string
	RootTree  object.Checksum // the root dirtree
	RootMeta  object.Checksum // the root dirmeta
	// Partial is true when the repo marks the commit as partially
	// downloaded (a commitpartial file): some of its objects may be missing.
	Partial bool
}

// LoadCommit loads a commit object. A missing commit is an error for
// which IsNotFound is true.
func (r *Repo) LoadCommit(c object.Checksum) (*Commit, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	var cs cstrs
	defer cs.free()
	var parent, tree, meta object.Checksum
	var hasParent, partial C.gboolean
	var ts C.guint64
	var subject, body *C.char
	var gerr *C.GError
	ok := C.opush_load_commit(r.ptr, cs.add(c.String()),
		(*C.guint8)(unsafe.Pointer(&parent[0])), &hasParent,
		(*C.guint8)(unsafe.Pointer(&tree[0])), (*C.guint8)(unsafe.Pointer(&meta[0])),
		&ts, &subject, &body, &partial, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return nil, wrap(gerr, "loading commit %s", c)
	}
	defer C.g_free(C.gpointer(subject))
	defer C.g_free(C.gpointer(body))
	if hasParent == 0 {
		parent = object.Zero
	}
	return &Commit{
		Checksum:  c,
		Parent:    parent,
		Timestamp: time.Unix(int64(ts), 0).UTC(),
		Subject:   C.GoString(subject),
		Body:      C.GoString(body),
		RootTree:  tree,
		RootMeta:  meta,
		Partial:   partial != 0,
	}, nil
}

// ReadCommitMeta returns a commit's detached metadata (where signatures
// live) as serialized a{sv} bytes; ok is false when it has none.
func (r *Repo) ReadCommitMeta(c object.Checksum) (data []byte, ok bool, err error) {
	if err := r.checkOpen(); err != nil {
		return nil, false, err
	}
	var cs cstrs
	defer cs.free()
	var p *C.guint8
	var n C.gsize
	var gerr *C.GError
	res := C.opush_read_commitmeta(r.ptr, cs.add(c.String()), &p, &n, &gerr)
	runtime.KeepAlive(r)
	if res == 0 {
		return nil, false, wrap(gerr, "reading detached metadata of %s", c)
	}
	if p == nil {
		return nil, false, nil
	}
	return takeBytes(p, n), true, nil
}

// takeBytes copies g_malloc'ed bytes into Go and frees them.
func takeBytes(p *C.guint8, n C.gsize) []byte {
	defer C.g_free(C.gpointer(p))
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

// MarkCommitPartial marks commit c as partial (a commitpartial file under
// state/), or clears the mark. It takes effect at once, outside any
// transaction.
func (r *Repo) MarkCommitPartial(c object.Checksum, partial bool) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	var cs cstrs
	defer cs.free()
	var p C.gboolean
	if partial {
		p = 1
	}
	var gerr *C.GError
	ok := C.opush_mark_partial(r.ptr, cs.add(c.String()), p, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return wrap(gerr, "marking commit %s partial=%v", c, partial)
	}
	return nil
}
