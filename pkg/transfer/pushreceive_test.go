package transfer

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// testTimeout bounds one push or receive: a hang fails the test.
const testTimeout = 20 * time.Second

var (
	errClientGone = errors.New("test: the client has returned")
	errServerGone = errors.New("test: the receiver has returned")
	errTimedOut   = errors.New("test: timed out")
)

// runPair runs client and server against each other, each in its own
// goroutine, over two pipes. When a side returns, its write end is closed
// (the peer sees EOF) and its read end is closed with an error (a peer
// blocked writing wakes up). A hang fails the test.
func runPair(tb testing.TB, client, server func(r io.Reader, w io.Writer)) {
	tb.Helper()
	c2sR, c2sW := io.Pipe()
	s2cR, s2cW := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer func() {
			c2sW.Close()
			s2cR.CloseWithError(errClientGone)
		}()
		client(s2cR, c2sW)
	}()
	go func() {
		defer wg.Done()
		defer func() {
			s2cW.Close()
			c2sR.CloseWithError(errServerGone)
		}()
		server(c2sR, s2cW)
	}()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(testTimeout):
		// Break the connection to free what is blocked on it.
		c2sW.CloseWithError(errTimedOut)
		s2cW.CloseWithError(errTimedOut)
		c2sR.CloseWithError(errTimedOut)
		s2cR.CloseWithError(errTimedOut)
		select {
		case <-done:
			tb.Fatalf("push and receive hung for %v; they returned once the connection was broken", testTimeout)
		case <-time.After(2 * time.Second):
			tb.Fatalf("push and receive hung for %v, and still hang with the connection broken", testTimeout)
		}
	}
}

// exchange is what one push and its receive returned.
type exchange struct {
	push    *PushResult
	pushErr error
	recv    *ReceiveResult
	recvErr error
}

func runPush(tb testing.TB, src Source, dst Dest, popts PushOptions) exchange {
	tb.Helper()
	return runPushRecord(tb, src, dst, popts, ReceiveOptions{Agent: "test-receive/1"}, nil)
}

// runPushRecord runs Push against Receive; record, if not nil, gets a copy
// of everything the client writes.
func runPushRecord(tb testing.TB, src Source, dst Dest, popts PushOptions, ropts ReceiveOptions, record io.Writer) exchange {
	tb.Helper()
	var ex exchange
	runPair(tb, func(r io.Reader, w io.Writer) {
		if record != nil {
			w = io.MultiWriter(w, record)
		}
		ex.push, ex.pushErr = Push(r, w, src, popts)
	}, func(r io.Reader, w io.Writer) {
		ex.recv, ex.recvErr = Receive(r, w, dst, ropts)
	})
	return ex
}

// receiveTimeout runs Receive on a client stream given whole, its answers
// discarded.
func receiveTimeout(tb testing.TB, r io.Reader, dst Dest, opts ReceiveOptions) (*ReceiveResult, error) {
	tb.Helper()
	type out struct {
		res *ReceiveResult
		err error
	}
	ch := make(chan out, 1)
	go func() {
		res, err := Receive(r, io.Discard, dst, opts)
		ch <- out{res, err}
	}()
	select {
	case o := <-ch:
		return o.res, o.err
	case <-time.After(testTimeout):
		tb.Fatalf("Receive did not return within %v", testTimeout)
		return nil, nil
	}
}

func spec(src, dst string) PushSpec { return PushSpec{Src: src, Dst: refName(dst)} }

// wantRef is an expected RefOutcome; Message is not compared.
type wantRef struct {
	ref      string
	old, new object.Checksum
	status   wire.RefStatus
	forced   bool
}

func checkOutcomes(tb testing.TB, prefix string, got []RefOutcome, want []wantRef) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Errorf("%sgot %d ref outcomes %+v, want %d", prefix, len(got), got, len(want))
		return
	}
	for i, w := range want {
		g := got[i]
		if g.Ref != refName(w.ref) || g.Old != w.old || g.New != w.new || g.Status != w.status || g.Forced != w.forced {
			tb.Errorf("%sref %d: got {%s %s->%s %v forced=%v %q}, want {%s %s->%s %v forced=%v}", prefix, i,
				g.Ref, shortOrNone(g.Old), shortOrNone(g.New), g.Status, g.Forced, g.Message,
				w.ref, shortOrNone(w.old), shortOrNone(w.new), w.status, w.forced)
		}
	}
}

