package libostree

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// glibSerialize parses text (GVariant text format) as a value of type typ
// with g_variant_parse and returns its serialization, g_variant_get_data
// copied into Go memory: GLib's bytes, in the machine's byte order, that
// the tests of pkg/gvariant's output are compared with. Nothing else uses
// it.
func glibSerialize(typ, text string) ([]byte, error) {
	var cs cstrs
	defer cs.free()
	ctyp, ctext := cs.add(typ), cs.add(text)
	if C.g_variant_type_string_is_valid(ctyp) == 0 {
		return nil, fmt.Errorf("g_variant_parse: %q is not a GVariant type string", typ)
	}
	gt := C.g_variant_type_new(ctyp)
	defer C.g_variant_type_free(gt)
	var gerr *C.GError
	v := C.g_variant_parse(gt, ctext, nil, nil, &gerr)
	if v == nil {
		return nil, wrap(gerr, "g_variant_parse %s %q", typ, text)
	}
	defer C.g_variant_unref(v)
	size := C.g_variant_get_size(v)
	data := C.g_variant_get_data(v)
	if size == 0 || data == nil {
		return []byte{}, nil
	}
	return C.GoBytes(unsafe.Pointer(data), C.int(size)), nil
}

// glibDirtree reads data as an untrusted dirtree, as libostree would:
// ok when it is in normal form with a valid structure
// (g_variant_is_normal_form, ostree_validate_structureof_dirtree), and
// then GLib's text of it (g_variant_print), which the tests compare with
// pkg/walk's reading of the same bytes.
func glibDirtree(data []byte) (ok bool, text string) {
	bytes := C.g_bytes_new(C.gconstpointer(bytesPtr(data)), C.gsize(len(data)))
	defer C.g_bytes_unref(bytes)
	v := C.g_variant_ref_sink(C.g_variant_new_from_bytes(C.OSTREE_TREE_GVARIANT_FORMAT, bytes, 0))
	defer C.g_variant_unref(v)
	runtime.KeepAlive(data)
	if C.g_variant_is_normal_form(v) == 0 {
		return false, ""
	}
	var gerr *C.GError
	if C.ostree_validate_structureof_dirtree(v, &gerr) == 0 {
		C.g_error_free(gerr)
		return false, ""
	}
	p := C.g_variant_print(v, 0)
	defer C.g_free(C.gpointer(p))
	return true, C.GoString(p)
}
