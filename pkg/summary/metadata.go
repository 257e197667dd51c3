package summary

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// MetadataRef is the ref, of a repository's own collection, on which
// `ostree summary -u` commits the repository's metadata whenever it
// updates the summary of a repository with a collection ID
// (OSTREE_REPO_METADATA_REF): collection-aware clients find the
// repository's metadata there.
const MetadataRef = "ostree-metadata"

var (
	dirmetaType = gvariant.MustParseType("(uuua(ayay))")
	dirtreeType = gvariant.MustParseType("(a(say)a(sayay))")
	typeAS      = gvariant.MustParseType("as")
)

// Object is a metadata object to write: its name and serialized bytes.
type Object struct {
	Name object.Name
	Data []byte
}

// MetadataCommit returns the objects of the commit `ostree summary -u`
// makes on MetadataRef (ot-builtin-summary.c, without --add-metadata):
// an empty root directory owned by root, mode 0755, and a commit of it
// with parent (zero for none), no subject or body, timestamp (seconds
// since 1970), and the collection and ref bindings as its metadata. The
// commit comes last.
func MetadataCommit(collectionID string, parent object.Checksum, timestamp uint64) []Object {
	dm := gvariant.NewBuilder(dirmetaType, binary.BigEndian)
	dm.Open()
	dm.Uint32(0)       // uid
	dm.Uint32(0)       // gid
	dm.Uint32(0o40755) // S_IFDIR | 0755
	dm.Open()          // no xattrs
	dm.Close()
	dm.Close()
	dirmeta, _ := dm.Finish()

	dt := gvariant.NewBuilder(dirtreeType, order)
	dt.Open()
	dt.Open()
	dt.Close()
	dt.Open()
	dt.Close()
	dt.Close()
	dirtree, _ := dt.Finish()

	metaSum, treeSum := object.Checksum(sha256.Sum256(dirmeta)), object.Checksum(sha256.Sum256(dirtree))
	c := gvariant.NewBuilder(commitType, order)
	c.Open()
	c.Open() // metadata, in GLib's order for these two keys
	c.Open()
	c.Str("ostree.collection-binding")
	c.OpenVariant(typeS)
	c.Str(collectionID)
	c.Close()
	c.Close()
	c.Open()
	c.Str("ostree.ref-binding")
	c.OpenVariant(typeAS)
	c.Open()
	c.Str(MetadataRef)
	c.Close()
	c.Close()
	c.Close()
	c.Close()
	if parent.IsZero() {
		c.Bytes(nil)
	} else {
		c.Bytes(parent[:])
	}
	c.Open() // no related objects
	c.Close()
	c.Str("") // subject
	c.Str("") // body
	c.Uint64(bits.ReverseBytes64(timestamp))
	c.Bytes(treeSum[:])
	c.Bytes(metaSum[:])
	c.Close()
	commit, _ := c.Finish()
	return []Object{
		{object.Name{Checksum: metaSum, Type: object.DirMeta}, dirmeta},
		{object.Name{Checksum: treeSum, Type: object.DirTree}, dirtree},
		{object.Name{Checksum: sha256.Sum256(commit), Type: object.Commit}, commit},
	}
}
