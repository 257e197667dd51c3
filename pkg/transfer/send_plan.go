package transfer

import (
	"errors"
	"fmt"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/sign"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// What a push sends, decided locally: the refspecs resolved to commits
// before anything is sent, then for each receiver, once it has advertised
// its refs, each ref judged and the objects to offer it worked out.

// planned is one ref to push, resolved locally.
type planned struct {
	spec   PushSpec
	new    object.Checksum
	parent object.Checksum // new's parent, zero when it has none
}

// CheckSpecs resolves specs in src as Push does, without a connection: a
// ref that matches nothing locally, or a commit that is not whole here, is
// an error before ssh starts.
func CheckSpecs(src Source, specs []PushSpec) error {
	_, err := resolveSpecs(src, specs)
	return err
}

// resolveSpecs turns specs into commits of src; no specs means every ref
// of src, under its own name.
func resolveSpecs(src Source, specs []PushSpec) ([]planned, error) {
	if len(specs) == 0 {
		refs, err := src.Refs()
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			specs = append(specs, PushSpec{Src: r.Ref.Name, Dst: r.Ref})
		}
		if len(specs) == 0 {
			return nil, errors.New("no refs to push: the local repository has none")
		}
	}
	seen := map[wire.RefName]bool{}
	var plan []planned
	for _, s := range specs {
		if seen[s.Dst] {
			return nil, fmt.Errorf("remote ref %s is named twice", s.Dst)
		}
		seen[s.Dst] = true
		pl := planned{spec: s}
		if s.Src != "" {
			c, ok, err := src.ResolveRev(s.Src)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("%s does not match any local ref or commit", s.Src)
			}
			info, ok, err := src.Commit(c)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("%s resolves to %s, which is not in the local repository", s.Src, c)
			}
			if info.Partial {
				return nil, fmt.Errorf("%s resolves to %s, which is only partially in the local repository", s.Src, c)
			}
			pl.new, pl.parent = c, info.Parent
		}
		plan = append(plan, pl)
	}
	return plan, nil
}

// negotiated is a push after HELLO, ADVERTISE and the local judgement of
// each ref: what to offer, what to send unasked, what to ask for.
type negotiated struct {
	plan        []planned
	res         *PushResult // RemoteMode and RemoteAgent so far
	remote      map[wire.RefName]object.Checksum
	updates     []wire.RefUpdate
	localReject map[wire.RefName]RefOutcome
	offer       []object.Name // to ask about in QUERYs
	always      []object.Name // sent without asking (detached metadata)
	// metaAsk asks about the detached metadata of the commits the refs
	// go to that the remote has (METADATA_QUERY), metaNames names them.
	metaAsk   []wire.MetadataDigest
	metaNames []object.Name
	dryRun    bool // asked for, or forced by a local rejection
}

