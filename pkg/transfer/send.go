package transfer

import (
	"errors"
	"io"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// The client's API: Push to one receiver, PushMany to several (ostree-push
// --to A --to B). Both run the send engine of send_engine.go.

// PushSpec is one ref to push: the local rev Src to the remote ref Dst.
// An empty Src deletes Dst.
type PushSpec struct {
	Src   string
	Dst   wire.RefName
	Force bool
}

// PushOptions configure Push.
type PushOptions struct {
	Specs    []PushSpec           // what to push; empty: every local ref to the same name
	DryRun   bool                 // negotiate and report; change nothing
	Agent    string               // sent in HELLO
	Progress func(PushProgress)   // called as objects are sent; may be nil
	Remote   func(message string) // the receiver's PROGRESS messages; may be nil
	Fault    FaultFunc            // fault injection for tests (see fault.go); may be nil
	// NoCapabilities lists capabilities not to offer even when possible
	// (for measuring one path against another).
	NoCapabilities []string
	// Compress deflates what crosses the network: the file objects of a
	// source that does not store them compressed (CompressSource: bare,
	// bare-user) when the receiver takes .filez, so that they travel as an
	// archive's would, and metadata objects when the receiver takes them
	// deflated (CapDeflateMetadata).
	Compress bool
	Logf     func(string, ...any) // diagnostics; may be nil
}

// PushProgress is reported while objects are sent.
type PushProgress struct {
	ObjectsSent, ObjectsTotal uint64
	BytesSent                 uint64
}

// RefOutcome is what happened to one ref.
type RefOutcome struct {
	Ref      wire.RefName
	Old, New object.Checksum // remote value before; the value pushed
	Status   wire.RefStatus
	Message  string
	Forced   bool // a non-fast-forward update that --force allowed
	// Signed: the push brought the remote signatures (detached
	// metadata) of New that it lacked (in a dry run: would have).
	Signed bool
}

// PushResult is what a push did (or, in a dry run, would do).
type PushResult struct {
	Refs        []RefOutcome
	ObjectsSent uint64 // objects sent (dry run: that would be sent)
	BytesSent   uint64 // object bytes sent (dry run: that would be sent)
	RemoteMode  string
	RemoteAgent string
	// DryRun: the receiver said nothing moved because the push was a dry
	// run, the client's or its own (CapResultDryRun).
	DryRun bool
}

// OK reports whether every ref was updated or already up to date.
func (r *PushResult) OK() bool {
	for _, o := range r.Refs {
		if o.Status != wire.StatusOK && o.Status != wire.StatusUpToDate {
			return false
		}
	}
	return true
}

// DefaultSlowAfter is FanOutOptions.SlowAfter when it is zero.
const DefaultSlowAfter = 5 * time.Second

// Mirror is one receiver of a fan-out push.
type Mirror struct {
	Name   string               // how reports and messages name it (its DEST)
	R      io.Reader            // from the receiver
	W      io.Writer            // to the receiver
	Remote func(message string) // its PROGRESS messages; may be nil
	// Abort, when set, breaks the connection: PushMany calls it when it
	// gives up on a mirror that stalls with its writer blocked on W.
	Abort func()
}

// FanOutOptions configure PushMany. Progress counts the objects read for
// all mirrors together (with one mirror sending, the objects it sent);
// Remote is per Mirror and ignored here; Logf lines start with the
// mirror's name.
type FanOutOptions struct {
	PushOptions
	// SlowAfter is how long in all a mirror with a full queue may hold the
	// others back (the shared reader waiting on it while another mirror
	// has nothing left to send) before it is left behind, to read the rest
	// of its objects itself. Zero means DefaultSlowAfter.
	SlowAfter time.Duration
	// Finished, when set, is called as soon as each mirror's push ends
	// (from that mirror's goroutine), with its index in the mirrors given:
	// a report need not wait for the slowest mirror.
	Finished func(i int, r MirrorResult)
}

// MirrorResult is what happened at one mirror: Err when its push failed as
// a whole (the mirror was left as it was), else Result.
type MirrorResult struct {
	Name   string
	Result *PushResult
	Err    error
	// LeftBehind is set when the mirror fell behind the shared reader and
	// read the rest of its objects itself.
	LeftBehind bool
	// ObjectsSent and BytesSent count what was sent to the mirror, also
	// when its push failed (Result is then nil).
	ObjectsSent, BytesSent uint64
}

// OK reports whether the push to this mirror succeeded with every ref
// updated or up to date.
func (m *MirrorResult) OK() bool { return m.Err == nil && m.Result != nil && m.Result.OK() }

// FanOutResult is what PushMany did.
type FanOutResult struct {
	Mirrors []MirrorResult // in the order given
	// ObjectsRead and BytesRead count the reads of objects from the local
	// repository: one per object sent, whatever the number of mirrors
	// lacking it, plus the rereads of a mirror left behind (and a second
	// read of an object two mirrors take in different encodings).
	ObjectsRead, BytesRead uint64
}

// OK reports whether every mirror's push succeeded.
func (r *FanOutResult) OK() bool {
	for i := range r.Mirrors {
		if !r.Mirrors[i].OK() {
			return false
		}
	}
	return true
}

// Push runs one push over r (from the receiver) and w (to it): it
// negotiates, sends only the objects the remote lacks and asks the
// receiver to move the refs. Refs the remote rejects are reported in the
// result, not as an error; an error means the push failed as a whole and
// the remote's refs were left as they were, unless the receiver's error
// says that some moved (its ref journal then moves the rest).
func Push(r io.Reader, w io.Writer, src Source, opts PushOptions) (*PushResult, error) {
	res, err := PushMany(src, []Mirror{{R: r, W: w, Remote: opts.Remote}}, FanOutOptions{PushOptions: opts})
	if err != nil {
		return nil, err
	}
	m := res.Mirrors[0]
	if m.Err != nil {
		return nil, m.Err
	}
	return m.Result, nil
}

// PushMany pushes the same refs to every mirror at once, reading each
// object to send once. A mirror's failure is reported in its MirrorResult
// and does not stop the others; the error is for what fails before any
// mirror is contacted (a refspec that resolves to nothing locally).
func PushMany(src Source, mirrors []Mirror, opts FanOutOptions) (*FanOutResult, error) {
	if len(mirrors) == 0 {
		return nil, errors.New("no destinations")
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.SlowAfter <= 0 {
		opts.SlowAfter = DefaultSlowAfter
	}
	opts.Fault = opts.Fault.locked()
	plan, err := resolveSpecs(src, opts.Specs)
	if err != nil {
		return nil, err
	}
	e := &engine{src: src, opts: opts, walks: newWalks(src)}
	for _, m := range mirrors {
		e.lanes = append(e.lanes, e.newLane(m))
	}
	e.walks.speculate(plan)
	defer e.walks.wait()
	e.run(plan)
	res := &FanOutResult{ObjectsRead: e.objectsRead.Load(), BytesRead: e.bytesRead.Load()}
	for _, l := range e.lanes {
		res.Mirrors = append(res.Mirrors, l.mirrorResult())
	}
	return res, nil
}
