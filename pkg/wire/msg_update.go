package wire

import (
	"fmt"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// MaxRefUpdates is the most refs one UPDATE may change, and so the most
// results one RESULT may carry.
const MaxRefUpdates = 10000

// RefUpdate asks the receiver to move one ref from Old to New.
//
// Old is the commit the client saw in ADVERTISE, or object.Zero if the ref
// was not advertised (it must then not exist). New is the commit to set, or
// object.Zero to delete the ref. They cannot both be zero. The update is a
// compare-and-swap against Old, and must be a fast-forward (Old in New's
// parent chain) unless Force is set.
type RefUpdate struct {
	Ref      RefName
	Old, New object.Checksum
	Force    bool
}

// Update is the client's last message (FrameUpdate): the ref changes it
// asks for, to be applied all or none. With DryRun the receiver checks and
// reports but changes nothing.
type Update struct {
	DryRun bool
	Refs   []RefUpdate
}

// Flag bits of an UPDATE and of its refs.
const (
	updateDryRun = 0x01
	updateKnown  = updateDryRun

	refUpdateForce = 0x01
	refUpdateKnown = refUpdateForce
)

// FrameType returns FrameUpdate.
func (m *Update) FrameType() FrameType { return FrameUpdate }

const refUpdateFixedSize = 2*sizeCsum + sizeU8

// Validate checks the rules of protocol.md for an UPDATE (what
// MarshalBinary and UnmarshalBinary check): for an UPDATE made otherwise,
// such as from a version-0 client's message.
func (m *Update) Validate() error {
	if err := checkCount("refs", len(m.Refs), 1, MaxRefUpdates); err != nil {
		return err
	}
	for i, r := range m.Refs {
		if err := r.Ref.check(item("refs", i)); err != nil {
			return err
		}
		if r.Old.IsZero() && r.New.IsZero() {
			return fmt.Errorf("%s: old and new are both zero", item("refs", i))
		}
	}
	return checkUnique("refs", len(m.Refs), func(i int) RefName { return m.Refs[i].Ref })
}

// MarshalBinary encodes the UPDATE payload.
func (m *Update) MarshalBinary() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, encodeError(FrameUpdate, err)
	}
	size := sizeU8 + sizeU32
	for _, r := range m.Refs {
		size += r.Ref.size() + refUpdateFixedSize
	}
	e, err := newEncoder(FrameUpdate, size)
	if err != nil {
		return nil, err
	}
	var flags uint8
	if m.DryRun {
		flags |= updateDryRun
	}
	e.u8(flags)
	e.count(len(m.Refs))
	for _, r := range m.Refs {
		r.Ref.encode(e)
		e.csum(r.Old)
		e.csum(r.New)
		var flags uint8
		if r.Force {
			flags |= refUpdateForce
		}
		e.u8(flags)
	}
	return e.b, nil
}

// UnmarshalBinary decodes an UPDATE payload. It returns a *ProtocolError if
// p is not a valid UPDATE, leaving m unchanged.
func (m *Update) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameUpdate, p)
	if err != nil {
		return err
	}
	var v Update
	flags, err := d.flags("flags", updateKnown)
	if err != nil {
		return err
	}
	v.DryRun = flags&updateDryRun != 0
	n, err := d.count("refs", minRefNameSize+refUpdateFixedSize, MaxRefUpdates)
	if err != nil {
		return err
	}
	if n > 0 {
		v.Refs = make([]RefUpdate, n)
	}
	for i := range v.Refs {
		d.item("refs", i)
		r := &v.Refs[i]
		if err := r.Ref.decode(d); err != nil {
			return err
		}
		if r.Old, err = d.csum("old"); err != nil {
			return err
		}
		if r.New, err = d.csum("new"); err != nil {
			return err
		}
		flags, err := d.flags("flags", refUpdateKnown)
		if err != nil {
			return err
		}
		r.Force = flags&refUpdateForce != 0
	}
	d.endList()
	if err := d.finish(); err != nil {
		return err
	}
	if err := v.Validate(); err != nil {
		return d.invalid(err)
	}
	*m = v
	return nil
}
