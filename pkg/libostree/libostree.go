package libostree

/*
#cgo pkg-config: ostree-1
#include "shim.h"
*/
import "C"

import (
	"sync/atomic"
	"unsafe"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// BuildVersion is the libostree version this package was compiled against.
const BuildVersion = C.OSTREE_VERSION_S

// live counts open wrappers (repositories and content readers).
var live atomic.Int64

// Live returns how many wrappers are open: repositories and content readers
// not yet closed. Tests check that it is zero at the end.
func Live() int64 { return live.Load() }

// cstr is C.CString with a single place to free it.
type cstrs []*C.char

func (c *cstrs) add(s string) *C.char {
	p := C.CString(s)
	*c = append(*c, p)
	return p
}

// checksum is add of c's hex form, or NULL for the zero checksum (which
// libostree's ref calls take as "delete the ref").
func (c *cstrs) checksum(sum object.Checksum) *C.char {
	if sum.IsZero() {
		return nil
	}
	return c.add(sum.String())
}

// optional is add of s, or NULL for "".
func (c *cstrs) optional(s string) *C.char {
	if s == "" {
		return nil
	}
	return c.add(s)
}

// strv is add of each of ss, in a NULL-terminated array (a GLib strv)
// that c owns too.
func (c *cstrs) strv(ss []string) **C.char {
	arr := (**C.char)(C.calloc(C.size_t(len(ss)+1), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	*c = append(*c, (*C.char)(unsafe.Pointer(arr)))
	ptrs := unsafe.Slice(arr, len(ss)+1)
	for i, s := range ss {
		ptrs[i] = c.add(s)
	}
	return arr
}

func (c cstrs) free() {
	for _, p := range c {
		C.free(unsafe.Pointer(p))
	}
}

// goStrv copies a NULL-terminated C string array into Go and frees it.
func goStrv(v **C.char) []string {
	if v == nil {
		return nil
	}
	defer C.g_strfreev(v)
	var out []string
	for p := unsafe.Pointer(v); ; p = unsafe.Add(p, unsafe.Sizeof(v)) {
		s := *(**C.char)(p)
		if s == nil {
			break
		}
		out = append(out, C.GoString(s))
	}
	return out
}

// The object vocabulary is shared with pure-Go packages through pkg/object;
// these aliases let callers of this package name it from here.
type (
	// Checksum is an object's SHA-256 ([32]byte): ParseChecksum, String.
	Checksum = object.Checksum
	// ObjectType is an OstreeObjectType: File, DirTree, DirMeta, Commit,
	// CommitMeta.
	ObjectType = object.Type
	// ObjectName is an object's checksum and type.
	ObjectName = object.Name
)

// ParseChecksum parses a 64-character hex checksum.
func ParseChecksum(s string) (Checksum, error) { return object.ParseChecksum(s) }
