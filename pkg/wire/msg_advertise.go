package wire

import (
	"fmt"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// Limits of ref names.
const (
	MaxRefNameLen      = 1024 // bytes in RefName.Name
	MaxCollectionIDLen = 255  // bytes in a collection ID (libostree's limit)
)

// The repository modes an ADVERTISE may name, as libostree spells them.
const (
	ModeArchive         = "archive"
	ModeBare            = "bare"
	ModeBareUser        = "bare-user"
	ModeBareUserOnly    = "bare-user-only"
	ModeBareSplitXattrs = "bare-split-xattrs"
)

// validMode reports whether mode is one of the ModeXxx constants.
func validMode(mode string) bool {
	switch mode {
	case ModeArchive, ModeBare, ModeBareUser, ModeBareUserOnly, ModeBareSplitXattrs:
		return true
	}
	return false
}

// RefName names a ref: a plain ref when CollectionID is empty, otherwise a
// collection-ref. The codec only checks lengths and the str rules; whether
// a name is acceptable to libostree is the receiver's business.
type RefName struct {
	CollectionID string
	Name         string
}

// String returns Name, or "(CollectionID, Name)" for a collection-ref, as
// libostree prints them. Neither part is escaped: use Printable before
// showing a name that came from the peer.
func (r RefName) String() string {
	if r.CollectionID == "" {
		return r.Name
	}
	return "(" + r.CollectionID + ", " + r.Name + ")"
}

func (r RefName) check(field string) error {
	if err := checkStr(field+".collection_id", r.CollectionID, 0, MaxCollectionIDLen); err != nil {
		return err
	}
	return checkStr(field+".name", r.Name, 1, MaxRefNameLen)
}

// size is the encoded size of the two strs.
func (r RefName) size() int { return 2*sizeStr + len(r.CollectionID) + len(r.Name) }

func (r RefName) encode(e *encoder) {
	e.str(r.CollectionID)
	e.str(r.Name)
}

func (r *RefName) decode(d *decoder) (err error) {
	if r.CollectionID, err = d.str("collection_id"); err != nil {
		return err
	}
	r.Name, err = d.str("name")
	return err
}

// minRefNameSize is the smallest encoded RefName: no collection ID and a
// one-byte name.
const minRefNameSize = 2*sizeStr + 1

// checkUnique returns an error naming the first ref listed twice.
func checkUnique(list string, n int, ref func(int) RefName) error {
	seen := make(map[RefName]struct{}, n)
	for i := 0; i < n; i++ {
		r := ref(i)
		if _, dup := seen[r]; dup {
			return fmt.Errorf("%s: ref %s listed twice", item(list, i), quote(r.String()))
		}
		seen[r] = struct{}{}
	}
	return nil
}

// AdvertisedRef is one ref of an ADVERTISE: its current commit, and whether
// the receiver has that commit complete (the commit object and everything
// it references, not a partial commit).
type AdvertisedRef struct {
	Ref      RefName
	Commit   object.Checksum
	Complete bool
}

// Flag bits of an advertised ref.
const (
	advertiseComplete = 0x01
	advertiseKnown    = advertiseComplete
)

// Advertise is the receiver's description of its repository
// (FrameAdvertise), sent right after its HELLO: its mode (ModeXxx), its
// collection ID (empty when none) and every ref with its commit.
type Advertise struct {
	Mode         string
	CollectionID string
	Refs         []AdvertisedRef
}

// FrameType returns FrameAdvertise.
func (m *Advertise) FrameType() FrameType { return FrameAdvertise }

func (m *Advertise) validate() error {
	if !validMode(m.Mode) {
		return fmt.Errorf("mode: unknown repository mode %s", quote(m.Mode))
	}
	if err := checkStr("collection_id", m.CollectionID, 0, MaxCollectionIDLen); err != nil {
		return err
	}
	return validateAdvertisedRefs(m.Refs)
}

// validateAdvertisedRefs checks a list of advertised refs (ADVERTISE's,
// or a REFS frame's).
func validateAdvertisedRefs(refs []AdvertisedRef) error {
	for i, r := range refs {
		if err := r.Ref.check(item("refs", i)); err != nil {
			return err
		}
		if r.Commit.IsZero() {
			return fmt.Errorf("%s.commit: all-zero checksum", item("refs", i))
		}
	}
	return checkUnique("refs", len(refs), func(i int) RefName { return refs[i].Ref })
}

// advertisedRefsSize is the encoded size of a list of advertised refs.
func advertisedRefsSize(refs []AdvertisedRef) int {
	size := sizeU32
	for _, r := range refs {
		size += r.Ref.size() + sizeCsum + sizeU8
	}
	return size
}

func encodeAdvertisedRefs(e *encoder, refs []AdvertisedRef) {
	e.count(len(refs))
	for _, r := range refs {
		r.Ref.encode(e)
		e.csum(r.Commit)
		var flags uint8
		if r.Complete {
			flags |= advertiseComplete
		}
		e.u8(flags)
	}
}

func decodeAdvertisedRefs(d *decoder) ([]AdvertisedRef, error) {
	n, err := d.count("refs", minRefNameSize+sizeCsum+sizeU8, MaxPayload)
	if err != nil {
		return nil, err
	}
	var refs []AdvertisedRef
	if n > 0 {
		refs = make([]AdvertisedRef, n)
	}
	for i := range refs {
		d.item("refs", i)
		r := &refs[i]
		if err := r.Ref.decode(d); err != nil {
			return nil, err
		}
		if r.Commit, err = d.csum("commit"); err != nil {
			return nil, err
		}
		flags, err := d.flags("flags", advertiseKnown)
		if err != nil {
			return nil, err
		}
		r.Complete = flags&advertiseComplete != 0
	}
	d.endList()
	return refs, nil
}

// EncodedSize is the encoded size of the payload: whether it fits in a
// frame (MaxPayload).
func (m *Advertise) EncodedSize() int {
	return 2*sizeStr + len(m.Mode) + len(m.CollectionID) + advertisedRefsSize(m.Refs)
}

// MarshalBinary encodes the ADVERTISE payload. Refs that do not fit in
// MaxPayload go in REFS frames (CapAdvertiseRefs).
func (m *Advertise) MarshalBinary() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, encodeError(FrameAdvertise, err)
	}
	e, err := newEncoder(FrameAdvertise, m.EncodedSize())
	if err != nil {
		return nil, err
	}
	e.str(m.Mode)
	e.str(m.CollectionID)
	encodeAdvertisedRefs(e, m.Refs)
	return e.b, nil
}

