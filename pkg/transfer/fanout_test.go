package transfer

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// countingSource counts the reads of each object.
type countingSource struct {
	*memStore
	mu    sync.Mutex
	reads map[object.Name]int
}

func newCountingSource(s *memStore) *countingSource {
	return &countingSource{memStore: s, reads: map[object.Name]int{}}
}

func (c *countingSource) count(n object.Name) {
	c.mu.Lock()
	c.reads[n]++
	c.mu.Unlock()
}

func (c *countingSource) ReadMetadata(n object.Name) ([]byte, error) {
	c.count(n)
	return c.memStore.ReadMetadata(n)
}

func (c *countingSource) OpenContent(sum object.Checksum) (io.ReadCloser, uint64, error) {
	c.count(object.Name{Checksum: sum, Type: object.File})
	return c.memStore.OpenContent(sum)
}

// slowWriter sleeps before each write: a mirror on a slow link.
type slowWriter struct {
	w     io.Writer
	delay time.Duration
}

func (s slowWriter) Write(p []byte) (int, error) {
	time.Sleep(s.delay)
	return s.w.Write(p)
}

type fanOutMirror struct {
	dst   *memStore
	ropts ReceiveOptions
	// wrap, when set, wraps what the client writes to this receiver.
	wrap func(io.Writer) io.Writer
	// closed: the receiver is not there at all (its connection ends at once).
	closed bool
}

type fanOutRun struct {
	res      *FanOutResult
	err      error
	recv     []*ReceiveResult
	recvErr  []error
	recvDone []time.Time // when each Receive returned
}

// runFanOut runs PushMany against one Receive per mirror, over pipes.
func runFanOut(tb testing.TB, src Source, mirrors []fanOutMirror, opts FanOutOptions) fanOutRun {
	tb.Helper()
	return runFanOutAbort(tb, src, mirrors, opts, nil)
}

// runFanOutAbort is runFanOut with Mirror.Abort functions, by index.
func runFanOutAbort(tb testing.TB, src Source, mirrors []fanOutMirror, opts FanOutOptions, aborts map[int]func()) fanOutRun {
	tb.Helper()
	out := fanOutRun{recv: make([]*ReceiveResult, len(mirrors)), recvErr: make([]error, len(mirrors)), recvDone: make([]time.Time, len(mirrors))}
	var conns []Mirror
	var closers []func()
	var wg sync.WaitGroup
	for i, m := range mirrors {
		c2sR, c2sW := io.Pipe()
		s2cR, s2cW := io.Pipe()
		var w io.Writer = c2sW
		if m.wrap != nil {
			w = m.wrap(c2sW)
		}
		var abort func()
		if a := aborts[i]; a != nil {
			// As killing ssh would: the writer fails, and the reader sees
			// the connection end.
			abort = func() {
				a()
				c2sW.CloseWithError(io.ErrClosedPipe)
				s2cR.CloseWithError(io.ErrClosedPipe)
			}
		}
		conns = append(conns, Mirror{Name: "mirror" + string(rune('A'+i)), R: s2cR, W: w, Abort: abort})
		closers = append(closers, func() {
			c2sW.Close()
			s2cR.CloseWithError(errClientGone)
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				s2cW.Close()
				c2sR.CloseWithError(errServerGone)
			}()
			if m.closed {
				out.recvErr[i] = io.ErrClosedPipe
				return
			}
			ropts := m.ropts
			ropts.Agent = "test-receive/1"
			out.recv[i], out.recvErr[i] = Receive(c2sR, s2cW, m.dst, ropts)
			out.recvDone[i] = time.Now()
		}()
	}
	done := make(chan struct{})
	go func() {
		out.res, out.err = PushMany(src, conns, opts)
		for _, c := range closers {
			c()
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(testTimeout):
		tb.Fatalf("fan-out push hung for %v", testTimeout)
	}
	return out
}

// TestFanOut pushes to three mirrors at once: an empty one, one that has
// the first commit, and one whose receiver fails in the middle (a push
// size limit). The first two land, the third is left as it was, and each
// object was read from the source once (metadata deflated once for all).
func TestFanOut(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c3)
	empty := newMemStore()
	behind := h.dest(t, "main", h.c1)
	failing := newMemStore()
	failingBefore := failing.snapshot()
	src := newCountingSource(h.src)
	run := runFanOut(t, src, []fanOutMirror{
		{dst: empty},
		{dst: behind},
		{dst: failing, ropts: ReceiveOptions{Policy: Policy{MaxPushSize: 100}}},
	}, FanOutOptions{PushOptions: PushOptions{Specs: []PushSpec{spec("main", "main")}, Compress: true}})
	if run.err != nil {
		t.Fatalf("PushMany: %v", run.err)
	}
	if run.res.OK() {
		t.Errorf("OK() with a failed mirror")
	}
	for i, d := range []*memStore{empty, behind} {
		m := run.res.Mirrors[i]
		if !m.OK() {
			t.Fatalf("mirror %d: err %v, result %+v", i, m.Err, m.Result)
		}
		if got := d.refValue("main"); got != h.c3 {
			t.Errorf("mirror %d: main = %s, want %s", i, got, h.c3)
		}
		if err := d.complete(h.c3); err != nil {
			t.Errorf("mirror %d: %v", i, err)
		}
		if run.recvErr[i] != nil {
			t.Errorf("mirror %d: Receive: %v", i, run.recvErr[i])
		}
	}
	if got, want := run.res.Mirrors[1].Result.ObjectsSent, uint64(6); got != want {
		t.Errorf("mirror with c1 was sent %d objects, want %d (the new objects of c2 and c3)", got, want)
	}
	bad := run.res.Mirrors[2]
	if bad.Err == nil || !strings.Contains(bad.Err.Error(), "limit") {
		t.Errorf("failing mirror: err %v, want the receiver's size limit", bad.Err)
	}
	failing.assertUnchanged(t, failingBefore)
	failing.assertNoTxn(t)

	union := len(h.src.reachable(t, h.c1, h.c2, h.c3))
	if run.res.ObjectsRead != uint64(union) {
		t.Errorf("ObjectsRead %d, want %d (each object of the history once)", run.res.ObjectsRead, union)
	}
	for n, k := range src.reads {
		if k != 1 {
			t.Errorf("%s read %d times", n, k)
		}
	}
}

