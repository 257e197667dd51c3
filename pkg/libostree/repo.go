package libostree

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Mode is a repository mode, as in the repo's config ("archive", "bare", …).
type Mode string

// The repository modes libostree 2022.7 knows.
const (
	ModeBare            Mode = "bare"
	ModeArchive         Mode = "archive"
	ModeBareUser        Mode = "bare-user"
	ModeBareUserOnly    Mode = "bare-user-only"
	ModeBareSplitXattrs Mode = "bare-split-xattrs"
)

func (m Mode) toC() (C.OstreeRepoMode, error) {
	switch m {
	case ModeBare:
		return C.OSTREE_REPO_MODE_BARE, nil
	case ModeArchive:
		return C.OSTREE_REPO_MODE_ARCHIVE, nil
	case ModeBareUser:
		return C.OSTREE_REPO_MODE_BARE_USER, nil
	case ModeBareUserOnly:
		return C.OSTREE_REPO_MODE_BARE_USER_ONLY, nil
	case ModeBareSplitXattrs:
		return C.OSTREE_REPO_MODE_BARE_SPLIT_XATTRS, nil
	}
	return 0, fmt.Errorf("unknown repository mode %q", string(m))
}

func modeFromC(m C.OstreeRepoMode) Mode {
	switch m {
	case C.OSTREE_REPO_MODE_BARE:
		return ModeBare
	case C.OSTREE_REPO_MODE_ARCHIVE:
		return ModeArchive
	case C.OSTREE_REPO_MODE_BARE_USER:
		return ModeBareUser
	case C.OSTREE_REPO_MODE_BARE_USER_ONLY:
		return ModeBareUserOnly
	case C.OSTREE_REPO_MODE_BARE_SPLIT_XATTRS:
		return ModeBareSplitXattrs
	}
	return Mode(fmt.Sprintf("mode(%d)", int(m)))
}

// Repo is an open OSTree repository. Close it when done. A Repo may be used
// from several goroutines, as libostree allows (object writes into one
// transaction from many threads, for example); Close must not race with use.
// After Close, every method that reaches libostree returns ErrClosed (Mode
// and CollectionID return ""), and so do those of its Txn (ErrTransactionDone).
type Repo struct {
	ptr  *C.OstreeRepo
	path string
	txn  *Txn // the open transaction, if any
}

// ErrClosed is returned by methods of a Repo that was closed.
var ErrClosed = errors.New("libostree: repository is closed")

func newRepo(ptr *C.OstreeRepo, path string) *Repo {
	r := &Repo{ptr: ptr, path: path}
	live.Add(1)
	runtime.SetFinalizer(r, (*Repo).Close)
	return r
}

// Open opens the repository at path.
func Open(path string) (*Repo, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var gerr *C.GError
	ptr := C.ostree_repo_open_at(C.AT_FDCWD, cpath, nil, &gerr)
	if ptr == nil {
		return nil, wrap(gerr, "opening repository %s", path)
	}
	return newRepo(ptr, path), nil
}

// CreateOptions are the optional settings of a new repository.
type CreateOptions struct {
	// CollectionID, when set, is written to the repo's config
	// (core.collection-id).
	CollectionID string
}

// Create creates a repository at path (the directory may exist and be
// empty) with the given mode, and returns it open.
func Create(path string, mode Mode, opts *CreateOptions) (*Repo, error) {
	cmode, err := mode.toC()
	if err != nil {
		return nil, err
	}
	var cs cstrs
	defer cs.free()
	cpath := cs.add(path)
	var options *C.GVariant
	if opts != nil && opts.CollectionID != "" {
		if err := ValidateCollectionID(opts.CollectionID); err != nil {
			return nil, err
		}
		var builder C.GVariantBuilder
		C.g_variant_builder_init(&builder, C.G_VARIANT_TYPE_VARDICT)
		key := cs.add("collection-id")
		C.g_variant_builder_add_value(&builder, C.g_variant_new_dict_entry(
			C.g_variant_new_string(key),
			C.g_variant_new_variant(C.g_variant_new_string(cs.add(opts.CollectionID)))))
		options = C.g_variant_ref_sink(C.g_variant_builder_end(&builder))
		defer C.g_variant_unref(options)
	}
	var gerr *C.GError
	ptr := C.ostree_repo_create_at(C.AT_FDCWD, cpath, cmode, options, nil, &gerr)
	if ptr == nil {
		return nil, wrap(gerr, "creating %s repository %s", mode, path)
	}
	return newRepo(ptr, path), nil
}

// Close releases the repository. An open transaction is aborted first.
// Closing twice is harmless.
func (r *Repo) Close() error {
	if r.ptr == nil {
		return nil
	}
	var err error
	if r.txn != nil {
		err = r.txn.Abort()
	}
	runtime.SetFinalizer(r, nil)
	C.g_object_unref(C.gpointer(r.ptr))
	r.ptr = nil
	live.Add(-1)
	return err
}

// checkOpen is ErrClosed once the repository was closed: no method passes
// libostree a NULL or freed repository.
func (r *Repo) checkOpen() error {
	if r.ptr == nil {
		return ErrClosed
	}
	return nil
}

// Path returns the path the repository was opened or created at.
func (r *Repo) Path() string { return r.path }

