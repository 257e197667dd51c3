package gvariant

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// Reading: a Value is a type and a byte slice, nothing is copied or
// decoded until asked for, and each step down (Index) checks the framing it
// follows. Where GLib's reader, given inconsistent framing, substitutes a
// default value (an empty child, zero bytes, the unit tuple), this one
// returns an *Error: a caller can never mistake a damaged value for a
// different valid one.

// Error is a value that cannot be read as its type: inconsistent framing, a
// fixed-size value of the wrong size, a string without its NUL, and so on.
type Error struct {
	Type   string // the type being read
	Offset int    // where the value starts, from the start of the outermost value
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("gvariant: %s at byte %d: %s", e.Type, e.Offset, e.Reason)
}

// Value is serialized GVariant data of a known type, read in place: its
// children are sub-slices of its data. The zero Value is invalid.
type Value struct {
	t     *typeInfo
	data  []byte
	off   int  // offset of data in the outermost value, for errors
	depth int  // nesting depth in the outermost value
	be    bool // numbers are big-endian
}

// NewValue returns data read as type t. Numbers are read in byte order
// order (binary.LittleEndian or binary.BigEndian; nil is little-endian):
// GLib writes numbers in the machine's order, and g_variant_byteswap turns
// a value into the other order. Framing offsets are little-endian in both.
// NewValue checks nothing; the accessors check what they read.
func NewValue(t Type, data []byte, order binary.ByteOrder) Value {
	return Value{t: t.t, data: data, be: isBigEndian(order)}
}

func isBigEndian(order binary.ByteOrder) bool {
	return order != nil && order.Uint16([]byte{0, 1}) == 1
}

// Type is v's type.
func (v Value) Type() Type { return Type{v.t} }

// Data is v's serialized bytes, not a copy. For an "ay" they are the
// array's bytes.
func (v Value) Data() []byte { return v.data }

func (v Value) errorf(format string, args ...any) error {
	typ := "zero Value"
	if v.t != nil {
		typ = v.t.s
	}
	return &Error{Type: typ, Offset: v.off, Reason: fmt.Sprintf(format, args...)}
}

// code is v's type code, or 0 for the zero Value, which every accessor
// then refuses.
func (v Value) code() byte {
	if v.t == nil {
		return 0
	}
	return v.t.code
}

// offsetSize is the width of the framing offsets in a container of size
// bytes (gvs_get_offset_size): 0 for an empty container, then the smallest
// of 1, 2, 4 and 8 bytes that can hold size.
func offsetSize(size int) int {
	switch {
	case size == 0:
		return 0
	case size <= math.MaxUint8:
		return 1
	case size <= math.MaxUint16:
		return 2
	case uint64(size) <= math.MaxUint32:
		return 4
	}
	return 8
}

// readOffset reads a little-endian framing offset of len(b) bytes.
func readOffset(b []byte) uint64 {
	var x uint64
	for i := len(b) - 1; i >= 0; i-- {
		x = x<<8 | uint64(b[i])
	}
	return x
}

// child returns the member of v of type t at data[start:end].
func (v Value) child(t *typeInfo, start, end int) Value {
	return Value{t: t, data: v.data[start:end], off: v.off + start, depth: v.depth + 1, be: v.be}
}

// Len is the number of children of a container: the elements of an array,
// the members of a tuple or dict entry, 0 or 1 for a maybe, 1 for a
// variant. It checks the framing of the container itself (not of its
// children's contents).
func (v Value) Len() (int, error) {
	switch v.code() {
	case 'a':
		n, _, err := v.arrayFrame()
		return n, err
	case 'm':
		if len(v.data) == 0 {
			return 0, nil
		}
		if _, err := v.Index(0); err != nil {
			return 0, err
		}
		return 1, nil
	case '(', '{':
		if _, _, err := v.tupleMember(-1); err != nil {
			return 0, err
		}
		return len(v.t.fields), nil
	case 'v':
		if _, err := v.variantChild(); err != nil {
			return 0, err
		}
		return 1, nil
	}
	return 0, v.errorf("not a container")
}

// arrayFrame returns the number of elements of an array and, for
// variable-size elements, where its table of framing offsets starts
// (gvs_variable_sized_array_get_frame_offsets). An array of fixed-size
// elements is their concatenation; one of variable-size elements is the
// elements, each at its alignment, then the end offset of each.
func (v Value) arrayFrame() (n, table int, err error) {
	size := len(v.data)
	if fs := v.t.elem.fixed; fs != 0 {
		if size%fs != 0 {
			return 0, 0, v.errorf("%d bytes is not a whole number of %d-byte elements", size, fs)
		}
		return size / fs, size, nil
	}
	if size == 0 {
		return 0, 0, nil
	}
	w := offsetSize(size)
	last := readOffset(v.data[size-w:])
	if last > uint64(size-w) {
		return 0, 0, v.errorf("the last framing offset, %d, is beyond the %d-byte array", last, size)
	}
	if (size-int(last))%w != 0 {
		return 0, 0, v.errorf("the offset table, %d bytes from byte %d, is not a whole number of %d-byte offsets", size-int(last), last, w)
	}
	return (size - int(last)) / w, int(last), nil
}

