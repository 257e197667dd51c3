package receive

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is the watchdog's clock in the tests: time moves when the
// test says, and each tick is sent by the test (an unbuffered channel, so
// that the send returns once the watchdog has taken it).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	ticks   chan time.Time
	stopped chan struct{} // closed when the watchdog stops its ticker
	once    sync.Once
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_000_000, 0), ticks: make(chan time.Time), stopped: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Ticker(time.Duration) (<-chan time.Time, func()) {
	return c.ticks, func() { c.once.Do(func() { close(c.stopped) }) }
}

// advance moves the clock on by d and ticks twice: when the second tick
// is taken, the watchdog has finished with the first (unless it stopped).
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	for i := 0; i < 2; i++ {
		select {
		case c.ticks <- now:
		case <-c.stopped: // it fired, or was closed
			return
		}
	}
}

// blockingIO is a reader and writer that says when a call has begun and
// returns when released.
type blockingIO struct {
	entered chan struct{}
	release chan struct{}
}

func newBlockingIO() *blockingIO {
	return &blockingIO{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (b *blockingIO) Read(p []byte) (int, error) {
	b.entered <- struct{}{}
	<-b.release
	return len(p), nil
}
func (b *blockingIO) Write(p []byte) (int, error) {
	b.entered <- struct{}{}
	<-b.release
	return len(p), nil
}

// TestStallWatch: the watchdog fires for a read or a write blocked for the
// timeout, says which, and never while the receiver works (neither reads
// nor writes) or while data keeps coming. No sleeps: the clock is the
// test's.
func TestStallWatch(t *testing.T) {
	const timeout = 10 * time.Second
	type stall struct {
		writing bool
		d       time.Duration
	}
	for _, tc := range []struct {
		name  string
		run   func(w *stallWatch, c *fakeClock, io *blockingIO)
		fires bool
		write bool
	}{
		{"blocked read", func(w *stallWatch, c *fakeClock, b *blockingIO) {
			go w.Reader(b).Read(make([]byte, 1))
			<-b.entered
			c.advance(timeout / 2)
			c.advance(timeout / 2)
		}, true, false},
		{"blocked write", func(w *stallWatch, c *fakeClock, b *blockingIO) {
			go w.Writer(b).Write([]byte{1})
			<-b.entered
			c.advance(timeout)
		}, true, true},
		{"working, no read or write", func(w *stallWatch, c *fakeClock, b *blockingIO) {
			c.advance(10 * timeout)
		}, false, false},
		{"data keeps coming", func(w *stallWatch, c *fakeClock, b *blockingIO) {
			r := w.Reader(b)
			for i := 0; i < 5; i++ {
				done := make(chan struct{})
				go func() { r.Read(make([]byte, 1)); close(done) }()
				<-b.entered
				c.advance(timeout / 2)
				b.release <- struct{}{}
				<-done
			}
		}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			stalls := make(chan stall, 1)
			w := newStallWatchClock(timeout, func(writing bool, d time.Duration) { stalls <- stall{writing, d} }, c)
			defer w.Close()
			b := newBlockingIO()
			tc.run(w, c, b)
			select {
			case s := <-stalls:
				if !tc.fires {
					t.Fatalf("fired: %+v", s)
				}
				if s.writing != tc.write || s.d < timeout {
					t.Errorf("fired with %+v, want writing %v and at least %v", s, tc.write, timeout)
				}
			default:
				if tc.fires {
					t.Fatal("did not fire")
				}
			}
		})
	}
}
