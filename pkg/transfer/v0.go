package transfer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Version 0, the original ostree-push's protocol, as the receiver serves it
// (pkg/wire's v0.go has the messages): INFO, then the client's UPDATE or
// DONE, its objects, DONE; the refs move as in version 1, after the same
// checks.

// v0Modes are OstreeRepoMode's values.
var v0Modes = map[string]int32{
	wire.ModeBare: 0, wire.ModeArchive: 1, wire.ModeBareUser: 2, wire.ModeBareUserOnly: 3, wire.ModeBareSplitXattrs: 4,
}

// v0ObjectTypes are the object file name extensions a version-0 client may
// send: an archive repository's.
var v0ObjectTypes = map[string]object.Type{
	"filez": object.File, "dirtree": object.DirTree, "dirmeta": object.DirMeta,
	"commit": object.Commit, "commitmeta": object.CommitMeta,
}

// ReceiveV0 serves one push from a version-0 client on r and w. Like
// Receive, any failure aborts the transaction and leaves the repository as
// it was; the client learns of a refusal from a STATUS when the protocol
// has one to send. The result lists each ref's outcome: a version-0 client
// cannot be told after DONE, so the caller reports it (and exits non-zero
// when a ref did not move).
func ReceiveV0(r io.Reader, w io.Writer, dest Dest, opts ReceiveOptions) (*ReceiveResult, error) {
	rv := newReceiver(dest, opts)
	res, err := rv.runV0(bufio.NewReader(r), bufio.NewWriter(w))
	if err = rv.end(err); err != nil {
		return nil, err
	}
	// Version 0 has no message after DONE: the notes go to the caller,
	// who logs them.
	res.Notes = rv.notes
	return res, nil
}

// v0Refusal is a refusal the client has been sent as a STATUS.
type v0Refusal struct{ error }

func (rv *receiver) runV0(r *bufio.Reader, w *bufio.Writer) (*ReceiveResult, error) {
	if err := rv.begin(); err != nil {
		return nil, err
	}
	send := func(m *wire.V0Message) error {
		if err := wire.WriteV0(w, m); err != nil {
			return err
		}
		return w.Flush()
	}
	status := func(ok bool, msg string) error {
		// A GVariant string is UTF-8, and the message may quote what
		// the client sent.
		msg = strings.ToValidUTF8(msg, "\uFFFD")
		return send(&wire.V0Message{Type: wire.V0Status, Body: []wire.V0Entry{{Key: "result", Value: ok}, {Key: "message", Value: msg}}})
	}
	refuse := func(format string, a ...any) error {
		err := fmt.Errorf(format, a...)
		if serr := status(false, err.Error()); serr != nil {
			return serr
		}
		return v0Refusal{err}
	}

	// INFO: the mode and the repository's own refs (version 0 has no
	// collection refs).
	refs, err := rv.dest.Refs()
	if err != nil {
		return nil, err
	}
	current := map[string]object.Checksum{}
	var pairs []wire.V0Pair
	for _, ref := range refs {
		if ref.Ref.CollectionID == "" {
			pairs = append(pairs, wire.V0Pair{A: ref.Ref.Name, B: ref.Commit.String()})
			current[ref.Ref.Name] = ref.Commit
		}
	}
	info := &wire.V0Message{Type: wire.V0Info, Body: []wire.V0Entry{{Key: "mode", Value: v0Modes[rv.dest.Mode()]}, {Key: "refs", Value: pairs}}}
	if body, err := wire.EncodeV0Body(info.Body); err == nil && len(body) > wire.V0MaxBody {
		// Version 0 has no way to say it but the receiver's standard
		// error, which ssh shows the pusher.
		return nil, fmt.Errorf("the repository's %d refs do not fit in a version-0 INFO message (%d bytes, at most %d): push with an ostree-push that speaks protocol 1 (this one), which advertises any number of refs", len(pairs), len(body), wire.V0MaxBody)
	}
	if err := send(info); err != nil {
		return nil, err
	}
	rv.opts.Fault.at("receive:hello", 0)

	m, err := wire.ReadV0(r)
	if err == io.EOF {
		return nil, &clientEnded{"the client ended the push before sending UPDATE or DONE; nothing was changed"}
	}
	if err != nil {
		return nil, err
	}
	res := &ReceiveResult{}
	switch m.Type {
	case wire.V0Done:
		return res, nil
	case wire.V0Update:
	default:
		return nil, wire.ProtocolErrorf("version 0: %v where UPDATE or DONE was expected", m.Type)
	}
	upd, err := v0ParseUpdate(m)
	if err != nil {
		return nil, refuse("%v", err)
	}
	if _, ok := rv.txn.(FilezTxn); !ok || rv.dest.Mode() != wire.ModeArchive {
		return nil, refuse("version-0 pushes need an archive repository; this one is %s", rv.dest.Mode())
	}
	// What the original receiver checked before any object: each ref is
	// where the client says it is. The full judgment comes after DONE.
	for _, u := range upd.Refs {
		if err := rv.dest.ValidateRef(u.Ref); err != nil {
			return nil, refuse("invalid ref name %s: %v", wire.Printable(u.Ref.Name), err)
		}
		if cur := current[u.Ref.Name]; cur != u.Old {
			if cur.IsZero() {
				return nil, refuse("ref %s does not exist, client expected %s", u.Ref.Name, u.Old)
			}
			return nil, refuse("ref %s is at %s, not %s", u.Ref.Name, cur, shortOrNone(u.Old))
		}
	}
	if err := status(true, ""); err != nil {
		return nil, err
	}
	rv.opts.Fault.at("receive:update", 0)

	for {
		m, err := wire.ReadV0(r)
		if err == io.EOF {
			return nil, &clientEnded{fmt.Sprintf("the client ended the push before DONE, after %d objects; nothing was changed", res.ObjectsWritten)}
		}
		if err != nil {
			return nil, err
		}
		if m.Type == wire.V0Done {
			break
		}
		if m.Type != wire.V0PutObject {
			return nil, wire.ProtocolErrorf("version 0: %v where PUTOBJECT or DONE was expected", m.Type)
		}
		name, size, err := rv.v0ReceiveObject(m, r)
		if err != nil {
			var pe *wire.ProtocolError
			if errors.As(err, &pe) {
				return nil, err // the stream is out of step: no STATUS
			}
			return nil, refuse("%v", err)
		}
		if err := rv.staged(name, size, res); err != nil {
			return nil, refuse("%v", err)
		}
		if err := status(true, ""); err != nil {
			return nil, err
		}
	}
	if err := rv.conclude(upd, res); err != nil {
		return nil, err
	}
	return res, nil
}

