package ostreefile

// The two content-object header types libostree uses, written and read
// with pkg/gvariant:
//
//	(uuuusa(ayay))   the "file header" hashed into a content object's name
//	(tuuuusa(ayay))  the header of an archive-mode .filez object
//
// libostree stores the numbers big-endian (GUINT32_TO_BE and friends)
// inside a GVariant it serializes on little-endian machines, which is a
// GVariant whose numbers are in big-endian byte order: so both types are
// written and read with binary.BigEndian. Framing offsets are little-endian
// either way.
//
// Parsing is strict: gvariant refuses framing it cannot follow, and the
// parser then requires the input to equal its re-serialization, GVariant's
// normal form (the only form libostree writes).

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
)

var (
	fileHeaderType    = gvariant.MustParseType("(uuuusa(ayay))")
	archiveHeaderType = gvariant.MustParseType("(tuuuusa(ayay))")
)

func headerType(archive bool) gvariant.Type {
	if archive {
		return archiveHeaderType
	}
	return fileHeaderType
}

// marshal serializes h as (uuuusa(ayay)), or as (tuuuusa(ayay)) with size
// first when archive is set. The symlink target is written as it is, even
// with a NUL or invalid UTF-8, which the parser then refuses.
func (h *FileHeader) marshal(archive bool, size uint64) []byte {
	b := gvariant.NewBuilder(headerType(archive), binary.BigEndian)
	b.Open()
	if archive {
		b.Uint64(size)
	}
	b.Uint32(h.UID)
	b.Uint32(h.GID)
	b.Uint32(h.Mode)
	b.Uint32(h.Rdev)
	b.RawStr(h.SymlinkTarget)
	b.Open()
	for _, x := range h.Xattrs {
		b.Open()
		b.Bytes(x.Name)
		b.Bytes(x.Value)
		b.Close()
	}
	b.Close()
	b.Close()
	out, err := b.Finish()
	if err != nil {
		// Every value above is of the type the Builder expects.
		panic("ostreefile: " + err.Error())
	}
	return out
}

// parseHeader parses either header type and requires normal form.
func parseHeader(b []byte, archive bool) (*FileHeader, uint64, error) {
	t := headerType(archive)
	bad := func(format string, args ...any) (*FileHeader, uint64, error) {
		return nil, 0, &ValidationError{Rule: RuleHeaderNormalForm,
			Detail: "header is not a valid " + t.String() + " GVariant in normal form: " + fmt.Sprintf(format, args...)}
	}
	v := gvariant.NewValue(t, b, binary.BigEndian)
	members := make([]gvariant.Value, t.NumFields())
	for i := range members {
		m, err := v.Index(i)
		if err != nil {
			return bad("%v", err)
		}
		members[i] = m
	}
	var size uint64
	first := 0
	if archive {
		s, err := members[0].Uint64()
		if err != nil {
			return bad("%v", err)
		}
		size, first = s, 1
	}
	var nums [4]uint32
	for i := range nums {
		n, err := members[first+i].Uint32()
		if err != nil {
			return bad("%v", err)
		}
		nums[i] = n
	}
	target, err := members[first+4].Str()
	if err != nil {
		return bad("symlink target: %v", err)
	}
	xattrs, err := parseXattrs(members[first+5])
	if err != nil {
		return bad("xattrs: %v", err)
	}
	h := &FileHeader{UID: nums[0], GID: nums[1], Mode: nums[2], Rdev: nums[3], SymlinkTarget: target, Xattrs: xattrs}
	canon := h.marshal(archive, size)
	if !bytes.Equal(canon, b) {
		i := 0
		for i < len(canon) && i < len(b) && canon[i] == b[i] {
			i++
		}
		return bad("its %d bytes differ from the %d-byte canonical serialization from byte %d on", len(b), len(canon), i)
	}
	return h, size, nil
}

// parseXattrs reads an a(ayay), copying the names and values.
func parseXattrs(a gvariant.Value) ([]Xattr, error) {
	n, err := a.Len()
	if err != nil || n == 0 {
		return nil, err
	}
	xs := make([]Xattr, 0, n)
	for i := 0; i < n; i++ {
		x, err := a.Index(i)
		if err != nil {
			return nil, err
		}
		name, err := x.Index(0)
		if err != nil {
			return nil, err
		}
		value, err := x.Index(1)
		if err != nil {
			return nil, err
		}
		xs = append(xs, Xattr{Name: bytes.Clone(name.Data()), Value: bytes.Clone(value.Data())})
	}
	return xs, nil
}
