package receive

import (
	"io"
	"os"
	"sync"
	"time"
)

// idleExit ends the process when the client has stalled too long, or the
// push has run past max_push_duration.
var idleExit = os.Exit

// stallWatch watches both directions of the client's connection: when a
// read has waited longer than the timeout with no data (the client has
// stalled, or vanished without ssh noticing), or a write has been blocked
// that long (the client stopped reading), it calls onStall, which ends the
// process. Only time spent waiting on the client counts: while the
// receiver works (writes objects, checks commits, moves refs, runs hooks)
// it neither reads nor writes, and the watchdog does not fire.
//
// The watchdog never touches libostree: its onStall filters the staging
// directory as an interrupted push's (store.Repo.LeaveStaging) and exits,
// leaving what may be taken up for a later push (see internal/store) and
// the refs where they were.
type stallWatch struct {
	timeout time.Duration
	onStall func(writing bool, d time.Duration)
	clock   clock

	mu         sync.Mutex
	reading    bool      // a Read is blocked
	readSince  time.Time // when it started, or the last data arrived
	writing    bool      // a Write is blocked
	writeSince time.Time // when it started
	stop       chan struct{}
	once       sync.Once
}

// newStallWatch starts the watchdog; Close stops it. onStall runs on the
// watchdog's goroutine and is expected not to return (it exits the
// process); if it does, the watchdog stops.
func newStallWatch(timeout time.Duration, onStall func(writing bool, d time.Duration)) *stallWatch {
	return newStallWatchClock(timeout, onStall, realClock{})
}

// newStallWatchClock is newStallWatch on the given clock (the tests').
func newStallWatchClock(timeout time.Duration, onStall func(writing bool, d time.Duration), c clock) *stallWatch {
	w := &stallWatch{timeout: timeout, onStall: onStall, clock: c, stop: make(chan struct{})}
	// Check a few times per timeout, so that it fires at most a quarter
	// late, and at least once a second for long timeouts.
	ticks, stop := c.Ticker(min(max(timeout/4, 10*time.Millisecond), time.Second))
	go w.watch(ticks, stop)
	return w
}

// clock is the time the watchdog reads and the ticks it checks on.
type clock interface {
	Now() time.Time
	// Ticker ticks every d until stop is called.
	Ticker(d time.Duration) (ticks <-chan time.Time, stop func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Ticker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Reader is r, watched.
func (w *stallWatch) Reader(r io.Reader) io.Reader { return watchedReader{w, r} }

// Writer is wr, watched.
func (w *stallWatch) Writer(wr io.Writer) io.Writer { return watchedWriter{w, wr} }

type watchedReader struct {
	w *stallWatch
	r io.Reader
}

func (wr watchedReader) Read(p []byte) (int, error) {
	w := wr.w
	return w.during(&w.reading, &w.readSince, func() (int, error) { return wr.r.Read(p) })
}

type watchedWriter struct {
	w  *stallWatch
	wr io.Writer
}

func (ww watchedWriter) Write(p []byte) (int, error) {
	w := ww.w
	return w.during(&w.writing, &w.writeSince, func() (int, error) { return ww.wr.Write(p) })
}

// during runs op (a read or a write) with busy set and since its start
// time, both under w.mu, for the watchdog to see.
func (w *stallWatch) during(busy *bool, since *time.Time, op func() (int, error)) (int, error) {
	w.mu.Lock()
	*busy, *since = true, w.clock.Now()
	w.mu.Unlock()
	n, err := op()
	w.mu.Lock()
	*busy = false
	w.mu.Unlock()
	return n, err
}

// Close stops the watchdog.
func (w *stallWatch) Close() error {
	w.once.Do(func() { close(w.stop) })
	return nil
}

// stalled reports the longest wait of a blocked read or write, and
// whether it is a write.
func (w *stallWatch) stalled(now time.Time) (d time.Duration, writing bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reading {
		d = now.Sub(w.readSince)
	}
	if w.writing && now.Sub(w.writeSince) > d {
		d, writing = now.Sub(w.writeSince), true
	}
	return d, writing
}

func (w *stallWatch) watch(ticks <-chan time.Time, stop func()) {
	defer stop()
	for {
		select {
		case <-w.stop:
			return
		case now := <-ticks:
			if d, writing := w.stalled(now); d >= w.timeout {
				w.onStall(writing, d)
				return
			}
		}
	}
}

// tellAndExit sends the client an ERROR, unless that blocks for more than
// a second (a client that stopped reading), and exits.
func tellAndExit(send func()) {
	done := make(chan struct{})
	go func() {
		send()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	idleExit(1)
}
