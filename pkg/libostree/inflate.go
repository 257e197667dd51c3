package libostree

/*
#cgo pkg-config: zlib
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static z_stream *opush_inflate_new(int *rc)
{
	z_stream *z = calloc(1, sizeof *z);
	if (z == NULL) {
		*rc = Z_MEM_ERROR;
		return NULL;
	}
	*rc = inflateInit2(z, -15); // raw deflate, 32 KiB window: what a .filez holds
	if (*rc != Z_OK) {
		free(z);
		return NULL;
	}
	return z;
}

static void opush_inflate_free(z_stream *z)
{
	inflateEnd(z);
	free(z);
}

// opush_inflate runs inflate once over in and out. The buffers belong to
// the caller (Go memory): the stream keeps no pointer to them afterwards.
static int opush_inflate(z_stream *z, unsigned char *in, unsigned int nin,
                         unsigned char *out, unsigned int nout,
                         unsigned int *used, unsigned int *made, const char **msg)
{
	z->next_in = in;
	z->avail_in = nin;
	z->next_out = out;
	z->avail_out = nout;
	int rc = inflate(z, Z_NO_FLUSH);
	*used = nin - z->avail_in;
	*made = nout - z->avail_out;
	*msg = z->msg;
	z->next_in = NULL;
	z->avail_in = 0;
	z->next_out = NULL;
	z->avail_out = 0;
	return rc;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// ErrCorruptDeflate is wrapped by Inflate's error for input that is not a
// valid raw deflate stream.
var ErrCorruptDeflate = errors.New("corrupt deflate stream")

var errInflaterClosed = errors.New("libostree: the Inflater is closed")

// Inflater decodes a raw deflate stream (RFC 1951, no zlib or gzip
// wrapper) with zlib, the library libostree reads .filez objects with,
// chunk by chunk. It has one owner, is not safe for concurrent use, and
// must be closed.
type Inflater struct {
	z *C.z_stream
}

// NewInflater returns an Inflater ready for a stream.
func NewInflater() (*Inflater, error) {
	var rc C.int
	z := C.opush_inflate_new(&rc)
	if z == nil {
		return nil, fmt.Errorf("libostree: zlib inflateInit2: error %d", int(rc))
	}
	live.Add(1)
	f := &Inflater{z: z}
	runtime.SetFinalizer(f, (*Inflater).Close)
	return f, nil
}

// Reset makes the Inflater ready for a new stream.
func (f *Inflater) Reset() error {
	if f.z == nil {
		return errInflaterClosed
	}
	rc := C.inflateReset(f.z)
	runtime.KeepAlive(f)
	if rc != C.Z_OK {
		return fmt.Errorf("libostree: zlib inflateReset: error %d", int(rc))
	}
	return nil
}

// Inflate decodes from in into out: used bytes of in were consumed, made
// bytes of out were written, and end is set once the stream's final block
// has been decoded (bytes of in after it are not consumed). An error
// wrapping ErrCorruptDeflate means the stream is invalid.
func (f *Inflater) Inflate(in, out []byte) (used, made int, end bool, err error) {
	if f.z == nil {
		return 0, 0, false, errInflaterClosed
	}
	if len(out) == 0 {
		return 0, 0, false, errors.New("libostree: Inflate needs room for output")
	}
	var inp, outp *C.uchar
	if len(in) > 0 {
		inp = (*C.uchar)(unsafe.Pointer(&in[0]))
	}
	outp = (*C.uchar)(unsafe.Pointer(&out[0]))
	var cUsed, cMade C.uint
	var msg *C.char
	rc := C.opush_inflate(f.z, inp, C.uint(min(len(in), 1<<30)), outp, C.uint(min(len(out), 1<<30)), &cUsed, &cMade, &msg)
	runtime.KeepAlive(f)
	runtime.KeepAlive(in)
	runtime.KeepAlive(out)
	used, made = int(cUsed), int(cMade)
	switch rc {
	case C.Z_OK:
		return used, made, false, nil
	case C.Z_STREAM_END:
		return used, made, true, nil
	case C.Z_BUF_ERROR: // no progress possible: it needs more input
		return used, made, false, nil
	case C.Z_DATA_ERROR, C.Z_NEED_DICT:
		detail := "invalid data"
		if msg != nil {
			detail = C.GoString(msg)
		}
		return used, made, false, fmt.Errorf("%w: %s", ErrCorruptDeflate, detail)
	}
	return used, made, false, fmt.Errorf("libostree: zlib inflate: error %d", int(rc))
}

// Close frees the Inflater.
func (f *Inflater) Close() {
	if f.z == nil {
		return
	}
	runtime.SetFinalizer(f, nil)
	C.opush_inflate_free(f.z)
	f.z = nil
	live.Add(-1)
}
