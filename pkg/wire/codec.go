package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// Encoded sizes of the primitives. The minimum sizes of list items, used to
// bound counts before allocating, are sums of these.
const (
	sizeU8   = 1
	sizeU16  = 2
	sizeU32  = 4
	sizeU64  = 8
	sizeCsum = len(object.Checksum{})
	sizeStr  = sizeU16 // an empty str
	maxStr   = math.MaxUint16
)

// encoder appends primitives to a byte slice. It does no checking: the
// message's validate method has run before and its size was computed, so
// the slice is allocated once.
type encoder struct {
	b []byte
}

// newEncoder starts encoding a message of type t whose encoded size is
// size, refusing it if it would not fit in one frame.
func newEncoder(t FrameType, size int) (*encoder, error) {
	if size > MaxPayload {
		return nil, encodeError(t, fmt.Errorf("encoded size %d bytes exceeds the %d-byte frame limit", size, MaxPayload))
	}
	return &encoder{b: make([]byte, 0, size)}, nil
}

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

func (e *encoder) csum(c object.Checksum) { e.b = append(e.b, c[:]...) }

// str appends a str: u16 length, then the bytes. len(s) <= maxStr.
func (e *encoder) str(s string) {
	e.u16(uint16(len(s)))
	e.b = append(e.b, s...)
}

// count appends the u32 item count of a list.
func (e *encoder) count(n int) { e.u32(uint32(n)) }

// encodeError is the error of a MarshalBinary refusing an invalid message.
func encodeError(t FrameType, err error) error {
	return fmt.Errorf("transfer: cannot encode %v: %w", t, err)
}

// decoder reads primitives from a message payload. Every error it returns
// is a *ProtocolError naming the message, the field (with the list index
// while a list's items are read) and what was wrong.
type decoder struct {
	t    FrameType
	b    []byte
	off  int
	list string // the list whose items are being read, or ""
	idx  int    // the index of the item being read, when list != ""
}

// newDecoder starts decoding a payload of a message of type t.
func newDecoder(t FrameType, p []byte) (*decoder, error) {
	d := &decoder{t: t, b: p}
	if len(p) > MaxPayload {
		return nil, d.errorf("", "payload of %d bytes exceeds the %d-byte frame limit", len(p), MaxPayload)
	}
	return d, nil
}

// item records that the decoder is reading item i of list.
func (d *decoder) item(list string, i int) { d.list, d.idx = list, i }

// endList records that the decoder has finished reading a list's items.
func (d *decoder) endList() { d.list = "" }

// path names a field for errors: "versions", "refs[3].name", "refs[3]".
func (d *decoder) path(field string) string {
	if d.list == "" {
		return field
	}
	p := fmt.Sprintf("%s[%d]", d.list, d.idx)
	if field != "" {
		p += "." + field
	}
	return p
}

func (d *decoder) errorf(field, format string, args ...any) *ProtocolError {
	msg := d.t.String()
	if p := d.path(field); p != "" {
		msg += ": " + p
	}
	return ProtocolErrorf("%s: %s", msg, fmt.Sprintf(format, args...))
}

// invalid turns an error of a message's validate method into a
// *ProtocolError.
func (d *decoder) invalid(err error) *ProtocolError {
	return ProtocolErrorf("%v: %v", d.t, err)
}

func (d *decoder) left() int { return len(d.b) - d.off }

