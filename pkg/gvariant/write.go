package gvariant

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Writing: a Builder is told the type up front and then given the values in
// order, depth first, the way GLib's GVariantBuilder is; it checks each
// against the type it expects next and writes it in place, so that
// containers cost no copies. A container's framing offsets go at its end,
// and their width depends on the container's final size, so they are
// appended when it is closed. Its errors are sticky: after the first, the
// Builder ignores further calls and Finish returns that error.

// Builder writes one value of a given type in normal form.
type Builder struct {
	root  *typeInfo
	buf   []byte
	stack []frame
	// ends holds the framing offsets of the open containers, each
	// container's after its parent's, to write when it is closed: the end
	// of every element of an array of variable-size elements, or of every
	// variable-size member but the last of a tuple or dict entry.
	ends []int
	done bool // the root value is complete
	be   bool
	err  error
	// Room for the stack and offsets of small values, allocated with the
	// Builder.
	stackBuf [8]frame
	endsBuf  [16]int
}

// frame is a container being written.
type frame struct {
	t     *typeInfo
	start int       // where its data starts in buf
	child *typeInfo // a variant's child type
	n     int       // children written so far
	ends  int       // where its framing offsets start in Builder.ends
}

// NewBuilder returns a Builder for one value of type t, numbers in byte
// order order (binary.LittleEndian or binary.BigEndian; nil is
// little-endian).
func NewBuilder(t Type, order binary.ByteOrder) *Builder {
	b := &Builder{root: t.t, be: isBigEndian(order), buf: make([]byte, 0, 128)}
	b.stack, b.ends = b.stackBuf[:0], b.endsBuf[:0]
	if t.t == nil {
		b.err = errors.New("gvariant: NewBuilder with the zero Type")
	}
	return b
}

func (b *Builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("gvariant: Builder: "+format, args...)
	}
}

// next returns the type the next value must have.
func (b *Builder) next() *typeInfo {
	if len(b.stack) == 0 {
		if b.done {
			b.fail("a value after the complete %s", b.root.s)
			return nil
		}
		return b.root
	}
	f := &b.stack[len(b.stack)-1]
	switch f.t.code {
	case 'a':
		return f.t.elem
	case 'm':
		if f.n == 0 {
			return f.t.elem
		}
	case '(', '{':
		if f.n < len(f.t.fields) {
			return f.t.fields[f.n]
		}
	case 'v':
		if f.n == 0 {
			return f.child
		}
	}
	b.fail("a value after the last member of a %s", f.t.s)
	return nil
}

// begin checks that the next value may be one of type code c and pads to
// its alignment. It returns the expected type, or nil after an error.
func (b *Builder) begin(c byte) *typeInfo {
	if b.err != nil {
		return nil
	}
	t := b.next()
	if t == nil {
		return nil
	}
	if t.code != c && !(c == 's' && (t.code == 'o' || t.code == 'g')) {
		b.fail("a %q where a %s is expected", c, t.s)
		return nil
	}
	b.pad(t.align)
	return t
}

// pad writes zero bytes up to a multiple of align. Offsets are relative to
// the outermost value, which is at the start of buf: every container
// starts at its own alignment, the largest of its children's, so this is
// also aligned within the container.
func (b *Builder) pad(align int) {
	for len(b.buf)%align != 0 {
		b.buf = append(b.buf, 0)
	}
}

// end records that a value ended at the end of buf.
func (b *Builder) end() {
	if len(b.stack) == 0 {
		b.done = true
		return
	}
	f := &b.stack[len(b.stack)-1]
	var t *typeInfo
	switch f.t.code {
	case 'a':
		t = f.t.elem
		if t.fixed == 0 {
			b.ends = append(b.ends, len(b.buf)-f.start)
		}
	case '(', '{':
		t = f.t.fields[f.n]
		if t.fixed == 0 && f.n != len(f.t.fields)-1 {
			b.ends = append(b.ends, len(b.buf)-f.start)
		}
	}
	f.n++
}

// Byte writes a y.
func (b *Builder) Byte(x byte) {
	if b.begin('y') != nil {
		b.buf = append(b.buf, x)
		b.end()
	}
}

// Bool writes a b.
func (b *Builder) Bool(x bool) {
	if b.begin('b') != nil {
		var c byte
		if x {
			c = 1
		}
		b.buf = append(b.buf, c)
		b.end()
	}
}