// Mode returns the repository's mode ("" once closed).
func (r *Repo) Mode() Mode {
	if r.ptr == nil {
		return ""
	}
	m := C.ostree_repo_get_mode(r.ptr)
	runtime.KeepAlive(r)
	return modeFromC(m)
}

// CollectionID returns the repository's collection id, or "" when it has none.
func (r *Repo) CollectionID() string {
	if r.ptr == nil {
		return ""
	}
	p := C.ostree_repo_get_collection_id(r.ptr)
	defer runtime.KeepAlive(r)
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// ValidateRef checks a ref name as libostree does (ostree_validate_rev),
// on the whole name: a control character or invalid UTF-8 anywhere is
// refused first. (libostree's pattern ends in a '$' that matches before a
// final newline, so it takes "os/stable\n", and C would see a name cut at
// its first NUL.)
func ValidateRef(name string) error {
	if err := checkName("ref name", name); err != nil {
		return err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var gerr *C.GError
	if C.ostree_validate_rev(cname, &gerr) == 0 {
		return takeError(gerr)
	}
	return nil
}

// ValidateCollectionID checks a collection id as libostree does, on the
// whole id (see ValidateRef).
func ValidateCollectionID(id string) error {
	if err := checkName("collection ID", id); err != nil {
		return err
	}
	cid := C.CString(id)
	defer C.free(unsafe.Pointer(cid))
	var gerr *C.GError
	if C.ostree_validate_collection_id(cid, &gerr) == 0 {
		return takeError(gerr)
	}
	return nil
}

// checkName refuses a name holding a control character (0x00-0x1f, 0x7f)
// or invalid UTF-8, with the name escaped in the error.
func checkName(what, s string) error {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f {
			return fmt.Errorf("invalid %s \"%s\": control character \\x%02x at byte %d", what, escapeControl(s), b, i)
		}
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("invalid %s \"%s\": not valid UTF-8", what, escapeControl(s))
	}
	return nil
}

// escapeControl shows control characters and invalid bytes as \xNN, and
// a backslash as \\, leaving the rest as it is.
func escapeControl(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1, r < 0x20, r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r == '\\':
			b.WriteString("\\\\")
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// FsyncDisabled reports whether this handle skips fsync
// (ostree_repo_get_disable_fsync: core.fsync=false in the config, or
// SetFsyncDisabled); false once closed.
func (r *Repo) FsyncDisabled() bool {
	if r.ptr == nil {
		return false
	}
	off := C.ostree_repo_get_disable_fsync(r.ptr)
	runtime.KeepAlive(r)
	return off != 0
}

// SetFsyncDisabled switches fsync off or on for this handle only
// (ostree_repo_set_disable_fsync); the config is not changed.
func (r *Repo) SetFsyncDisabled(off bool) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	var coff C.gboolean
	if off {
		coff = 1
	}
	C.ostree_repo_set_disable_fsync(r.ptr, coff)
	runtime.KeepAlive(r)
	return nil
}

// LockShared takes a shared hold of libostree's repository lock
// (ostree_repo_lock_push), as a transaction holds it: `ostree prune`,
// which takes it exclusive, waits meanwhile. Release it with UnlockShared.
func (r *Repo) LockShared() error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	var gerr *C.GError
	ok := C.ostree_repo_lock_push(r.ptr, C.OSTREE_REPO_LOCK_SHARED, nil, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return wrap(gerr, "locking %s", r.path)
	}
	return nil
}

// UnlockShared releases a hold LockShared took (ostree_repo_lock_pop).
func (r *Repo) UnlockShared() error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	var gerr *C.GError
	ok := C.ostree_repo_lock_pop(r.ptr, C.OSTREE_REPO_LOCK_SHARED, nil, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return wrap(gerr, "unlocking %s", r.path)
	}
	return nil
}

// ConfigString returns a key of the repository's configuration as
// libostree read it when the repository was opened; ok is false when the
// key (or its group) is not there.
func (r *Repo) ConfigString(group, key string) (value string, ok bool, err error) {
	if err := r.checkOpen(); err != nil {
		return "", false, err
	}
	var cs cstrs
	defer cs.free()
	var gerr *C.GError
	v := C.g_key_file_get_string(C.ostree_repo_get_config(r.ptr), cs.add(group), cs.add(key), &gerr)
	runtime.KeepAlive(r)
	if v == nil {
		if gerr != nil && gerr.domain == C.g_key_file_error_quark() &&
			(gerr.code == C.G_KEY_FILE_ERROR_KEY_NOT_FOUND || gerr.code == C.G_KEY_FILE_ERROR_GROUP_NOT_FOUND) {
			C.g_error_free(gerr)
			return "", false, nil
		}
		return "", false, wrap(gerr, "reading %s.%s of the configuration of %s", group, key, r.path)
	}
	defer C.g_free(C.gpointer(v))
	return C.GoString(v), true, nil
}

// ConfigBool reads a boolean of the repository's config
// (ostree_repo_get_config, g_key_file_get_boolean): false when the key is
// absent or not a boolean.
func (r *Repo) ConfigBool(group, key string) (bool, error) {
	if err := r.checkOpen(); err != nil {
		return false, err
	}
	var cs cstrs
	defer cs.free()
	v := C.g_key_file_get_boolean(C.ostree_repo_get_config(r.ptr), cs.add(group), cs.add(key), nil)
	runtime.KeepAlive(r)
	return v != 0, nil
}
