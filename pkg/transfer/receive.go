package transfer

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// Limits the receiver enforces on what a client sends.
const (
	// MaxMetadataSize is libostree's limit on a metadata object
	// (OSTREE_MAX_METADATA_SIZE).
	MaxMetadataSize = 10 << 20
	// DefaultMaxObjectSize bounds one content object unless the receiver
	// is configured otherwise.
	DefaultMaxObjectSize = 64 << 30
	// inlineObjectMax is the largest object the receiver buffers in memory
	// to hand to a writer goroutine; larger ones stream straight from the
	// connection into libostree.
	inlineObjectMax = 1 << 20
	// maxAncestry bounds the parent-chain walk of a fast-forward check.
	maxAncestry = 1 << 20
)

// ReceiveOptions configure Receive.
type ReceiveOptions struct {
	Agent         string                        // sent in HELLO, e.g. "ostree-receive/1.0"
	MaxObjectSize uint64                        // 0: DefaultMaxObjectSize
	Workers       int                           // object writers; 0: 2
	Logf          func(format string, a ...any) // diagnostics; nil: none
	// BeforeRefLock, when set, runs after all objects are staged and
	// checked, just before the ref lock is taken: a seam for tests that
	// move a ref or kill the receiver at that point.
	BeforeRefLock func()

	// Notices are sent to the client as PROGRESS right after ADVERTISE
	// (a stale summary, say).
	Notices []string

	Policy Policy    // the server's rules; the zero value accepts what the protocol allows
	Fault  FaultFunc // fault injection for tests (see fault.go); may be nil
}

// Policy is what a server adds to the protocol's own checks (see
// protocol.md, section 7). The hooks run on the receiver's goroutine.
type Policy struct {
	// MaxPushSize bounds the object bytes of one push; 0: no bound.
	MaxPushSize uint64
	// MaxRefs bounds the refs of the repository: a push that would
	// create refs past it is refused; 0: no bound.
	MaxRefs int
	// DryRun makes every push a dry run.
	DryRun bool
	// ForceAll accepts non-fast-forward updates as if every client had
	// asked to force them.
	ForceAll bool
	// DenyNonFastForward rejects non-fast-forward updates even when
	// forced (by the client or by ForceAll).
	DenyNonFastForward bool
	// CheckRef, when set, judges an update by its name and kind (a
	// deletion has a zero New): an error rejects that ref.
	CheckRef func(u RefUpdate) error
	// CheckDetachedMetadata, when set, judges the detached metadata a
	// push sends for commit c (staged; what the repository had before
	// the push is still committed), for every commit the push sends
	// metadata for, new or not: an error fails the push. Without it, such
	// metadata replaces the old.
	CheckDetachedMetadata func(c object.Checksum) error
	// VerifyCommit, when set, checks the commit ref would move to, once
	// it is known to be complete (a signature check, say): an error
	// rejects that ref.
	VerifyCommit func(c object.Checksum, ref RefName) error
	// BeforeCommit, when set, runs under the ref lock once every ref has
	// passed, before the transaction commits: it may still write into
	// the transaction (sign the commits, say). An error aborts the push.
	BeforeCommit func(moving []RefUpdate) error
	// AfterCommit, when set, runs under the ref lock after the refs have
	// moved (regenerate the summary, say). Its messages, and those of
	// AfterUnlock, which runs once the lock is released (hooks, say),
	// reach the client as PROGRESS; they cannot undo the push.
	AfterCommit func(moved []RefUpdate) []string
	AfterUnlock func(moved []RefUpdate) []string
}

