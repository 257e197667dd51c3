package transfer

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// The client's side of a push: one send engine for one receiver (Push,
// ostree-push DEST) and for several at once (PushMany, ostree-push --to A
// --to B). A single push is a fan-out of one.
//
// Each receiver is a lane with its own connection, negotiated on its own
// exactly as protocol.md says (HELLO, ADVERTISE, its refs judged, QUERY and
// HAVE; nothing on the wire tells a lane from a single push, section 12b).
// doc.go lists the files of its steps.
//
// A lane that sends alone (the only one with objects to send) reads its
// objects itself, batch by batch as its HAVEs arrive, pipelined with the
// QUERYs still unanswered. With several sending lanes, the engine waits
// for every lane's HAVEs, then one shared reader goes once through the
// union of what they lack and queues each object for every lane that lacks
// it; a lane whose full queue holds the others back for SlowAfter in all
// is left behind and reads the rest of its objects itself, as a lone lane
// does (twice that in the middle of a large object: then it fails).

// engine is one push to one or more receivers.
type engine struct {
	src     Source
	opts    FanOutOptions
	walks   *walks // offer's walks, shared by the lanes
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
	fr    *wire.FrameReader
	fw    *wire.FrameWriter
	first *firstBytes
	// errorSent is set once ERROR went out (by whichever goroutine owns
	// the writer at the time).
	errorSent bool
	caps      wire.Capabilities // in effect, from the HELLOs
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
	sent     *sentStats // what the writer sent, once it is done
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
	return &lane{e: e, name: m.Name, abort: m.Abort, opts: po, fr: wire.NewFrameReader(first), fw: wire.NewFrameWriter(m.W), first: first,
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
	m := MirrorResult{Name: l.name, Result: l.result, Err: l.err, LeftBehind: l.leftBehind.Load()}
	if l.sent != nil && !l.n.dryRun {
		m.ObjectsSent, m.BytesSent = l.sent.objects, l.sent.bytes
	}
	return m
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

// settle ends the lane once its writer and reader are done: its result,
// or the error it reports. The writer's failure is the cause unless the
// receiver said why in an ERROR, and the shared reader's reason for
// giving up on the lane (giveUp) comes before both.
func (l *lane) settle(werr, readErr error, stats *sentStats) {
	l.sent = stats
	var err error
	var remote *wire.RemoteError
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
