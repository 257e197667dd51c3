package libostree

/*
#cgo pkg-config: libdeflate
#include <stdlib.h>
#include <libdeflate.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Compressor makes raw deflate streams (RFC 1951) of whole buffers with
// libdeflate: several times faster than zlib at the same level, and about
// as small. Any inflater reads what it makes (libostree reads .filez
// objects with zlib). It has one owner, is not safe for concurrent use, and
// must be closed.
type Compressor struct {
	c *C.struct_libdeflate_compressor
}

var errCompressorClosed = errors.New("libostree: the Compressor is closed")

// NewCompressor returns a Compressor at level 1 (fastest) to 12 (smallest);
// 6 is zlib's default, and what libostree writes archive objects with.
func NewCompressor(level int) (*Compressor, error) {
	if level < 1 || level > 12 {
		return nil, fmt.Errorf("libostree: compression level %d is not between 1 and 12", level)
	}
	c := C.libdeflate_alloc_compressor(C.int(level))
	if c == nil {
		return nil, errors.New("libostree: libdeflate_alloc_compressor failed")
	}
	live.Add(1)
	d := &Compressor{c: c}
	runtime.SetFinalizer(d, (*Compressor).Close)
	return d, nil
}

// Bound is the most bytes Compress can make of n bytes.
func (d *Compressor) Bound(n int) int {
	if d.c == nil {
		return 0
	}
	b := int(C.libdeflate_deflate_compress_bound(d.c, C.size_t(n)))
	runtime.KeepAlive(d)
	return b
}

// Compress writes the raw deflate stream of in to out and returns its
// length. With len(out) at least Bound(len(in)) it always fits.
func (d *Compressor) Compress(in, out []byte) (int, error) {
	if d.c == nil {
		return 0, errCompressorClosed
	}
	if len(out) == 0 {
		return 0, errors.New("libostree: Compress needs room for output")
	}
	var inp unsafe.Pointer
	if len(in) > 0 {
		inp = unsafe.Pointer(&in[0])
	}
	n := C.libdeflate_deflate_compress(d.c, inp, C.size_t(len(in)), unsafe.Pointer(&out[0]), C.size_t(len(out)))
	runtime.KeepAlive(d)
	runtime.KeepAlive(in)
	runtime.KeepAlive(out)
	if n == 0 {
		return 0, fmt.Errorf("libostree: %d bytes do not deflate into %d", len(in), len(out))
	}
	return int(n), nil
}

// Close frees the Compressor.
func (d *Compressor) Close() {
	if d.c == nil {
		return
	}
	runtime.SetFinalizer(d, nil)
	C.libdeflate_free_compressor(d.c)
	d.c = nil
	live.Add(-1)
}
