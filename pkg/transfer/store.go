package transfer

import (
	"io"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// The repository seam: the push and receive state machines reach
// repositories only through these interfaces. internal/store implements them
// with pkg/libostree; the tests also use an in-memory store.

// Ref is a ref and the commit it points at.
type Ref struct {
	Ref    wire.RefName
	Commit object.Checksum
}

// CommitInfo is what the state machines need of a commit.
type CommitInfo struct {
	Parent  object.Checksum // object.Zero when it has none
	Partial bool            // the repository marks it as partially fetched
}

// Source is the repository a push reads from.
type Source interface {
	// ResolveRev resolves a ref name or a checksum; ok is false when
	// there is no such ref.
	ResolveRev(rev string) (c object.Checksum, ok bool, err error)
	// Refs lists the repository's own refs.
	Refs() ([]Ref, error)
	// Commit loads a commit; ok is false when the commit is not there.
	Commit(c object.Checksum) (info CommitInfo, ok bool, err error)
	// Reachable returns every object reachable from the commits (not
	// their parents): the commits, their detached metadata, their trees.
	Reachable(commits []object.Checksum) ([]object.Name, error)
	// ReadMetadata returns a metadata object's bytes (for CommitMeta,
	// the commit's detached metadata).
	ReadMetadata(n object.Name) ([]byte, error)
	// OpenContent opens a content object's stream and gives its length.
	OpenContent(c object.Checksum) (io.ReadCloser, uint64, error)
}

// Dest is the repository a receive writes to.
type Dest interface {
	// Mode is the repository mode ("archive", "bare-user", …).
	Mode() string
	// CollectionID is the repository's collection id, or "".
	CollectionID() string
	// Refs lists the repository's refs and collection refs.
	Refs() ([]Ref, error)
	// LookupRefs lists, each once, the refs that match any of patterns
	// (as Refs names them), reading only those: a name is looked up, a
	// prefix lists what is under it. With max > 0 it may stop after max
	// refs. Patterns that are not valid ref names match nothing.
	LookupRefs(patterns []wire.RefPattern, max int) ([]Ref, error)
	// CountRefs returns the number of refs Refs would list.
	CountRefs() (int, error)
	// Commit loads a commit, seeing objects staged in an open
	// transaction too; ok is false when the commit is not there.
	Commit(c object.Checksum) (info CommitInfo, ok bool, err error)
	// ValidateRef checks a ref name (and collection id) as libostree does.
	ValidateRef(r wire.RefName) error
	// Begin starts the transaction that stages the push's objects.
	Begin() (Txn, error)
	// LockRefs serializes ref updates between receivers of this
	// repository; call the returned function to unlock.
	LockRefs() (unlock func(), err error)
}

// Txn is a transaction on a Dest: objects written through it stay invisible
// until Commit, which also applies the refs set through it. The write
// methods may be called from several goroutines at once.
type Txn interface {
	// HasObjects reports which objects are present, committed or staged.
	HasObjects(names []object.Name) ([]bool, error)
	// WriteMetadata writes a metadata object, verifying its checksum.
	WriteMetadata(n object.Name, data []byte) error
	// WriteContent writes a content object of size bytes read from r,
	// verifying its checksum.
	WriteContent(c object.Checksum, r io.Reader, size uint64) error
	// CheckComplete returns an error when the commit, or any object its
	// tree needs, is missing.
	CheckComplete(c object.Checksum) error
	// SetRef stages a ref update; a zero checksum deletes the ref.
	SetRef(r wire.RefName, c object.Checksum) error
	// Commit makes the objects visible, then moves the staged refs.
	Commit() error
	// Abort discards the transaction; nothing becomes visible.
	Abort() error
}

// SinceSource is a Source that can list what commits need beyond a base
// commit without walking the whole of both trees.
type SinceSource interface {
	// ReachableSince returns a subset of Reachable(commits) that holds
	// every object in it that is not reachable from base (and perhaps
	// some that are): what to offer a remote that has base complete.
	ReachableSince(base object.Checksum, commits []object.Checksum) ([]object.Name, error)
}

// SinceTxn is a Txn that can check a commit's completeness against a base
// commit, reading only what changed since it.
type SinceTxn interface {
	// CheckCompleteSince is CheckComplete trusting base, a complete
	// commit that was in the repository before the transaction, for
	// what is provably reachable from it.
	CheckCompleteSince(c, base object.Checksum) error
}

// CommitMetaSource is a Source that can tell whether a commit has
// detached metadata without walking its tree: a client lists
// CapCommitmetaUpdate when its Source is one.
type CommitMetaSource interface {
	// CommitMeta returns commit c's detached metadata; ok is false when
	// it has none.
	CommitMeta(c object.Checksum) (meta []byte, ok bool, err error)
}

// MetadataDest is a Dest that can read the detached metadata of its
// commits as committed, outside the open transaction: a receiver lists
// CapCommitmetaUpdate when its Dest is one, and answers METADATA_QUERY
// from it.
type MetadataDest interface {
	// CommittedMetadata returns commit c's committed detached metadata
	// (nil when it has none); has is false when the repository does not
	// hold commit c itself, committed.
	CommittedMetadata(c object.Checksum) (meta []byte, has bool, err error)
}

// FilezSource is a Source in archive mode that can hand out a file
// object's stored .filez bytes as they are (for CapArchiveFilez).
type FilezSource interface {
	OpenFilez(c object.Checksum) (io.ReadCloser, uint64, error)
}

// FilezTxn is a Txn that can take a file object received as .filez bytes,
// after validating those bytes strictly and checking that they hash to c:
// an archive-mode repository stores them without recompressing, another
// writes their inflated content.
type FilezTxn interface {
	WriteFilez(c object.Checksum, r io.Reader, size uint64) error
}

// FilezBytesTxn is a FilezTxn that takes a .filez the receiver holds whole
// (one of up to inlineObjectMax bytes) without reading it through an
// io.Reader into a copy of its own. It must not keep data once it returns.
type FilezBytesTxn interface {
	FilezTxn
	WriteFilezBytes(c object.Checksum, data []byte) error
}

// CompressSource is a Source that does not store .filez (not in archive
// mode) but can make one, deflating a file object's content in memory, so
// that it can be sent compressed (CapArchiveFilez) all the same.
type CompressSource interface {
	// CompressFilez returns file object c as .filez bytes, or ok false
	// when its content is over max bytes (it is then sent as a content
	// stream).
	CompressFilez(c object.Checksum, max uint64) (filez []byte, ok bool, err error)
}

// MetadataDeflater is a Source that deflates metadata objects to send
// (CapDeflateMetadata) faster than compress/flate, whose writer costs
// about 100 µs to reset for each object of a few kilobytes.
type MetadataDeflater interface {
	// DeflateMetadata returns data as one raw deflate stream.
	DeflateMetadata(data []byte) ([]byte, error)
}

// FlushTxn is a Txn that can start, in the background, writing what it
// staged to disk: the receiver asks for that once the objects are in, so
// that the disk works while the commits are checked, and the commit's own
// sync (libostree's syncfs) finds little left to do.
type FlushTxn interface {
	StartFlush()
}

// DiscardTxn is a Txn that can abort and also remove what it staged, so
// that no later transaction takes it up: the receiver discards a push that
// was refused or failed, and only aborts one whose client went away
// (interrupted), whose objects a resumed push may then use.
type DiscardTxn interface {
	Discard() error
}

// ResumeTxn is a Txn that may have taken up the objects an interrupted
// push staged (libostree keeps an interrupted transaction's staging
// directory, and the next transaction on the repository takes it up):
// with CapResume in effect, HAVE reports them present; without it, only
// committed objects count.
type ResumeTxn interface {
	// Resumed reports whether the transaction took up such objects.
	Resumed() bool
	// HasCommittedObjects is HasObjects counting only objects committed
	// to the repository before the transaction, not staged ones.
	HasCommittedObjects(names []object.Name) ([]bool, error)
}
