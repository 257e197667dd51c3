package transfer

// Where a ref's fate is decided: under the ref lock, every update of a push
// is judged (its name, the server's rules, compare-and-swap, the commit it
// moves to: complete, signed, a fast-forward), and then all of them move
// together, by committing the transaction, or none does.

import (
	"fmt"
	"maps"
	"slices"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// updateRefs decides every ref update under the ref lock and applies them
// all, or none, by committing the transaction.
func (rv *receiver) updateRefs(upd *wire.Update, sent []object.Checksum) ([]wire.RefResult, error) {
	if rv.opts.BeforeRefLock != nil {
		rv.opts.BeforeRefLock()
	}
	unlock, err := rv.dest.LockRefs()
	if err != nil {
		return nil, err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	if err := rv.checkDetachedMetadata(); err != nil {
		return nil, err
	}
	dryRun := upd.DryRun || rv.opts.Policy.DryRun
	current, err := rv.currentRefs(upd)
	if err != nil {
		return nil, err
	}
	// Two passes: the cheap checks of every ref first (names, rules,
	// staleness), then the expensive ones (completeness, signatures,
	// history), which stop at the first refusal: a push is all or
	// nothing, so once one ref is refused the others need not be judged,
	// and a client cannot make the receiver verify every other ref first.
	results := make([]wire.RefResult, len(upd.Refs))
	var failed *wire.RefResult
	for _, full := range []bool{false, true} {
		for i, u := range upd.Refs {
			if full && results[i].Status != wire.StatusOK {
				continue
			}
			results[i] = rv.decide(u, current[u.Ref], dryRun, sent, full)
			if s := results[i].Status; s != wire.StatusOK && s != wire.StatusUpToDate && failed == nil {
				failed = &results[i]
			}
			if failed != nil && full {
				break // the rest stay as the first pass left them
			}
		}
		if failed == nil && !full {
			if failed, err = rv.checkMaxRefs(upd, current, results); err != nil { // cheap too
				return nil, err
			}
		}
		if failed == nil && !full {
			if failed, err = rv.checkNesting(upd, current, results); err != nil {
				return nil, err
			}
		}
		if failed != nil {
			break
		}
	}
	moves := 0
	for _, r := range results {
		if r.Status == wire.StatusOK {
			moves++
		}
	}
	var signed []object.Checksum
	if failed == nil {
		if signed, err = rv.metadataUpdates(upd, results); err != nil {
			return nil, err
		}
	}
	if failed != nil {
		for i := range results {
			if results[i].Status == wire.StatusOK {
				results[i].Status = wire.StatusAtomic
				results[i].Forced = false
				results[i].Message = fmt.Sprintf("not applied: %s was rejected (%s)", failed.Ref, failed.Status)
			}
		}
	}
	if dryRun && !upd.DryRun && failed == nil {
		rv.notes = append(rv.notes, "dry run: the server is configured with dry_run, nothing was changed")
	}
	if failed != nil || dryRun || (moves == 0 && len(signed) == 0) {
		// Nothing moves. A refused push's staging is discarded; a dry
		// run's (or one with every ref up to date) is kept, as an
		// interrupted push's is, with what it may have taken up.
		return results, rv.abort(failed == nil)
	}
	var moving []wire.RefUpdate
	for i, u := range upd.Refs {
		if results[i].Status == wire.StatusOK {
			moving = append(moving, u)
		}
	}
	pol := rv.opts.Policy
	if pol.BeforeCommit != nil {
		if err := pol.BeforeCommit(moving); err != nil {
			return nil, err
		}
	}
	for _, u := range moving {
		if err := rv.txn.SetRef(u.Ref, u.New); err != nil {
			return nil, err
		}
	}
	rv.opts.Fault.at("receive:commit", 0)
	txn := rv.txn
	rv.txn = nil
	if err := txn.Commit(); err != nil {
		return nil, err
	}
	rv.phase("ref decisions and transaction commit")
	rv.opts.Fault.at("receive:committed", 0)
	// The refs have moved: what follows reports, it cannot fail the push.
	if pol.Resigned != nil && len(signed) > 0 {
		rv.notes = append(rv.notes, pol.Resigned(signed)...)
	}
	if pol.AfterCommit != nil {
		rv.notes = append(rv.notes, pol.AfterCommit(moving)...)
		rv.phase("after commit (summary, static deltas)")
	}
	unlock()
	locked = false
	if pol.AfterUnlock != nil {
		rv.notes = append(rv.notes, pol.AfterUnlock(moving)...)
	}
	return results, nil
}

// metadataUpdates marks the refs whose commit's detached metadata the
// push changes (rv.metaChanged) and returns those commits: such a push
// commits even when no ref moves. A change is taken only for the
// commit of a ref of the push that passed (OK or UP_TO_DATE), which is
// how the server's rules on refs cover it: detached metadata changed for
// a commit the repository had and no such ref points to fails the push.
func (rv *receiver) metadataUpdates(upd *wire.Update, results []wire.RefResult) ([]object.Checksum, error) {
	if len(rv.metaChanged) == 0 {
		return nil, nil
	}
	named := map[object.Checksum]bool{}
	var signed []object.Checksum
	for i, u := range upd.Refs {
		if results[i].Status.Success() && rv.metaChanged[u.New] {
			results[i].Metadata = true
			if !named[u.New] {
				named[u.New] = true
				signed = append(signed, u.New)
			}
		}
	}
	for _, c := range rv.metas {
		if rv.metaChanged[c] && !named[c] {
			return nil, fmt.Errorf("detached metadata sent for commit %s changes the signatures of a commit the repository has, which no ref of this push points to", c)
		}
	}
	if err := rv.mayResign(signed); err != nil {
		return nil, err
	}
	return signed, nil
}

// mayResign checks that the pusher may update every ref of the repository
// that points to a commit whose signatures the push changes: a ref of its
// own at another's commit does not give it a say over that commit's
// signatures.
func (rv *receiver) mayResign(commits []object.Checksum) error {
	check := rv.opts.Policy.CheckRef
	if check == nil || len(commits) == 0 {
		return nil
	}
	refs, err := rv.dest.Refs()
	if err != nil {
		return err
	}
	for _, r := range refs {
		if !slices.Contains(commits, r.Commit) {
			continue
		}
		if err := check(wire.RefUpdate{Ref: r.Ref, Old: r.Commit, New: r.Commit}); err != nil {
			return fmt.Errorf("detached metadata sent for commit %s would change the signatures of a commit ref %s points to, a ref this push may not update (%v)", r.Commit, r.Ref, err)
		}
	}
	return nil
}

// currentRefs reads the current commit of each ref of upd (absent refs
// are not in the map), and of those alone.
func (rv *receiver) currentRefs(upd *wire.Update) (map[wire.RefName]object.Checksum, error) {
	patterns := make([]wire.RefPattern, len(upd.Refs))
	for i, u := range upd.Refs {
		patterns[i] = wire.RefPattern{Ref: u.Ref}
	}
	refs, err := rv.dest.LookupRefs(patterns, 0)
	if err != nil {
		return nil, err
	}
	current := make(map[wire.RefName]object.Checksum, len(refs))
	for _, r := range refs {
		current[r.Ref] = r.Commit
	}
	return current, nil
}

// checkNesting refuses the first ref the push creates whose name is a
// path prefix of another ref of its collection, or has one as a prefix
// ("a" and "a/b"), counting the refs the push creates too: libostree keeps
// each ref in a file named after it (refs/heads/a), so the two cannot both
// exist, and the second write would fail after the first had moved. It
// returns that ref's result, or nil. It reads only the refs that could
// clash: those named by a prefix of a new ref, and one under each.
func (rv *receiver) checkNesting(upd *wire.Update, current map[wire.RefName]object.Checksum, results []wire.RefResult) (*wire.RefResult, error) {
	known := maps.Clone(current)
	creates := false
	for i, u := range upd.Refs {
		if results[i].Status != wire.StatusOK || u.New.IsZero() || !current[u.Ref].IsZero() {
			continue
		}
		creates = true
		var prefixes []wire.RefPattern
		for j := len(u.Ref.Name) - 1; j > 0; j-- {
			if u.Ref.Name[j] == '/' {
				prefixes = append(prefixes, wire.RefPattern{Ref: wire.RefName{CollectionID: u.Ref.CollectionID, Name: u.Ref.Name[:j]}})
			}
		}
		for _, q := range []struct {
			patterns []wire.RefPattern
			max      int
		}{
			{prefixes, 0},
			{[]wire.RefPattern{{Ref: wire.RefName{CollectionID: u.Ref.CollectionID, Name: u.Ref.Name + "/"}, Prefix: true}}, 1},
		} {
			near, err := rv.dest.LookupRefs(q.patterns, q.max)
			if err != nil {
				return nil, err
			}
			for _, r := range near {
				known[r.Ref] = r.Commit
			}
		}
	}
	if !creates {
		return nil, nil
	}
	return nestingClash(upd, current, known, results), nil
}

// nestingClash is checkNesting's judgement, given the current refs of the
// update (current) and every existing ref a new one could clash with
// (known, a superset).
func nestingClash(upd *wire.Update, current, known map[wire.RefName]object.Checksum, results []wire.RefResult) *wire.RefResult {
	// names holds every ref; dirs every proper prefix of one (by
	// collection), each with a ref under it.
	names := make(map[wire.RefName]bool, len(known))
	dirs := map[wire.RefName]wire.RefName{}
	add := func(r wire.RefName) {
		names[r] = true
		for i := len(r.Name) - 1; i > 0; i-- {
			if r.Name[i] == '/' {
				p := wire.RefName{CollectionID: r.CollectionID, Name: r.Name[:i]}
				if _, ok := dirs[p]; ok {
					break // and every shorter prefix too
				}
				dirs[p] = r
			}
		}
	}
	for r, c := range known {
		if !c.IsZero() {
			add(r)
		}
	}
	for i, u := range upd.Refs {
		if results[i].Status != wire.StatusOK || u.New.IsZero() || !current[u.Ref].IsZero() {
			continue
		}
		other, clash := dirs[u.Ref]
		for j := len(u.Ref.Name) - 1; j > 0 && !clash; j-- {
			if u.Ref.Name[j] == '/' {
				p := wire.RefName{CollectionID: u.Ref.CollectionID, Name: u.Ref.Name[:j]}
				other, clash = p, names[p]
			}
		}
		if clash {
			results[i].Status = wire.StatusRejected
			results[i].Message = fmt.Sprintf("ref %s cannot exist beside ref %s (one is a path prefix of the other)", u.Ref, other)
			return &results[i]
		}
		add(u.Ref)
	}
	return nil
}

// checkMaxRefs refuses the first ref the push creates when the repository
// would then have more refs than Policy.MaxRefs; it returns that ref's
// result, or nil.
func (rv *receiver) checkMaxRefs(upd *wire.Update, current map[wire.RefName]object.Checksum, results []wire.RefResult) (*wire.RefResult, error) {
	max := rv.opts.Policy.MaxRefs
	if max <= 0 {
		return nil, nil
	}
	delta, first := 0, -1
	for i, u := range upd.Refs {
		if results[i].Status != wire.StatusOK {
			continue
		}
		switch {
		case u.New.IsZero():
			delta--
		case current[u.Ref].IsZero():
			delta++
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		return nil, nil // creates no ref: counting them is not needed
	}
	count, err := rv.dest.CountRefs()
	if err != nil {
		return nil, err
	}
	total := count + delta
	if total <= max {
		return nil, nil
	}
	results[first].Status = wire.StatusRejected
	results[first].Message = fmt.Sprintf("the repository would have %d refs, more than the server's max_refs (%d)", total, max)
	return &results[first], nil
}

// decide judges one ref update against the ref's current value: its name,
// the server's rules and its staleness, and with full, the commit it moves
// to (complete, signed, a fast-forward).
func (rv *receiver) decide(u wire.RefUpdate, cur object.Checksum, dryRun bool, sent []object.Checksum, full bool) wire.RefResult {
	res := wire.RefResult{Ref: u.Ref, Status: wire.StatusOK}
	reject := func(s wire.RefStatus, format string, a ...any) wire.RefResult {
		res.Status, res.Message = s, fmt.Sprintf(format, a...)
		return res
	}
	if err := rv.dest.ValidateRef(u.Ref); err != nil {
		return reject(wire.StatusRejected, "invalid ref name: %v", err)
	}
	if u.Ref.CollectionID != "" && u.Ref.CollectionID == rv.dest.CollectionID() {
		return reject(wire.StatusRejected, "the repository's own refs take an empty collection id")
	}
	pol := rv.opts.Policy
	if pol.CheckRef != nil {
		if err := pol.CheckRef(u); err != nil {
			return reject(wire.StatusRejected, "%v", err)
		}
	}
	switch {
	case cur == u.New:
		res.Status = wire.StatusUpToDate
		return res
	case cur != u.Old:
		if cur.IsZero() {
			return reject(wire.StatusStale, "ref does not exist on the remote (client expected %s)", u.Old.Short())
		}
		return reject(wire.StatusStale, "ref is at %s on the remote, client expected %s", cur.Short(), shortOrNone(u.Old))
	case u.New.IsZero():
		return res // delete
	case !full:
		return res
	}
	info, ok, err := rv.dest.Commit(u.New)
	if err != nil {
		return reject(wire.StatusRejected, "loading commit %s: %v", u.New.Short(), err)
	}
	if !ok {
		if dryRun {
			// Not sent in a dry run: nothing more can be checked here.
			return res
		}
		return reject(wire.StatusRejected, "commit %s is not in the repository and was not sent", u.New.Short())
	}
	// A commit marked partial (by a pull, or by a receiver killed while it
	// committed) is accepted once it is found complete. The ref's current
	// value (locked) is a base for the check when it can be trusted: only
	// what changed since it is looked for; otherwise every object is.
	var base object.Checksum
	if rv.trustedBase(cur, sent) {
		base = cur
	}
	if rv.complete[u.New] {
		// Checked moments ago in this transaction (see rv.complete).
	} else if err := rv.checkComplete(u.New, base); err != nil {
		if info.Partial {
			return reject(wire.StatusRejected, "commit %s is partial in the repository: %v", u.New.Short(), err)
		}
		return reject(wire.StatusRejected, "commit %s is incomplete: %v", u.New.Short(), err)
	} else {
		// Once per commit and push, however many refs it goes to.
		if rv.complete == nil {
			rv.complete = map[object.Checksum]bool{}
		}
		rv.complete[u.New] = true
	}
	if pol.VerifyCommit != nil {
		if err := pol.VerifyCommit(u.New, u.Ref); err != nil {
			return reject(wire.StatusRejected, "commit %s: %v", u.New.Short(), err)
		}
	}
	if !u.Old.IsZero() {
		ff, err := isAncestor(rv.dest, u.Old, u.New)
		if err != nil {
			return reject(wire.StatusRejected, "checking history of %s: %v", u.New.Short(), err)
		}
		if !ff {
			switch {
			case pol.DenyNonFastForward:
				rule := pol.DenyNonFastForwardRule
				if rule == "" {
					rule = "the server"
				}
				return reject(wire.StatusNonFastForward, "%s is not an ancestor of %s, and %s denies non-fast-forward updates", u.Old.Short(), u.New.Short(), rule)
			case !u.Force && !pol.ForceAll:
				return reject(wire.StatusNonFastForward, "%s is not an ancestor of %s", u.Old.Short(), u.New.Short())
			}
			res.Message = "forced update" // for clients without CapResultFlags to read
			res.Forced = true
		}
	}
	return res
}

// commitLoader is what isAncestor needs of a repository.
type commitLoader interface {
	Commit(c object.Checksum) (CommitInfo, bool, error)
}

// isAncestor reports whether old is in the parent chain of c (or is c).
// A chain that stops (a parent not in the repository) does not reach old.
func isAncestor(repo commitLoader, old, c object.Checksum) (bool, error) {
	for i := 0; i < maxAncestry && !c.IsZero(); i++ {
		if c == old {
			return true, nil
		}
		info, ok, err := repo.Commit(c)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, nil
		}
		c = info.Parent
	}
	return false, nil
}
