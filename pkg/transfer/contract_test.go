package transfer_test

import (
	"testing"

	"github.com/ostree-push/ostree-push/internal/storetest"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/transfer"
)

// TestMemStoreContract runs the store contract suite on the in-memory
// store the protocol tests use, so that what they prove holds for the
// libostree store too (internal/store runs the same suite).
func TestMemStoreContract(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, opts storetest.Options) storetest.Repo {
			return transfer.NewMemStore(opts.CollectionID, opts.LockTimeout)
		},
		Commit: func(t *testing.T, r storetest.Repo, parent object.Checksum, files map[string][]byte) object.Checksum {
			return transfer.MemCommit(t, r.(*transfer.MemStore), parent, files)
		},
		MarkPartial: func(t *testing.T, r storetest.Repo, c object.Checksum) {
			r.(*transfer.MemStore).MarkPartial(c)
		},
	})
}
