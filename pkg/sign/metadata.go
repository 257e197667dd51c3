package sign

// Where signatures live: a commit's detached metadata and summary.sig are
// each an a{sv} (key → variant), signatures an aay at a key of it
// (MetadataKeyEd25519, or libostree's GPG key). Read and written here with
// pkg/gvariant, in GLib's normal form and byte order (little-endian, as
// GLib writes on the machines this runs on), never through GLib.

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
)

var (
	vardictType = gvariant.MustParseType("a{sv}")
	aayType     = gvariant.MustParseType("aay")
	asType      = gvariant.MustParseType("as")
	sType       = gvariant.MustParseType("s")
	commitType  = gvariant.MustParseType("(a{sv}aya(say)sstayay)")
)

// Commit metadata keys of the bindings (libostree's
// OSTREE_COMMIT_META_KEY_REF_BINDING and ..._COLLECTION_BINDING).
const (
	metaKeyRefBinding        = "ostree.ref-binding"
	metaKeyCollectionBinding = "ostree.collection-binding"
)

// entry is one key of an a{sv}, its value (the v) still serialized.
type entry = gvariant.DictEntry

// readVardict reads meta, which must be an a{sv} in normal form; empty
// meta is the empty dictionary.
func readVardict(meta []byte) ([]entry, error) {
	v := gvariant.NewValue(vardictType, meta, binary.LittleEndian)
	if err := v.CheckNormal(); err != nil {
		return nil, fmt.Errorf("metadata is not an a{sv} in normal form: %w", err)
	}
	return v.Entries()
}

// find is the first entry at key, or -1.
func find(entries []entry, key string) int {
	for i, e := range entries {
		if e.Key == key {
			return i
		}
	}
	return -1
}

// aay reads the value of entry e, which must hold an aay.
func aay(e entry) ([][]byte, error) {
	t, err := e.Value.VariantType()
	if err != nil {
		return nil, err
	}
	if t.String() != "aay" {
		return nil, fmt.Errorf("metadata key %s has type %s, not aay", e.Key, t)
	}
	v, err := e.Value.Index(0)
	if err != nil {
		return nil, err
	}
	n, err := v.Len()
	if err != nil {
		return nil, err
	}
	sigs := make([][]byte, n)
	for i := range sigs {
		s, err := v.Index(i)
		if err != nil {
			return nil, err
		}
		sigs[i] = append([]byte{}, s.Data()...)
	}
	return sigs, nil
}

// DetachedSignatures returns the signatures stored at key in serialized
// a{sv} metadata: a commit's detached metadata or summary.sig. It returns
// nil when key is absent, and an error when it holds something other than
// an aay or when meta is not an a{sv} in normal form. Empty meta is the
// empty dictionary. (libostree's verifiers treat a key of another type as
// no signatures at all.)
func DetachedSignatures(meta []byte, key string) ([][]byte, error) {
	entries, err := readVardict(meta)
	if err != nil {
		return nil, err
	}
	at := find(entries, key)
	if at < 0 {
		return nil, nil
	}
	return aay(entries[at])
}

// AppendDetachedSignature returns meta with sig appended to the aay at key,
// as a new a{sv} in normal form, ready to be written as a commit's detached
// metadata. meta may be empty (no metadata yet); its other entries are
// kept, in their order, and the key is added at the end when it is new. It
// is an error when key holds something other than an aay (where libostree
// would replace it) or when meta is not an a{sv} in normal form.
func AppendDetachedSignature(meta []byte, key string, sig []byte) ([]byte, error) {
	return putSignatures(meta, key, true, [][]byte{sig})
}

// SetDetachedSignatures returns meta with the value at key replaced by
// sigs (an empty aay when sigs is empty), as a new a{sv} in normal form;
// the other entries are kept, in their order, and the key is added at the
// end when it is new. meta must be an a{sv} in normal form.
func SetDetachedSignatures(meta []byte, key string, sigs [][]byte) ([]byte, error) {
	return putSignatures(meta, key, false, sigs)
}

func putSignatures(meta []byte, key string, appendSigs bool, sigs [][]byte) ([]byte, error) {
	entries, err := readVardict(meta)
	if err != nil {
		return nil, err
	}
	at := find(entries, key)
	if at >= 0 && appendSigs {
		old, err := aay(entries[at])
		if err != nil {
			return nil, err
		}
		sigs = append(old, sigs...)
	}
	b := gvariant.NewBuilder(vardictType, binary.LittleEndian)
	b.Open()
	put := func() {
		b.Open()
		b.Str(key)
		b.OpenVariant(aayType)
		b.Open()
		for _, s := range sigs {
			b.Bytes(s)
		}
		b.Close()
		b.Close()
		b.Close()
	}
	for i, e := range entries {
		if i == at {
			put()
			continue
		}
		b.Open()
		b.Str(e.Key)
		b.Value(e.Value)
		b.Close()
	}
	if at < 0 {
		put()
	}
	b.Close()
	return b.Finish()
}

