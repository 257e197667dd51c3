package transfer

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
	for i, r := range m.Refs {
		if err := r.Ref.check(item("refs", i)); err != nil {
			return err
		}
		if r.Commit.IsZero() {
			return fmt.Errorf("%s.commit: all-zero checksum", item("refs", i))
		}
	}
	return checkUnique("refs", len(m.Refs), func(i int) RefName { return m.Refs[i].Ref })
}

// MarshalBinary encodes the ADVERTISE payload. A repository with so many
// refs that they do not fit in MaxPayload cannot be advertised in protocol
// version 1.
func (m *Advertise) MarshalBinary() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, encodeError(FrameAdvertise, err)
	}
	size := 2*sizeStr + len(m.Mode) + len(m.CollectionID) + sizeU32
	for _, r := range m.Refs {
		size += r.Ref.size() + sizeCsum + sizeU8
	}
	e, err := newEncoder(FrameAdvertise, size)
	if err != nil {
		return nil, err
	}
	e.str(m.Mode)
	e.str(m.CollectionID)
	e.count(len(m.Refs))
	for _, r := range m.Refs {
		r.Ref.encode(e)
		e.csum(r.Commit)
		var flags uint8
		if r.Complete {
			flags |= advertiseComplete
		}
		e.u8(flags)
	}
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
	n, err := d.count("refs", minRefNameSize+sizeCsum+sizeU8, MaxPayload)
	if err != nil {
		return err
	}
	if n > 0 {
		v.Refs = make([]AdvertisedRef, n)
	}
	for i := range v.Refs {
		d.item("refs", i)
		r := &v.Refs[i]
		if err := r.Ref.decode(d); err != nil {
			return err
		}
		if r.Commit, err = d.csum("commit"); err != nil {
			return err
		}
		flags, err := d.flags("flags", advertiseKnown)
		if err != nil {
			return err
		}
		r.Complete = flags&advertiseComplete != 0
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
