package transfer

import (
	"fmt"
	"slices"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// checkDetachedMetadata judges the detached metadata the push sent
// (rv.metas): it has no checksum of its own, so it is accepted only for a
// commit that is in the repository or came in this push, and the policy
// judges it for every commit, sent again or not (it tells a commit the
// repository had before this push from a new one). It runs once the
// objects are in, and again under the ref lock, where no other push can
// change the metadata it compares with; rv.metaChanged is what the last
// run found.
func (rv *receiver) checkDetachedMetadata() error {
	if len(rv.metas) == 0 {
		return nil
	}
	names := make([]object.Name, len(rv.metas))
	for i, c := range rv.metas {
		names[i] = object.Name{Checksum: c, Type: object.Commit}
	}
	have, err := rv.txn.HasObjects(names)
	if err != nil {
		return err
	}
	changed := map[object.Checksum]bool{}
	for i, h := range have {
		c := rv.metas[i]
		if !h {
			return fmt.Errorf("detached metadata sent for commit %s, which is neither in the repository nor in this push", c)
		}
		if judge := rv.opts.Policy.DetachedMetadata; judge != nil {
			ch, err := judge(c)
			if err != nil {
				return fmt.Errorf("detached metadata sent for commit %s, which the repository has: %w", c, err)
			}
			changed[c] = ch
		} else if md, ok := rv.dest.(MetadataDest); ok {
			_, had, err := md.CommittedMetadata(c)
			if err != nil {
				return err
			}
			changed[c] = had
		}
	}
	rv.metaChanged = changed
	return nil
}

// checkSent checks that every commit sent is complete, for a ref may
// point at it: each one found complete is remembered (rv.complete), so
// that the ref decisions do not walk it again.
func (rv *receiver) checkSent(upd *wire.Update, commits []object.Checksum) error {
	base := rv.completeBase(upd, commits)
	rv.complete = map[object.Checksum]bool{}
	for _, c := range commits {
		if err := rv.checkComplete(c, base); err != nil {
			return fmt.Errorf("commit %s was sent without all its objects: %w", c, err)
		}
		rv.complete[c] = true
	}
	return nil
}

// completeBase returns a commit to check the sent commits against (see
// checkComplete): the current value of a ref being updated, when it can be
// trusted as a base. Zero when there is none.
func (rv *receiver) completeBase(upd *wire.Update, sent []object.Checksum) object.Checksum {
	if _, ok := rv.txn.(SinceTxn); !ok || len(sent) == 0 {
		return object.Zero
	}
	current, err := rv.currentRefs(upd)
	if err != nil {
		return object.Zero
	}
	for _, u := range upd.Refs {
		if c := current[u.Ref]; rv.trustedBase(c, sent) {
			return c
		}
	}
	return object.Zero
}

// trustedBase reports whether commit c can serve as the base of a
// completeness check: the repository had it before this push (it is not
// one of the commits sent) and does not mark it partial, so libostree's
// own invariant says it has every object c needs.
func (rv *receiver) trustedBase(c object.Checksum, sent []object.Checksum) bool {
	if c.IsZero() || slices.Contains(sent, c) {
		return false
	}
	info, ok, err := rv.dest.Commit(c)
	return err == nil && ok && !info.Partial
}

// checkComplete checks that commit c and every object its tree needs are
// present; with a base (see trustedBase), only what changed since it is
// looked for, when the transaction can do that.
func (rv *receiver) checkComplete(c, base object.Checksum) error {
	if st, ok := rv.txn.(SinceTxn); ok && !base.IsZero() {
		return st.CheckCompleteSince(c, base)
	}
	return rv.txn.CheckComplete(c)
}
