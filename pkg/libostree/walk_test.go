package libostree_test

import (
	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/walk"
)

// The tests of this package walk repositories with pkg/walk, through
// internal/store's loader: pkg/walk's own tests of the walks over real
// repositories are here, where the binding makes them.

func loader(r *libostree.Repo) walk.Loader { return store.Loader(r) }

func reachable(r *libostree.Repo, commits ...object.Checksum) ([]object.Name, error) {
	return walk.Reachable(loader(r), commits...)
}

func reachableSince(r *libostree.Repo, base object.Checksum, commits ...object.Checksum) ([]object.Name, error) {
	return walk.ReachableSince(loader(r), base, commits...)
}

func checkComplete(r *libostree.Repo, c object.Checksum) error {
	return walk.CheckComplete(loader(r), c, object.Zero)
}

func checkCompleteSince(r *libostree.Repo, c, base object.Checksum) error {
	return walk.CheckComplete(loader(r), c, base)
}