// RemoveDetachedMetadataKey returns meta without its entries at key, as a
// new a{sv} in normal form (the others kept, in their order); an error
// when meta is not an a{sv} in normal form.
func RemoveDetachedMetadataKey(meta []byte, key string) ([]byte, error) {
	entries, err := readVardict(meta)
	if err != nil {
		return nil, err
	}
	b := gvariant.NewBuilder(vardictType, binary.LittleEndian)
	b.Open()
	for _, e := range entries {
		if e.Key == key {
			continue
		}
		b.Open()
		b.Str(e.Key)
		b.Value(e.Value)
		b.Close()
	}
	b.Close()
	return b.Finish()
}

// Bindings are what a commit says it was made for (its metadata keys
// ostree.ref-binding and ostree.collection-binding).
type Bindings struct {
	HasRefs    bool     // the commit has a ref binding (it may be empty)
	Refs       []string // the refs it is bound to
	Collection string   // the collection it is bound to, or ""
}

// CommitBindings reads the bindings of a commit object's bytes (a commit
// in normal form, as stored): an error when it is not one. A binding of
// another type counts as absent, as libostree's pull reads it (only the
// first entry of a key counts, as g_variant_lookup finds it).
func CommitBindings(commit []byte) (Bindings, error) {
	var b Bindings
	v := gvariant.NewValue(commitType, commit, binary.LittleEndian)
	if err := v.CheckNormal(); err != nil {
		return b, fmt.Errorf("commit is not in normal form: %w", err)
	}
	m, err := v.Index(0)
	if err != nil {
		return b, err
	}
	entries, err := readVardict(m.Data())
	if err != nil {
		return b, err
	}
	typed := func(key string, t gvariant.Type) (gvariant.Value, bool) {
		at := find(entries, key)
		if at < 0 {
			return gvariant.Value{}, false
		}
		vt, err := entries[at].Value.VariantType()
		if err != nil || vt.String() != t.String() {
			return gvariant.Value{}, false
		}
		x, err := entries[at].Value.Index(0)
		return x, err == nil
	}
	if refs, ok := typed(metaKeyRefBinding, asType); ok {
		n, err := refs.Len()
		if err != nil {
			return b, err
		}
		b.HasRefs = true
		for i := 0; i < n; i++ {
			s, err := refs.Index(i)
			if err != nil {
				return b, err
			}
			str, err := s.Str()
			if err != nil {
				return b, err
			}
			b.Refs = append(b.Refs, str)
		}
	}
	if coll, ok := typed(metaKeyCollectionBinding, sType); ok {
		if b.Collection, err = coll.Str(); err != nil {
			return b, err
		}
	}
	return b, nil
}

// MetadataKeyGPG is where libostree stores GPG signatures in a commit's
// detached metadata and in summary.sig (an aay of binary signatures).
const MetadataKeyGPG = "ostree.gpgsigs"

// SignatureKeys are the keys of detached metadata that hold signatures,
// of either engine.
var SignatureKeys = []string{MetadataKeyGPG, MetadataKeyEd25519}

// Fingerprint describes detached metadata without its bytes, so that two
// sides can tell whether one's adds anything to the other's: Rest is the
// SHA-256 of the metadata with every SignatureKeys entry removed (in
// normal form), and Signatures the SHA-256 of each signature, of the key
// it is under, a NUL and its bytes, in order.
type Fingerprint struct {
	Rest       [32]byte
	Signatures [][32]byte
}

// FingerprintOf returns meta's Fingerprint; an error when meta is not an
// a{sv} in normal form, or holds something other than an aay at a
// signature key.
func FingerprintOf(meta []byte) (Fingerprint, error) {
	var f Fingerprint
	for _, k := range SignatureKeys {
		sigs, err := DetachedSignatures(meta, k)
		if err != nil {
			return f, err
		}
		for _, s := range sigs {
			h := sha256.New()
			h.Write([]byte(k))
			h.Write([]byte{0})
			h.Write(s)
			f.Signatures = append(f.Signatures, [32]byte(h.Sum(nil)))
		}
	}
	rest, err := WithoutSignatures(meta)
	if err != nil {
		return f, err
	}
	f.Rest = sha256.Sum256(rest)
	return f, nil
}

// WithoutSignatures returns meta without its SignatureKeys entries, as a
// new a{sv} in normal form: what must stay as it was when only signatures
// may change.
func WithoutSignatures(meta []byte) ([]byte, error) {
	var err error
	for _, k := range SignatureKeys {
		if meta, err = RemoveDetachedMetadataKey(meta, k); err != nil {
			return nil, err
		}
	}
	return meta, nil
}

// Covers reports whether metadata fingerprinted f already holds all that
// metadata fingerprinted g would bring to it by adding signatures: the
// same other entries, and every signature of g.
func (f Fingerprint) Covers(g Fingerprint) bool {
	if f.Rest != g.Rest {
		return false
	}
	have := make(map[[32]byte]bool, len(f.Signatures))
	for _, s := range f.Signatures {
		have[s] = true
	}
	for _, s := range g.Signatures {
		if !have[s] {
			return false
		}
	}
	return true
}

// Same reports whether f and g have the same other entries and the same
// signatures, in the same order.
func (f Fingerprint) Same(g Fingerprint) bool {
	return f.Rest == g.Rest && slices.Equal(f.Signatures, g.Signatures)
}
