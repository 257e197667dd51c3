package ostreefile

// A minimal GVariant serializer and strict parser for exactly the two
// content-object header types libostree uses:
//
//	(uuuusa(ayay))   the "file header" hashed into a content object's name
//	(tuuuusa(ayay))  the header of an archive-mode .filez object
//
// GVariant rules that apply here (GLib gvariant-serialiser.c):
//
//   - Framing offsets are little-endian and their width depends only on the
//     size of the container they frame: 0 bytes for an empty container, 1
//     up to 0xff bytes, 2 up to 0xffff, 4 up to 0xffffffff, else 8
//     (gvs_get_offset_size). A serializer picks the smallest width w such
//     that body+w*offsets still fits in w bytes (gvs_calculate_total_size).
//   - A tuple lays its members out in order, each at its alignment; the end
//     offset of every variable-size member except the last is stored at the
//     end of the tuple, in reverse order. In both types every member is
//     naturally aligned (t at 0, u's after it, s and a(ayay) have alignment
//     1), so there is no padding, and the only framing offset is the end of
//     the string s.
//   - A string is its UTF-8 bytes plus one NUL, with no other NUL.
//   - An array of variable-size elements is the elements back to back
//     (alignment 1 here) followed by a table with the end offset of each.
//     An empty array is zero bytes.
//   - (ayay) is the name bytes, the value bytes, and the end offset of the
//     name.
//
// The parser follows the framing and refuses anything inconsistent; the
// callers then require the input to equal its re-serialization, which is
// GVariant's normal form (the only form libostree writes).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// offsetSize is gvs_get_offset_size: the width of the framing offsets of a
// container of n bytes.
func offsetSize(n uint64) uint64 {
	switch {
	case n == 0:
		return 0
	case n <= 0xff:
		return 1
	case n <= 0xffff:
		return 2
	case n <= 0xffffffff:
		return 4
	}
	return 8
}

// totalSize is gvs_calculate_total_size: the size of a container with a
// body of body bytes and offsets framing offsets.
func totalSize(body, offsets uint64) uint64 {
	if body+offsets <= 0xff {
		return body + offsets
	}
	if body+2*offsets <= 0xffff {
		return body + 2*offsets
	}
	if body+4*offsets <= 0xffffffff {
		return body + 4*offsets
	}
	return body + 8*offsets
}