// judge judges each ref of the plan against the advertised refs, as git
// does: a non-fast-forward update is refused before any object is sent.
// Then, when no ref was refused, it works out the objects to offer.
func (l *lane) judge(plan []planned, adv *wire.Advertise, agent string) (*negotiated, error) {
	n := &negotiated{
		plan:        plan,
		res:         &PushResult{RemoteMode: adv.Mode, RemoteAgent: agent},
		remote:      map[wire.RefName]object.Checksum{},
		localReject: map[wire.RefName]RefOutcome{},
	}
	remoteComplete := map[object.Checksum]bool{}
	for _, r := range adv.Refs {
		n.remote[r.Ref] = r.Commit
		if r.Complete {
			remoteComplete[r.Commit] = true
		}
	}
	var tips []object.Checksum
	for _, pl := range plan {
		old := n.remote[pl.spec.Dst]
		u := wire.RefUpdate{Ref: pl.spec.Dst, Old: old, New: pl.new, Force: pl.spec.Force}
		out := RefOutcome{Ref: u.Ref, Old: old, New: pl.new}
		switch {
		case old.IsZero() && pl.new.IsZero():
			out.Status, out.Message = wire.StatusRejected, "remote ref does not exist"
			n.localReject[u.Ref] = out
			continue
		case !old.IsZero() && !pl.new.IsZero() && old != pl.new:
			ff, err := isAncestor(sourceCommits{l.e.src}, old, pl.new)
			if err != nil {
				return nil, err
			}
			// A receiver that accepts such updates from every client
			// (CapServerForce) judges them itself.
			if !ff && !pl.spec.Force && !l.caps.Has(wire.CapServerForce) {
				out.Status, out.Message = wire.StatusNonFastForward, "the remote commit is not an ancestor of "+pl.spec.Src
				n.localReject[u.Ref] = out
			}
		}
		n.updates = append(n.updates, u)
		if !pl.new.IsZero() && pl.new != old {
			tips = append(tips, pl.new)
		}
	}
	n.dryRun = l.opts.DryRun || len(n.localReject) > 0
	if len(n.localReject) == 0 && len(tips) > 0 {
		var err error
		if n.offer, n.always, err = l.offer(tips, remoteComplete, n.updates); err != nil {
			return nil, err
		}
	}
	if len(n.localReject) == 0 && l.caps.Has(wire.CapCommitmetaUpdate) {
		if err := l.askMetadata(n, remoteComplete); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// askMetadata works out the METADATA_QUERY: the commits the refs go to
// that the remote already has (up to date, or complete there), which the
// walk does not send, each with the fingerprint of its local detached
// metadata; none for a commit without any here.
func (l *lane) askMetadata(n *negotiated, remoteComplete map[object.Checksum]bool) error {
	src := l.e.src.(CommitMetaSource) // the capability says it is one
	seen := map[object.Checksum]bool{}
	for _, u := range n.updates {
		c := u.New
		if c.IsZero() || seen[c] || (c != u.Old && !remoteComplete[c]) {
			continue
		}
		seen[c] = true
		meta, ok, err := src.CommitMeta(c)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		f, err := sign.FingerprintOf(meta)
		if err == nil && len(f.Signatures) > wire.MaxMetadataSignatures {
			err = fmt.Errorf("%d signatures, more than %d", len(f.Signatures), wire.MaxMetadataSignatures)
		}
		if err != nil {
			// What libostree would not take either: not sent.
			l.opts.Logf("not bringing the detached metadata of %s up to date: %v", c, err)
			continue
		}
		n.metaAsk = append(n.metaAsk, wire.MetadataDigest{Commit: c, Rest: f.Rest, Signatures: f.Signatures})
		n.metaNames = append(n.metaNames, object.Name{Checksum: c, Type: object.CommitMeta})
	}
	return nil
}

// offer works out which objects to offer: those reachable from the new
// commits (and their history down to a commit the remote has), minus those
// reachable from remote commits the client also has.
//
// The detached metadata of the commits being pushed is returned apart, to
// be sent without asking: it has no checksum of its own, so the receiver's
// having "a" commitmeta for a commit says nothing about whether it is the
// client's (a commit re-signed since an earlier, refused push, say).
func (l *lane) offer(tips []object.Checksum, remoteComplete map[object.Checksum]bool,
	updates []wire.RefUpdate) (offer, always []object.Name, err error) {
	src := l.e.src
	var history []object.Checksum
	seen := map[object.Checksum]bool{}
	var bases []object.Checksum
	addBase := func(c object.Checksum) {
		if !c.IsZero() && !seen[c] {
			seen[c] = true
			bases = append(bases, c)
		}
	}
	for _, tip := range tips {
		for c := tip; !c.IsZero(); {
			if remoteComplete[c] {
				addBase(c)
				break
			}
			if seen[c] {
				break
			}
			info, ok, err := src.Commit(c)
			if err != nil {
				return nil, nil, err
			}
			if !ok || info.Partial {
				break // local history ends here
			}
			seen[c] = true
			history = append(history, c)
			c = info.Parent
		}
	}
	// The remote commits of the refs being updated are bases too, when
	// the client has them (a forced update, say).
	for _, u := range updates {
		if remoteComplete[u.Old] {
			if info, ok, err := src.Commit(u.Old); err == nil && ok && !info.Partial {
				addBase(u.Old)
			}
		}
	}
	var baseCommits []object.Checksum
	for _, b := range bases {
		if info, ok, err := src.Commit(b); err == nil && ok && !info.Partial {
			baseCommits = append(baseCommits, b)
		}
	}
	r := l.e.walks.get(history, baseCommits)
	if r.err != nil {
		return nil, nil, r.err
	}
	offer, always = r.offer, r.always
	l.opts.Logf("offering %d objects and %d commits' detached metadata (%d reachable from %d new commits, %d known to the remote)",
		len(offer), len(always), r.want, len(history), r.want-len(offer)-len(always))
	return offer, always, nil
}

// sendRank orders objects by type as they are sent: the detached metadata
// (sent unasked) first, then contents, dirmeta, dirtrees, and commits last,
// so that a commit arrives after what it needs.
var sendRank = map[object.Type]int{object.CommitMeta: 0, object.File: 1, object.DirMeta: 2, object.DirTree: 3, object.Commit: 4}

// sendsBefore reports whether a is sent before b: by type (sendRank), then
// in checksum order, which keeps runs repeatable.
func sendsBefore(a, b object.Name) bool {
	if sendRank[a.Type] != sendRank[b.Type] {
		return sendRank[a.Type] < sendRank[b.Type]
	}
	return string(a.Checksum[:]) < string(b.Checksum[:])
}

// sourceCommits adapts a Source to isAncestor.
type sourceCommits struct{ src Source }

func (s sourceCommits) Commit(c object.Checksum) (CommitInfo, bool, error) { return s.src.Commit(c) }

// ResolvedSpec is a PushSpec resolved in the source: New is the commit it
// pushes (zero to delete the ref), Parent that commit's parent.
type ResolvedSpec struct {
	PushSpec
	New, Parent object.Checksum
}

// ResolveSpecs resolves specs in src as a push does (no specs: every ref
// of src to the same name), for a publisher that is not a receiver (an
// object store, internal/publish).
func ResolveSpecs(src Source, specs []PushSpec) ([]ResolvedSpec, error) {
	plan, err := resolveSpecs(src, specs)
	if err != nil {
		return nil, err
	}
	out := make([]ResolvedSpec, len(plan))
	for i, pl := range plan {
		out[i] = ResolvedSpec{PushSpec: pl.spec, New: pl.new, Parent: pl.parent}
	}
	return out, nil
}

// IsAncestor reports whether old is c or one of its ancestors in src (an
// update from old to c is then a fast-forward).
func IsAncestor(src Source, old, c object.Checksum) (bool, error) {
	return isAncestor(sourceCommits{src}, old, c)
}

// Walk returns what a remote that holds bases complete lacks of history
// (commits of src): the objects reachable from them minus those reachable
// from the bases, commits' detached metadata included, in the order a push
// sends them (sendRank). Reachable counts the objects reachable from
// history.
func Walk(src Source, history, bases []object.Checksum) (objects []object.Name, reachable int, err error) {
	offer, always, reachable, err := walk(src, history, bases)
	if err != nil {
		return nil, 0, err
	}
	return append(always, offer...), reachable, nil
}
