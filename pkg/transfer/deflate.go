package transfer

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Metadata objects deflated on the wire (CapDeflateMetadata): each one's
// content is one raw deflate stream of its own (RFC 1951), so that it can
// be made by any loader, shared between the mirrors of a fan-out, and
// inflated without state kept from one object to the next. Dirtrees are
// names and checksums: on the 20,000-file benchmark's incremental push
// they are half the bytes sent, and deflate saves about a tenth of them.

var deflaters = sync.Pool{New: func() any {
	w, err := flate.NewWriter(nil, flate.DefaultCompression)
	if err != nil {
		panic(err) // only for an invalid level
	}
	return w
}}

// deflateMetadata returns data as one raw deflate stream, or nil when that
// is not smaller than data (or deflating failed: the object then goes as
// it is): made by src when it is a MetadataDeflater, else with
// compress/flate.
func deflateMetadata(src Source, data []byte) []byte {
	if d, ok := src.(MetadataDeflater); ok {
		if z, err := d.DeflateMetadata(data); err == nil && len(z) < len(data) {
			return z
		}
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(len(data))
	w := deflaters.Get().(*flate.Writer)
	w.Reset(&buf)
	_, err := w.Write(data)
	if err == nil {
		err = w.Close()
	}
	deflaters.Put(w)
	if err != nil || buf.Len() >= len(data) {
		return nil
	}
	return buf.Bytes()
}

var inflaters sync.Pool // of io.ReadCloser that are flate.Resetter

// errInflatedTooLarge is wrapped by inflateMetadata's error when the
// stream inflates to more than it may.
var errInflatedTooLarge = errors.New("inflates to more than the limit")

// inflateMetadata inflates p, which must be exactly one raw deflate
// stream, to at most max bytes. Bytes after the stream's end, a stream
// that ends early or that inflates to more than max bytes are errors.
func inflateMetadata(p []byte, max uint64) ([]byte, error) {
	br := bytes.NewReader(p) // an io.ByteReader: flate reads no further than the stream's end
	var fr io.ReadCloser
	if v := inflaters.Get(); v != nil {
		fr = v.(io.ReadCloser)
		if err := fr.(flate.Resetter).Reset(br, nil); err != nil {
			return nil, err
		}
	} else {
		fr = flate.NewReader(br)
	}
	defer inflaters.Put(fr)
	// Metadata deflates to about 90% of its size: room for twice that
	// (within max) is one allocation for most objects.
	out := make([]byte, 0, min(uint64(2*len(p)+512), max+1))
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := fr.Read(out[len(out):min(uint64(cap(out)), max+1)])
		out = out[:len(out)+n]
		if uint64(len(out)) > max {
			return nil, fmt.Errorf("%w of %d bytes", errInflatedTooLarge, max)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid deflate stream: %w", noEOF(err))
		}
	}
	if br.Len() > 0 {
		return nil, fmt.Errorf("%d bytes after the end of the deflate stream", br.Len())
	}
	return out, nil
}
