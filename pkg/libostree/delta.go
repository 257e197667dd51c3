package libostree

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// GenerateStaticDelta writes a static delta from commit from to commit to
// (ostree_repo_static_delta_generate, with the ostree CLI's default
// parameters), or from scratch when from is zero. Both commits must be in
// the repository, complete. libostree writes the delta's parts and then its
// superblock under deltas/ (each a temporary file linked into place, so a
// reader never sees half a delta), outside any transaction and without the
// repository lock; the refs and objects are only read. Clients find the
// delta through the summary: call RegenerateSummary afterwards (which also
// rewrites the delta index).
func (r *Repo) GenerateStaticDelta(from, to object.Checksum) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	var cs cstrs
	defer cs.free()
	var cfrom *C.char
	if !from.IsZero() {
		cfrom = cs.add(from.String())
	}
	var gerr *C.GError
	ok := C.opush_static_delta_generate(r.ptr, cfrom, cs.add(to.String()), &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		if from.IsZero() {
			return wrap(gerr, "generating a static delta to %s from scratch in %s", to.Short(), r.path)
		}
		return wrap(gerr, "generating a static delta %s-%s in %s", from.Short(), to.Short(), r.path)
	}
	return nil
}

// StaticDeltaNames lists the repository's static deltas by name, as
// ostree_repo_list_static_delta_names gives them: "FROM-TO", or "TO" for a
// delta from scratch, each a hex checksum (see ParseDeltaName).
func (r *Repo) StaticDeltaNames() ([]string, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	var names **C.char
	var gerr *C.GError
	ok := C.opush_list_static_delta_names(r.ptr, &names, &gerr)
	runtime.KeepAlive(r)
	if ok == 0 {
		return nil, wrap(gerr, "listing the static deltas of %s", r.path)
	}
	return goStrv(names), nil
}

// ParseDeltaName splits a name of StaticDeltaNames into its commits; from
// is zero for a delta from scratch.
func ParseDeltaName(name string) (from, to object.Checksum, err error) {
	f, t, ok := strings.Cut(name, "-")
	if !ok {
		f, t = "", f
	}
	if ok {
		if from, err = object.ParseChecksum(f); err != nil {
			return object.Zero, object.Zero, fmt.Errorf("static delta %q: %w", name, err)
		}
	}
	if to, err = object.ParseChecksum(t); err != nil {
		return object.Zero, object.Zero, fmt.Errorf("static delta %q: %w", name, err)
	}
	return from, to, nil
}