// TestFanOutRefusals: a mirror whose ref would not fast-forward is refused
// there (and sent nothing) while the others land; a dry run changes none.
func TestFanOutRefusals(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c3)
	diverged, divergedBefore := h.destSnapshot(t, "main", h.c2b)
	empty := newMemStore()
	run := runFanOut(t, h.src, []fanOutMirror{{dst: diverged}, {dst: empty}},
		FanOutOptions{PushOptions: PushOptions{Specs: []PushSpec{spec("main", "main")}}})
	if run.err != nil {
		t.Fatal(run.err)
	}
	checkOutcomes(t, "diverged: ", run.res.Mirrors[0].Result.Refs, []wantRef{{"main", h.c2b, h.c3, wire.StatusNonFastForward, false}})
	diverged.assertUnchanged(t, divergedBefore)
	if !run.res.Mirrors[1].OK() || empty.refValue("main") != h.c3 {
		t.Errorf("empty mirror: %+v, main %s", run.res.Mirrors[1], empty.refValue("main"))
	}

	a, b := newMemStore(), h.dest(t, "main", h.c1)
	beforeA, beforeB := a.snapshot(), b.snapshot()
	run = runFanOut(t, h.src, []fanOutMirror{{dst: a}, {dst: b}},
		FanOutOptions{PushOptions: PushOptions{Specs: []PushSpec{spec("main", "main")}, DryRun: true}})
	if run.err != nil || !run.res.OK() {
		t.Fatalf("dry run: %v %+v", run.err, run.res)
	}
	a.assertUnchanged(t, beforeA)
	b.assertUnchanged(t, beforeB)
	if run.res.ObjectsRead != 0 {
		t.Errorf("dry run read %d objects", run.res.ObjectsRead)
	}
	if got := run.res.Mirrors[1].Result.ObjectsSent; got != 6 {
		t.Errorf("dry run: would send %d objects to the mirror with c1, want 6", got)
	}
}

// TestFanOutUnreachable: a mirror whose connection ends before HELLO fails
// alone.
func TestFanOutUnreachable(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2)
	ok := newMemStore()
	run := runFanOut(t, h.src, []fanOutMirror{{closed: true}, {dst: ok}},
		FanOutOptions{PushOptions: PushOptions{Specs: []PushSpec{spec("main", "main")}}})
	if run.err != nil {
		t.Fatal(run.err)
	}
	if run.res.Mirrors[0].Err == nil {
		t.Errorf("unreachable mirror: no error")
	}
	if !run.res.Mirrors[1].OK() || ok.refValue("main") != h.c2 {
		t.Errorf("reachable mirror: %+v", run.res.Mirrors[1])
	}
}

