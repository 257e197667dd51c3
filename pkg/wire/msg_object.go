package wire

import (
	"fmt"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// ObjectHeader announces an object (FrameObject): its name and the size of
// its content, which follows in DATA frames whose payloads add up to
// exactly Size bytes (none when Size is 0). See FrameWriter.WriteObject and
// FrameReader.ObjectReader.
//
// The content is the serialized GVariant of a commit, dirtree or dirmeta;
// the serialized a{sv} of a commitmeta (named by its commit's checksum); or
// the libostree content stream of a file. protocol.md describes them.
type ObjectHeader struct {
	Name object.Name
	Size uint64
	// Filez marks a file object sent as the compressed .filez of an
	// archive repository (wire type 0x81; capability "archive-filez")
	// instead of as a content stream. Name.Type is then object.File.
	Filez bool
	// Deflated marks a metadata object whose content is sent compressed,
	// as one raw deflate stream (wire type 0x40 | type; capability
	// "deflate-metadata"); Size is then the compressed length.
	Deflated bool
}

// CapArchiveFilez is the capability of sending and receiving file objects
// as archive .filez bytes (OBJECT type 0x81): a client offers it when its
// repository is in archive mode, a receiver when it can take them (an
// archive repository stores them as they are, any other writes their
// inflated content).
const CapArchiveFilez = "archive-filez"

// CapResume is the capability of resuming an interrupted push: the
// receiver answers QUERY from the verified objects an interrupted push
// left staged too (protocol.md, section 10), so they are not sent again.
// A receiver offers it when its transactions can take such objects up; a
// client offers it unless told not to.
const CapResume = "resume"

// CapDeflateMetadata is the capability of sending metadata objects
// (commit, dirtree, dirmeta, commitmeta) deflated: OBJECT type 0x40 | type,
// the content one raw deflate stream. A client offers it when it
// compresses (PushOptions.Compress), and deflates an object only when that
// makes it smaller; a receiver offers it when it can inflate.
const CapDeflateMetadata = "deflate-metadata"

// wireFilez is the OBJECT type byte of a file object sent as .filez.
const wireFilez = 0x81

// wireDeflated is the bit of the OBJECT type byte that marks a deflated
// metadata object.
const wireDeflated = 0x40

// FrameType returns FrameObject.
func (m *ObjectHeader) FrameType() FrameType { return FrameObject }

const objectHeaderSize = sizeU8 + sizeCsum + sizeU64

func (m *ObjectHeader) validate() error {
	if m.Filez && m.Name.Type != object.File {
		return fmt.Errorf("object: a .filez object must be a file, not %v", m.Name.Type)
	}
	if err := checkName("object", m.Name); err != nil {
		return err
	}
	if m.Deflated && (m.Filez || !m.Name.Type.IsMeta()) {
		return fmt.Errorf("object: only a metadata object can be sent deflated, not a %v", m.Name.Type)
	}
	return nil
}

// MarshalBinary encodes the OBJECT payload.
func (m *ObjectHeader) MarshalBinary() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, encodeError(FrameObject, err)
	}
	e, err := newEncoder(FrameObject, objectHeaderSize)
	if err != nil {
		return nil, err
	}
	switch {
	case m.Filez:
		e.u8(wireFilez)
	case m.Deflated:
		e.u8(wireDeflated | uint8(m.Name.Type))
	default:
		e.u8(uint8(m.Name.Type))
	}
	e.csum(m.Name.Checksum)
	e.u64(m.Size)
	return e.b, nil
}

// UnmarshalBinary decodes an OBJECT payload. It returns a *ProtocolError if
// p is not a valid OBJECT, leaving m unchanged. Whether Size is acceptable
// for the object's type is for the receiver to judge.
func (m *ObjectHeader) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameObject, p)
	if err != nil {
		return err
	}
	var v ObjectHeader
	t, err := d.u8("type")
	if err != nil {
		return err
	}
	v.Name.Type = object.Type(t)
	switch {
	case t == wireFilez:
		v.Name.Type, v.Filez = object.File, true
	case t&0xc0 == wireDeflated:
		v.Name.Type, v.Deflated = object.Type(t&^wireDeflated), true
	}
	if v.Name.Checksum, err = d.csum("checksum"); err != nil {
		return err
	}
	if v.Size, err = d.u64("size"); err != nil {
		return err
	}
	if err := d.finish(); err != nil {
		return err
	}
	if err := v.validate(); err != nil {
		return d.invalid(err)
	}
	*m = v
	return nil
}
