package transfer

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/ostree-push/ostree-push/internal/bufpool"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/sign"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Receive serves one push on r (from the client) and w (to the client):
// it advertises dest's refs, stages the objects the client sends in one
// transaction, checks every commit is complete, and then, under dest's ref
// lock, applies all ref updates or none. Any failure aborts the
// transaction, so the repository is left as it was; the client is told
// why with an ERROR frame.
func Receive(r io.Reader, w io.Writer, dest Dest, opts ReceiveOptions) (*ReceiveResult, error) {
	// A version-0 client (the original ostree-push) starts its messages
	// with a byte-order mark, 'l' or 'B'. It should have started the
	// receiver as `ostree-receive --repo=PATH` (ReceiveV0). Say so, and
	// send no ERROR: it would not understand one.
	br := bufio.NewReader(r)
	if first, err := br.Peek(1); err == nil && (first[0] == 'l' || first[0] == 'B') {
		return nil, errors.New("the client speaks version 0 of the protocol (the original ostree-push), but started the receiver as `ostree-receive REPO`; version-0 clients run `ostree-receive --repo=REPO`")
	}
	rv := &v1Receiver{receiver: newReceiver(dest, opts), fr: wire.NewFrameReader(br), fw: wire.NewFrameWriter(w)}
	res, err := rv.run()
	if err = rv.end(err); err != nil {
		var remote *wire.RemoteError
		if !errors.As(err, &remote) {
			// Best effort: the connection may be what failed.
			rv.fw.WriteMessage(&wire.ErrorMsg{Message: truncate(err.Error(), 4000)})
			rv.fw.Flush()
		}
		return nil, err
	}
	return res, nil
}

// v1Receiver is the receive core speaking version 1: frames on a
// connection, capabilities negotiated in HELLO.
type v1Receiver struct {
	*receiver
	fr   *wire.FrameReader
	fw   *wire.FrameWriter
	caps wire.Capabilities // in effect for this exchange
	// metaQueried: the client's METADATA_QUERY was answered.
	metaQueried bool
}

func (rv *v1Receiver) run() (*ReceiveResult, error) {
	// The transaction first: what it can store decides the capabilities.
	if err := rv.begin(); err != nil {
		return nil, err
	}
	version, err := rv.hello()
	if err != nil {
		return nil, err
	}
	rv.opts.Logf("client speaks protocol version %d, capabilities %v", version, rv.caps)
	rv.opts.Fault.at("receive:hello", 0)

	filter, err := rv.readFilter()
	if err != nil {
		return nil, err
	}
	if err := rv.advertise(filter); err != nil {
		return nil, err
	}

	rv.phase("transaction and negotiation")
	res := &ReceiveResult{}
	upd, err := rv.receiveObjects(res)
	if err != nil {
		return nil, err
	}
	rv.phase("objects (%d)", res.ObjectsWritten)
	if err := rv.conclude(upd, res); err != nil {
		return nil, err
	}
	for _, n := range rv.notes {
		if err := rv.fw.WriteMessage(&wire.Progress{Message: truncate(n, 4000)}); err != nil {
			return nil, err
		}
	}
	if rv.caps.Has(wire.CapResultFlags) {
		flags := &wire.ResultFlags{Refs: make([]wire.RefFlags, len(res.Refs))}
		for i, r := range res.Refs {
			if r.Forced {
				flags.Refs[i] |= wire.RefForced
			}
			if res.DryRun && r.Status == wire.StatusOK && rv.caps.Has(wire.CapResultDryRun) {
				flags.Refs[i] |= wire.RefDryRun
			}
			if r.Metadata && rv.caps.Has(wire.CapCommitmetaUpdate) {
				flags.Refs[i] |= wire.RefMetadata
			}
		}
		if err := rv.fw.WriteMessage(flags); err != nil {
			return nil, err
		}
	}
	if err := rv.fw.WriteMessage(fitResult(&wire.Result{
		ObjectsWritten: res.ObjectsWritten,
		BytesWritten:   res.BytesWritten,
		Refs:           res.Refs,
	})); err != nil {
		return nil, err
	}
	return res, rv.fw.Flush()
}

// fitResult shortens the refs' messages when the RESULT would not fit in a
// frame. Per ref, an UPDATE carries 65 bytes besides the name and a RESULT
// 3 plus its message, so with messages of at most 60 bytes a RESULT is
// never longer than the UPDATE it answers, which fitted.
func fitResult(r *wire.Result) *wire.Result {
	if p, err := r.MarshalBinary(); err == nil && len(p) <= wire.MaxPayload {
		return r
	}
	short := *r
	short.Refs = make([]wire.RefResult, len(r.Refs))
	for i, rr := range r.Refs {
		rr.Message = truncate(rr.Message, 60)
		short.Refs[i] = rr
	}
	return &short
}

