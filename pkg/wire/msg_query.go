package wire

import (
	"fmt"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// MaxQueryObjects is the most objects one QUERY may ask about, and so the
// most answers one HAVE may carry. 30000 objects take 990004 bytes, within
// MaxPayload.
const MaxQueryObjects = 30000

// Query asks the receiver which of some objects it has (FrameQuery). The
// receiver answers each QUERY with one HAVE, in order.
type Query struct {
	Objects []object.Name
}

// FrameType returns FrameQuery.
func (m *Query) FrameType() FrameType { return FrameQuery }

const queryItemSize = sizeU8 + sizeCsum

func (m *Query) validate() error {
	if err := checkCount("objects", len(m.Objects), 1, MaxQueryObjects); err != nil {
		return err
	}
	for i, o := range m.Objects {
		if err := checkName(item("objects", i), o); err != nil {
			return err
		}
	}
	return nil
}

// MarshalBinary encodes the QUERY payload.
func (m *Query) MarshalBinary() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, encodeError(FrameQuery, err)
	}
	e, err := newEncoder(FrameQuery, sizeU32+queryItemSize*len(m.Objects))
	if err != nil {
		return nil, err
	}
	e.count(len(m.Objects))
	for _, o := range m.Objects {
		e.u8(uint8(o.Type))
		e.csum(o.Checksum)
	}
	return e.b, nil
}

// UnmarshalBinary decodes a QUERY payload. It returns a *ProtocolError if p
// is not a valid QUERY, leaving m unchanged.
func (m *Query) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameQuery, p)
	if err != nil {
		return err
	}
	n, err := d.count("objects", queryItemSize, MaxQueryObjects)
	if err != nil {
		return err
	}
	var v Query
	if n > 0 {
		v.Objects = make([]object.Name, n)
	}
	for i := range v.Objects {
		d.item("objects", i)
		t, err := d.u8("type")
		if err != nil {
			return err
		}
		v.Objects[i].Type = object.Type(t)
		if v.Objects[i].Checksum, err = d.csum("checksum"); err != nil {
			return err
		}
	}
	d.endList()
	if err := d.finish(); err != nil {
		return err
	}
	if err := v.validate(); err != nil {
		return d.invalid(err)
	}
	*m = v
	return nil
}

// Have answers one QUERY (FrameHave): Present[i] reports whether the
// receiver has object i of the QUERY, either in its repository or received
// earlier in this push. It says nothing about the objects that object
// references.
type Have struct {
	Present []bool
}

// FrameType returns FrameHave.
func (m *Have) FrameType() FrameType { return FrameHave }

func (m *Have) validate() error {
	return checkCount("present", len(m.Present), 1, MaxQueryObjects)
}

// MarshalBinary encodes the HAVE payload: the count, then one bit per
// object, least significant bit first.
func (m *Have) MarshalBinary() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, encodeError(FrameHave, err)
	}
	e, err := newEncoder(FrameHave, sizeU32+(len(m.Present)+7)/8)
	if err != nil {
		return nil, err
	}
	e.count(len(m.Present))
	e.b = append(e.b, packBits(m.Present)...)
	return e.b, nil
}

// UnmarshalBinary decodes a HAVE payload. It returns a *ProtocolError if p
// is not a valid HAVE, leaving m unchanged. Whether the count matches the
// QUERY being answered is for the caller to check.
func (m *Have) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameHave, p)
	if err != nil {
		return err
	}
	present, err := d.bitmap("count", MaxQueryObjects)
	if err != nil {
		return err
	}
	if err := d.finish(); err != nil {
		return err
	}
	*m = Have{Present: present}
	return nil
}

// packBits packs one bit per item, least significant bit first: item 0
// is 0x01 of the first byte, item 8 0x01 of the second.
func packBits(v []bool) []byte {
	bits := make([]byte, (len(v)+7)/8)
	for i, ok := range v {
		if ok {
			bits[i/8] |= 1 << (i % 8)
		}
	}
	return bits
}

// bitmap reads a u32 count (1 to max) and that many bits, packed as
// packBits packs them, with the unused high bits of the last byte zero.
func (d *decoder) bitmap(countField string, max int) ([]bool, error) {
	n, err := d.u32(countField)
	if err != nil {
		return nil, err
	}
	if n == 0 || uint64(n) > uint64(max) {
		return nil, d.errorf(countField, "got %d, want 1 to %d", n, max)
	}
	nbytes := int(n+7) / 8
	bits, err := d.take("bits", fmt.Sprintf("bitmap of %d objects", n), nbytes)
	if err != nil {
		return nil, err
	}
	if extra := int(n) % 8; extra != 0 {
		if unused := bits[nbytes-1] >> extra; unused != 0 {
			return nil, d.errorf("bits", "last byte 0x%02x has bits set beyond object %d", bits[nbytes-1], n-1)
		}
	}
	v := make([]bool, n)
	for i := range v {
		v[i] = bits[i/8]&(1<<(i%8)) != 0
	}
	return v, nil
}