// ReceiveResult is what a receive did.
type ReceiveResult struct {
	ObjectsWritten uint64
	BytesWritten   uint64
	DryRun         bool
	Refs           []RefResult
	Updates        []RefUpdate
}

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
	rv := &receiver{
		fr:   NewFrameReader(br),
		fw:   NewFrameWriter(w),
		dest: dest,
		opts: opts,
	}
	if rv.opts.MaxObjectSize == 0 {
		rv.opts.MaxObjectSize = DefaultMaxObjectSize
	}
	if rv.opts.Workers <= 0 {
		rv.opts.Workers = 2
	}
	if rv.opts.Logf == nil {
		rv.opts.Logf = func(string, ...any) {}
	}
	res, err := rv.run()
	if rv.txn != nil {
		if aerr := rv.abort(interrupted(err)); aerr != nil && err == nil {
			err = aerr
		}
	}
	if err != nil {
		var remote *RemoteError
		if !errors.As(err, &remote) {
			// Best effort: the connection may be what failed.
			rv.fw.WriteMessage(&ErrorMsg{Message: truncate(err.Error(), 4000)})
			rv.fw.Flush()
		}
		return nil, err
	}
	return res, nil
}

type receiver struct {
	fr   *FrameReader
	fw   *FrameWriter
	dest Dest
	opts ReceiveOptions
	txn  Txn          // open until committed or aborted; nil after
	caps Capabilities // in effect for this exchange
	// complete holds the commits found complete in this transaction,
	// sent or already there: each is walked once per push.
	// Nothing they need can go away before it ends: libostree holds the
	// repository's shared lock from prepare to commit or abort, and prune
	// needs it exclusive.
	complete map[object.Checksum]bool
	// metas are the commits the push sent detached metadata for.
	metas []object.Checksum
	mark  time.Time // end of the last phase logged
}

// abort ends the transaction without committing it. Only an interrupted
// push keeps what it staged, for a resumed push to take up (the store
// keeps only what may be taken up, see DiscardTxn); a refused or failed
// one discards it.
func (rv *receiver) abort(keep bool) error {
	txn := rv.txn
	rv.txn = nil
	if d, ok := txn.(DiscardTxn); ok && !keep {
		return d.Discard()
	}
	return txn.Abort()
}

// interrupted reports whether a receive ended because the client went
// away or gave up (its stream ended early, or it sent ERROR), rather than
// because it was refused or broke the protocol.
func interrupted(err error) bool {
	var remote *RemoteError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errStreamEnded) || errors.As(err, &remote)
}

// errStreamEnded is wrapped by the errors of a client whose stream ended
// between frames where more had to come.
var errStreamEnded = errors.New("end of stream")

// phase logs (at debug level) how long the phase that ends now took.
func (rv *receiver) phase(format string, a ...any) {
	now := time.Now()
	rv.opts.Logf("%s: %s", fmt.Sprintf(format, a...), now.Sub(rv.mark).Round(time.Millisecond))
	rv.mark = now
}

func (rv *receiver) run() (*ReceiveResult, error) {
	rv.mark = time.Now()
	// The transaction first: what it can store decides the capabilities.
	txn, err := rv.dest.Begin()
	if err != nil {
		return nil, err
	}
	rv.txn = txn
	version, err := rv.hello()
	if err != nil {
		return nil, err
	}
	rv.opts.Logf("client speaks protocol version %d, capabilities %v", version, rv.caps)
	rv.opts.Fault.at("receive:hello", 0)

	if err := rv.advertise(version); err != nil {
		return nil, err
	}

	rv.phase("transaction and negotiation")
	res := &ReceiveResult{}
	upd, commits, metas, err := rv.receiveObjects(res)
	if err != nil {
		return nil, err
	}
	rv.phase("objects (%d)", res.ObjectsWritten)
	rv.metas = metas
	if err := rv.checkDetachedMetadata(); err != nil {
		return nil, err
	}
	res.DryRun = upd.DryRun
	res.Updates = upd.Refs
	if f, ok := rv.txn.(FlushTxn); ok && len(commits) > 0 && !upd.DryRun && !rv.opts.Policy.DryRun {
		f.StartFlush()
	}
	// Every commit sent must be complete: a ref may later point at it.
	base := rv.completeBase(upd, commits)
	rv.complete = map[object.Checksum]bool{}
	for _, c := range commits {
		if err := rv.checkComplete(c, base); err != nil {
			return nil, fmt.Errorf("commit %s was sent without all its objects: %w", c, err)
		}
		rv.complete[c] = true
	}
	rv.phase("completeness check")
	res.Refs, err = rv.updateRefs(upd, commits)
	if err != nil {
		return nil, err
	}
	if err := rv.fw.WriteMessage(fitResult(&Result{
		ObjectsWritten: res.ObjectsWritten,
		BytesWritten:   res.BytesWritten,
		Refs:           res.Refs,
	})); err != nil {
		return nil, err
	}
	return res, rv.fw.Flush()
}