// hello reads the client's HELLO and answers with the version chosen.
func (rv *v1Receiver) hello() (uint16, error) {
	m, err := rv.fr.ReadMessage()
	if err == io.EOF {
		return 0, &wire.ProtocolError{Msg: "connection closed before HELLO", Err: errStreamEnded}
	}
	if err != nil {
		return 0, err
	}
	hello, ok := m.(*wire.Hello)
	if !ok {
		return 0, unexpected("HELLO", m)
	}
	version, ok := wire.HighestCommonVersion(hello.Versions, []uint16{wire.Version})
	if !ok {
		return 0, fmt.Errorf("no common protocol version: client speaks %v, this receiver %d", hello.Versions, wire.Version)
	}
	var mine []string
	if _, ok := rv.txn.(FilezTxn); ok {
		mine = append(mine, wire.CapArchiveFilez)
	}
	rt, resumable := rv.txn.(ResumeTxn)
	if resumable {
		mine = append(mine, wire.CapResume)
	}
	mine = append(mine, wire.CapDeflateMetadata, wire.CapAdvertiseRefs, wire.CapResultFlags, wire.CapRefFilter, wire.CapResultDryRun)
	if pol := rv.opts.Policy; pol.ForceAll && !pol.DenyNonFastForward {
		mine = append(mine, wire.CapServerForce)
	}
	if _, ok := rv.dest.(MetadataDest); ok {
		mine = append(mine, wire.CapCommitmetaUpdate)
	}
	rv.caps = wire.Intersect(hello.Capabilities, mine)
	if resumable && rt.Resumed() {
		rv.opts.Logf("the transaction took up an earlier one's staging; %s in effect: %v", wire.CapResume, rv.caps.Has(wire.CapResume))
	}
	return version, rv.fw.WriteMessage(&wire.Hello{
		Versions:     []uint16{version},
		Capabilities: mine,
		Agent:        truncate(rv.opts.Agent, wire.MaxAgentLen),
	})
}

// have answers a QUERY: from the committed objects and, with CapResume in
// effect, those an interrupted push left staged too.
func (rv *v1Receiver) have(names []object.Name) ([]bool, error) {
	if rt, ok := rv.txn.(ResumeTxn); ok && !rv.caps.Has(wire.CapResume) {
		return rt.HasCommittedObjects(names)
	}
	return rv.txn.HasObjects(names)
}

// readFilter reads the client's REF_FILTER, with CapRefFilter in effect:
// its first frame after the receiver's HELLO. Nil without the capability
// (every ref is advertised).
func (rv *v1Receiver) readFilter() (*wire.RefFilter, error) {
	if !rv.caps.Has(wire.CapRefFilter) {
		return nil, nil
	}
	if err := rv.fw.Flush(); err != nil { // the client waits for HELLO
		return nil, err
	}
	m, err := rv.fr.ReadMessage()
	if err == io.EOF {
		return nil, &wire.ProtocolError{Msg: "connection closed before REF_FILTER", Err: errStreamEnded}
	}
	if err != nil {
		return nil, err
	}
	switch m := m.(type) {
	case *wire.RefFilter:
		return m, nil
	case *wire.ErrorMsg:
		return nil, m.Err()
	}
	return nil, unexpected("REF_FILTER", m)
}

// advertise sends ADVERTISE (and REFS) with the refs filter selects: all
// of them when filter is nil or says All, else only those it names or
// holds under its prefixes, which are all that is read.
func (rv *v1Receiver) advertise(filter *wire.RefFilter) error {
	var refs []Ref
	var err error
	if filter == nil || filter.All {
		refs, err = rv.dest.Refs()
	} else {
		refs, err = rv.dest.LookupRefs(filter.Patterns, 0)
	}
	if err != nil {
		return err
	}
	adv := &wire.Advertise{Mode: rv.dest.Mode(), CollectionID: rv.dest.CollectionID()}
	for _, r := range refs {
		info, ok, err := rv.dest.Commit(r.Commit)
		if err != nil {
			return err
		}
		adv.Refs = append(adv.Refs, wire.AdvertisedRef{Ref: r.Ref, Commit: r.Commit, Complete: ok && !info.Partial})
	}
	if err := rv.writeAdvertise(adv); err != nil {
		return err
	}
	for _, n := range rv.opts.Notices {
		if err := rv.fw.WriteMessage(&wire.Progress{Message: truncate(n, 4000)}); err != nil {
			return err
		}
	}
	return rv.fw.Flush()
}

