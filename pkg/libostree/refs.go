package libostree

// #include "shim.h"
import "C"

import (
	"runtime"
	"sort"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// Ref is one ref and the commit it points at. CollectionID is set only for
// collection refs.
type Ref struct {
	CollectionID string
	Name         string
	Commit       object.Checksum
}

// ResolveRev resolves a ref name or checksum (ostree_repo_resolve_rev_ext).
// When the ref does not exist, ok is false and err is nil.
func (r *Repo) ResolveRev(rev string) (c object.Checksum, ok bool, err error) {
	if err := r.checkOpen(); err != nil {
		return c, false, err
	}
	var cs cstrs
	defer cs.free()
	var out *C.char
	var gerr *C.GError
	res := C.ostree_repo_resolve_rev_ext(r.ptr, cs.add(rev), 1, 0, &out, &gerr)
	runtime.KeepAlive(r)
	if res == 0 {
		return c, false, wrap(gerr, "resolving %q", rev)
	}
	if out == nil {
		return c, false, nil
	}
	defer C.g_free(C.gpointer(out))
	c, err = object.ParseChecksum(C.GoString(out))
	return c, err == nil, err
}

// ListRefs lists the repository's own refs (not remote or mirrored refs),
// sorted by name. With a prefix, only refs under it are listed.
func (r *Repo) ListRefs(prefix string) ([]Ref, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	var cs cstrs
	defer cs.free()
	var cprefix *C.char
	if prefix != "" {
		cprefix = cs.add(prefix)
	}
	var names, csums **C.char
	var gerr *C.GError
	flags := C.int(C.OSTREE_REPO_LIST_REFS_EXT_EXCLUDE_REMOTES | C.OSTREE_REPO_LIST_REFS_EXT_EXCLUDE_MIRRORS)
	ok := C.opush_list_refs(r.ptr, cprefix, flags, &names, &csums, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return nil, wrap(gerr, "listing refs")
	}
	return makeRefs(nil, goStrv(names), goStrv(csums))
}

// ListAllRefs lists every ref of the repository: its own, remote refs
// (named REMOTE:REF) and mirrored collection refs, as `ostree prune
// --refs-only` counts them.
func (r *Repo) ListAllRefs() ([]Ref, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	var names, csums **C.char
	var gerr *C.GError
	ok := C.opush_list_refs(r.ptr, nil, 0, &names, &csums, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return nil, wrap(gerr, "listing refs")
	}
	return makeRefs(nil, goStrv(names), goStrv(csums))
}

// ListCollectionRefs lists refs with their collection ids: the repo's own
// refs (when it has a collection id) and mirrored collection refs. Remote
// refs are excluded.
func (r *Repo) ListCollectionRefs() ([]Ref, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	var cids, names, csums **C.char
	var gerr *C.GError
	flags := C.int(C.OSTREE_REPO_LIST_REFS_EXT_EXCLUDE_REMOTES)
	ok := C.opush_list_collection_refs(r.ptr, flags, &cids, &names, &csums, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return nil, wrap(gerr, "listing collection refs")
	}
	return makeRefs(goStrv(cids), goStrv(names), goStrv(csums))
}

func makeRefs(cids, names, csums []string) ([]Ref, error) {
	refs := make([]Ref, len(names))
	for i := range names {
		c, err := object.ParseChecksum(csums[i])
		if err != nil {
			return nil, err
		}
		refs[i] = Ref{Name: names[i], Commit: c}
		if cids != nil {
			refs[i].CollectionID = cids[i]
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].CollectionID != refs[j].CollectionID {
			return refs[i].CollectionID < refs[j].CollectionID
		}
		return refs[i].Name < refs[j].Name
	})
	return refs, nil
}

// SetRefImmediate writes one ref now, outside any transaction
// (ostree_repo_set_ref_immediate, or ostree_repo_set_collection_ref_immediate
// when collectionID is set): a zero checksum deletes it. With fsync on, the
// ref file is synced before it replaces the old one. libostree regenerates
// the summary after each such write when the repository's config asks for
// it (core.auto-update-summary).
func (r *Repo) SetRefImmediate(collectionID, name string, c object.Checksum) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	if err := validateRefName(collectionID, name); err != nil {
		return err
	}
	var cs cstrs
	defer cs.free()
	var ok C.gboolean
	var gerr *C.GError
	if collectionID != "" {
		ref := C.OstreeCollectionRef{collection_id: cs.add(collectionID), ref_name: cs.add(name)}
		ok = C.ostree_repo_set_collection_ref_immediate(r.ptr, &ref, cs.checksum(c), nil, &gerr)
	} else {
		ok = C.ostree_repo_set_ref_immediate(r.ptr, nil, cs.add(name), cs.checksum(c), nil, &gerr)
	}
	runtime.KeepAlive(r)
	if ok == 0 {
		return wrap(gerr, "writing ref %s", name)
	}
	return nil
}

// validateRefName checks a ref's name and, when it is not "", its
// collection ID.
func validateRefName(collectionID, name string) error {
	if collectionID != "" {
		if err := ValidateCollectionID(collectionID); err != nil {
			return err
		}
	}
	return ValidateRef(name)
}