// UnmarshalBinary decodes an ADVERTISE payload. It returns a *ProtocolError
// if p is not a valid ADVERTISE, leaving m unchanged.
func (m *Advertise) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameAdvertise, p)
	if err != nil {
		return err
	}
	var v Advertise
	if v.Mode, err = d.str("mode"); err != nil {
		return err
	}
	if v.CollectionID, err = d.str("collection_id"); err != nil {
		return err
	}
	if v.Refs, err = decodeAdvertisedRefs(d); err != nil {
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

// CapAdvertiseRefs, in effect, lets the receiver advertise any number of
// refs: its ADVERTISE lists none, and REFS frames follow it with all of
// them, as many to a frame as fit, the last one with More false.
const CapAdvertiseRefs = "advertise-refs"

// MaxAdvertisedRefs bounds the refs a client takes from a receiver in all
// the REFS frames of an exchange.
const MaxAdvertisedRefs = 10_000_000

// Refs carries refs of the receiver's repository after its ADVERTISE
// (FrameRefs), with CapAdvertiseRefs in effect. More says another REFS
// frame follows. A ref appears at most once in all of them.
type Refs struct {
	More bool
	Refs []AdvertisedRef
}

// Flag bits of REFS.
const (
	refsMore  = 0x01
	refsKnown = refsMore
)

// FrameType returns FrameRefs.
func (m *Refs) FrameType() FrameType { return FrameRefs }

// MarshalBinary encodes the REFS payload.
func (m *Refs) MarshalBinary() ([]byte, error) {
	if err := validateAdvertisedRefs(m.Refs); err != nil {
		return nil, encodeError(FrameRefs, err)
	}
	e, err := newEncoder(FrameRefs, sizeU8+advertisedRefsSize(m.Refs))
	if err != nil {
		return nil, err
	}
	var flags uint8
	if m.More {
		flags |= refsMore
	}
	e.u8(flags)
	encodeAdvertisedRefs(e, m.Refs)
	return e.b, nil
}

// UnmarshalBinary decodes a REFS payload. It returns a *ProtocolError if p
// is not a valid REFS, leaving m unchanged.
func (m *Refs) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameRefs, p)
	if err != nil {
		return err
	}
	var v Refs
	flags, err := d.flags("flags", refsKnown)
	if err != nil {
		return err
	}
	v.More = flags&refsMore != 0
	if v.Refs, err = decodeAdvertisedRefs(d); err != nil {
		return err
	}
	if err := d.finish(); err != nil {
		return err
	}
	if err := validateAdvertisedRefs(v.Refs); err != nil {
		return d.invalid(err)
	}
	*m = v
	return nil
}

// SplitRefs cuts refs into REFS messages that each fit in a frame, in
// order; at least one, the last with More false.
func SplitRefs(refs []AdvertisedRef) []*Refs {
	var out []*Refs
	start, size := 0, sizeU8+sizeU32
	for i, r := range refs {
		n := r.Ref.size() + sizeCsum + sizeU8
		if size+n > MaxPayload && i > start {
			out = append(out, &Refs{More: true, Refs: refs[start:i]})
			start, size = i, sizeU8+sizeU32
		}
		size += n
	}
	return append(out, &Refs{Refs: refs[start:]})
}