func appendOffset(b []byte, v, width uint64) []byte {
	for i := uint64(0); i < width; i++ {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

func readOffset(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func xattrSize(x Xattr) uint64 {
	return totalSize(uint64(len(x.Name)+len(x.Value)), 1)
}

// xattrsSize is the serialized size of the a(ayay).
func xattrsSize(xs []Xattr) uint64 {
	if len(xs) == 0 {
		return 0
	}
	var body uint64
	for _, x := range xs {
		body += xattrSize(x)
	}
	return totalSize(body, uint64(len(xs)))
}

func appendXattrs(b []byte, xs []Xattr) []byte {
	if len(xs) == 0 {
		return b
	}
	var body uint64
	for _, x := range xs {
		size := xattrSize(x)
		body += size
		b = append(b, x.Name...)
		b = append(b, x.Value...)
		b = appendOffset(b, uint64(len(x.Name)), size-uint64(len(x.Name)+len(x.Value)))
	}
	width := (totalSize(body, uint64(len(xs))) - body) / uint64(len(xs))
	var end uint64
	for _, x := range xs {
		end += xattrSize(x)
		b = appendOffset(b, end, width)
	}
	return b
}

// marshal serializes h as (uuuusa(ayay)), or as (tuuuusa(ayay)) with size
// first when archive is set, appending to b.
func (h *FileHeader) marshal(b []byte, archive bool, size uint64) []byte {
	fixed := uint64(16)
	if archive {
		fixed = 24
	}
	strEnd := fixed + uint64(len(h.SymlinkTarget)) + 1
	body := strEnd + xattrsSize(h.Xattrs)
	total := totalSize(body, 1)
	if b == nil {
		b = make([]byte, 0, total)
	}
	if archive {
		b = binary.BigEndian.AppendUint64(b, size)
	}
	b = binary.BigEndian.AppendUint32(b, h.UID)
	b = binary.BigEndian.AppendUint32(b, h.GID)
	b = binary.BigEndian.AppendUint32(b, h.Mode)
	b = binary.BigEndian.AppendUint32(b, h.Rdev)
	b = append(b, h.SymlinkTarget...)
	b = append(b, 0)
	b = appendXattrs(b, h.Xattrs)
	return appendOffset(b, strEnd, total-body)
}

// parseHeader parses either header type and requires normal form.
func parseHeader(b []byte, archive bool) (*FileHeader, uint64, error) {
	typ := "(uuuusa(ayay))"
	fixed := uint64(16)
	if archive {
		typ = "(tuuuusa(ayay))"
		fixed = 24
	}
	bad := func(format string, args ...any) (*FileHeader, uint64, error) {
		return nil, 0, &ValidationError{Rule: RuleHeaderNormalForm,
			Detail: "header is not a valid " + typ + " GVariant in normal form: " + fmt.Sprintf(format, args...)}
	}
	n := uint64(len(b))
	width := offsetSize(n)
	if n < fixed+1+width {
		return bad("%d bytes is too short (at least %d)", n, fixed+2)
	}
	strEnd := readOffset(b[n-width:])
	if strEnd <= fixed || strEnd > n-width {
		return bad("symlink target framing offset %d is outside [%d, %d]", strEnd, fixed+1, n-width)
	}
	str := b[fixed:strEnd]
	if str[len(str)-1] != 0 {
		return bad("symlink target (bytes %d to %d) does not end with a NUL byte", fixed, strEnd)
	}
	str = str[:len(str)-1]
	if i := bytes.IndexByte(str, 0); i >= 0 {
		return bad("symlink target has a NUL byte at offset %d", i)
	}
	if !utf8.Valid(str) {
		return bad("symlink target %q is not valid UTF-8", str)
	}
	xattrs, err := parseXattrs(b[strEnd : n-width])
	if err != "" {
		return bad("xattrs (bytes %d to %d): %s", strEnd, n-width, err)
	}
	var size uint64
	off := 0
	if archive {
		size = binary.BigEndian.Uint64(b)
		off = 8
	}
	h := &FileHeader{
		UID:           binary.BigEndian.Uint32(b[off:]),
		GID:           binary.BigEndian.Uint32(b[off+4:]),
		Mode:          binary.BigEndian.Uint32(b[off+8:]),
		Rdev:          binary.BigEndian.Uint32(b[off+12:]),
		SymlinkTarget: string(str),
		Xattrs:        xattrs,
	}
	canon := h.marshal(nil, archive, size)
	if !bytes.Equal(canon, b) {
		i := 0
		for i < len(canon) && i < len(b) && canon[i] == b[i] {
			i++
		}
		return bad("its %d bytes differ from the %d-byte canonical serialization from byte %d on", len(b), len(canon), i)
	}
	return h, size, nil
}

// parseXattrs parses an a(ayay); the error is a description, or "".
func parseXattrs(a []byte) ([]Xattr, string) {
	n := uint64(len(a))
	if n == 0 {
		return nil, ""
	}
	width := offsetSize(n)
	last := readOffset(a[n-width:])
	if last > n-width {
		return nil, fmt.Sprintf("array framing offset %d is beyond the %d-byte array", last, n)
	}
	table := n - last
	if table%width != 0 {
		return nil, fmt.Sprintf("array offset table of %d bytes is not a multiple of %d", table, width)
	}
	count := table / width
	if count > last {
		// Every element is at least one byte long.
		return nil, fmt.Sprintf("array claims %d elements in %d bytes", count, last)
	}
	xs := make([]Xattr, 0, count)
	var start uint64
	for i := uint64(0); i < count; i++ {
		end := readOffset(a[last+i*width : last+(i+1)*width])
		if end < start || end > last {
			return nil, fmt.Sprintf("element %d ends at %d, outside [%d, %d]", i, end, start, last)
		}
		e := a[start:end]
		size := uint64(len(e))
		ew := offsetSize(size)
		if size < 1 {
			return nil, fmt.Sprintf("element %d is empty", i)
		}
		nameEnd := readOffset(e[size-ew:])
		if nameEnd > size-ew {
			return nil, fmt.Sprintf("element %d name framing offset %d is beyond its %d bytes", i, nameEnd, size-ew)
		}
		xs = append(xs, Xattr{
			Name:  bytes.Clone(e[:nameEnd]),
			Value: bytes.Clone(e[nameEnd : size-ew]),
		})
		start = end
	}
	return xs, ""
}
