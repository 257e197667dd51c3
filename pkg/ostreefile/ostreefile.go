package ostreefile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// FileHeader is a content object's metadata.
type FileHeader struct {
	UID, GID, Mode, Rdev uint32
	// SymlinkTarget is the target of a symlink and "" for a regular file.
	SymlinkTarget string
	// Xattrs are as libostree stores them: names include their trailing NUL.
	Xattrs []Xattr
}

// Xattr is one extended attribute. Name includes the C string's trailing
// NUL, as libostree stores it ("user.test\x00").
type Xattr struct{ Name, Value []byte }

// File types in Mode (Linux values, which OSTree stores).
const (
	ModeTypeMask = 0o170000 // S_IFMT
	ModeRegular  = 0o100000 // S_IFREG
	ModeSymlink  = 0o120000 // S_IFLNK
	modePerms    = 0o7777
)

const (
	// MaxHeaderSize bounds the header length field ValidateFilez and
	// ParseContentStream accept. libostree has no limit of its own; real
	// headers are tens of bytes plus the symlink target and xattrs.
	MaxHeaderSize = 1 << 20
	// minFileHeaderSize and minArchiveHeaderSize are the smallest
	// serializations: fixed fields, the NUL of an empty string, no xattrs,
	// one framing offset byte.
	minFileHeaderSize    = 16 + 1 + 1
	minArchiveHeaderSize = 24 + 1 + 1
)

// IsRegular reports whether h is a regular file.
func (h *FileHeader) IsRegular() bool { return h.Mode&ModeTypeMask == ModeRegular }

// IsSymlink reports whether h is a symbolic link.
func (h *FileHeader) IsSymlink() bool { return h.Mode&ModeTypeMask == ModeSymlink }

// Marshal returns the (uuuusa(ayay)) serialization, byte for byte what
// libostree's _ostree_file_header_new produces (without its 8-byte length
// prefix, which ContentStreamPrefix gives). The fields are written as they
// are: libostree writes an rdev of 0 and "" as a regular file's target.
func (h *FileHeader) Marshal() []byte { return h.marshal(false, 0) }

// MarshalArchive returns the (tuuuusa(ayay)) serialization of a .filez
// header for content of size bytes (0 for a symlink), byte for byte what
// libostree's _ostree_zlib_file_header_new produces, without the 8-byte
// length prefix.
func (h *FileHeader) MarshalArchive(size uint64) []byte { return h.marshal(true, size) }

// prefixed returns the 8-byte length prefix followed by the header.
func prefixed(header []byte) []byte {
	b := make([]byte, 8, 8+len(header))
	binary.BigEndian.PutUint32(b, uint32(len(header)))
	return append(b, header...)
}

// ContentStreamHeader returns the start of h's content stream: the
// big-endian length, 4 zero bytes and Marshal(). The object's name is the
// SHA-256 of this followed by the content.
func (h *FileHeader) ContentStreamHeader() []byte { return prefixed(h.Marshal()) }

// FilezHeader is what a .filez starts with: the 8-byte prefix and the
// archive header (tuuuusa(ayay)) with size, the length of the content; the
// raw deflate of the content follows (nothing, for a symlink).
func (h *FileHeader) FilezHeader(size uint64) []byte { return prefixed(h.MarshalArchive(size)) }

// ParseFileHeader parses a (uuuusa(ayay)) header strictly: b must be in
// GVariant normal form, that is equal to its re-Marshal. It checks the
// structure only; see ParseContentStream for the checks of the fields.
func ParseFileHeader(b []byte) (*FileHeader, error) {
	h, _, err := parseHeader(b, false)
	return h, err
}

// ParseArchiveHeader parses a .filez (tuuuusa(ayay)) header (without its
// 8-byte prefix) strictly: b must equal MarshalArchive of the result. It
// returns the header and the size field.
func ParseArchiveHeader(b []byte) (*FileHeader, uint64, error) {
	return parseHeader(b, true)
}

// Checksum computes an object's name from its header and content as
// libostree does (ostree_checksum_file_from_input): the SHA-256 of the
// content stream. content is read to its end for a regular file and not
// read at all otherwise (it may be nil for a symlink). The header is
// hashed as given: for libostree's result, take uid, gid and mode from
// lstat, rdev 0, the target only for a symlink and the xattrs sorted by
// name.
func Checksum(h *FileHeader, content io.Reader) (object.Checksum, error) {
	var sum object.Checksum
	d := sha256.New()
	d.Write(h.ContentStreamHeader())
	if h.IsRegular() && content != nil {
		if _, err := io.Copy(d, content); err != nil {
			return sum, err
		}
	}
	d.Sum(sum[:0])
	return sum, nil
}

// ParseContentStream parses the uncompressed content stream of a file
// object, length bytes long in all, as libostree's
// ostree_repo_load_object_stream gives it. It applies the same checks of
// the prefix and the header as ValidateFilez (each failure a
// *ValidationError) and returns the header and a reader of the content:
// the length-8-headerlength bytes after the header, which reports
// io.ErrUnexpectedEOF if r ends before them. A symlink has no content.
// Hash the content stream (Checksum) to check it against its name.
func ParseContentStream(r io.Reader, length uint64) (*FileHeader, io.Reader, error) {
	hbuf, err := readPrefixAndHeader(r, length, minFileHeaderSize)
	if err != nil {
		return nil, nil, err
	}
	h, err := ParseFileHeader(hbuf)
	if err != nil {
		return nil, nil, err
	}
	if err := checkFields(h); err != nil {
		return nil, nil, err
	}
	rest := length - 8 - uint64(len(hbuf))
	if h.IsSymlink() && rest != 0 {
		return nil, nil, vErr(RuleSymlinkContent,
			"symlink has %s of content after its header, must have none", plural(rest, "byte"))
	}
	return h, &exactReader{r: r, n: rest}, nil
}

