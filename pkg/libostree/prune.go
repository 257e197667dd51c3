package libostree

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// LockExclusive takes libostree's repository lock exclusive
// (ostree_repo_lock_push), as `ostree prune` does: it waits until no
// transaction (which holds the lock shared) is open, at most wait (libostree
// polls once a second; its own core.lock-timeout-secs, 30 s by default,
// bounds the wait too). Release it with UnlockExclusive. The lock is the
// OstreeRepo's, shared by its threads, and nests: libostree's own calls
// that take it (PruneUnreachable) go through at once.
func (r *Repo) LockExclusive(wait time.Duration) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	cancellable := C.g_cancellable_new()
	defer C.g_object_unref(C.gpointer(cancellable))
	var wg sync.WaitGroup
	wg.Add(1)
	stop := make(chan struct{})
	go func() { // g_cancellable_cancel is thread-safe
		defer wg.Done()
		select {
		case <-time.After(wait):
			C.g_cancellable_cancel(cancellable)
		case <-stop:
		}
	}()
	var gerr *C.GError
	ok := C.ostree_repo_lock_push(r.ptr, C.OSTREE_REPO_LOCK_EXCLUSIVE, cancellable, &gerr)
	runtime.KeepAlive(r)
	close(stop)
	wg.Wait() // before the cancellable goes
	if ok == 0 {
		return wrap(gerr, "locking %s exclusively", r.path)
	}
	return nil
}

// UnlockExclusive releases a hold LockExclusive took (ostree_repo_lock_pop).
func (r *Repo) UnlockExclusive() error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	var gerr *C.GError
	ok := C.ostree_repo_lock_pop(r.ptr, C.OSTREE_REPO_LOCK_EXCLUSIVE, nil, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return wrap(gerr, "unlocking %s", r.path)
	}
	return nil
}

// PruneStats is what PruneUnreachable did.
type PruneStats struct {
	Objects int    // objects in the repository before
	Pruned  int    // objects deleted
	Freed   uint64 // their size on disk
}

// PruneUnreachable deletes every object of the repository that no commit
// of keep reaches (its tree and detached metadata: each commit on its own,
// its parents not followed), and the static deltas to commits no longer
// there: ostree_repo_traverse_commit_union of each commit of keep, then
// ostree_repo_prune_from_reachable, which takes the repository lock
// exclusive (hold it already with LockExclusive while keep is worked out,
// so that no ref moves in between). A commit of keep that is not in the
// repository is an error, and nothing is deleted; of one marked partial,
// what is there is kept.
func (r *Repo) PruneUnreachable(keep []object.Checksum) (PruneStats, error) {
	var st PruneStats
	if err := r.checkOpen(); err != nil {
		return st, err
	}
	// libostree's walk passes over a commit that is not there: then
	// everything it needs would go.
	names := make([]object.Name, len(keep))
	for i, c := range keep {
		names[i] = object.Name{Checksum: c, Type: object.Commit}
	}
	have, err := r.HasObjects(names)
	if err != nil {
		return st, err
	}
	for i, h := range have {
		if !h {
			return st, fmt.Errorf("pruning %s: commit %s to keep is not in the repository", r.path, keep[i])
		}
	}
	reachable := C.ostree_repo_traverse_new_reachable()
	defer C.g_hash_table_unref(reachable)
	var cs cstrs
	defer cs.free()
	for _, c := range keep {
		var gerr *C.GError
		ok := C.ostree_repo_traverse_commit_union(r.ptr, cs.add(c.String()), 0, reachable, nil, &gerr)
		runtime.KeepAlive(r)
		if ok == 0 {
			return st, wrap(gerr, "walking commit %s of %s", c.Short(), r.path)
		}
	}
	var total, pruned C.gint
	var freed C.guint64
	var gerr *C.GError
	ok := C.opush_prune_from_reachable(r.ptr, reachable, &total, &pruned, &freed, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return st, wrap(gerr, "pruning %s", r.path)
	}
	return PruneStats{Objects: int(total), Pruned: int(pruned), Freed: uint64(freed)}, nil
}
