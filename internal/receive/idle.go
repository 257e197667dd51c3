package receive

import (
	"io"
	"os"
	"sync"
	"time"
)

// idleExit ends the process when the client has been idle too long.
var idleExit = os.Exit

// idleReader is the client's end of the connection with a watchdog: when a
// read has been waiting longer than the timeout with no data (the client
// has stalled, or vanished without ssh noticing), it calls onIdle, which
// ends the process. Only time spent waiting for the client counts: while
// the receiver works (writes objects, checks commits, moves refs, runs
// hooks) it is not reading, and the watchdog does not fire.
//
// The watchdog never touches libostree: exiting leaves the objects staged
// so far in libostree's staging directory (reused or cleaned up by a later
// transaction) and the refs where they were.
type idleReader struct {
	r       io.Reader
	timeout time.Duration
	onIdle  func(idle time.Duration)

	mu      sync.Mutex
	waiting bool      // a Read is blocked
	since   time.Time // when it started, or the last data arrived
	stop    chan struct{}
	once    sync.Once
}

// newIdleReader wraps r and starts the watchdog; Close stops it. onIdle
// runs on the watchdog's goroutine and is expected not to return (it
// exits the process); if it does, the watchdog stops.
func newIdleReader(r io.Reader, timeout time.Duration, onIdle func(idle time.Duration)) *idleReader {
	ir := &idleReader{r: r, timeout: timeout, onIdle: onIdle, since: time.Now(), stop: make(chan struct{})}
	go ir.watch()
	return ir
}

func (ir *idleReader) Read(p []byte) (int, error) {
	ir.mu.Lock()
	ir.waiting, ir.since = true, time.Now()
	ir.mu.Unlock()
	n, err := ir.r.Read(p)
	ir.mu.Lock()
	ir.waiting = false
	if n > 0 {
		ir.since = time.Now()
	}
	ir.mu.Unlock()
	return n, err
}

// Close stops the watchdog.
func (ir *idleReader) Close() error {
	ir.once.Do(func() { close(ir.stop) })
	return nil
}

// idleFor is how long the current read has waited, or 0 when none waits.
func (ir *idleReader) idleFor(now time.Time) time.Duration {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	if !ir.waiting {
		return 0
	}
	return now.Sub(ir.since)
}

func (ir *idleReader) watch() {
	// Check a few times per timeout, so that it fires at most a quarter
	// late, and at least once a second for long timeouts.
	tick := min(max(ir.timeout/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ir.stop:
			return
		case now := <-t.C:
			if idle := ir.idleFor(now); idle >= ir.timeout {
				ir.onIdle(idle)
				return
			}
		}
	}
}