// v0ParseUpdate turns an UPDATE into the refs it asks to move.
func v0ParseUpdate(m *wire.V0Message) (*wire.Update, error) {
	upd := &wire.Update{}
	for _, e := range m.Body {
		p, ok := e.Value.(wire.V0Pair)
		if !ok {
			return nil, fmt.Errorf("UPDATE: %s: want (ss), the old and new commits", wire.Printable(e.Key))
		}
		old, err := object.ParseChecksum(p.A)
		if err != nil {
			return nil, fmt.Errorf("UPDATE: %s: old commit: %v", wire.Printable(e.Key), err)
		}
		nw, err := object.ParseChecksum(p.B)
		if err != nil {
			return nil, fmt.Errorf("UPDATE: %s: new commit: %v", wire.Printable(e.Key), err)
		}
		upd.Refs = append(upd.Refs, wire.RefUpdate{Ref: wire.RefName{Name: e.Key}, Old: old, New: nw})
	}
	if err := upd.Validate(); err != nil {
		return nil, fmt.Errorf("UPDATE: %v", err)
	}
	return upd, nil
}

// v0ReceiveObject reads one PUTOBJECT's payload into the transaction. An
// error that leaves the stream out of step is a *ProtocolError.
func (rv *receiver) v0ReceiveObject(m *wire.V0Message, r io.Reader) (object.Name, uint64, error) {
	file, ok1 := m.Get("object").(string)
	size, ok2 := m.Get("size").(uint64)
	if !ok1 || !ok2 || len(m.Body) != 2 {
		return object.Name{}, 0, wire.ProtocolErrorf("version 0: PUTOBJECT wants exactly object (s) and size (t)")
	}
	// The payload follows whatever else is wrong, and is read through a
	// limit, so that a refusal can still be answered.
	lr := &io.LimitedReader{R: r, N: int64(min(size, 1<<62))}
	name, counted, err := rv.v0WriteObject(file, size, lr)
	if err == nil && lr.N != 0 {
		err = fmt.Errorf("object %s: %d bytes left after it", wire.Printable(file), lr.N)
	}
	if err != nil {
		// Skip what is left of the payload, if that is reasonable.
		if lr.N > 0 && lr.N <= int64(rv.opts.MaxObjectSize) {
			if _, cerr := io.Copy(io.Discard, lr); cerr != nil {
				return name, 0, wire.ProtocolErrorf("version 0: connection closed inside object %s", wire.Printable(file))
			}
		} else if lr.N > 0 {
			return name, 0, wire.ProtocolErrorf("version 0: %v", err)
		}
		return name, 0, err
	}
	return name, counted, nil
}

// v0WriteObject writes one object of size bytes on the wire from r and
// returns its name and the bytes it counts against the limits: a .filez
// counts the content size it declares, as in version 1.
func (rv *receiver) v0WriteObject(file string, size uint64, r io.Reader) (object.Name, uint64, error) {
	hex, ext, ok := strings.Cut(file, ".")
	t, known := v0ObjectTypes[ext]
	c, err := object.ParseChecksum(hex)
	if !ok || !known || err != nil {
		return object.Name{}, 0, fmt.Errorf("object %q: want CHECKSUM.filez, .dirtree, .dirmeta, .commit or .commitmeta (an archive repository's object file)", wire.Printable(file))
	}
	n := object.Name{Checksum: c, Type: t}
	if err := rv.checkDeclaredSize(n, size); err != nil {
		return n, 0, err
	}
	counted := size
	if t == object.File {
		if counted, r, err = rv.readFilezSize(&wire.ObjectHeader{Name: n, Size: size}, r); err != nil {
			return n, 0, err
		}
	}
	return n, counted, writeObject(rv.txn, n, t == object.File, r, size)
}
