package transfer

// The receive core: one push into a Dest, whatever the protocol version.
//
//	stage    receive_stage.go   objects into the transaction, within the limits
//	check    receive_check.go   detached metadata, every commit sent complete
//	decide   receive_decide.go  under the ref lock, each ref's fate: the one
//	         and commit         place; then all move (Txn.Commit) or none
//
// The adapters around it read the protocol: receive.go version 1 (which
// ostree-pull-ssh also runs, receiving from an ostree-push --stdio), v0.go
// version 0, the original ostree-push's.

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
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

	// MaxObjectSizeRule, when set, names the configuration rule behind
	// MaxObjectSize in the refusals it causes ("users.alice.max_object_size").
	MaxObjectSizeRule string

	Policy Policy    // the server's rules; the zero value accepts what the protocol allows
	Fault  FaultFunc // fault injection for tests (see fault.go); may be nil
}

// Policy is what a server adds to the protocol's own checks (see
// protocol.md, section 7). The hooks run on the receiver's goroutine.
type Policy struct {
	// MaxPushSize bounds the object bytes of one push; 0: no bound.
	MaxPushSize uint64
	// MaxPushSizeRule, when set, names the configuration rule behind
	// MaxPushSize in the refusal it causes (default: "the server's").
	MaxPushSizeRule string
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
	// DenyNonFastForwardRule, when set, names the configuration rule
	// behind DenyNonFastForward in the rejections it causes (default:
	// "the server").
	DenyNonFastForwardRule string
	// CheckRef, when set, judges an update by its name and kind (a
	// deletion has a zero New): an error rejects that ref.
	CheckRef func(u wire.RefUpdate) error
	// DetachedMetadata, when set, judges the detached metadata a push
	// sends for commit c (staged; what the repository had before the push
	// is still committed), for every commit the push sends metadata for,
	// new or not: an error fails the push. It may rewrite the staged
	// metadata (merge it with the old, say), and reports whether the
	// repository's detached metadata of c changes with the push (never
	// for a commit new to the repository). It runs once the objects are
	// in and again under the ref lock. Without it, such metadata replaces
	// the old, and counts as a change for a commit the repository had.
	DetachedMetadata func(c object.Checksum) (changed bool, err error)
	// MetadataReplaces says that DetachedMetadata lets detached metadata
	// replace the old as it is (allow_metadata_rewrite), rather than add
	// signatures to it: METADATA_HAVE then spares a client only metadata
	// with the very same signatures.
	MetadataReplaces bool
	// VerifyCommit, when set, checks the commit ref would move to, once
	// it is known to be complete (a signature check, say): an error
	// rejects that ref.
	VerifyCommit func(c object.Checksum, ref wire.RefName) error
	// BeforeCommit, when set, runs under the ref lock once every ref has
	// passed, before the transaction commits: it may still write into
	// the transaction (sign the commits, say). An error aborts the push.
	BeforeCommit func(moving []wire.RefUpdate) error
	// Resigned, when set, runs under the ref lock once a push that
	// changed the detached metadata of commits the repository had (see
	// DetachedMetadata) has committed, before AfterCommit: for what
	// copies that metadata (static deltas). Its messages reach the client
	// as AfterCommit's do.
	Resigned func(commits []object.Checksum) []string
	// AfterCommit, when set, runs under the ref lock after the refs have
	// moved (regenerate the summary, say). Its messages, and those of
	// AfterUnlock, which runs once the lock is released (hooks, say),
	// reach the client as PROGRESS; they cannot undo the push.
	AfterCommit func(moved []wire.RefUpdate) []string
	AfterUnlock func(moved []wire.RefUpdate) []string
}

// ReceiveResult is what a receive did.
type ReceiveResult struct {
	ObjectsWritten uint64
	BytesWritten   uint64
	DryRun         bool
	Refs           []wire.RefResult
	Updates        []wire.RefUpdate
	// Notes are what the push's end said for the client (a dry run, the
	// hooks' messages) where the protocol cannot carry them: version 0,
	// whose client hears nothing after DONE. Version 1 sends them as
	// PROGRESS instead.
	Notes []string
}

type receiver struct {
	dest Dest
	opts ReceiveOptions
	txn  Txn // open until committed or aborted; nil after
	// complete holds the commits found complete in this transaction,
	// sent or already there: each is walked once per push.
	// Nothing they need can go away before it ends: libostree holds the
	// repository's shared lock from prepare to commit or abort, and prune
	// needs it exclusive.
	complete map[object.Checksum]bool
	// commits are the commit objects the push sent; metas the commits it
	// sent detached metadata for.
	commits, metas []object.Checksum
	// metaChanged holds the commits the repository had whose detached
	// metadata the push changes (checkDetachedMetadata).
	metaChanged map[object.Checksum]bool
	// notes are for the client once the push is decided (a dry run,
	// what the hooks said): version 1 sends them as PROGRESS.
	notes []string
	mark  time.Time // end of the last phase logged
}

// newReceiver is the core of one receive, with opts' defaults filled in.
func newReceiver(dest Dest, opts ReceiveOptions) *receiver {
	if opts.MaxObjectSize == 0 {
		opts.MaxObjectSize = DefaultMaxObjectSize
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	return &receiver{dest: dest, opts: opts, mark: time.Now()}
}

// begin opens the push's transaction.
func (rv *receiver) begin() error {
	txn, err := rv.dest.Begin()
	if err != nil {
		return err
	}
	rv.txn = txn
	return nil
}

// end ends a receive that returned err: a transaction still open is
// aborted, keeping what an interrupted push staged (see abort).
func (rv *receiver) end(err error) error {
	if rv.txn != nil {
		if aerr := rv.abort(interrupted(err)); aerr != nil && err == nil {
			err = aerr
		}
	}
	return err
}

// conclude is everything after the objects, for every version of the
// protocol: the detached metadata and the commits sent are checked
// (receive_check.go), then every ref update is decided and applied, all or
// none (receive_decide.go).
func (rv *receiver) conclude(upd *wire.Update, res *ReceiveResult) error {
	commits := rv.commits
	if err := rv.checkDetachedMetadata(); err != nil {
		return err
	}
	res.DryRun = upd.DryRun || rv.opts.Policy.DryRun // the client's or the server's
	res.Updates = upd.Refs
	if f, ok := rv.txn.(FlushTxn); ok && len(commits) > 0 && !upd.DryRun && !rv.opts.Policy.DryRun {
		f.StartFlush()
	}
	if err := rv.checkSent(upd, commits); err != nil {
		return err
	}
	rv.phase("completeness check")
	var err error
	res.Refs, err = rv.updateRefs(upd, commits)
	return err
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
	var remote *wire.RemoteError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errStreamEnded) || errors.As(err, &remote)
}

// clientEnded is a push its client ended before it was complete (the
// original ostree-push gives up by closing the connection): said in plain
// words, not as a protocol error, and an interrupted push.
type clientEnded struct{ msg string }

func (e *clientEnded) Error() string { return e.msg }
func (e *clientEnded) Unwrap() error { return errStreamEnded }

// errStreamEnded is wrapped by the errors of a client whose stream ended
// between frames where more had to come.
var errStreamEnded = errors.New("end of stream")

// phase logs (at debug level) how long the phase that ends now took.
func (rv *receiver) phase(format string, a ...any) {
	now := time.Now()
	rv.opts.Logf("%s: %s", fmt.Sprintf(format, a...), now.Sub(rv.mark).Round(time.Millisecond))
	rv.mark = now
}

func unexpected(want string, m wire.Message) error {
	return wire.ProtocolErrorf("want %s, got %v frame", want, m.FrameType())
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