// Index returns child i of a container (see Len), after checking the
// framing that bounds it: it lies inside the container's data, after the
// child before it, and before the framing offsets. Child 0 of a variant is
// its value, of the type the variant names.
func (v Value) Index(i int) (Value, error) {
	switch v.code() {
	case 'a':
		return v.arrayIndex(i)
	case 'm':
		if i != 0 || len(v.data) == 0 {
			return Value{}, v.errorf("no child %d", i)
		}
		if fs := v.t.elem.fixed; fs != 0 {
			if len(v.data) != fs {
				return Value{}, v.errorf("a Just of %d bytes, not %d", len(v.data), fs)
			}
			return v.child(v.t.elem, 0, fs), nil
		}
		// The child, then one zero byte (checked by CheckNormal).
		return v.child(v.t.elem, 0, len(v.data)-1), nil
	case '(', '{':
		if i < 0 || i >= len(v.t.fields) {
			return Value{}, v.errorf("no member %d", i)
		}
		start, end, err := v.tupleMember(i)
		if err != nil {
			return Value{}, err
		}
		return v.child(v.t.fields[i], start, end), nil
	case 'v':
		if i != 0 {
			return Value{}, v.errorf("no child %d", i)
		}
		return v.variantChild()
	}
	return Value{}, v.errorf("not a container")
}

func (v Value) arrayIndex(i int) (Value, error) {
	n, table, err := v.arrayFrame()
	if err != nil {
		return Value{}, err
	}
	if i < 0 || i >= n {
		return Value{}, v.errorf("no element %d of %d", i, n)
	}
	e := v.t.elem
	if e.fixed != 0 {
		return v.child(e, i*e.fixed, (i+1)*e.fixed), nil
	}
	w := offsetSize(len(v.data))
	start := 0
	if i > 0 {
		prev := readOffset(v.data[table+(i-1)*w : table+i*w])
		if prev > uint64(table) {
			return Value{}, v.errorf("element %d ends at %d, in or beyond the offset table at %d", i-1, prev, table)
		}
		start = alignUp(int(prev), e.align)
	}
	end := readOffset(v.data[table+i*w : table+(i+1)*w])
	if end > uint64(table) || uint64(start) > end {
		return Value{}, v.errorf("element %d is framed as bytes %d to %d, outside [%d, %d]", i, start, end, start, table)
	}
	return v.child(e, start, int(end)), nil
}

// tupleMember returns the bounds of member i of a tuple or dict entry,
// after checking the framing of all its members (gvs_tuple_get_child,
// gvs_tuple_is_normal). Members are laid out in order, each at its
// alignment; a fixed-size member ends after its fixed size, the last member
// ends where the framing offsets start, and every other variable-size
// member ends at the offset stored for it. The offsets are stored at the
// end of the tuple in reverse order, the first member's last. A fixed-size
// tuple has no offsets and exactly its fixed size.
func (v Value) tupleMember(i int) (start, end int, err error) {
	t := v.t
	size := len(v.data)
	if t.fixed != 0 && size != t.fixed {
		return 0, 0, v.errorf("%d bytes, not the type's %d", size, t.fixed)
	}
	w := offsetSize(size)
	limit := size - w*t.nOffsets // the framing offsets start here
	if limit < 0 {
		return 0, 0, v.errorf("%d bytes cannot hold its %d framing offsets", size, t.nOffsets)
	}
	pos, table := 0, size
	for k, f := range t.fields {
		s := alignUp(pos, f.align)
		var e int
		switch {
		case f.fixed != 0:
			e = s + f.fixed
		case k == len(t.fields)-1:
			e = limit
		default:
			o := readOffset(v.data[table-w : table])
			table -= w
			if o > uint64(limit) {
				return 0, 0, v.errorf("member %d ends at %d, in or beyond the framing offsets at %d", k, o, limit)
			}
			e = int(o)
		}
		if s > e || e > limit {
			return 0, 0, v.errorf("member %d is framed as bytes %d to %d, outside [%d, %d]", k, s, e, pos, limit)
		}
		if k == i {
			start, end = s, e
		}
		pos = e
	}
	if t.fixed == 0 && pos != limit {
		return 0, 0, v.errorf("the members end at %d, not at the framing offsets at %d", pos, limit)
	}
	return start, end, nil
}