// completeBase returns a commit to check the sent commits against (see
// checkComplete): the current value of a ref being updated, when it can be
// trusted as a base. Zero when there is none.
func (rv *receiver) completeBase(upd *Update, sent []object.Checksum) object.Checksum {
	if _, ok := rv.txn.(SinceTxn); !ok || len(sent) == 0 {
		return object.Zero
	}
	refs, err := rv.dest.Refs()
	if err != nil {
		return object.Zero
	}
	current := make(map[RefName]object.Checksum, len(refs))
	for _, r := range refs {
		current[r.Ref] = r.Commit
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

// fitResult shortens the refs' messages when the RESULT would not fit in a
// frame. Per ref, an UPDATE carries 65 bytes besides the name and a RESULT
// 3 plus its message, so with messages of at most 60 bytes a RESULT is
// never longer than the UPDATE it answers, which fitted.
func fitResult(r *Result) *Result {
	if p, err := r.MarshalBinary(); err == nil && len(p) <= MaxPayload {
		return r
	}
	short := *r
	short.Refs = make([]RefResult, len(r.Refs))
	for i, rr := range r.Refs {
		rr.Message = truncate(rr.Message, 60)
		short.Refs[i] = rr
	}
	return &short
}

// hello reads the client's HELLO and answers with the version chosen.
func (rv *receiver) hello() (uint16, error) {
	m, err := rv.fr.ReadMessage()
	if err == io.EOF {
		return 0, &ProtocolError{Msg: "connection closed before HELLO", Err: errStreamEnded}
	}
	if err != nil {
		return 0, err
	}
	hello, ok := m.(*Hello)
	if !ok {
		return 0, unexpected("HELLO", m)
	}
	version, ok := HighestCommonVersion(hello.Versions, []uint16{Version})
	if !ok {
		return 0, fmt.Errorf("no common protocol version: client speaks %v, this receiver %d", hello.Versions, Version)
	}
	var mine []string
	if _, ok := rv.txn.(FilezTxn); ok {
		mine = append(mine, CapArchiveFilez)
	}
	rt, resumable := rv.txn.(ResumeTxn)
	if resumable {
		mine = append(mine, CapResume)
	}
	mine = append(mine, CapDeflateMetadata, CapAdvertiseRefs)
	rv.caps = Intersect(hello.Capabilities, mine)
	if resumable && rt.Resumed() {
		rv.opts.Logf("the transaction took up an earlier one's staging; %s in effect: %v", CapResume, rv.caps.Has(CapResume))
	}
	return version, rv.fw.WriteMessage(&Hello{
		Versions:     []uint16{version},
		Capabilities: mine,
		Agent:        truncate(rv.opts.Agent, MaxAgentLen),
	})
}

// have answers a QUERY: from the committed objects and, with CapResume in
// effect, those an interrupted push left staged too.
func (rv *receiver) have(names []object.Name) ([]bool, error) {
	if rt, ok := rv.txn.(ResumeTxn); ok && !rv.caps.Has(CapResume) {
		return rt.HasCommittedObjects(names)
	}
	return rv.txn.HasObjects(names)
}

func (rv *receiver) advertise(version uint16) error {
	refs, err := rv.dest.Refs()
	if err != nil {
		return err
	}
	adv := &Advertise{Mode: rv.dest.Mode(), CollectionID: rv.dest.CollectionID()}
	for _, r := range refs {
		info, ok, err := rv.dest.Commit(r.Commit)
		if err != nil {
			return err
		}
		adv.Refs = append(adv.Refs, AdvertisedRef{Ref: r.Ref, Commit: r.Commit, Complete: ok && !info.Partial})
	}
	if err := rv.writeAdvertise(adv); err != nil {
		return err
	}
	for _, n := range rv.opts.Notices {
		if err := rv.fw.WriteMessage(&Progress{Message: truncate(n, 4000)}); err != nil {
			return err
		}
	}
	return rv.fw.Flush()
}

// writeAdvertise writes ADVERTISE, and REFS frames with CapAdvertiseRefs.
func (rv *receiver) writeAdvertise(adv *Advertise) error {
	if rv.caps.Has(CapAdvertiseRefs) {
		// Any number of refs: in REFS frames, after an ADVERTISE of none.
		all := adv.Refs
		adv.Refs = nil
		if err := rv.fw.WriteMessage(adv); err != nil {
			return err
		}
		for _, m := range SplitRefs(all) {
			if err := rv.fw.WriteMessage(m); err != nil {
				return err
			}
		}
		return nil
	}
	if adv.size() > MaxPayload {
		return fmt.Errorf("the repository's %d refs do not fit in one ADVERTISE frame, and the client does not offer %s (an ostree-push older than this receiver): push with a newer ostree-push", len(adv.Refs), CapAdvertiseRefs)
	}
	return rv.fw.WriteMessage(adv)
}

// receiveObjects answers QUERYs and writes OBJECTs until the UPDATE that
// ends the client's stream. It returns the UPDATE, the commits received and
// the commits whose detached metadata was received.
func (rv *receiver) receiveObjects(res *ReceiveResult) (*Update, []object.Checksum, []object.Checksum, error) {
	pool := newWritePool(rv.txn, rv.opts.Workers)
	var commits, metas []object.Checksum
	upd, err := func() (*Update, error) {
		for {
			if err := pool.failure(); err != nil {
				return nil, err
			}
			t, p, err := rv.fr.Next()
			if err == io.EOF {
				return nil, &ProtocolError{Msg: "connection closed before UPDATE", Err: errStreamEnded}
			}
			if err != nil {
				return nil, err
			}
			switch t {
			case FrameQuery:
				var q Query
				if err := q.UnmarshalBinary(p); err != nil {
					return nil, err
				}
				have, err := rv.have(q.Objects)
				if err != nil {
					return nil, err
				}
				if err := rv.fw.WriteMessage(&Have{Present: have}); err != nil {
					return nil, err
				}
				if err := rv.fw.Flush(); err != nil {
					return nil, err
				}
			case FrameObject:
				var h ObjectHeader
				if err := h.UnmarshalBinary(p); err != nil {
					return nil, err
				}
				if h.Filez && !rv.caps.Has(CapArchiveFilez) {
					return nil, protocolErrorf("object %s sent as .filez, but %s was not negotiated", h.Name, CapArchiveFilez)
				}
				if h.Deflated && !rv.caps.Has(CapDeflateMetadata) {
					return nil, protocolErrorf("object %s sent deflated, but %s was not negotiated", h.Name, CapDeflateMetadata)
				}
				size, err := rv.receiveObject(pool, &h)
				if err != nil {
					return nil, err
				}
				switch h.Name.Type {
				case object.Commit:
					commits = append(commits, h.Name.Checksum)
				case object.CommitMeta:
					metas = append(metas, h.Name.Checksum)
				}
				res.ObjectsWritten++
				res.BytesWritten += size
				rv.opts.Fault.at("receive:object", res.ObjectsWritten)
				if max := rv.opts.Policy.MaxPushSize; max > 0 && res.BytesWritten > max {
					return nil, fmt.Errorf("push exceeds the server's limit of %d bytes", max)
				}
			case FrameUpdate:
				var u Update
				if err := u.UnmarshalBinary(p); err != nil {
					return nil, err
				}
				rv.opts.Fault.at("receive:update", 0)
				return &u, nil
			case FrameProgress:
				// Informational only.
			case FrameError:
				var m ErrorMsg
				if err := m.UnmarshalBinary(p); err != nil {
					return nil, err
				}
				return nil, m.Err()
			default:
				return nil, protocolErrorf("unexpected %v frame while receiving objects", t)
			}
		}
	}()
	if werr := pool.wait(); err == nil {
		err = werr
	}
	return upd, commits, metas, err
}

// receiveObject reads one object's content and writes it (or has the
// pool write it). It returns the object's size as written: for a deflated
// metadata object, inflated.
func (rv *receiver) receiveObject(pool *writePool, h *ObjectHeader) (uint64, error) {
	limit := rv.opts.MaxObjectSize
	if h.Name.Type.IsMeta() {
		limit = MaxMetadataSize
	}
	if h.Size > limit {
		return 0, fmt.Errorf("object %s declares %d bytes, over the limit of %d", h.Name, h.Size, limit)
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
		data := make([]byte, h.Size)
		if _, err := io.ReadFull(rv.fr.ObjectReader(h.Size), data); err != nil {
			return 0, noEOF(err)
		}
		if h.Filez {
			size, err := rv.checkFilezSize(h, data)
			if err != nil {
				return 0, err
			}
			submitted = true
			return size, pool.submit(writeJob{name: h.Name, data: data, filez: true, held: held})
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

// readFilezSize reads the head of a .filez of h.Size bytes from r and
// checks the content size it declares (checkFilezSize); it returns that
// size and a reader of the whole object again, head included.
func (rv *receiver) readFilezSize(h *ObjectHeader, r io.Reader) (uint64, io.Reader, error) {
	if h.Size < filezHeadLen {
		return h.Size, r, nil // too short to declare one: see checkFilezSize
	}
	var head [filezHeadLen]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, noEOF(err)
	}
	size, err := rv.checkFilezSize(h, head[:])
	if err != nil {
		return 0, nil, err
	}
	return size, io.MultiReader(bytesReader(head[:]), r), nil
}

// filezHeadLen is how much of a .filez tells the size of its content: the
// 8-byte prefix, then the header's first field, a big-endian uint64.
const filezHeadLen = 16

// checkFilezSize returns the content size a .filez declares, which must be
// within MaxObjectSize: the bytes on the wire say nothing of what it
// inflates to. The writer's strict validation (FilezTxn) holds the object
// to the size it declares, so the limit holds for what is written; an
// object too short to declare one is left to that validation to refuse.
func (rv *receiver) checkFilezSize(h *ObjectHeader, head []byte) (uint64, error) {
	if len(head) < filezHeadLen {
		return h.Size, nil
	}
	size := binary.BigEndian.Uint64(head[8:filezHeadLen])
	if size > rv.opts.MaxObjectSize {
		return 0, fmt.Errorf("object %s.filez declares a content size of %d bytes, over the limit of %d", h.Name.Checksum, size, rv.opts.MaxObjectSize)
	}
	return size, nil
}

// checkDetachedMetadata judges the detached metadata the push sent
// (rv.metas): it has no checksum of its own, so it is accepted only for a
// commit that is in the repository or came in this push, and the policy
// judges it for every commit, sent again or not (it tells a commit the
// repository had before this push from a new one). It runs once the
// objects are in, and again under the ref lock, where no other push can
// change the metadata it compares with.
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
	for i, h := range have {
		if !h {
			return fmt.Errorf("detached metadata sent for commit %s, which is neither in the repository nor in this push", rv.metas[i])
		}
		if check := rv.opts.Policy.CheckDetachedMetadata; check != nil {
			if err := check(rv.metas[i]); err != nil {
				return fmt.Errorf("detached metadata sent for commit %s, which the repository has: %w", rv.metas[i], err)
			}
		}
	}
	return nil
}

// writeObject writes one object into the transaction, by its encoding.
func writeObject(txn Txn, n object.Name, filez bool, r io.Reader, size uint64) error {
	switch {
	case filez:
		return txn.(FilezTxn).WriteFilez(n.Checksum, r, size)
	case n.Type == object.File:
		return txn.WriteContent(n.Checksum, r, size)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return txn.WriteMetadata(n, data)
}

// updateRefs decides every ref update under the ref lock and applies them
// all, or none, by committing the transaction.
func (rv *receiver) updateRefs(upd *Update, sent []object.Checksum) ([]RefResult, error) {
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
	refs, err := rv.dest.Refs()
	if err != nil {
		return nil, err
	}
	current := make(map[RefName]object.Checksum, len(refs))
	for _, r := range refs {
		current[r.Ref] = r.Commit
	}
	// Two passes: the cheap checks of every ref first (names, rules,
	// staleness), then the expensive ones (completeness, signatures,
	// history), which stop at the first refusal: a push is all or
	// nothing, so once one ref is refused the others need not be judged,
	// and a client cannot make the receiver verify every other ref first.
	results := make([]RefResult, len(upd.Refs))
	var failed *RefResult
	for _, full := range []bool{false, true} {
		for i, u := range upd.Refs {
			if full && results[i].Status != StatusOK {
				continue
			}
			results[i] = rv.decide(u, current[u.Ref], dryRun, sent, full)
			if s := results[i].Status; s != StatusOK && s != StatusUpToDate && failed == nil {
				failed = &results[i]
			}
			if failed != nil && full {
				break // the rest stay as the first pass left them
			}
		}
		if failed == nil && !full {
			failed = rv.checkMaxRefs(upd, current, results) // cheap too
		}
		if failed != nil {
			break
		}
	}
	moves := 0
	for _, r := range results {
		if r.Status == StatusOK {
			moves++
		}
	}
	if failed != nil {
		for i := range results {
			if results[i].Status == StatusOK {
				results[i].Status = StatusAtomic
				results[i].Message = fmt.Sprintf("not applied: %s was rejected (%s)", failed.Ref, failed.Status)
			}
		}
	}
	if dryRun && !upd.DryRun && failed == nil {
		if err := rv.fw.WriteMessage(&Progress{Message: "dry run: the server is configured with dry_run, nothing was changed"}); err != nil {
			return nil, err
		}
	}
	if failed != nil || dryRun || moves == 0 {
		// Nothing moves. A refused push's staging is discarded; a dry
		// run's (or one with every ref up to date) is kept, as an
		// interrupted push's is, with what it may have taken up.
		return results, rv.abort(failed == nil)
	}
	var moving []RefUpdate
	for i, u := range upd.Refs {
		if results[i].Status == StatusOK {
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
	var notes []string
	if pol.AfterCommit != nil {
		notes = append(notes, pol.AfterCommit(moving)...)
		rv.phase("after commit (summary, static deltas)")
	}
	unlock()
	locked = false
	if pol.AfterUnlock != nil {
		notes = append(notes, pol.AfterUnlock(moving)...)
	}
	for _, n := range notes {
		if err := rv.fw.WriteMessage(&Progress{Message: truncate(n, 4000)}); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// checkMaxRefs refuses the first ref the push creates when the repository
// would then have more refs than Policy.MaxRefs; it returns that ref's
// result, or nil.
func (rv *receiver) checkMaxRefs(upd *Update, current map[RefName]object.Checksum, results []RefResult) *RefResult {
	max := rv.opts.Policy.MaxRefs
	if max <= 0 {
		return nil
	}
	total, first := len(current), -1
	for i, u := range upd.Refs {
		if results[i].Status != StatusOK {
			continue
		}
		switch {
		case u.New.IsZero():
			total--
		case current[u.Ref].IsZero():
			total++
			if first < 0 {
				first = i
			}
		}
	}
	if total <= max || first < 0 {
		return nil
	}
	results[first].Status = StatusRejected
	results[first].Message = fmt.Sprintf("the repository would have %d refs, more than the server's max_refs (%d)", total, max)
	return &results[first]
}

// decide judges one ref update against the ref's current value: its name,
// the server's rules and its staleness, and with full, the commit it moves
// to (complete, signed, a fast-forward).
func (rv *receiver) decide(u RefUpdate, cur object.Checksum, dryRun bool, sent []object.Checksum, full bool) RefResult {
	res := RefResult{Ref: u.Ref, Status: StatusOK}
	reject := func(s RefStatus, format string, a ...any) RefResult {
		res.Status, res.Message = s, fmt.Sprintf(format, a...)
		return res
	}
	if err := rv.dest.ValidateRef(u.Ref); err != nil {
		return reject(StatusRejected, "invalid ref name: %v", err)
	}
	if u.Ref.CollectionID != "" && u.Ref.CollectionID == rv.dest.CollectionID() {
		return reject(StatusRejected, "the repository's own refs take an empty collection id")
	}
	pol := rv.opts.Policy
	if pol.CheckRef != nil {
		if err := pol.CheckRef(u); err != nil {
			return reject(StatusRejected, "%v", err)
		}
	}
	switch {
	case cur == u.New:
		res.Status = StatusUpToDate
		return res
	case cur != u.Old:
		if cur.IsZero() {
			return reject(StatusStale, "ref does not exist on the remote (client expected %s)", u.Old.Short())
		}
		return reject(StatusStale, "ref is at %s on the remote, client expected %s", cur.Short(), shortOrNone(u.Old))
	case u.New.IsZero():
		return res // delete
	case !full:
		return res
	}
	info, ok, err := rv.dest.Commit(u.New)
	if err != nil {
		return reject(StatusRejected, "loading commit %s: %v", u.New.Short(), err)
	}
	if !ok {
		if dryRun {
			// Not sent in a dry run: nothing more can be checked here.
			return res
		}
		return reject(StatusRejected, "commit %s is not in the repository and was not sent", u.New.Short())
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
			return reject(StatusRejected, "commit %s is partial in the repository: %v", u.New.Short(), err)
		}
		return reject(StatusRejected, "commit %s is incomplete: %v", u.New.Short(), err)
	} else {
		// Once per commit and push, however many refs it goes to.
		if rv.complete == nil {
			rv.complete = map[object.Checksum]bool{}
		}
		rv.complete[u.New] = true
	}
	if pol.VerifyCommit != nil {
		if err := pol.VerifyCommit(u.New, u.Ref); err != nil {
			return reject(StatusRejected, "commit %s: %v", u.New.Short(), err)
		}
	}
	if !u.Old.IsZero() {
		ff, err := isAncestor(rv.dest, u.Old, u.New)
		if err != nil {
			return reject(StatusRejected, "checking history of %s: %v", u.New.Short(), err)
		}
		if !ff {
			switch {
			case pol.DenyNonFastForward:
				return reject(StatusNonFastForward, "%s is not an ancestor of %s, and the server denies non-fast-forward updates", u.Old.Short(), u.New.Short())
			case !u.Force && !pol.ForceAll:
				return reject(StatusNonFastForward, "%s is not an ancestor of %s", u.Old.Short(), u.New.Short())
			}
			res.Message = "forced update"
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

// writePool writes objects that arrived whole into the transaction from
// several goroutines, so that checksumming and compression use every core
// while the connection is read.
//
// The bytes it holds, from the moment the receiver reserves them to read
// an object until a writer has written it, are bounded by maxHeldBytes:
// the receiver waits for the writers before it reads more (a client that
// sends sixty 10 MiB metadata objects costs 32 MiB, not 600).
type writePool struct {
	txn  Txn
	jobs chan writeJob
	wg   sync.WaitGroup
	once sync.Once
	err  error
	fail chan struct{}

	mu   sync.Mutex
	cond *sync.Cond
	held uint64 // bytes reserved and not yet released
}

// maxHeldBytes bounds the object bytes the receiver holds in memory at
// once; one object larger than that (a metadata object is at most
// MaxMetadataSize) is still taken, alone.
const maxHeldBytes = 32 << 20

// metadataCopies is how many times a metadata object's size the writer
// holds while libostree writes it: the receiver's bytes, GLib's copy of
// them, and the serialization libostree writes.
const metadataCopies = 3

type writeJob struct {
	name  object.Name
	data  []byte
	filez bool
	held  uint64 // reserved for it, released once written
}

func newWritePool(txn Txn, workers int) *writePool {
	p := &writePool{txn: txn, jobs: make(chan writeJob, 16), fail: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	for i := 0; i < workers; i++ {
		p.wg.Add(1)
		go p.work()
	}
	return p
}

func (p *writePool) work() {
	defer p.wg.Done()
	for j := range p.jobs {
		select {
		case <-p.fail:
			continue // drain after a failure
		default:
		}
		var err error
		if j.name.Type.IsMeta() {
			err = p.txn.WriteMetadata(j.name, j.data)
		} else {
			err = writeObject(p.txn, j.name, j.filez, bytesReader(j.data), uint64(len(j.data)))
		}
		j.data = nil
		p.release(j.held)
		if err != nil {
			p.failWith(err)
		}
	}
}

func (p *writePool) failWith(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.fail)
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
}

// reserve waits until n more bytes may be held (at once when none are),
// and reserves them; an error when the pool has failed meanwhile.
func (p *writePool) reserve(n uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.held > 0 && p.held+n > maxHeldBytes && p.failure() == nil {
		p.cond.Wait()
	}
	if err := p.failure(); err != nil {
		return err
	}
	p.held += n
	return nil
}

// release gives back n reserved bytes.
func (p *writePool) release(n uint64) {
	if n == 0 {
		return
	}
	p.mu.Lock()
	p.held -= n
	p.cond.Broadcast()
	p.mu.Unlock()
}

// submit queues j, whose bytes were reserved (j.held), for a writer; on
// failure they are released.
func (p *writePool) submit(j writeJob) error {
	select {
	case p.jobs <- j:
		return nil
	case <-p.fail:
		p.release(j.held)
		return p.err
	}
}

// failure returns the first write error, if any yet.
func (p *writePool) failure() error {
	select {
	case <-p.fail:
		return p.err
	default:
		return nil
	}
}

// wait stops the pool and returns the first write error.
func (p *writePool) wait() error {
	close(p.jobs)
	p.wg.Wait()
	return p.failure()
}

func unexpected(want string, m Message) error {
	return protocolErrorf("want %s, got %v frame", want, m.FrameType())
}

func shortOrNone(c object.Checksum) string {
	if c.IsZero() {
		return "no ref"
	}
	return c.Short()
}

// truncate shortens s to at most n bytes of valid UTF-8 without NULs, so
// that it can always be encoded as a str.
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// SendError writes one ERROR frame to w: how a receiver refuses a client
// before the exchange starts (a configuration error, a path outside its
// root, a repository it cannot open).
func SendError(w io.Writer, message string) error {
	fw := NewFrameWriter(w)
	if err := fw.WriteMessage(&ErrorMsg{Message: truncate(message, 4000)}); err != nil {
		return err
	}
	return fw.Flush()
}
