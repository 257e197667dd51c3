package transfer

import (
	"errors"

	"github.com/ostree-push/ostree-push/pkg/wire"
)

// The end of a lane's push: UPDATE, the client's last message, then the
// receiver's RESULT turned into the outcome of each ref; or, when every
// ref was refused locally, no UPDATE at all.

// writeUpdate sends UPDATE, the writer's last message.
func (l *lane) writeUpdate() error {
	l.opts.Fault.at("push:update", 0)
	if err := l.fw.WriteMessage(&wire.Update{DryRun: l.n.dryRun, Refs: l.n.updates}); err != nil {
		return err
	}
	return l.fw.Flush()
}

// readResult reads the receiver's RESULT, after the last HAVE; with
// CapResultFlags in effect, RESULT_FLAGS comes first.
func (l *lane) readResult(stats *sentStats) error {
	m, err := l.readMessage("RESULT")
	if err != nil {
		return err
	}
	if f, ok := m.(*wire.ResultFlags); ok && l.caps.Has(wire.CapResultFlags) && stats.flags == nil {
		if len(f.Refs) != len(l.n.updates) {
			return wire.ProtocolErrorf("RESULT_FLAGS has %d refs, the UPDATE %d", len(f.Refs), len(l.n.updates))
		}
		stats.flags = f.Refs
		for _, fl := range f.Refs {
			if fl&wire.RefDryRun != 0 && !l.caps.Has(wire.CapResultDryRun) {
				return wire.ProtocolErrorf("RESULT_FLAGS sets DRY_RUN without %s in effect", wire.CapResultDryRun)
			}
			if fl&wire.RefMetadata != 0 && !l.caps.Has(wire.CapCommitmetaUpdate) {
				return wire.ProtocolErrorf("RESULT_FLAGS sets METADATA without %s in effect", wire.CapCommitmetaUpdate)
			}
		}
		if m, err = l.readMessage("RESULT"); err != nil {
			return err
		}
	}
	r, ok := m.(*wire.Result)
	if !ok {
		return unexpected("RESULT", m)
	}
	if l.caps.Has(wire.CapResultFlags) && stats.flags == nil {
		return wire.ProtocolErrorf("RESULT without RESULT_FLAGS, with %s in effect", wire.CapResultFlags)
	}
	stats.result = r
	return nil
}

// allRefused ends a push whose every ref was refused locally: there is
// nothing to ask the receiver, which is told why (protocol.md, section 5).
func (l *lane) allRefused(n *negotiated) *PushResult {
	res := n.res
	for _, pl := range n.plan {
		res.Refs = append(res.Refs, n.localReject[pl.spec.Dst])
	}
	l.sendError(errors.New("nothing to push: every ref was refused by the client"))
	return res
}

// outcomes turns the receiver's RESULT into the outcome of each ref.
func (l *lane) outcomes(n *negotiated, sent *sentStats) (*PushResult, error) {
	res := n.res
	res.ObjectsSent, res.BytesSent = sent.objects, sent.bytes
	// RESULT_FLAGS follows the UPDATE's order (its count was checked).
	forced, signed := map[wire.RefName]bool{}, map[wire.RefName]bool{}
	// An UPDATE made a dry run by a local rejection (all or none) is
	// answered with DRY_RUN flags that say nothing of the server.
	ownDryRun := len(n.localReject) > 0 && !l.opts.DryRun
	for i, f := range sent.flags {
		forced[l.n.updates[i].Ref] = f&wire.RefForced != 0
		signed[l.n.updates[i].Ref] = f&wire.RefMetadata != 0
		if f&wire.RefDryRun != 0 && !ownDryRun {
			res.DryRun = true // the server's dry run, or the client's
		}
	}
	byRef := map[wire.RefName]wire.RefResult{}
	for _, r := range sent.result.Refs {
		r.Forced = forced[r.Ref] && r.Status == wire.StatusOK
		byRef[r.Ref] = r
	}
	for _, pl := range n.plan {
		if out, ok := n.localReject[pl.spec.Dst]; ok {
			res.Refs = append(res.Refs, out)
			continue
		}
		rr, ok := byRef[pl.spec.Dst]
		if !ok {
			return nil, wire.ProtocolErrorf("RESULT does not mention ref %s", pl.spec.Dst)
		}
		out := RefOutcome{Ref: pl.spec.Dst, Old: n.remote[pl.spec.Dst], New: pl.new, Status: rr.Status, Message: rr.Message}
		if len(n.localReject) > 0 && rr.Status == wire.StatusOK {
			out.Status, out.Message = wire.StatusAtomic, "not applied: another ref of this push was rejected"
		}
		out.Forced = rr.Forced && out.Status == wire.StatusOK
		out.Signed = signed[pl.spec.Dst] && out.Status.Success()
		res.Refs = append(res.Refs, out)
	}
	return res, nil
}
