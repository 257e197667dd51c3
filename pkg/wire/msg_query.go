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
	nbytes := (len(m.Present) + 7) / 8
	e, err := newEncoder(FrameHave, sizeU32+nbytes)
	if err != nil {
		return nil, err
	}
	e.count(len(m.Present))
	bits := make([]byte, nbytes)
	for i, ok := range m.Present {
		if ok {
			bits[i/8] |= 1 << (i % 8)
		}
	}
	e.b = append(e.b, bits...)
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
	n, err := d.u32("count")
	if err != nil {
		return err
	}
	if n == 0 || n > MaxQueryObjects {
		return d.errorf("count", "got %d, want 1 to %d", n, MaxQueryObjects)
	}
	nbytes := int(n+7) / 8
	bits, err := d.take("bits", fmt.Sprintf("bitmap of %d objects", n), nbytes)
	if err != nil {
		return err
	}
	if extra := int(n) % 8; extra != 0 {
		if unused := bits[nbytes-1] >> extra; unused != 0 {
			return d.errorf("bits", "last byte 0x%02x has bits set beyond object %d", bits[nbytes-1], n-1)
		}
	}
	if err := d.finish(); err != nil {
		return err
	}
	v := Have{Present: make([]bool, n)}
	for i := range v.Present {
		v.Present[i] = bits[i/8]&(1<<(i%8)) != 0
	}
	*m = v
	return nil
}
