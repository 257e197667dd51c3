package libostree

// #include "shim.h"
import "C"

import (
	"fmt"
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

// IncompleteError says that a commit lacks an object it needs.
type IncompleteError struct {
	Commit  object.Checksum
	Missing object.Name // zero when libostree did not say which
	Err     error       // libostree's error, when it stopped the walk
}

func (e *IncompleteError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("commit %s is incomplete: %v", e.Commit, e.Err)
	}
	return fmt.Sprintf("commit %s is incomplete: object %s is missing", e.Commit, e.Missing)
}

func (e *IncompleteError) Unwrap() error { return e.Err }

// CheckComplete walks the tree of commit c and checks that every object it
// needs is present (in the repository or staged in its open transaction).
// It returns an *IncompleteError when one is missing. Parents are not
// checked: a commit is complete without its history. A commit marked
// partial is checked as strictly as any other (libostree's own traverse
// skips its missing directories).
func (r *Repo) CheckComplete(c object.Checksum) error {
	return r.CheckCompleteSince(c, object.Zero)
}

// CheckCompleteSince is CheckComplete trusting base, a complete commit of
// the repository (zero: none), for what is provably reachable from it (see
// ReachableSince): only the directories that changed since base are read,
// and only the objects they list that base's do not are looked for. base
// must not be a commit whose completeness is in question.
func (r *Repo) CheckCompleteSince(c, base object.Checksum) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	var cs cstrs
	defer cs.free()
	var missing C.gboolean
	var name C.opush_name
	var gerr *C.GError
	var cbase *C.char
	if !base.IsZero() {
		cbase = cs.add(base.String())
	}
	ok := C.opush_check_complete_since(r.ptr, cs.add(c.String()), cbase, &missing, &name, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		err := wrap(gerr, "checking commit %s", c)
		if missing != 0 {
			return &IncompleteError{Commit: c, Err: err}
		}
		return err
	}
	if missing != 0 {
		return &IncompleteError{Commit: c, Missing: nameFromC(&name)}
	}
	return nil
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

func nameFromC(n *C.opush_name) object.Name {
	var out object.Name
	out.Type = object.Type(n._type)
	copy(out.Checksum[:], C.GoBytes(unsafe.Pointer(&n.csum[0]), 32))
	return out
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