func (b *Builder) put16(c byte, x uint16) {
	if b.begin(c) != nil {
		if b.be {
			b.buf = binary.BigEndian.AppendUint16(b.buf, x)
		} else {
			b.buf = binary.LittleEndian.AppendUint16(b.buf, x)
		}
		b.end()
	}
}

func (b *Builder) put32(c byte, x uint32) {
	if b.begin(c) != nil {
		if b.be {
			b.buf = binary.BigEndian.AppendUint32(b.buf, x)
		} else {
			b.buf = binary.LittleEndian.AppendUint32(b.buf, x)
		}
		b.end()
	}
}

func (b *Builder) put64(c byte, x uint64) {
	if b.begin(c) != nil {
		if b.be {
			b.buf = binary.BigEndian.AppendUint64(b.buf, x)
		} else {
			b.buf = binary.LittleEndian.AppendUint64(b.buf, x)
		}
		b.end()
	}
}

// Int16 writes an n.
func (b *Builder) Int16(x int16) { b.put16('n', uint16(x)) }

// Uint16 writes a q.
func (b *Builder) Uint16(x uint16) { b.put16('q', x) }

// Int32 writes an i.
func (b *Builder) Int32(x int32) { b.put32('i', uint32(x)) }

// Uint32 writes a u.
func (b *Builder) Uint32(x uint32) { b.put32('u', x) }

// Handle writes an h.
func (b *Builder) Handle(x int32) { b.put32('h', uint32(x)) }

// Int64 writes an x.
func (b *Builder) Int64(x int64) { b.put64('x', uint64(x)) }

// Uint64 writes a t.
func (b *Builder) Uint64(x uint64) { b.put64('t', x) }

// Double writes a d.
func (b *Builder) Double(x float64) { b.put64('d', math.Float64bits(x)) }

// Str writes an s, o or g: s and a zero byte. s must be UTF-8 without a
// zero byte, an o an object path and a g a signature.
func (b *Builder) Str(s string) {
	if b.err != nil {
		return
	}
	t := b.next()
	switch {
	case t == nil:
		return
	case strings.IndexByte(s, 0) >= 0:
		b.fail("string %q has a NUL byte", s)
	case !utf8.ValidString(s):
		b.fail("string %q is not UTF-8", s)
	case t.code == 'o' && !validObjectPath(s):
		b.fail("%q is not an object path", s)
	case t.code == 'g' && !validSignature(s):
		b.fail("%q is not a signature", s)
	}
	b.RawStr(s)
}

// RawStr writes s and a zero byte as an s, o or g without checking s. If s
// holds a zero byte, is not UTF-8 or (for o and g) not an object path or
// signature, the result is not valid GVariant, and readers refuse it. It is
// for serializers that must write what they were given and leave the
// refusal to the reader.
func (b *Builder) RawStr(s string) {
	if b.begin('s') != nil {
		b.buf = append(append(b.buf, s...), 0)
		b.end()
	}
}

// Bytes writes an ay: the bytes as they are.
func (b *Builder) Bytes(p []byte) {
	if t := b.begin('a'); t != nil {
		if t.elem.code != 'y' {
			b.fail("bytes where a %s is expected", t.s)
			return
		}
		b.buf = append(b.buf, p...)
		b.end()
	}
}

// Open starts the next value, which must be an array, a maybe (then a Just,
// holding the one value written before Close; for Nothing, call Nothing),
// a tuple or a dict entry. Its children follow, then Close.
func (b *Builder) Open() {
	if b.err != nil {
		return
	}
	t := b.next()
	if t == nil {
		return
	}
	switch t.code {
	case 'a', 'm', '(', '{':
	default:
		b.fail("Open where a %s is expected", t.s)
		return
	}
	b.pad(t.align)
	b.stack = append(b.stack, frame{t: t, start: len(b.buf), ends: len(b.ends)})
}

// OpenVariant starts the next value, which must be a v, holding a value of
// type t, to be written next, then Close.
func (b *Builder) OpenVariant(t Type) {
	if b.begin('v') == nil {
		return
	}
	if t.t == nil {
		b.fail("OpenVariant with the zero Type")
		return
	}
	b.stack = append(b.stack, frame{t: basicInfo['v'], start: len(b.buf), child: t.t, ends: len(b.ends)})
}

// Nothing writes the next value, which must be a maybe, as Nothing: zero
// bytes.
func (b *Builder) Nothing() {
	if b.begin('m') != nil {
		b.end()
	}
}