// writeAdvertise writes ADVERTISE, and REFS frames with CapAdvertiseRefs.
func (rv *v1Receiver) writeAdvertise(adv *wire.Advertise) error {
	if rv.caps.Has(wire.CapAdvertiseRefs) {
		// Any number of refs: in REFS frames, after an ADVERTISE of none.
		all := adv.Refs
		adv.Refs = nil
		if err := rv.fw.WriteMessage(adv); err != nil {
			return err
		}
		for _, m := range wire.SplitRefs(all) {
			if err := rv.fw.WriteMessage(m); err != nil {
				return err
			}
		}
		return nil
	}
	if adv.EncodedSize() > wire.MaxPayload {
		return fmt.Errorf("the repository's %d refs do not fit in one ADVERTISE frame, and the client does not offer %s (an ostree-push older than this receiver): push with a newer ostree-push", len(adv.Refs), wire.CapAdvertiseRefs)
	}
	return rv.fw.WriteMessage(adv)
}

// receiveObjects answers QUERYs and writes OBJECTs until the UPDATE that
// ends the client's stream, and returns it.
func (rv *v1Receiver) receiveObjects(res *ReceiveResult) (*wire.Update, error) {
	pool := newWritePool(rv.txn, rv.opts.Workers)
	sawObjects := false // a QUERY or an OBJECT came: METADATA_QUERY no more
	upd, err := func() (*wire.Update, error) {
		for {
			if err := pool.failure(); err != nil {
				return nil, err
			}
			t, p, err := rv.fr.Next()
			if err == io.EOF {
				return nil, &wire.ProtocolError{Msg: "connection closed before UPDATE", Err: errStreamEnded}
			}
			if err != nil {
				return nil, err
			}
			switch t {
			case wire.FrameQuery:
				sawObjects = true
				var q wire.Query
				if err := q.UnmarshalBinary(p); err != nil {
					return nil, err
				}
				have, err := rv.have(q.Objects)
				if err != nil {
					return nil, err
				}
				if err := rv.fw.WriteMessage(&wire.Have{Present: have}); err != nil {
					return nil, err
				}
				if err := rv.fw.Flush(); err != nil {
					return nil, err
				}
			case wire.FrameMetadataQuery:
				var q wire.MetadataQuery
				if err := q.UnmarshalBinary(p); err != nil {
					return nil, err
				}
				if err := rv.answerMetadata(&q, sawObjects); err != nil {
					return nil, err
				}
			case wire.FrameObject:
				sawObjects = true
				var h wire.ObjectHeader
				if err := h.UnmarshalBinary(p); err != nil {
					return nil, err
				}
				if h.Filez && !rv.caps.Has(wire.CapArchiveFilez) {
					return nil, wire.ProtocolErrorf("object %s sent as .filez, but %s was not negotiated", h.Name, wire.CapArchiveFilez)
				}
				if h.Deflated && !rv.caps.Has(wire.CapDeflateMetadata) {
					return nil, wire.ProtocolErrorf("object %s sent deflated, but %s was not negotiated", h.Name, wire.CapDeflateMetadata)
				}
				size, err := rv.receiveObject(pool, &h)
				if err != nil {
					return nil, err
				}
				if err := rv.staged(h.Name, size, res); err != nil {
					return nil, err
				}
			case wire.FrameUpdate:
				var u wire.Update
				if err := u.UnmarshalBinary(p); err != nil {
					return nil, err
				}
				rv.opts.Fault.at("receive:update", 0)
				return &u, nil
			case wire.FrameProgress:
				// Informational only.
			case wire.FrameError:
				var m wire.ErrorMsg
				if err := m.UnmarshalBinary(p); err != nil {
					return nil, err
				}
				return nil, m.Err()
			default:
				return nil, wire.ProtocolErrorf("unexpected %v frame while receiving objects", t)
			}
		}
	}()
	if werr := pool.wait(); err == nil {
		err = werr
	}
	return upd, err
}

// maxMetadataAnswered bounds the detached metadata one METADATA_QUERY
// makes the receiver read: 10,000 commits of 25 KiB.
const maxMetadataAnswered = 256 << 20