// VariantType returns the type a variant names: the type string after the
// last zero byte of its data, which must be one complete definite type.
func (v Value) VariantType() (Type, error) {
	t, _, err := v.variantSplit()
	return Type{t}, err
}

func (v Value) variantSplit() (*typeInfo, int, error) {
	if v.code() != 'v' {
		return nil, 0, v.errorf("not a variant")
	}
	nul := bytes.LastIndexByte(v.data, 0)
	if nul < 0 {
		return nil, 0, v.errorf("no zero byte before a type string")
	}
	t, err := ParseType(string(v.data[nul+1:]))
	if err != nil {
		return nil, 0, v.errorf("%v", err)
	}
	return t.t, nul, nil
}

// variantChild is a variant's value: the bytes before the last zero byte,
// read as the type after it (gvs_variant_get_child).
func (v Value) variantChild() (Value, error) {
	t, nul, err := v.variantSplit()
	if err != nil {
		return Value{}, err
	}
	if v.depth+t.depth >= MaxDepth {
		return Value{}, v.errorf("a %s nested %d deep: over the limit of %d", t.s, v.depth, MaxDepth)
	}
	if t.fixed != 0 && nul != t.fixed {
		return Value{}, v.errorf("a %s of %d bytes, not %d", t.s, nul, t.fixed)
	}
	return v.child(t, 0, nul), nil
}

// fixedData returns the data of a fixed-size basic value of type code c.
func (v Value) fixedData(c byte) ([]byte, error) {
	if v.code() != c {
		return nil, v.errorf("read as %q", c)
	}
	if len(v.data) != v.t.fixed {
		return nil, v.errorf("%d bytes, not %d", len(v.data), v.t.fixed)
	}
	return v.data, nil
}

func (v Value) u16(c byte) (uint16, error) {
	b, err := v.fixedData(c)
	if err != nil {
		return 0, err
	}
	if v.be {
		return binary.BigEndian.Uint16(b), nil
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (v Value) u32(c byte) (uint32, error) {
	b, err := v.fixedData(c)
	if err != nil {
		return 0, err
	}
	if v.be {
		return binary.BigEndian.Uint32(b), nil
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (v Value) u64(c byte) (uint64, error) {
	b, err := v.fixedData(c)
	if err != nil {
		return 0, err
	}
	if v.be {
		return binary.BigEndian.Uint64(b), nil
	}
	return binary.LittleEndian.Uint64(b), nil
}

// Byte reads a y.
func (v Value) Byte() (byte, error) {
	b, err := v.fixedData('y')
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// Bool reads a b, which must be 0 or 1.
func (v Value) Bool() (bool, error) {
	b, err := v.fixedData('b')
	if err != nil {
		return false, err
	}
	if b[0] > 1 {
		return false, v.errorf("boolean byte %d is neither 0 nor 1", b[0])
	}
	return b[0] == 1, nil
}

// Int16 reads an n.
func (v Value) Int16() (int16, error) { x, err := v.u16('n'); return int16(x), err }

// Uint16 reads a q.
func (v Value) Uint16() (uint16, error) { return v.u16('q') }

// Int32 reads an i.
func (v Value) Int32() (int32, error) { x, err := v.u32('i'); return int32(x), err }

// Uint32 reads a u.
func (v Value) Uint32() (uint32, error) { return v.u32('u') }

// Handle reads an h (an index into a list of file descriptors sent
// alongside).
func (v Value) Handle() (int32, error) { x, err := v.u32('h'); return int32(x), err }

// Int64 reads an x.
func (v Value) Int64() (int64, error) { x, err := v.u64('x'); return int64(x), err }

// Uint64 reads a t.
func (v Value) Uint64() (uint64, error) { return v.u64('t') }

// Double reads a d.
func (v Value) Double() (float64, error) {
	x, err := v.u64('d')
	return math.Float64frombits(x), err
}

// Str reads an s, o or g: its bytes, which must end with the only zero
// byte and be UTF-8 (g_variant_serialiser_is_string); an o must be a D-Bus
// object path and a g a D-Bus signature.
func (v Value) Str() (string, error) {
	c := v.code()
	if c != 's' && c != 'o' && c != 'g' {
		return "", v.errorf("read as a string")
	}
	n := len(v.data)
	if n == 0 || v.data[n-1] != 0 {
		return "", v.errorf("string is not NUL-terminated")
	}
	b := v.data[:n-1]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return "", v.errorf("string has a NUL byte at %d", i)
	}
	if !utf8.Valid(b) {
		return "", v.errorf("string %q is not UTF-8", b)
	}
	s := string(b)
	if c == 'o' && !validObjectPath(s) {
		return "", v.errorf("%q is not an object path", s)
	}
	if c == 'g' && !validSignature(s) {
		return "", v.errorf("%q is not a signature", s)
	}
	return s, nil
}
