package ostreefile

import (
	"bufio"
	"compress/flate"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// The rules ValidateFilez and ParseContentStream enforce; each failure is a
// *ValidationError with one of these as its Rule.
const (
	// RuleHeaderLength: the header length field is below the smallest
	// header, above MaxHeaderSize or beyond the object's length (or the
	// object is too short to hold a prefix and a header at all).
	RuleHeaderLength = "header-length"
	// RulePadding: the 4 bytes after the length field are not all zero.
	RulePadding = "padding"
	// RuleHeaderNormalForm: the header is not a valid GVariant of its type
	// in normal form, i.e. not byte for byte its re-serialization.
	RuleHeaderNormalForm = "header-normal-form"
	// RuleRdev: rdev is not 0.
	RuleRdev = "rdev"
	// RuleMode: the mode is not a regular file or a symlink, or has bits
	// outside 07777|S_IFMT.
	RuleMode = "mode"
	// RuleSymlinkTarget: a regular file with a symlink target, or a
	// symlink with an empty one.
	RuleSymlinkTarget = "symlink-target"
	// RuleXattrName: an xattr name that is not a non-empty C string with
	// its NUL (libostree stores names as bytestrings).
	RuleXattrName = "xattr-name"
	// RuleXattrOrder: xattr names strictly ascending (byte order, as
	// libostree's canonical form lists them), each once. Checked only
	// for a repository that stores xattrs as the filesystem's
	// (CheckXattrOrder).
	RuleXattrOrder = "xattr-order"
	// RuleSize: the size field differs from the inflated length (for a
	// symlink: is not 0).
	RuleSize = "size"
	// RuleSymlinkContent: bytes after a symlink's header (libostree writes
	// none, not even an empty deflate stream), or content in a symlink's
	// content stream.
	RuleSymlinkContent = "symlink-content"
	// RuleDeflate: the deflate stream is missing, corrupt or ends before its
	// final block within the object's length.
	RuleDeflate = "deflate"
	// RuleTrailingData: bytes after the end of the deflate stream.
	RuleTrailingData = "trailing-data"
	// RuleTruncated: the reader ended before the length it was given.
	RuleTruncated = "truncated"
)

// ValidationError says which rule an object breaks and how. Its message is
// meant to follow the object's name: "object X.filez: " + err.Error().
type ValidationError struct {
	Rule   string // one of the Rule constants
	Detail string // what is wrong, for a person
}

func (e *ValidationError) Error() string { return e.Detail + " (rule " + e.Rule + ")" }

func vErr(rule, format string, args ...any) *ValidationError {
	return &ValidationError{Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

// countingReader counts the bytes read from r and remembers whether r
// ended (io.EOF) on its own.
type countingReader struct {
	r   io.Reader
	n   uint64
	eof bool
	err error // the first error other than io.EOF
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	if err == io.EOF {
		c.eof = true
	} else if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

const bufSize = 32 << 10

var (
	bufioPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	flatePool sync.Pool // of io.ReadCloser that are flate.Resetter
	bufPool   = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}
)

// ValidateFilez checks a .filez (an archive-mode file object, length bytes
// read from r) strictly, in one inflate pass, and returns its name as
// computed from its bytes; the caller compares it with the name the object
// was sent under. It reads at most length bytes from r. Each rule broken is
// a *ValidationError (see the Rule constants); an error reading r is
// returned wrapped, as it is. The rules, in the order they are checked:
//
//   - header-length: the length field is at least the smallest
//     (tuuuusa(ayay)) (26 bytes), at most MaxHeaderSize and at most length-8;
//   - padding: the 4 bytes after it are zero;
//   - header-normal-form: the header is a (tuuuusa(ayay)) in GVariant normal
//     form, identical to its re-serialization (so its symlink target is
//     valid UTF-8 without NUL);
//   - rdev: rdev is 0;
//   - mode: the file type is regular or symlink, no bits outside 07777|S_IFMT;
//   - symlink-target: a regular file's target is empty, a symlink's is not;
//   - xattr-name: every xattr name is a non-empty NUL-terminated string
//     without other NULs;
//   - a symlink has size field 0 (size) and nothing after its header
//     (symlink-content), as libostree writes it;
//   - deflate: a regular file has one valid raw deflate stream after its
//     header, complete within length bytes (truncated: r ended early);
//   - size: it inflates to exactly the size field;
//   - trailing-data: nothing follows the end of the deflate stream, not even
//     zero bytes.
//
// The name is the SHA-256 of the content stream: the 8-byte prefix and
// the canonical (uuuusa(ayay)) of the header, then the inflated content.
func ValidateFilez(r io.Reader, length uint64) (object.Checksum, error) {
	return ValidateFilezWith(r, length, nil)
}

// RawInflater decodes a raw deflate stream (RFC 1951) chunk by chunk:
// pkg/libostree's zlib Inflater is one. Inflate consumes used bytes of in
// and writes made bytes to out; end is set once the final block is decoded
// (what follows it in in is not consumed); an error means the stream is
// invalid. Reset readies it for a new stream.
type RawInflater interface {
	Reset() error
	Inflate(in, out []byte) (used, made int, end bool, err error)
}

// ValidateFilezWith is ValidateFilez inflating with inf (zlib, say, which
// is what libostree reads .filez with, and faster than compress/flate), or
// with compress/flate when inf is nil. The rules and their order are the
// same; only the wording of a deflate error may differ.
func ValidateFilezWith(r io.Reader, length uint64, inf RawInflater) (object.Checksum, error) {
	return ValidateFilezOpts(r, length, FilezOptions{Inflater: inf})
}

// FilezOptions are the options of ValidateFilezOpts.
type FilezOptions struct {
	// Inflater, when set, inflates instead of compress/flate.
	Inflater RawInflater
	// Content, when set, is called once the header has passed its checks,
	// with the length of the object's content stream (the 8-byte prefix,
	// the canonical (uuuusa(ayay)) header, the inflated data: what is
	// hashed), and returns a writer that receives that stream as it is
	// checked. A write error ends the validation with that error. The
	// stream is complete before the last checks (size, trailing data), so
	// a writer must not act on it before ValidateFilezOpts returns nil.
	Content func(streamLen uint64) (io.Writer, error)
	// Header, when set, is called with the header once it has passed
	// its checks, before Content: an error from it ends the validation
	// (a destination's own rules, such as CheckXattrOrder).
	Header func(h *FileHeader) error
}

// ValidateFilezOpts is ValidateFilez with options: another inflater, and
// the content stream handed out as it is checked (to write the object
// into a repository that stores it uncompressed).
func ValidateFilezOpts(r io.Reader, length uint64, opts FilezOptions) (object.Checksum, error) {
	inf := opts.Inflater
	var sum object.Checksum
	cr := &countingReader{r: io.LimitReader(r, clampInt64(length))}
	hbuf, err := readPrefixAndHeader(cr, length, minArchiveHeaderSize)
	if err != nil {
		return sum, err
	}
	h, size, err := ParseArchiveHeader(hbuf)
	if err != nil {
		return sum, err
	}
	if err := checkFields(h); err != nil {
		return sum, err
	}
	if opts.Header != nil {
		if err := opts.Header(h); err != nil {
			return sum, err
		}
	}
	hd := sha256.New()
	var d io.Writer = hd
	csh := h.ContentStreamHeader()
	if opts.Content != nil {
		w, err := opts.Content(uint64(len(csh)) + size)
		if err != nil {
			return sum, err
		}
		d = io.MultiWriter(hd, w)
	}
	if _, err := d.Write(csh); err != nil {
		return sum, err
	}
	dataStart := 8 + uint64(len(hbuf))
	rest := length - dataStart

	if h.IsSymlink() {
		if size != 0 {
			return sum, vErr(RuleSize, "symlink has size field %d, must be 0", size)
		}
		if rest != 0 {
			return sum, vErr(RuleSymlinkContent,
				"symlink has %s after its header, must have none (libostree writes no deflate stream for a symlink)", plural(rest, "byte"))
		}
		hd.Sum(sum[:0])
		return sum, nil
	}
	if rest == 0 {
		return sum, vErr(RuleDeflate, "regular file has no deflate stream after its header (an empty file has the 2-byte stream 03 00)")
	}

	if inf != nil {
		if err := inflateChunks(cr, inf, d, size, length, dataStart); err != nil {
			return sum, err
		}
		hd.Sum(sum[:0])
		return sum, nil
	}

	br := bufioPool.Get().(*bufio.Reader)
	br.Reset(cr)
	defer func() { br.Reset(nil); bufioPool.Put(br) }()
	var fr io.ReadCloser
	if v := flatePool.Get(); v != nil {
		fr = v.(io.ReadCloser)
		fr.(flate.Resetter).Reset(br, nil)
	} else {
		fr = flate.NewReader(br)
	}
	defer flatePool.Put(fr)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp

	// deflateErr describes an error of the deflate reader.
	deflateErr := func(err error) error {
		if cr.err != nil {
			return fmt.Errorf("reading .filez data: %w", cr.err)
		}
		var ce flate.CorruptInputError
		switch {
		case errors.As(err, &ce):
			return vErr(RuleDeflate, "deflate stream is corrupt at byte %d of the object (byte %d of the stream)",
				dataStart+uint64(ce), uint64(ce))
		case errors.Is(err, io.ErrUnexpectedEOF):
			if cr.eof && cr.n < length {
				return vErr(RuleTruncated, "data ends after %d bytes, within the deflate stream, before the %d bytes given as its length", cr.n, length)
			}
			return vErr(RuleDeflate, "deflate stream is cut short: the object's %d bytes end before the stream's final block", length)
		}
		return vErr(RuleDeflate, "deflate stream is invalid: %v", err)
	}

	var inflated uint64
	for {
		n, err := fr.Read(buf)
		if n > 0 {
			inflated += uint64(n)
			if inflated > size {
				// Count on a little for a clearer message; the input bounds the work.
				for inflated < size+(1<<20) && err == nil {
					n, err = fr.Read(buf)
					inflated += uint64(n)
				}
				more := "at least "
				if err == io.EOF {
					more = ""
				}
				return sum, vErr(RuleSize, "header size field is %d but the deflate stream inflates to %s%d bytes", size, more, inflated)
			}
			if _, err := d.Write(buf[:n]); err != nil {
				return sum, err
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, deflateErr(err)
		}
	}
	if inflated != size {
		return sum, vErr(RuleSize, "header size field is %d but the deflate stream inflates to %d bytes", size, inflated)
	}
	// The deflate reader reads a ByteReader byte by byte as it needs them,
	// never past the end of the stream, so what br still has, or can
	// still read, follows the stream.
	end := cr.n - uint64(br.Buffered())
	if _, err := br.ReadByte(); err == nil {
		return sum, vErr(RuleTrailingData, "%s follow the end of the deflate stream at byte %d, must be none", plural(length-end, "byte"), end)
	} else if err != io.EOF {
		return sum, fmt.Errorf("reading .filez data: %w", err)
	}
	if cr.n < length {
		return sum, vErr(RuleTruncated, "data ends after %d bytes, before the %d bytes given as its length", cr.n, length)
	}
	hd.Sum(sum[:0])
	return sum, nil
}

// inflateChunks is the deflate part of ValidateFilezWith with a
// RawInflater: cr holds the rest of the object (after its header, at
// dataStart), which must be one raw deflate stream inflating to size bytes,
// written to d (the hash, and any content writer), and nothing after it.
func inflateChunks(cr *countingReader, inf RawInflater, d io.Writer, size, length, dataStart uint64) error {
	if err := inf.Reset(); err != nil {
		return err
	}
	inp := bufPool.Get().(*[]byte)
	defer bufPool.Put(inp)
	outp := bufPool.Get().(*[]byte)
	defer bufPool.Put(outp)
	in, out := *inp, *outp
	var pending []byte // read, not yet consumed
	var inflated uint64
	ended := false // cr has nothing more
	readErr := func() error { return fmt.Errorf("reading .filez data: %w", cr.err) }
	for {
		if len(pending) == 0 && !ended {
			n, err := cr.Read(in)
			pending = in[:n]
			if err == io.EOF {
				ended = true
			} else if err != nil {
				return readErr()
			}
		}
		used, made, end, err := inf.Inflate(pending, out)
		pending = pending[used:]
		if made > 0 {
			inflated += uint64(made)
			if inflated > size {
				return vErr(RuleSize, "header size field is %d but the deflate stream inflates to at least %d bytes", size, inflated)
			}
			if _, err := d.Write(out[:made]); err != nil {
				return err
			}
		}
		if err != nil {
			return vErr(RuleDeflate, "deflate stream is corrupt before byte %d of the object: %v",
				cr.n-uint64(len(pending)), err)
		}
		if end {
			break
		}
		if used == 0 && made == 0 {
			switch {
			case len(pending) > 0:
				return vErr(RuleDeflate, "deflate stream is invalid at byte %d of the object: the inflater makes no progress", cr.n-uint64(len(pending)))
			case ended && cr.n < length:
				return vErr(RuleTruncated, "data ends after %d bytes, within the deflate stream, before the %d bytes given as its length", cr.n, length)
			case ended:
				return vErr(RuleDeflate, "deflate stream is cut short: the object's %d bytes end before the stream's final block", length)
			}
		}
	}
	if inflated != size {
		return vErr(RuleSize, "header size field is %d but the deflate stream inflates to %d bytes", size, inflated)
	}
	end := cr.n - uint64(len(pending))
	if len(pending) == 0 && !ended {
		var one [1]byte
		for {
			n, err := cr.Read(one[:])
			if n > 0 {
				pending = one[:n]
				break
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return readErr()
			}
		}
	}
	if len(pending) > 0 {
		return vErr(RuleTrailingData, "%s follow the end of the deflate stream at byte %d, must be none", plural(length-end, "byte"), end)
	}
	if cr.n < length {
		return vErr(RuleTruncated, "data ends after %d bytes, before the %d bytes given as its length", cr.n, length)
	}
	return nil
}

func plural(n uint64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func clampInt64(n uint64) int64 {
	if n > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(n)
}
