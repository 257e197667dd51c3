package transfer

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// The client's side of a push: one send engine for one receiver (Push,
// ostree-push DEST) and for several at once (PushMany, ostree-push --to A
// --to B). A single push is a fan-out of one.
//
// Each receiver is a lane with its own connection, negotiated on its own
// exactly as protocol.md says (HELLO, ADVERTISE, its refs judged, QUERY and
// HAVE; nothing on the wire tells a lane from a single push, section 12b).
// Where the engine's steps live:
//
//	send.go            the API, the lanes, and the engine that runs them
//	send_plan.go       refspecs resolved; refs judged; what to offer
//	send_negotiate.go  HELLO, ADVERTISE, REFS; reading the receiver
//	send_query.go      QUERYs and HAVEs: what each lane lacks, as it comes
//	send_load.go       the encoding of each object, loading, read-ahead
//	send_share.go      the shared reader: one load for every lane, in order
//	send_objects.go    a lane's writer: OBJECT and DATA frames, then UPDATE
//	send_report.go     RESULT to outcomes; which error a failed lane reports
//
// A lane that sends alone (the only one with objects to send) reads its
// objects itself, batch by batch as its HAVEs arrive, pipelined with the
// QUERYs still unanswered. With several sending lanes, the engine waits
// for every lane's HAVEs, then one shared reader goes once through the
// union of what they lack and queues each object for every lane that lacks
// it; a lane whose full queue holds the others back for SlowAfter in all
// is left behind and reads the rest of its objects itself, as a lone lane
// does (twice that in the middle of a large object: then it fails).

// PushSpec is one ref to push: the local rev Src to the remote ref Dst.
// An empty Src deletes Dst.
type PushSpec struct {
	Src   string
	Dst   RefName
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
	Ref      RefName
	Old, New object.Checksum // remote value before; the value pushed
	Status   RefStatus
	Message  string
	Forced   bool // a non-fast-forward update that --force allowed
}

// PushResult is what a push did (or, in a dry run, would do).
type PushResult struct {
	Refs        []RefOutcome
	ObjectsSent uint64 // objects sent (dry run: that would be sent)
	BytesSent   uint64 // object bytes sent (dry run: that would be sent)
	RemoteMode  string
	RemoteAgent string
}

// OK reports whether every ref was updated or already up to date.
func (r *PushResult) OK() bool {
	for _, o := range r.Refs {
		if o.Status != StatusOK && o.Status != StatusUpToDate {
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

// engine is one push to one or more receivers.
type engine struct {
	src     Source
	opts    FanOutOptions
	walks   *walks // negotiate's walks, shared by the lanes
	lanes   []*lane
	sending []*lane // the lanes the shared reader feeds
	// Reads from the local repository, by the shared reader and by lanes
	// that read for themselves.
	objectsRead, bytesRead atomic.Uint64
}

// lane is one receiver's side of a push.
type lane struct {
	e     *engine
	name  string
	abort func() // Mirror.Abort; may be nil
	opts  PushOptions
	fr    *FrameReader
	fw    *FrameWriter
	first *firstBytes
	// errorSent is set once ERROR went out (by whichever goroutine owns
	// the writer at the time).
	errorSent bool
	caps      Capabilities // in effect, from the HELLOs
	n         *negotiated
	started   bool            // negotiated, with refs to update: the writer and reader run
	batches   [][]object.Name // n.offer in QUERYs
	answers   chan answer     // the HAVEs, one per batch; closed after the last, or when reading failed
	// Set by the engine before it closes ready:
	ready    chan struct{}
	shared   bool               // fed by the shared reader, else reads its own objects
	progress func(PushProgress) // a lone lane's progress; nil otherwise
	missing  []object.Name      // shared: what it lacks, in sending order
	queue    chan piece         // shared: from the shared reader to the writer
	dead     chan struct{}      // closed when this lane's push failed
	once     sync.Once
	err      error
	causeMu  sync.Mutex
	cause    error // set by giveUp
	result   *PushResult
	// Set by the shared reader, before it closes queue:
	gone       atomic.Bool   // nothing more is queued (failed, or left behind); the loaders read it too
	rest       []object.Name // set when left behind: what the writer reads itself
	leftBehind atomic.Bool
	// held is how long the shared reader has waited on this lane's full
	// queue while another lane had nothing left to send.
	held time.Duration
}

func (e *engine) newLane(m Mirror) *lane {
	po := e.opts.PushOptions
	po.Progress = nil // the engine reports progress for all lanes
	po.Remote = m.Remote
	if name, logf := m.Name, e.opts.Logf; name != "" {
		po.Logf = func(format string, a ...any) { logf("%s: "+format, append([]any{name}, a...)...) }
	}
	first := &firstBytes{r: m.R}
	return &lane{e: e, name: m.Name, abort: m.Abort, opts: po, fr: NewFrameReader(first), fw: NewFrameWriter(m.W), first: first,
		ready: make(chan struct{}), dead: make(chan struct{})}
}

// run runs every lane at once: each negotiates, queries and sends on its
// own goroutine; once all have negotiated, the engine decides how their
// objects are read (see the top of this file) and runs the shared reader.
func (e *engine) run(plan []planned) {
	var negotiated, done sync.WaitGroup
	for i, l := range e.lanes {
		negotiated.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			l.run(plan, negotiated.Done)
			e.finished(i, l)
		}()
	}
	negotiated.Wait()
	var sending []*lane
	for _, l := range e.lanes {
		if l.started && !l.n.dryRun {
			sending = append(sending, l)
		}
	}
	if len(sending) == 1 {
		sending[0].progress = e.opts.Progress
		sending = nil
	}
	sending = e.collect(sending)
	for _, l := range e.lanes {
		close(l.ready)
	}
	e.share(sending)
	done.Wait()
}

// collect waits for the HAVEs of lanes that will share the reader and
// gathers what each lacks; it returns those still alive.
func (e *engine) collect(sending []*lane) []*lane {
	var alive []*lane
	for _, l := range sending {
		l.missing = append([]object.Name{}, l.n.always...)
		for a := range l.answers {
			l.missing = append(l.missing, a.missing...)
		}
		select {
		case <-l.dead:
			continue
		default:
		}
		l.shared = true
		l.queue = make(chan piece, laneQueue)
		alive = append(alive, l)
	}
	return alive
}

func (e *engine) finished(i int, l *lane) {
	if e.opts.Finished != nil {
		e.opts.Finished(i, l.mirrorResult())
	}
}

func (l *lane) mirrorResult() MirrorResult {
	return MirrorResult{Name: l.name, Result: l.result, Err: l.err, LeftBehind: l.leftBehind.Load()}
}

// run is the lane's whole push: negotiation (negotiated is called when it
// is over, successful or not), then a reader of HAVEs and RESULT on
// another goroutine while this one writes.
func (l *lane) run(plan []planned, negotiated func()) {
	n, err := l.prepare(plan)
	if err != nil {
		l.sendError(err)
		l.fail(err)
		negotiated()
		return
	}
	l.n = n
	if len(n.updates) == 0 {
		l.result = l.allRefused(n)
		negotiated()
		return
	}
	l.startQueries()
	l.started = true
	negotiated()
	stats := &sentStats{}
	rerr := make(chan error, 1)
	go func() { rerr <- l.read(stats) }()
	werr := l.write(stats)
	if werr != nil {
		// Tell the receiver at once, so that it stops waiting for frames
		// and the reader sees the end of the stream.
		l.sendError(werr)
		l.fail(werr)
	}
	l.settle(werr, <-rerr, stats)
}