// Close ends the container last opened and writes its framing.
func (b *Builder) Close() {
	if b.err != nil {
		return
	}
	if len(b.stack) == 0 {
		b.fail("Close without Open")
		return
	}
	f := b.stack[len(b.stack)-1]
	b.stack = b.stack[:len(b.stack)-1]
	ends := b.ends[f.ends:]
	switch f.t.code {
	case 'a':
		if f.t.elem.fixed == 0 {
			b.appendOffsets(f.start, ends, false)
		}
	case 'm':
		if f.n == 1 && f.t.elem.fixed == 0 {
			b.buf = append(b.buf, 0)
		}
	case '(', '{':
		if f.n != len(f.t.fields) {
			b.fail("Close after %d of the %d members of a %s", f.n, len(f.t.fields), f.t.s)
			return
		}
		if f.t.fixed != 0 {
			for len(b.buf)-f.start < f.t.fixed {
				b.buf = append(b.buf, 0)
			}
		} else {
			b.appendOffsets(f.start, ends, true)
		}
	case 'v':
		if f.n != 1 {
			b.fail("Close of an empty variant")
			return
		}
		b.buf = append(append(b.buf, 0), f.child.s...)
	}
	b.ends = b.ends[:f.ends]
	b.end()
}

// appendOffsets writes the framing offsets of the container whose data
// started at start, in reverse order for a tuple. Their width is the
// narrowest in which the container's whole size, offsets included, fits
// (gvs_calculate_total_size); it is the width gvs_get_offset_size gives
// for that size.
func (b *Builder) appendOffsets(start int, ends []int, reverse bool) {
	if len(ends) == 0 {
		return
	}
	body := len(b.buf) - start
	w := 8
	for _, try := range []int{1, 2, 4} {
		if uint64(body+len(ends)*try) <= uint64(1)<<(8*try)-1 {
			w = try
			break
		}
	}
	for i := range ends {
		o := ends[i]
		if reverse {
			o = ends[len(ends)-1-i]
		}
		for k := 0; k < w; k++ {
			b.buf = append(b.buf, byte(uint64(o)>>(8*k)))
		}
	}
}

// Value writes v, whose type must be the one expected next, in normal form:
// v is read through its accessors and each part written again, so an error
// reading v is returned by Finish. v is read in its own byte order and
// written in the Builder's.
func (b *Builder) Value(v Value) {
	if b.err != nil {
		return
	}
	if t := b.next(); t != nil && (v.t == nil || t.s != v.t.s) {
		b.fail("a value of type %s where a %s is expected", Type{v.t}, t.s)
		return
	}
	if err := b.value(v); err != nil && b.err == nil {
		b.err = err
	}
}

func (b *Builder) value(v Value) error {
	switch v.t.code {
	case 'y':
		x, err := v.Byte()
		b.Byte(x)
		return err
	case 'b':
		x, err := v.Bool()
		b.Bool(x)
		return err
	case 'n', 'q':
		x, err := v.u16(v.t.code)
		b.put16(v.t.code, x)
		return err
	case 'i', 'u', 'h':
		x, err := v.u32(v.t.code)
		b.put32(v.t.code, x)
		return err
	case 'x', 't', 'd':
		x, err := v.u64(v.t.code)
		b.put64(v.t.code, x)
		return err
	case 's', 'o', 'g':
		x, err := v.Str()
		b.Str(x)
		return err
	case 'a':
		if v.t.elem.code == 'y' {
			b.Bytes(v.data)
			return nil
		}
	case 'm':
		n, err := v.Len()
		if err != nil {
			return err
		}
		if n == 0 {
			b.Nothing()
			return nil
		}
	case 'v':
		c, err := v.Index(0)
		if err != nil {
			return err
		}
		b.OpenVariant(Type{c.t})
		if err := b.value(c); err != nil {
			return err
		}
		b.Close()
		return nil
	}
	n, err := v.Len()
	if err != nil {
		return err
	}
	b.Open()
	for i := 0; i < n; i++ {
		c, err := v.Index(i)
		if err != nil {
			return err
		}
		if err := b.value(c); err != nil {
			return err
		}
	}
	b.Close()
	return nil
}

// Finish returns the serialized value, or the first error. The value must
// be complete: every container closed.
func (b *Builder) Finish() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if !b.done || len(b.stack) != 0 {
		return nil, fmt.Errorf("gvariant: Builder: Finish before the %s is complete", b.root.s)
	}
	if b.buf == nil {
		return []byte{}, nil
	}
	return b.buf, nil
}