// take returns the next n bytes, or an error naming what was expected.
func (d *decoder) take(field, what string, n int) ([]byte, error) {
	if d.left() < n {
		if d.left() == 0 {
			return nil, d.errorf(field, "want %s (%d bytes), got end of message", what, n)
		}
		return nil, d.errorf(field, "want %s (%d bytes), only %d bytes left", what, n, d.left())
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *decoder) u8(field string) (uint8, error) {
	p, err := d.take(field, "u8", sizeU8)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

func (d *decoder) u16(field string) (uint16, error) {
	p, err := d.take(field, "u16", sizeU16)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(p), nil
}

func (d *decoder) u32(field string) (uint32, error) {
	p, err := d.take(field, "u32", sizeU32)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(p), nil
}

func (d *decoder) u64(field string) (uint64, error) {
	p, err := d.take(field, "u64", sizeU64)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(p), nil
}

func (d *decoder) csum(field string) (object.Checksum, error) {
	var c object.Checksum
	p, err := d.take(field, "checksum", sizeCsum)
	if err != nil {
		return c, err
	}
	copy(c[:], p)
	return c, nil
}

// flags reads a u8 of flag bits and refuses any bit outside known.
func (d *decoder) flags(field string, known uint8) (uint8, error) {
	v, err := d.u8(field)
	if err != nil {
		return 0, err
	}
	if v&^known != 0 {
		return 0, d.errorf(field, "got 0x%02x, which has reserved bits 0x%02x set", v, v&^known)
	}
	return v, nil
}

// str reads a str and checks that it is valid UTF-8 without NUL bytes.
// Field-specific limits are the business of the message's validate method.
func (d *decoder) str(field string) (string, error) {
	lengthField := "length"
	if field != "" {
		lengthField = field + " length"
	}
	n, err := d.u16(lengthField)
	if err != nil {
		return "", err
	}
	p, err := d.take(field, "string", int(n))
	if err != nil {
		return "", err
	}
	s := string(p)
	if err := checkChars(s); err != nil {
		return "", d.errorf(field, "%v", err)
	}
	return s, nil
}

// count reads the u32 item count of a list and checks it against max and
// against the bytes left, given that each item takes at least minItem
// bytes, so that a hostile count cannot make the caller allocate more than
// the payload could describe.
func (d *decoder) count(field string, minItem, max int) (int, error) {
	n, err := d.u32(field + " count")
	if err != nil {
		return 0, err
	}
	if uint64(n) > uint64(max) {
		return 0, d.errorf(field, "count %d exceeds the limit of %d", n, max)
	}
	if need := uint64(n) * uint64(minItem); need > uint64(d.left()) {
		return 0, d.errorf(field, "count %d needs at least %d bytes, only %d left", n, need, d.left())
	}
	return int(n), nil
}

// finish checks that the whole payload was consumed.
func (d *decoder) finish() error {
	if d.left() != 0 {
		return d.errorf("", "%d unexpected bytes after the message", d.left())
	}
	return nil
}

// checkChars checks the rules every str obeys: valid UTF-8, no NUL.
func checkChars(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", quote(s))
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("%s has a NUL byte at offset %d", quote(s), i)
	}
	return nil
}

// quote quotes a string from the peer for an error message, escaping
// everything unprintable and cutting it short if it is long.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// checkStr checks a string field for validate methods: the str rules and a
// length between min and max bytes (max <= maxStr).
func checkStr(field, s string, min, max int) error {
	switch {
	case len(s) < min && min == 1:
		return fmt.Errorf("%s: must not be empty", field)
	case len(s) < min:
		return fmt.Errorf("%s: %d bytes, fewer than the %d required", field, len(s), min)
	case len(s) > max:
		return fmt.Errorf("%s: %d bytes, more than the %d allowed", field, len(s), max)
	}
	if err := checkChars(s); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// checkCount checks the length of a list field for validate methods.
func checkCount(field string, n, min, max int) error {
	switch {
	case n < min && min == 1:
		return fmt.Errorf("%s: must not be empty", field)
	case n < min:
		return fmt.Errorf("%s: %d items, fewer than the %d required", field, n, min)
	case n > max:
		return fmt.Errorf("%s: %d items, more than the %d allowed", field, n, max)
	}
	return nil
}

// checkName checks an object name for validate methods: a known type and a
// checksum that is not all zero.
func checkName(field string, n object.Name) error {
	if !n.Type.Valid() {
		return fmt.Errorf("%s: invalid object type %d", field, uint8(n.Type))
	}
	if n.Checksum.IsZero() {
		return fmt.Errorf("%s: all-zero checksum", field)
	}
	return nil
}

// item names list item i of a list field for validate errors.
func item(list string, i int) string { return fmt.Sprintf("%s[%d]", list, i) }