// answerMetadata answers the client's METADATA_QUERY (one at most, before
// any QUERY or OBJECT, with CapCommitmetaUpdate in effect): for each
// commit, whether the client's detached metadata, by its fingerprint,
// would add nothing to what the repository has committed (or, where it
// would replace it, is the same), or the repository lacks the commit.
func (rv *v1Receiver) answerMetadata(q *wire.MetadataQuery, late bool) error {
	switch {
	case !rv.caps.Has(wire.CapCommitmetaUpdate):
		return wire.ProtocolErrorf("METADATA_QUERY without %s in effect", wire.CapCommitmetaUpdate)
	case rv.metaQueried:
		return wire.ProtocolErrorf("a second METADATA_QUERY")
	case late:
		return wire.ProtocolErrorf("METADATA_QUERY after a QUERY or an OBJECT")
	}
	rv.metaQueried = true
	md := rv.dest.(MetadataDest) // the capability says it is one
	pol := rv.opts.Policy
	replaces := pol.DetachedMetadata == nil || pol.MetadataReplaces
	current := make([]bool, len(q.Commits))
	read := 0
	for i, c := range q.Commits {
		meta, has, err := md.CommittedMetadata(c.Commit)
		if err != nil {
			return err
		}
		if read += len(meta); read > maxMetadataAnswered {
			return fmt.Errorf("METADATA_QUERY asks about more than %d bytes of detached metadata", maxMetadataAnswered)
		}
		if !has {
			current[i] = true // metadata for it would be refused
			continue
		}
		mine, err := sign.FingerprintOf(meta)
		if err != nil {
			continue // not current: let the policy judge what comes
		}
		theirs := sign.Fingerprint{Rest: c.Rest, Signatures: c.Signatures}
		if replaces {
			current[i] = mine.Same(theirs)
		} else {
			current[i] = mine.Covers(theirs)
		}
	}
	if err := rv.fw.WriteMessage(&wire.MetadataHave{Current: current}); err != nil {
		return err
	}
	return rv.fw.Flush()
}

// receiveObject reads one object's content and writes it (or has the
// pool write it). It returns the object's size as written: for a deflated
// metadata object, inflated.
func (rv *v1Receiver) receiveObject(pool *writePool, h *wire.ObjectHeader) (uint64, error) {
	if err := rv.checkDeclaredSize(h.Name, h.Size); err != nil {
		return 0, err
	}
	if h.Name.Type.IsMeta() || h.Size <= inlineObjectMax {
		// The bytes are reserved before they are read, and released
		// by the writer (or here, on failure). A metadata object is
		// counted with the copies libostree makes to write it.
		held := h.Size
		if h.Name.Type.IsMeta() {
			held *= metadataCopies
		}
		if err := pool.reserve(held); err != nil {
			return 0, err
		}
		submitted := false
		defer func() {
			if !submitted {
				pool.release(held)
			}
		}()
		// A .filez for a writer that keeps nothing of it (FilezBytesTxn)
		// is read into a pooled buffer, which the writer gives back.
		pooled := h.Filez && pool.bytes != nil
		var data []byte
		if pooled {
			data = bufpool.Get(int(h.Size))
		} else {
			data = make([]byte, h.Size)
		}
		if _, err := io.ReadFull(rv.fr.ObjectReader(h.Size), data); err != nil {
			return 0, noEOF(err)
		}
		if h.Filez {
			size, err := rv.checkFilezSize(h, data)
			if err != nil {
				return 0, err
			}
			submitted = true
			return size, pool.submit(writeJob{name: h.Name, data: data, filez: true, pooled: pooled, held: held})
		}
		if h.Deflated {
			var err error
			if data, err = inflateMetadata(data, MaxMetadataSize); err != nil {
				return 0, fmt.Errorf("object %s: %w", h.Name, err)
			}
			// Held from now on: the inflated bytes.
			if n := uint64(len(data)) * metadataCopies; n > held {
				if err := pool.reserve(n - held); err != nil {
					return 0, err
				}
				held = n
			}
		}
		// libostree does not look at the bytes of a metadata object it
		// already has (in the repository, or staged by this push):
		// check them here, so that a mismatch is an error whatever the
		// receiver holds. (A commitmeta has no checksum of its own.)
		if h.Name.Type.IsMeta() && h.Name.Type != object.CommitMeta {
			if sum := object.Checksum(sha256.Sum256(data)); sum != h.Name.Checksum {
				return 0, fmt.Errorf("object %s: its content has checksum %s", h.Name, sum)
			}
		}
		submitted = true
		return uint64(len(data)), pool.submit(writeJob{name: h.Name, data: data, filez: h.Filez, held: held})
	}
	// A large content object streams from the connection into the
	// repository here, while the pool's writers go on with the small ones.
	var r io.Reader = rv.fr.ObjectReader(h.Size)
	size := h.Size
	if h.Filez {
		var err error
		if size, r, err = rv.readFilezSize(h, r); err != nil {
			return 0, err
		}
	}
	return size, writeObject(rv.txn, h.Name, h.Filez, r, h.Size)
}

// SendError writes one ERROR frame to w: how a receiver refuses a client
// before the exchange starts (a configuration error, a path outside its
// root, a repository it cannot open).
func SendError(w io.Writer, message string) error {
	fw := wire.NewFrameWriter(w)
	if err := fw.WriteMessage(&wire.ErrorMsg{Message: truncate(message, 4000)}); err != nil {
		return err
	}
	return fw.Flush()
}
