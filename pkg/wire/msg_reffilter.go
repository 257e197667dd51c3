package wire

import (
	"fmt"
	"strings"
)

// CapRefFilter, in effect, has the client say which refs it wants
// advertised: right after the receiver's HELLO the client sends one
// REF_FILTER, and the receiver's ADVERTISE (and REFS) list only the refs
// that match it, so that a push to a repository of many refs costs what it
// touches (protocol.md, section 3.13).
const CapRefFilter = "ref-filter"

// MaxRefPatterns bounds the patterns of one REF_FILTER.
const MaxRefPatterns = 100_000

// RefPattern is one entry of a REF_FILTER: the ref Ref itself or, with
// Prefix, every ref of Ref.CollectionID whose name starts with Ref.Name,
// which is then empty (all of them) or ends in "/" (a whole directory of
// refs).
type RefPattern struct {
	Ref    RefName
	Prefix bool
}

// Matches reports whether the pattern selects ref r.
func (p RefPattern) Matches(r RefName) bool {
	if r.CollectionID != p.Ref.CollectionID {
		return false
	}
	if p.Prefix {
		return strings.HasPrefix(r.Name, p.Ref.Name)
	}
	return r.Name == p.Ref.Name
}

// String returns the pattern as a user reads it: a name, or a name
// followed by "*".
func (p RefPattern) String() string {
	s := p.Ref.String()
	if p.Prefix {
		if p.Ref.CollectionID != "" {
			return "(" + p.Ref.CollectionID + ", " + p.Ref.Name + "*)"
		}
		return p.Ref.Name + "*"
	}
	return s
}

// Flag bits of a ref pattern, and of REF_FILTER.
const (
	patternPrefix = 0x01
	patternKnown  = patternPrefix

	filterAll   = 0x01
	filterKnown = filterAll
)

// RefFilter (FrameRefFilter) is the client's choice of the refs the
// receiver advertises, with CapRefFilter in effect: All (every ref, as
// without the capability; Patterns is then empty), or the refs matching
// any of Patterns (none when it is empty).
type RefFilter struct {
	All      bool
	Patterns []RefPattern
}

// FrameType returns FrameRefFilter.
func (m *RefFilter) FrameType() FrameType { return FrameRefFilter }

// Matches reports whether the filter selects ref r.
func (m *RefFilter) Matches(r RefName) bool {
	if m.All {
		return true
	}
	for _, p := range m.Patterns {
		if p.Matches(r) {
			return true
		}
	}
	return false
}

func (m *RefFilter) validate() error {
	if m.All && len(m.Patterns) > 0 {
		return fmt.Errorf("patterns: %d patterns with ALL set", len(m.Patterns))
	}
	if err := checkCount("patterns", len(m.Patterns), 0, MaxRefPatterns); err != nil {
		return err
	}
	for i, p := range m.Patterns {
		field := item("patterns", i)
		if err := checkStr(field+".collection_id", p.Ref.CollectionID, 0, MaxCollectionIDLen); err != nil {
			return err
		}
		if !p.Prefix {
			if err := checkStr(field+".name", p.Ref.Name, 1, MaxRefNameLen); err != nil {
				return err
			}
			continue
		}
		if err := checkStr(field+".name", p.Ref.Name, 0, MaxRefNameLen); err != nil {
			return err
		}
		if p.Ref.Name != "" && !strings.HasSuffix(p.Ref.Name, "/") {
			return fmt.Errorf("%s.name: a prefix is empty or ends in \"/\", got %s", field, quote(p.Ref.Name))
		}
	}
	return nil
}

// EncodedSize is the encoded size of the payload: whether it fits in a
// frame (MaxPayload).
func (m *RefFilter) EncodedSize() int {
	size := sizeU8 + sizeU32
	for _, p := range m.Patterns {
		size += p.Ref.size() + sizeU8
	}
	return size
}

// MarshalBinary encodes the REF_FILTER payload.
func (m *RefFilter) MarshalBinary() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, encodeError(FrameRefFilter, err)
	}
	e, err := newEncoder(FrameRefFilter, m.EncodedSize())
	if err != nil {
		return nil, err
	}
	var flags uint8
	if m.All {
		flags |= filterAll
	}
	e.u8(flags)
	e.count(len(m.Patterns))
	for _, p := range m.Patterns {
		p.Ref.encode(e)
		var pf uint8
		if p.Prefix {
			pf |= patternPrefix
		}
		e.u8(pf)
	}
	return e.b, nil
}

// UnmarshalBinary decodes a REF_FILTER payload. It returns a
// *ProtocolError if p is not a valid REF_FILTER, leaving m unchanged.
func (m *RefFilter) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameRefFilter, p)
	if err != nil {
		return err
	}
	var v RefFilter
	flags, err := d.flags("flags", filterKnown)
	if err != nil {
		return err
	}
	v.All = flags&filterAll != 0
	n, err := d.count("patterns", 2*sizeStr+sizeU8, MaxRefPatterns)
	if err != nil {
		return err
	}
	if n > 0 {
		v.Patterns = make([]RefPattern, n)
	}
	for i := range v.Patterns {
		d.item("patterns", i)
		pt := &v.Patterns[i]
		if err := pt.Ref.decode(d); err != nil {
			return err
		}
		pf, err := d.flags("flags", patternKnown)
		if err != nil {
			return err
		}
		pt.Prefix = pf&patternPrefix != 0
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
