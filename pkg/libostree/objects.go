package libostree

// #include "shim.h"
import "C"

import (
	"fmt"
	"io"
	"runtime"
	"unsafe"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// HasObjects reports for each name whether the repository holds that object
// (in objects/ or staged in its open transaction). For CommitMeta it reports
// whether the commit has detached metadata.
func (r *Repo) HasObjects(names []object.Name) ([]bool, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, nil
	}
	cnames := (*C.opush_name)(C.malloc(C.size_t(len(names)) * C.sizeof_opush_name))
	defer C.free(unsafe.Pointer(cnames))
	cslice := unsafe.Slice(cnames, len(names))
	for i, name := range names {
		if !name.Type.Valid() {
			return nil, fmt.Errorf("has-object: invalid object type %d", name.Type)
		}
		cslice[i]._type = C.guint8(name.Type)
		*(*object.Checksum)(unsafe.Pointer(&cslice[i].csum[0])) = name.Checksum
	}
	have := make([]byte, len(names))
	var gerr *C.GError
	ok := C.opush_has_objects(r.ptr, cnames, C.gsize(len(names)),
		(*C.guint8)(unsafe.Pointer(&have[0])), &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return nil, wrap(gerr, "checking for objects")
	}
	out := make([]bool, len(names))
	for i, h := range have {
		out[i] = h != 0
	}
	return out, nil
}

// HasObject reports whether the repository holds one object.
func (r *Repo) HasObject(name object.Name) (bool, error) {
	have, err := r.HasObjects([]object.Name{name})
	if err != nil {
		return false, err
	}
	return have[0], nil
}

// ReadMetadata returns the serialized bytes of a metadata object (commit,
// dirtree or dirmeta; for CommitMeta see ReadCommitMeta).
func (r *Repo) ReadMetadata(name object.Name) ([]byte, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	if name.Type == object.CommitMeta {
		data, ok, err := r.ReadCommitMeta(name.Checksum)
		if err == nil && !ok {
			err = &Error{Domain: DomainIO, Code: CodeIONotFound,
				Message: fmt.Sprintf("no detached metadata for commit %s", name.Checksum)}
		}
		return data, err
	}
	if !name.Type.IsMeta() {
		return nil, fmt.Errorf("reading %s: not a metadata object", name)
	}
	var cs cstrs
	defer cs.free()
	var p *C.guint8
	var n C.gsize
	var gerr *C.GError
	ok := C.opush_load_metadata(r.ptr, C.int(name.Type), cs.add(name.Checksum.String()), &p, &n, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return nil, wrap(gerr, "reading %s", name)
	}
	return takeBytes(p, n), nil
}

// ContentReader streams a content object in libostree's content-stream
// form: a big-endian u32 header length, 4 zero bytes, the file header
// GVariant, then the file's bytes. Close it when done.
type ContentReader struct {
	stream *C.GInputStream
	size   uint64
	read   uint64
}

// OpenContent opens a content (file) object for reading. Size is the total
// length of the stream, header included.
func (r *Repo) OpenContent(c object.Checksum) (*ContentReader, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	var cs cstrs
	defer cs.free()
	var stream *C.GInputStream
	var size C.guint64
	var gerr *C.GError
	ok := C.opush_open_content(r.ptr, cs.add(c.String()), &stream, &size, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return nil, wrap(gerr, "opening content object %s", c)
	}
	cr := &ContentReader{stream: stream, size: uint64(size)}
	live.Add(1)
	runtime.SetFinalizer(cr, (*ContentReader).Close)
	return cr, nil
}

// Size is the length of the whole content stream.
func (cr *ContentReader) Size() uint64 { return cr.size }

// Read implements io.Reader.
func (cr *ContentReader) Read(p []byte) (int, error) {
	if cr.stream == nil {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if cr.read >= cr.size {
		return 0, io.EOF
	}
	if rem := cr.size - cr.read; uint64(len(p)) > rem {
		p = p[:rem]
	}
	var gerr *C.GError
	n := C.opush_stream_read(cr.stream, unsafe.Pointer(&p[0]), C.gsize(len(p)), &gerr)
	runtime.KeepAlive(cr)
	if n < 0 {
		return 0, wrap(gerr, "reading content object")
	}
	cr.read += uint64(n)
	if n == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	return int(n), nil
}

// Close releases the stream. Closing twice is harmless.
func (cr *ContentReader) Close() error {
	if cr.stream == nil {
		return nil
	}
	runtime.SetFinalizer(cr, nil)
	C.g_object_unref(C.gpointer(cr.stream))
	cr.stream = nil
	live.Add(-1)
	return nil
}

// ValidateMetadata makes of a commit, dirtree or dirmeta's bytes the
// structure checks libostree makes before writing one
// (ostree_validate_structureof_commit, _dirtree, _dirmeta): what
// ostree-receive's writes check beyond the checksum.
func ValidateMetadata(t object.Type, data []byte) error {
	switch t {
	case object.Commit, object.DirTree, object.DirMeta:
	default:
		return fmt.Errorf("validate: %s objects have no structure check", t)
	}
	var p *C.guint8
	if len(data) > 0 {
		p = (*C.guint8)(unsafe.Pointer(&data[0]))
	}
	var gerr *C.GError
	ok := C.opush_validate_metadata(C.guint8(t), p, C.gsize(len(data)), &gerr)
	runtime.KeepAlive(data)
	if ok == 0 {
		return wrap(gerr, "invalid %s", t)
	}
	return nil
}
