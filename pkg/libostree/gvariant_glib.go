package libostree

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
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