// TestFanOutSlowMirror: a mirror on a slow link is left behind (it reads
// the rest of its objects itself) and the fast one does not wait for it:
// it finishes first; both land.
func TestFanOutSlowMirror(t *testing.T) {
	src := newMemStore()
	files := manyFiles(600, 4096)
	c1 := newCommit(t, src, object.Zero, files)
	src.setRef("main", c1)
	fast, slow := newMemStore(), newMemStore()
	run := runFanOut(t, src, []fanOutMirror{
		{dst: fast},
		{dst: slow, wrap: func(w io.Writer) io.Writer { return slowWriter{w: w, delay: 10 * time.Millisecond} }},
	}, FanOutOptions{PushOptions: PushOptions{Specs: []PushSpec{spec("main", "main")}}, SlowAfter: 50 * time.Millisecond})
	if run.err != nil || !run.res.OK() {
		t.Fatalf("%v %+v", run.err, run.res)
	}
	// (The fast one may be left behind too when the machine is slow: the
	// in-memory source reads far faster than any receiver verifies.)
	if !run.res.Mirrors[1].LeftBehind {
		t.Errorf("the slow mirror was not left behind")
	}
	for _, d := range []*memStore{fast, slow} {
		if d.refValue("main") != c1 || d.complete(c1) != nil {
			t.Errorf("a mirror did not land: main %s", d.refValue("main"))
		}
	}
	if fastDone, slowDone := run.recvDone[0], run.recvDone[1]; !fastDone.Before(slowDone) {
		t.Errorf("the fast mirror finished at %v, the slow one at %v", fastDone, slowDone)
	}
	union := uint64(len(src.reachable(t, c1)))
	if run.res.ObjectsRead <= union {
		t.Errorf("ObjectsRead %d: the slow mirror's rereads are not counted (union %d)", run.res.ObjectsRead, union)
	}
}

// stallWriter passes on the first after bytes, then blocks until aborted.
type stallWriter struct {
	w       io.Writer
	after   int
	aborted chan struct{}
	once    sync.Once
}

func (s *stallWriter) Write(p []byte) (int, error) {
	if s.after < len(p) {
		<-s.aborted
		return 0, io.ErrClosedPipe
	}
	s.after -= len(p)
	return s.w.Write(p)
}

func (s *stallWriter) abort() { s.once.Do(func() { close(s.aborted) }) }

// TestFanOutStalledMirror: a mirror that stops reading in the middle of an
// object larger than its queue (hung, not closed) fails after holding the
// others back twice SlowAfter, its connection is aborted, and the others
// land.
func TestFanOutStalledMirror(t *testing.T) {
	src := newMemStore()
	files := manyFiles(20, 4096)
	// Larger than a mirror's queue holds (laneQueue pieces of fanOutRead).
	files["big"] = bytes.Repeat([]byte("a large file, streamed in chunks\n"), (laneQueue+16)*fanOutRead/33)
	c1 := newCommit(t, src, object.Zero, files)
	src.setRef("main", c1)
	fast, stalled := newMemStore(), newMemStore()
	stall := &stallWriter{after: 2 << 20, aborted: make(chan struct{})}
	mirrors := []fanOutMirror{
		{dst: fast},
		{dst: stalled, wrap: func(w io.Writer) io.Writer { stall.w = w; return stall }},
	}
	run := runFanOutAbort(t, src, mirrors, FanOutOptions{PushOptions: PushOptions{Specs: []PushSpec{spec("main", "main")}},
		SlowAfter: 30 * time.Millisecond}, map[int]func(){1: stall.abort})
	if run.err != nil {
		t.Fatal(run.err)
	}
	if !run.res.Mirrors[0].OK() || fast.refValue("main") != c1 {
		t.Errorf("the fast mirror did not land: %+v", run.res.Mirrors[0])
	}
	if err := run.res.Mirrors[1].Err; err == nil || !strings.Contains(err.Error(), "too slow") {
		t.Errorf("stalled mirror: %v", err)
	}
	if !stalled.refValue("main").IsZero() {
		t.Errorf("the stalled mirror moved its ref")
	}
}

// TestFanOutSourceReadError: a local read error fails the mirrors that take
// that object, each left as it was, and the others land.
func TestFanOutSourceReadError(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c3)
	errRead := errors.New("test: input/output error")
	bad := newObjects(t, h.src, h.c1)[0] // only a mirror without c1 takes it
	empty, behind := newMemStore(), h.dest(t, "main", h.c2)
	before := empty.snapshot()
	run := runFanOut(t, corruptSource{memStore: h.src, bad: bad, err: errRead}, []fanOutMirror{{dst: empty}, {dst: behind}},
		FanOutOptions{PushOptions: PushOptions{Specs: []PushSpec{spec("main", "main")}}})
	if run.err != nil {
		t.Fatal(run.err)
	}
	if err := run.res.Mirrors[0].Err; !errors.Is(err, errRead) || !strings.Contains(err.Error(), bad.String()) {
		t.Errorf("mirror without c1: %v, want the read error naming %s", err, bad)
	}
	empty.assertUnchanged(t, before)
	empty.assertNoTxn(t)
	if !run.res.Mirrors[1].OK() || behind.refValue("main") != h.c3 {
		t.Errorf("mirror with c2: %+v", run.res.Mirrors[1])
	}
}
