package transfer

import (
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// What the external tests of this directory (package transfer_test) need
// of the in-memory store: they run internal/storetest's contract suite on
// it, which package transfer's own tests cannot import (it imports
// transfer).

// MemStore is the in-memory store of the protocol tests.
type MemStore = memStore

// NewMemStore returns an empty in-memory store whose LockRefs gives up
// after lockTimeout (0: it waits for ever).
func NewMemStore(collectionID string, lockTimeout time.Duration) *MemStore {
	s := newMemStore()
	s.collectionID = collectionID
	s.lockTimeout = lockTimeout
	return s
}

// MemCommit writes a commit of files with parent straight into s (see
// newCommit).
func MemCommit(tb testing.TB, s *MemStore, parent object.Checksum, files map[string][]byte) object.Checksum {
	tb.Helper()
	return newCommit(tb, s, parent, files)
}

// MarkPartial marks commit c of s partial.
func (s *MemStore) MarkPartial(c object.Checksum) { s.markPartial(c) }