// history is a source repository with a small history:
//
//	c1 ← c2 ← c3    each commit changes one file of its parent
//	c1 ← c2b        diverges from c2
//
// Each child has 3 objects its parent lacks: a content, a dirtree and the
// commit (the dirmeta is shared).
type history struct {
	src             *memStore
	c1, c2, c3, c2b object.Checksum
	files1          map[string][]byte
}

func newHistory(tb testing.TB) *history {
	tb.Helper()
	h := &history{src: newMemStore()}
	h.files1 = map[string][]byte{
		"README":   []byte("a test tree\n"),
		"bin/tool": bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 1000),
		"etc/conf": []byte("key=value\n"),
	}
	h.c1 = newCommit(tb, h.src, object.Zero, h.files1)
	f2 := maps.Clone(h.files1)
	f2["etc/conf"] = []byte("key=value 2\n")
	h.c2 = newCommit(tb, h.src, h.c1, f2)
	f3 := maps.Clone(f2)
	f3["README"] = []byte("a test tree, third version\n")
	h.c3 = newCommit(tb, h.src, h.c2, f3)
	f2b := maps.Clone(h.files1)
	f2b["bin/tool"] = []byte("#!/bin/sh\necho diverged\n")
	h.c2b = newCommit(tb, h.src, h.c1, f2b)
	return h
}

// dest returns a destination holding the history up to each given commit,
// and the refs given as name, commit pairs.
func (h *history) dest(tb testing.TB, refs ...any) *memStore {
	tb.Helper()
	d := newMemStore()
	for i := 0; i < len(refs); i += 2 {
		c := refs[i+1].(object.Checksum)
		copyHistory(tb, d, h.src, c)
		d.setRef(refs[i].(string), c)
	}
	return d
}

// destSnapshot is dest and the destination's snapshot before the push.
func (h *history) destSnapshot(tb testing.TB, refs ...any) (*memStore, memSnapshot) {
	tb.Helper()
	d := h.dest(tb, refs...)
	return d, d.snapshot()
}

// newObjects returns the objects reachable from commit c but not from its
// parent.
func newObjects(tb testing.TB, s *memStore, c object.Checksum) []object.Name {
	tb.Helper()
	info, _, _ := s.Commit(c)
	old := map[object.Name]bool{}
	if !info.Parent.IsZero() {
		for _, n := range s.reachable(tb, info.Parent) {
			old[n] = true
		}
	}
	var out []object.Name
	for _, n := range s.reachable(tb, c) {
		if !old[n] {
			out = append(out, n)
		}
	}
	return out
}

// addedObjects lists the objects dst has and before had not, sorted.
func addedObjects(dst *memStore, before memSnapshot) []string {
	var out []string
	for n := range dst.snapshot().objects {
		if _, ok := before.objects[n]; !ok {
			out = append(out, n.String())
		}
	}
	slices.Sort(out)
	return out
}

func nameStrings(names []object.Name) []string {
	var out []string
	for _, n := range names {
		out = append(out, n.String())
	}
	slices.Sort(out)
	return out
}

func sumSizes(tb testing.TB, s *memStore, names []object.Name) uint64 {
	tb.Helper()
	var total uint64
	for _, n := range names {
		total += s.objectSize(tb, n)
	}
	return total
}

// checkNoErrors fails the test if either side failed.
func (ex exchange) checkNoErrors(tb testing.TB, prefix string) {
	tb.Helper()
	if ex.pushErr != nil {
		tb.Fatalf("%sPush: %v", prefix, ex.pushErr)
	}
	if ex.recvErr != nil {
		tb.Fatalf("%sReceive: %v", prefix, ex.recvErr)
	}
}
