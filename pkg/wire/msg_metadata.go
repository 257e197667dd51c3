package wire

import (
	"fmt"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// CapCommitmetaUpdate, in effect, lets a client bring the detached
// metadata (signatures) of commits the receiver already has up to date:
// it asks with METADATA_QUERY whether the receiver's copy already holds
// what its own would bring, sends the ones that would add something as
// commitmeta OBJECTs, and the receiver reports in RESULT_FLAGS
// (RefMetadata) which refs' commits gained signatures.
const CapCommitmetaUpdate = "commitmeta-update"

// MaxMetadataQuery is the most commits one METADATA_QUERY may ask about:
// as many as an UPDATE has refs.
const MaxMetadataQuery = MaxRefUpdates

// MaxMetadataSignatures is the most signatures one METADATA_QUERY entry
// may list.
const MaxMetadataSignatures = 4096

// MetadataDigest names a commit and describes the client's detached
// metadata for it without its bytes (see pkg/sign.Fingerprint): Rest is
// the SHA-256 of the metadata without its signature entries, Signatures
// the SHA-256 of each signature with the key it is under.
type MetadataDigest struct {
	Commit     object.Checksum
	Rest       [32]byte
	Signatures [][32]byte
}

// MetadataQuery (FrameMetadataQuery) asks, with CapCommitmetaUpdate in
// effect, whether the receiver's detached metadata of each commit already
// holds what the client's would bring. The receiver answers with one
// METADATA_HAVE.
type MetadataQuery struct {
	Commits []MetadataDigest
}

// FrameType returns FrameMetadataQuery.
func (m *MetadataQuery) FrameType() FrameType { return FrameMetadataQuery }

const metadataQueryItemMin = 2*sizeCsum + sizeU32

func (m *MetadataQuery) validate() error {
	if err := checkCount("commits", len(m.Commits), 1, MaxMetadataQuery); err != nil {
		return err
	}
	seen := make(map[object.Checksum]bool, len(m.Commits))
	for i, c := range m.Commits {
		if c.Commit.IsZero() {
			return fmt.Errorf("%s: all-zero commit", item("commits", i))
		}
		if seen[c.Commit] {
			return fmt.Errorf("%s: commit %s asked about twice", item("commits", i), c.Commit)
		}
		seen[c.Commit] = true
		if err := checkCount(item("commits", i)+".signatures", len(c.Signatures), 0, MaxMetadataSignatures); err != nil {
			return err
		}
	}
	return nil
}

// EncodedSize is the size of the METADATA_QUERY payload.
func (m *MetadataQuery) EncodedSize() int {
	n := sizeU32
	for _, c := range m.Commits {
		n += metadataQueryItemMin + sizeCsum*len(c.Signatures)
	}
	return n
}

// MarshalBinary encodes the METADATA_QUERY payload.
func (m *MetadataQuery) MarshalBinary() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, encodeError(FrameMetadataQuery, err)
	}
	e, err := newEncoder(FrameMetadataQuery, m.EncodedSize())
	if err != nil {
		return nil, err
	}
	e.count(len(m.Commits))
	for _, c := range m.Commits {
		e.csum(c.Commit)
		e.b = append(e.b, c.Rest[:]...)
		e.count(len(c.Signatures))
		for _, s := range c.Signatures {
			e.b = append(e.b, s[:]...)
		}
	}
	return e.b, nil
}

// UnmarshalBinary decodes a METADATA_QUERY payload. It returns a
// *ProtocolError if p is not a valid METADATA_QUERY, leaving m unchanged.
func (m *MetadataQuery) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameMetadataQuery, p)
	if err != nil {
		return err
	}
	n, err := d.count("commits", metadataQueryItemMin, MaxMetadataQuery)
	if err != nil {
		return err
	}
	var v MetadataQuery
	if n > 0 {
		v.Commits = make([]MetadataDigest, n)
	}
	for i := range v.Commits {
		d.item("commits", i)
		c := &v.Commits[i]
		if c.Commit, err = d.csum("commit"); err != nil {
			return err
		}
		rest, err := d.csum("rest")
		if err != nil {
			return err
		}
		c.Rest = rest
		k, err := d.count("signatures", sizeCsum, MaxMetadataSignatures)
		if err != nil {
			return err
		}
		for range k {
			s, err := d.csum("signatures")
			if err != nil {
				return err
			}
			c.Signatures = append(c.Signatures, s)
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

// MetadataHave (FrameMetadataHave) answers one METADATA_QUERY: Current[i]
// is set when the client need not send commit i's detached metadata: the
// receiver's already holds what the client's would bring (the same other
// entries and every signature; where the server lets a push replace
// detached metadata, exactly the same signatures), or the receiver does
// not have the commit (detached metadata for it would be refused).
type MetadataHave struct {
	Current []bool
}

// FrameType returns FrameMetadataHave.
func (m *MetadataHave) FrameType() FrameType { return FrameMetadataHave }

// MarshalBinary encodes the METADATA_HAVE payload: the count, then one
// bit per commit, least significant bit first, as in HAVE.
func (m *MetadataHave) MarshalBinary() ([]byte, error) {
	if err := checkCount("current", len(m.Current), 1, MaxMetadataQuery); err != nil {
		return nil, encodeError(FrameMetadataHave, err)
	}
	e, err := newEncoder(FrameMetadataHave, sizeU32+(len(m.Current)+7)/8)
	if err != nil {
		return nil, err
	}
	e.count(len(m.Current))
	e.b = append(e.b, packBits(m.Current)...)
	return e.b, nil
}

// UnmarshalBinary decodes a METADATA_HAVE payload. It returns a
// *ProtocolError if p is not a valid METADATA_HAVE, leaving m unchanged.
// Whether the count matches the METADATA_QUERY is for the caller to check.
func (m *MetadataHave) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameMetadataHave, p)
	if err != nil {
		return err
	}
	bits, err := d.bitmap("count", MaxMetadataQuery)
	if err != nil {
		return err
	}
	if err := d.finish(); err != nil {
		return err
	}
	*m = MetadataHave{Current: bits}
	return nil
}
