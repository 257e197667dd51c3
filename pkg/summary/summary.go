package summary

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// The summary's types (OSTREE_SUMMARY_GVARIANT_FORMAT) and their parts.
var (
	summaryType = gvariant.MustParseType("(a(s(taya{sv}))a{sv})")
	refsType    = gvariant.MustParseType("a(s(taya{sv}))")
	entryType   = gvariant.MustParseType("(s(taya{sv}))")
	mapType     = gvariant.MustParseType("a{sa(s(taya{sv}))}")
	commitType  = gvariant.MustParseType("(a{sv}aya(say)sstayay)")
	typeS       = gvariant.MustParseType("s")
	typeT       = gvariant.MustParseType("t")
	typeB       = gvariant.MustParseType("b")
)

// The metadata keys libostree writes (ostree-repo.h, ostree-core.h).
const (
	KeyLastModified   = "ostree.summary.last-modified"
	KeyMode           = "ostree.summary.mode"
	KeyTombstones     = "ostree.summary.tombstone-commits"
	KeyIndexedDeltas  = "ostree.summary.indexed-deltas"
	KeyCollectionID   = "ostree.summary.collection-id"
	KeyCollectionMap  = "ostree.summary.collection-map"
	KeyStaticDeltas   = "ostree.static-deltas"
	keyCommitTime     = "ostree.commit.timestamp"
	keyCommitVersion  = "ostree.commit.version"
	commitMetaVersion = "version"
)

// order is the byte order libostree writes summaries in: the host's,
// little-endian on every machine this runs on. The timestamps are stored
// big-endian whatever the host (GUINT64_TO_BE before they are written).
var order = binary.LittleEndian

// maxDateTime is the last second GLib's GDateTime can hold (9999-12-31
// 23:59:59 UTC): libostree leaves out the timestamp of a commit dated
// later.
const maxDateTime = 253402300799

// Entry is a ref's entry in a summary: what summary_add_ref_entry
// writes for the ref's commit.
type Entry struct {
	Name         string
	CommitSize   uint64 // bytes of the commit object
	Commit       object.Checksum
	Timestamp    uint64 // seconds since 1970, when HasTimestamp
	HasTimestamp bool
	Version      string // the commit's "version" metadata, when HasVersion
	HasVersion   bool
}

// CommitEntry returns the entry of ref name for commit c, whose serialized
// commit object is data.
func CommitEntry(name string, c object.Checksum, data []byte) (Entry, error) {
	e := Entry{Name: name, CommitSize: uint64(len(data)), Commit: c}
	commit := gvariant.NewValue(commitType, data, binary.BigEndian)
	ts, err := index(commit, 5)
	if err != nil {
		return e, err
	}
	// ostree_commit_get_timestamp: the big-endian field.
	if e.Timestamp, err = ts.Uint64(); err != nil {
		return e, fmt.Errorf("commit %s: timestamp: %w", c, err)
	}
	e.HasTimestamp = e.Timestamp <= maxDateTime
	meta, err := index(commit, 0)
	if err != nil {
		return e, fmt.Errorf("commit %s: metadata: %w", c, err)
	}
	// g_variant_lookup (metadata, "version", "&s"): the first entry of
	// that key, when it holds a string.
	entries, err := meta.Entries()
	if err != nil {
		return e, fmt.Errorf("commit %s: metadata: %w", c, err)
	}
	for _, en := range entries {
		if en.Key != commitMetaVersion {
			continue
		}
		if t, err := en.Value.VariantType(); err == nil && t.String() == "s" {
			if s, err := mustIndex(en.Value, 0).Str(); err == nil {
				e.Version, e.HasVersion = s, true
			}
		}
		break
	}
	return e, nil
}

// encode writes the entry as a (s(taya{sv})) into b, as libostree does:
// the version before the timestamp (GLib's hash order for the two keys).
func (e Entry) encode(b *gvariant.Builder) {
	b.Open()
	b.Str(e.Name)
	b.Open()
	b.Uint64(e.CommitSize)
	b.Bytes(e.Commit[:])
	b.Open()
	if e.HasVersion {
		b.Open()
		b.Str(keyCommitVersion)
		b.OpenVariant(typeS)
		b.Str(e.Version)
		b.Close()
		b.Close()
	}
	if e.HasTimestamp {
		b.Open()
		b.Str(keyCommitTime)
		b.OpenVariant(typeT)
		b.Uint64(bits.ReverseBytes64(e.Timestamp))
		b.Close()
		b.Close()
	}
	b.Close()
	b.Close()
	b.Close()
}

// entryName and entryCommit read a (s(taya{sv})) entry's name and commit.
func entryName(v gvariant.Value) (string, error) {
	n, err := index(v, 0)
	if err != nil {
		return "", err
	}
	return n.Str()
}

func entryCommit(v gvariant.Value) (object.Checksum, error) {
	inner, err := index(v, 1)
	if err != nil {
		return object.Zero, err
	}
	cs, err := index(inner, 1)
	if err != nil {
		return object.Zero, err
	}
	var c object.Checksum
	if len(cs.Data()) != len(c) {
		return object.Zero, fmt.Errorf("a checksum of %d bytes", len(cs.Data()))
	}
	copy(c[:], cs.Data())
	return c, nil
}

func index(v gvariant.Value, i int) (gvariant.Value, error) { return v.Index(i) }

// mustIndex is Index for a child already checked (a variant's, after
// VariantType succeeded); on error it returns the zero Value, whose reads
// fail.
func mustIndex(v gvariant.Value, i int) gvariant.Value {
	c, _ := v.Index(i)
	return c
}

// RefCount returns how many refs a summary lists: its main list and each
// collection of its collection map. It reads only the framing of the
// lists.
func RefCount(data []byte) (int, error) {
	sum := gvariant.NewValue(summaryType, data, order)
	refs, err := sum.Index(0)
	if err != nil {
		return 0, err
	}
	n, err := refs.Len()
	if err != nil {
		return 0, err
	}
	meta, err := sum.Index(1)
	if err != nil {
		return 0, err
	}
	entries, err := meta.Entries()
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.Key != KeyCollectionMap {
			continue
		}
		if t, err := e.Value.VariantType(); err != nil || t.String() != mapType.String() {
			return 0, fmt.Errorf("summary: the collection map is not an %s", mapType)
		}
		colls, err := mustIndex(e.Value, 0).Entries()
		if err != nil {
			return 0, err
		}
		for _, c := range colls {
			k, err := c.Value.Len()
			if err != nil {
				return 0, err
			}
			n += k
		}
		break
	}
	return n, nil
}
