package transfer

import (
	"errors"
)

// The end of a lane's push: RESULT read and turned into the outcome of
// each ref, or the one error the lane reports when it failed, and ERROR
// sent to the receiver for a local failure.

// readResult reads the receiver's RESULT, after the last HAVE.
func (l *lane) readResult(stats *sentStats) error {
	m, err := l.readMessage("RESULT")
	if err != nil {
		return err
	}
	r, ok := m.(*Result)
	if !ok {
		return unexpected("RESULT", m)
	}
	stats.result = r
	return nil
}

// settle ends the lane once its writer and reader are done: its result,
// or the error it reports. The writer's failure is the cause unless the
// receiver said why in an ERROR, and the shared reader's reason for
// giving up on the lane (giveUp) comes before both.
func (l *lane) settle(werr, readErr error, stats *sentStats) {
	var err error
	var remote *RemoteError
	switch {
	case readErr != nil && errors.As(readErr, &remote):
		err = readErr
	case werr != nil:
		err = werr
	case readErr != nil:
		err = readErr
	}
	l.causeMu.Lock()
	if l.cause != nil {
		err = l.cause
	}
	l.causeMu.Unlock()
	if err == nil {
		l.result, err = l.outcomes(l.n, stats)
	}
	if err != nil {
		l.sendError(err) // the writer is done: this goroutine owns the connection
		l.result, l.err = nil, err
	}
}

// giveUp fails the lane for a reason of the shared reader's (a local read
// error, a stall), which is then the error reported for it whatever its
// writer and reader see next.
func (l *lane) giveUp(err error) {
	l.causeMu.Lock()
	if l.cause == nil {
		l.cause = err
	}
	l.causeMu.Unlock()
	l.fail(err)
}

// fail records the first error of the lane and marks it dead.
func (l *lane) fail(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.dead)
	})
}

// failed reports whether the lane has failed.
func (l *lane) failed() bool {
	select {
	case <-l.dead:
		return true
	default:
		return false
	}
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
	byRef := map[RefName]RefResult{}
	for _, r := range sent.result.Refs {
		byRef[r.Ref] = r
	}
	for _, pl := range n.plan {
		if out, ok := n.localReject[pl.spec.Dst]; ok {
			res.Refs = append(res.Refs, out)
			continue
		}
		rr, ok := byRef[pl.spec.Dst]
		if !ok {
			return nil, protocolErrorf("RESULT does not mention ref %s", pl.spec.Dst)
		}
		out := RefOutcome{Ref: pl.spec.Dst, Old: n.remote[pl.spec.Dst], New: pl.new, Status: rr.Status, Message: rr.Message}
		if len(n.localReject) > 0 && rr.Status == StatusOK {
			out.Status, out.Message = StatusAtomic, "not applied: another ref of this push was rejected"
		}
		if rr.Status == StatusOK && rr.Message == "forced update" {
			out.Forced = true
		}
		res.Refs = append(res.Refs, out)
	}
	return res, nil
}