// exactReader reads exactly n bytes of r, or fails with io.ErrUnexpectedEOF.
type exactReader struct {
	r io.Reader
	n uint64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n == 0 {
		return 0, io.EOF
	}
	if uint64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= uint64(n)
	if err == io.EOF {
		if e.n > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	return n, err
}

// readPrefixAndHeader reads and checks the 8-byte prefix and returns the
// header bytes it frames.
func readPrefixAndHeader(r io.Reader, length uint64, minHeader uint32) ([]byte, error) {
	if length < 8+uint64(minHeader) {
		return nil, vErr(RuleHeaderLength,
			"object is %d bytes, too short for the 8-byte header prefix and a %d-byte header", length, minHeader)
	}
	var prefix [8]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, readErr(err, "the header prefix", 0, length)
	}
	hlen := binary.BigEndian.Uint32(prefix[:4])
	switch {
	case hlen < minHeader:
		return nil, vErr(RuleHeaderLength, "header length field is %d, less than the smallest header (%d bytes)", hlen, minHeader)
	case hlen > MaxHeaderSize:
		return nil, vErr(RuleHeaderLength, "header length field is %d, more than the %d-byte limit", hlen, MaxHeaderSize)
	case uint64(hlen) > length-8:
		return nil, vErr(RuleHeaderLength, "header length field is %d, but only %d bytes follow the prefix", hlen, length-8)
	}
	for i, c := range prefix[4:] {
		if c != 0 {
			return nil, vErr(RulePadding, "header padding byte %d is 0x%02x, must be 0", i, c)
		}
	}
	hbuf := make([]byte, hlen)
	if _, err := io.ReadFull(r, hbuf); err != nil {
		return nil, readErr(err, "the header", 8, length)
	}
	return hbuf, nil
}

// readErr turns a short read of what into a "truncated" ValidationError,
// and passes other I/O errors through.
func readErr(err error, what string, at, length uint64) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return vErr(RuleTruncated, "data ends within %s (at or after byte %d), before the %d bytes given as its length", what, at, length)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// checkFields checks a parsed header's fields against what libostree
// writes and what a repository of any mode can check out.
func checkFields(h *FileHeader) error {
	if h.Rdev != 0 {
		return vErr(RuleRdev, "rdev is %d, must be 0", h.Rdev)
	}
	if extra := h.Mode &^ (ModeTypeMask | modePerms); extra != 0 {
		return vErr(RuleMode, "mode 0%o has bits 0%o outside the file type and permissions", h.Mode, extra)
	}
	switch h.Mode & ModeTypeMask {
	case ModeRegular:
		if h.SymlinkTarget != "" {
			return vErr(RuleSymlinkTarget, "regular file has symlink target %q, must be empty", h.SymlinkTarget)
		}
	case ModeSymlink:
		if h.SymlinkTarget == "" {
			return vErr(RuleSymlinkTarget, "symlink has an empty target")
		}
	default:
		return vErr(RuleMode, "mode 0%o is a %s, must be a regular file or a symlink", h.Mode, typeName(h.Mode))
	}
	for i, x := range h.Xattrs {
		n := len(x.Name)
		if n < 2 || x.Name[n-1] != 0 {
			return vErr(RuleXattrName, "xattr %d name %q is not a non-empty NUL-terminated string", i, x.Name)
		}
		for j, c := range x.Name[:n-1] {
			if c == 0 {
				return vErr(RuleXattrName, "xattr %d name %q has a NUL byte at %d", i, x.Name, j)
			}
		}
	}
	return nil
}

// CheckXattrOrder checks that h's xattr names are strictly ascending in
// byte order, each once: libostree's canonical form, which is how a
// filesystem's xattrs read back. A repository that stores a file object's
// xattrs as the file's own (bare) needs it: an object in another order
// would be stored under a name it no longer hashes to.
func CheckXattrOrder(h *FileHeader) error {
	for i := 1; i < len(h.Xattrs); i++ {
		if bytes.Compare(h.Xattrs[i-1].Name, h.Xattrs[i].Name) >= 0 {
			return vErr(RuleXattrOrder, "xattr %d name %q does not sort after xattr %d name %q (names must be ascending, each once)",
				i, h.Xattrs[i].Name, i-1, h.Xattrs[i-1].Name)
		}
	}
	return nil
}

func typeName(mode uint32) string {
	switch mode & ModeTypeMask {
	case 0o010000:
		return "fifo"
	case 0o020000:
		return "character device"
	case 0o040000:
		return "directory"
	case 0o060000:
		return "block device"
	case ModeRegular:
		return "regular file"
	case ModeSymlink:
		return "symlink"
	case 0o140000:
		return "socket"
	}
	return fmt.Sprintf("unknown file type 0%o", mode&ModeTypeMask)
}
