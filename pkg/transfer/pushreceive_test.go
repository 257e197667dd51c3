package transfer

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
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

func TestPushFresh(t *testing.T) {
	h := newHistory(t)
	src := h.src
	// A root commit with a file larger than what is sent inline (several
	// DATA frames, streamed by both sides), an empty file, two files with
	// the same content, and detached metadata.
	big := bytes.Repeat([]byte("0123456789abcdef"), (inlineObjectMax+wire.MaxPayload/2)/16)
	root := newCommit(t, src, object.Zero, map[string][]byte{
		"big":   big,
		"empty": {},
		"one":   []byte("same"),
		"two":   []byte("same"),
	})
	addCommitMeta(src, root, []byte("detached signature"))

	tests := []struct {
		name    string
		tip     object.Checksum
		commits []object.Checksum // every commit that must be sent
	}{
		{"root commit", root, []object.Checksum{root}},
		{"history of three commits", h.c3, []object.Checksum{h.c3, h.c2, h.c1}},
	}
	for i, tt := range tests {
		src.setRef("main", tt.tip)
		dst := newMemStore()
		var last PushProgress
		calls := 0
		ex := runPush(t, src, dst, PushOptions{
			Specs:    []PushSpec{spec("main", "main")},
			Agent:    "test-push/1",
			Progress: func(p PushProgress) { last = p; calls++ },
		})
		ex.checkNoErrors(t, fmt.Sprintf("#%d %s: ", i, tt.name))
		want := src.reachable(t, tt.commits...)
		wantBytes := sumSizes(t, src, want)
		checkOutcomes(t, fmt.Sprintf("#%d: ", i), ex.push.Refs, []wantRef{{"main", object.Zero, tt.tip, wire.StatusOK, false}})
		if !ex.push.OK() {
			t.Errorf("#%d: PushResult.OK() is false", i)
		}
		if ex.push.ObjectsSent != uint64(len(want)) || ex.push.BytesSent != wantBytes {
			t.Errorf("#%d: sent %d objects, %d bytes; want %d, %d", i, ex.push.ObjectsSent, ex.push.BytesSent, len(want), wantBytes)
		}
		if ex.recv.ObjectsWritten != ex.push.ObjectsSent || ex.recv.BytesWritten != ex.push.BytesSent || ex.recv.DryRun {
			t.Errorf("#%d: receiver wrote %d objects, %d bytes (dry run %v); client sent %d, %d", i,
				ex.recv.ObjectsWritten, ex.recv.BytesWritten, ex.recv.DryRun, ex.push.ObjectsSent, ex.push.BytesSent)
		}
		if ex.push.RemoteMode != wire.ModeArchive || ex.push.RemoteAgent != "test-receive/1" {
			t.Errorf("#%d: remote mode %q, agent %q", i, ex.push.RemoteMode, ex.push.RemoteAgent)
		}
		if last.ObjectsSent != ex.push.ObjectsSent || last.ObjectsTotal != ex.push.ObjectsSent || last.BytesSent != ex.push.BytesSent || calls != len(want) {
			t.Errorf("#%d: %d progress calls, last %+v", i, calls, last)
		}
		if got, wantNames := addedObjects(dst, memSnapshot{}), nameStrings(want); !slices.Equal(got, wantNames) {
			t.Errorf("#%d: destination objects\n got %v\nwant %v", i, got, wantNames)
		}
		for _, n := range want {
			if !bytes.Equal(dst.object(n), src.object(n)) {
				t.Errorf("#%d: %s differs in the destination", i, n)
			}
		}
		if got := dst.refValue("main"); got != tt.tip {
			t.Errorf("#%d: destination main = %s, want %s", i, shortOrNone(got), tt.tip.Short())
		}
		for _, c := range tt.commits {
			if err := dst.complete(c); err != nil {
				t.Errorf("#%d: %v", i, err)
			}
		}
		if st := dst.counts(); st.Written != len(want) || st.Commits != 1 || st.Aborts != 0 {
			t.Errorf("#%d: destination stats %+v", i, st)
		}
		dst.assertNoTxn(t)
	}
}

func TestPushIncremental(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2)
	dst, before := h.destSnapshot(t, "main", h.c1)
	ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}})
	ex.checkNoErrors(t, "")
	checkOutcomes(t, "", ex.push.Refs, []wantRef{{"main", h.c1, h.c2, wire.StatusOK, false}})
	want := newObjects(t, h.src, h.c2)
	if len(want) != 3 {
		t.Fatalf("fixture: c2 has %d new objects %v, want 3", len(want), want)
	}
	if ex.push.ObjectsSent != 3 || ex.push.BytesSent != sumSizes(t, h.src, want) {
		t.Errorf("sent %d objects, %d bytes; want 3, %d", ex.push.ObjectsSent, ex.push.BytesSent, sumSizes(t, h.src, want))
	}
	if got := addedObjects(dst, before); !slices.Equal(got, nameStrings(want)) {
		t.Errorf("new objects in the destination\n got %v\nwant %v", got, nameStrings(want))
	}
	if dst.refValue("main") != h.c2 {
		t.Errorf("main not moved")
	}
	if err := dst.complete(h.c2); err != nil {
		t.Error(err)
	}
	if st := dst.counts(); st.Written != 3 || st.Commits != 1 {
		t.Errorf("destination stats %+v", st)
	}
}

func TestPushNothingToSend(t *testing.T) {
	h := newHistory(t)
	tests := []struct {
		name     string
		dstRef   string // the ref pushed to
		want     wantRef
		commits  int // transactions committed
		moved    bool
		wantSent uint64
	}{
		// main is already at c2: up to date, nothing sent, nothing committed.
		{"same ref", "main", wantRef{"main", h.c2, h.c2, wire.StatusUpToDate, false}, 0, false, 0},
		// The commit is there under main: a new ref needs no object.
		{"new ref to a commit the remote has", "release", wantRef{"release", object.Zero, h.c2, wire.StatusOK, false}, 1, true, 0},
	}
	for i, tt := range tests {
		h.src.setRef("main", h.c2)
		dst, before := h.destSnapshot(t, "main", h.c2)
		ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", tt.dstRef)}})
		ex.checkNoErrors(t, fmt.Sprintf("#%d %s: ", i, tt.name))
		checkOutcomes(t, fmt.Sprintf("#%d: ", i), ex.push.Refs, []wantRef{tt.want})
		if ex.push.ObjectsSent != 0 || ex.push.BytesSent != 0 || ex.recv.ObjectsWritten != 0 {
			t.Errorf("#%d: sent %d objects (%d bytes), receiver wrote %d", i, ex.push.ObjectsSent, ex.push.BytesSent, ex.recv.ObjectsWritten)
		}
		if added := addedObjects(dst, before); len(added) != 0 {
			t.Errorf("#%d: new objects %v", i, added)
		}
		if st := dst.counts(); st.Written != 0 || st.Commits != tt.commits || st.Commits+st.Aborts != 1 {
			t.Errorf("#%d: destination stats %+v", i, st)
		}
		if got := dst.refValue(tt.dstRef); got != h.c2 {
			t.Errorf("#%d: %s = %s", i, tt.dstRef, shortOrNone(got))
		}
		dst.assertNoTxn(t)
	}
}

// TestPushSharedContent pushes a commit unrelated to the remote's, whose
// files the remote has through another ref: negotiation cannot know, the
// QUERY must find them.
func TestPushSharedContent(t *testing.T) {
	h := newHistory(t)
	files := maps.Clone(h.files1)
	files["new-file"] = []byte("only in the new commit\n")
	other := newCommit(t, h.src, object.Zero, files) // no parent: unrelated
	h.src.setRef("other", other)
	dst, before := h.destSnapshot(t, "main", h.c1)

	// To send: the new content, the dirtree and the commit. Not to send:
	// the 3 contents and the dirmeta of c1.
	var want []object.Name
	for _, n := range h.src.reachable(t, other) {
		if !dst.has(n) {
			want = append(want, n)
		}
	}
	if len(want) != 3 || len(h.src.reachable(t, other)) != 7 {
		t.Fatalf("fixture: %d objects missing from the destination, want 3", len(want))
	}

	ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("other", "other")}})
	ex.checkNoErrors(t, "")
	checkOutcomes(t, "", ex.push.Refs, []wantRef{{"other", object.Zero, other, wire.StatusOK, false}})
	if ex.push.ObjectsSent != 3 {
		t.Errorf("sent %d objects, want 3", ex.push.ObjectsSent)
	}
	if got := addedObjects(dst, before); !slices.Equal(got, nameStrings(want)) {
		t.Errorf("new objects\n got %v\nwant %v", got, nameStrings(want))
	}
	if dst.refValue("other") != other || dst.refValue("main") != h.c1 {
		t.Errorf("refs %v", dst.snapshot().refs)
	}
	if err := dst.complete(other); err != nil {
		t.Error(err)
	}
}

func TestPushNonFastForward(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2b)
	for i, force := range []bool{false, true} {
		dst, before := h.destSnapshot(t, "main", h.c2) // c2b does not descend from c2
		ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{{Src: "main", Dst: refName("main"), Force: force}}})
		ex.checkNoErrors(t, fmt.Sprintf("#%d: ", i))
		if !force {
			checkOutcomes(t, "#0: ", ex.push.Refs, []wantRef{{"main", h.c2, h.c2b, wire.StatusNonFastForward, false}})
			if ex.push.OK() {
				t.Errorf("#0: OK() is true")
			}
			if ex.push.ObjectsSent != 0 {
				t.Errorf("#0: sent %d objects", ex.push.ObjectsSent)
			}
			dst.assertUnchanged(t, before)
			if st := dst.counts(); st.Written != 0 || st.Commits != 0 {
				t.Errorf("#0: destination stats %+v", st)
			}
			continue
		}
		checkOutcomes(t, "#1: ", ex.push.Refs, []wantRef{{"main", h.c2, h.c2b, wire.StatusOK, true}})
		want := newObjects(t, h.src, h.c2b)
		if ex.push.ObjectsSent != uint64(len(want)) || len(want) != 3 {
			t.Errorf("#1: sent %d objects, want %d", ex.push.ObjectsSent, len(want))
		}
		if got := addedObjects(dst, before); !slices.Equal(got, nameStrings(want)) {
			t.Errorf("#1: new objects\n got %v\nwant %v", got, nameStrings(want))
		}
		if dst.refValue("main") != h.c2b {
			t.Errorf("#1: main not moved")
		}
	}
	// Forced is a fact that travels as a flag (RESULT_FLAGS), never read
	// from the text: without result-flags the receiver's "forced update"
	// message arrives, and the outcome is not marked forced.
	dst := h.dest(t, "main", h.c2)
	ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{{Src: "main", Dst: refName("main"), Force: true}}, NoCapabilities: []string{wire.CapResultFlags}})
	ex.checkNoErrors(t, "#2: ")
	checkOutcomes(t, "#2: ", ex.push.Refs, []wantRef{{"main", h.c2, h.c2b, wire.StatusOK, false}})
	if !ex.recv.Refs[0].Forced || ex.push.Refs[0].Message != "forced update" {
		t.Errorf("#2: the receiver's result %+v, the client's %+v", ex.recv.Refs[0], ex.push.Refs[0])
	}
}

// TestPushStale moves the remote ref after the advertisement: the update
// must be refused, and the staged objects dropped.
func TestPushStale(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2)
	dst, before := h.destSnapshot(t, "main", h.c1, "other", h.c2b)
	var once sync.Once
	dst.beforeLock = func() { once.Do(func() { dst.setRef("main", h.c2b) }) }
	before.refs[refName("main")] = h.c2b

	ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}})
	ex.checkNoErrors(t, "")
	checkOutcomes(t, "", ex.push.Refs, []wantRef{{"main", h.c1, h.c2, wire.StatusStale, false}})
	if ex.push.ObjectsSent != 3 {
		t.Errorf("sent %d objects, want 3 (staleness shows only at UPDATE)", ex.push.ObjectsSent)
	}
	dst.assertUnchanged(t, before)
	if st := dst.counts(); st.Commits != 0 || st.Aborts != 1 {
		t.Errorf("destination stats %+v: want the transaction aborted", st)
	}
}

// TestPushAtomic pushes several refs of which one fails: none moves.
func TestPushAtomic(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2)
	h.src.setRef("dev", h.c3)
	tests := []struct {
		name  string
		refs  []any // the destination's refs
		specs []PushSpec
		hook  []any // a ref and the commit the hook moves it to
		want  []wantRef
	}{
		{
			name:  "invalid ref name",
			refs:  []any{"main", h.c1},
			specs: []PushSpec{spec("main", "main"), spec("main", "bad name")},
			want: []wantRef{
				{"main", h.c1, h.c2, wire.StatusAtomic, false},
				{"bad name", object.Zero, h.c2, wire.StatusRejected, false},
			},
		},
		{
			name:  "stale ref",
			refs:  []any{"main", h.c1, "dev", h.c1},
			specs: []PushSpec{spec("main", "main"), spec("dev", "dev")},
			hook:  []any{"dev", h.c2b},
			want: []wantRef{
				{"main", h.c1, h.c2, wire.StatusAtomic, false},
				{"dev", h.c1, h.c3, wire.StatusStale, false},
			},
		},
		{
			name:  "non-fast-forward ref",
			refs:  []any{"main", h.c1, "dev", h.c2b},
			specs: []PushSpec{spec("main", "main"), spec("dev", "dev")},
			want: []wantRef{
				{"main", h.c1, h.c2, wire.StatusAtomic, false},
				{"dev", h.c2b, h.c3, wire.StatusNonFastForward, false},
			},
		},
		{
			name:  "delete of a missing ref",
			refs:  []any{"main", h.c1},
			specs: []PushSpec{spec("main", "main"), spec("", "gone")},
			want: []wantRef{
				{"main", h.c1, h.c2, wire.StatusAtomic, false},
				{"gone", object.Zero, object.Zero, wire.StatusRejected, false},
			},
		},
	}
	for i, tt := range tests {
		dst, before := h.destSnapshot(t, tt.refs...)
		if tt.hook != nil {
			r, c := tt.hook[0].(string), tt.hook[1].(object.Checksum)
			var once sync.Once
			dst.beforeLock = func() { once.Do(func() { dst.setRef(r, c) }) }
			before.refs[refName(r)] = c
		}
		ex := runPush(t, h.src, dst, PushOptions{Specs: tt.specs})
		ex.checkNoErrors(t, fmt.Sprintf("#%d %s: ", i, tt.name))
		checkOutcomes(t, fmt.Sprintf("#%d %s: ", i, tt.name), ex.push.Refs, tt.want)
		if ex.push.OK() {
			t.Errorf("#%d: OK() is true", i)
		}
		if d := dst.diff(before); d != "" {
			t.Errorf("#%d %s: destination changed: %s", i, tt.name, d)
		}
		dst.assertNoTxn(t)
		if st := dst.counts(); st.Commits != 0 {
			t.Errorf("#%d: destination stats %+v", i, st)
		}
	}
}

// TestReceiveRefusalSkipsExpensiveChecks: a ref refused by the cheap
// checks (its name, the server's rules) stops the expensive ones of every
// other ref, wherever it stands in the UPDATE, and a commit is verified
// once however many refs move to it.
func TestReceiveRefusalSkipsExpensiveChecks(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2)
	h.src.setRef("dev", h.c2)
	h.src.setRef("other", h.c2)
	verified := 0
	policy := func(deny string) Policy {
		return Policy{
			CheckRef: func(u wire.RefUpdate) error {
				if u.Ref.Name == deny {
					return errors.New("denied")
				}
				return nil
			},
			VerifyCommit: func(c object.Checksum, ref wire.RefName) error { verified++; return nil },
		}
	}
	specs := []PushSpec{spec("main", "main"), spec("dev", "dev"), spec("other", "other")}
	dst := h.dest(t, "main", h.c1)
	ex := runPushRecord(t, h.src, dst, PushOptions{Specs: specs}, ReceiveOptions{Policy: policy("other")}, io.Discard)
	checkOutcomes(t, "denied last: ", ex.push.Refs, []wantRef{
		{"main", h.c1, h.c2, wire.StatusAtomic, false},
		{"dev", object.Zero, h.c2, wire.StatusAtomic, false},
		{"other", object.Zero, h.c2, wire.StatusRejected, false},
	})
	if verified != 0 {
		t.Errorf("with a ref refused by its name, VerifyCommit ran %d times, want none", verified)
	}
	verified = 0
	ex = runPushRecord(t, h.src, dst, PushOptions{Specs: specs}, ReceiveOptions{Policy: policy("")}, io.Discard)
	ex.checkNoErrors(t, "accepted: ")
	if verified != 3 {
		t.Errorf("VerifyCommit ran %d times for three refs, want three (the receiver asks per ref; the server caches per commit)", verified)
	}
}

// TestReceiveChecksACommitOnce: many refs to one commit the receiver
// already has are judged with one completeness walk, not one per ref
// (each walk of a large commit, under the ref lock, was a client's way to
// hold that lock for hours).
func TestReceiveChecksACommitOnce(t *testing.T) {
	h := newHistory(t)
	dst := h.dest(t, "main", h.c2)
	var specs []PushSpec
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("team/%02d", i)
		h.src.setRef(name, h.c2)
		specs = append(specs, spec(name, name))
	}
	dst.stats = memStats{}
	ex := runPush(t, h.src, dst, PushOptions{Specs: specs})
	ex.checkNoErrors(t, "")
	if dst.stats.Checks > 1 {
		t.Errorf("%d completeness checks for 20 refs to one commit, want at most one", dst.stats.Checks)
	}
}

// TestPushManyRefs: refs that do not fit in one frame are advertised in
// REFS frames (advertise-refs), and the push works; a client that does not
// offer the capability is told why it cannot push.
func TestPushManyRefs(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2)
	dst := h.dest(t, "main", h.c1)
	long := strings.Repeat("r", 900)
	for i := 0; i < 3000; i++ { // about 2.8 MB of names
		dst.setRef(fmt.Sprintf("%s/%04d", long, i), h.c1)
	}
	ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}})
	ex.checkNoErrors(t, "")
	checkOutcomes(t, "", ex.push.Refs, []wantRef{{"main", h.c1, h.c2, wire.StatusOK, false}})
	// With ref-filter, only main is advertised: it fits without REFS.
	h.src.setRef("main", h.c3)
	ex = runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}, NoCapabilities: []string{wire.CapAdvertiseRefs}})
	ex.checkNoErrors(t, "ref-filter without advertise-refs: ")
	checkOutcomes(t, "", ex.push.Refs, []wantRef{{"main", h.c2, h.c3, wire.StatusOK, false}})
	ex = runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}, NoCapabilities: []string{wire.CapAdvertiseRefs, wire.CapRefFilter}})
	if ex.recvErr == nil || !strings.Contains(ex.recvErr.Error(), "do not fit in one ADVERTISE frame") {
		t.Errorf("without advertise-refs and ref-filter: receiver error %v", ex.recvErr)
	}
	if got := wire.SplitRefs(nil); len(got) != 1 || got[0].More || len(got[0].Refs) != 0 {
		t.Errorf("SplitRefs(nil) = %+v, want one REFS of none", got)
	}
}

// TestRefFilter: with ref-filter the receiver reads only the refs of the
// push, never lists them all, and still sends nothing the remote has
// under a ref that was not advertised (QUERY finds it); without the
// capability, every ref is advertised as before.
func TestRefFilter(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c3)
	h.src.setRef("stable", h.c2) // the remote has c2, under "main" only
	for i, off := range [][]string{nil, {wire.CapRefFilter}} {
		dst := h.dest(t, "main", h.c2)
		for j := 0; j < 200; j++ {
			dst.setRef(fmt.Sprintf("app/org.example.App%d/x86_64/stable", j), h.c1)
		}
		dst.stats = memStats{}
		var logs []string
		ex := runPush(t, h.src, dst, PushOptions{
			Specs:          []PushSpec{spec("main", "main"), spec("stable", "stable")},
			NoCapabilities: off,
			Logf:           func(format string, a ...any) { logs = append(logs, fmt.Sprintf(format, a...)) },
		})
		ex.checkNoErrors(t, fmt.Sprintf("#%d: ", i))
		checkOutcomes(t, fmt.Sprintf("#%d: ", i), ex.push.Refs, []wantRef{
			{"main", h.c2, h.c3, wire.StatusOK, false},
			{"stable", object.Zero, h.c2, wire.StatusOK, false},
		})
		if want := len(newObjects(t, h.src, h.c3)); ex.push.ObjectsSent != uint64(want) {
			t.Errorf("#%d: sent %d objects, want c3's %d", i, ex.push.ObjectsSent, want)
		}
		filtered := off == nil
		if got := dst.stats.Listed; (got == 0) != filtered {
			t.Errorf("#%d: the receiver listed every ref %d times (ref-filter in effect: %v)", i, got, filtered)
		}
		if got := slices.ContainsFunc(logs, func(l string) bool { return strings.Contains(l, "asking for 2 refs") }); got != filtered {
			t.Errorf("#%d: the client sent a REF_FILTER: %v, want %v (%q)", i, got, filtered, logs)
		}

		// A new ref at a commit the remote has under a ref this push
		// does not name: offered, asked about, not sent.
		dst = h.dest(t, "main", h.c2)
		ex = runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("stable", "stable")}, NoCapabilities: off})
		ex.checkNoErrors(t, fmt.Sprintf("#%d stable alone: ", i))
		checkOutcomes(t, fmt.Sprintf("#%d stable alone: ", i), ex.push.Refs, []wantRef{{"stable", object.Zero, h.c2, wire.StatusOK, false}})
		if ex.push.ObjectsSent != 0 {
			t.Errorf("#%d: stable alone: sent %d objects the remote has", i, ex.push.ObjectsSent)
		}
	}
}

func TestRefFilterFrame(t *testing.T) {
	plan := func(names ...string) []planned {
		var p []planned
		for _, n := range names {
			p = append(p, planned{spec: PushSpec{Dst: refName(n)}})
		}
		return p
	}
	f := refFilter(plan("main", "app/a/x86_64/stable"))
	if f.All || len(f.Patterns) != 2 || f.Patterns[0].Prefix || f.Patterns[1].Ref.Name != "app/a/x86_64/stable" {
		t.Errorf("two refs: %+v", f)
	}
	// Too many names for a frame: their top-level directories.
	var names []string
	long := strings.Repeat("x", 1000)
	for i := 0; i < 1100; i++ {
		names = append(names, fmt.Sprintf("app/%s%d", long, i), fmt.Sprintf("runtime/%s%d", long, i))
	}
	f = refFilter(plan(append(names, "main")...))
	want := []wire.RefPattern{{Ref: refName("app/"), Prefix: true}, {Ref: refName("runtime/"), Prefix: true}, {Ref: refName("main")}}
	if f.All || !slices.Equal(f.Patterns, want) {
		t.Errorf("many refs: %+v, want %+v", f, want)
	}
	// Too many directories too: everything.
	names = names[:0]
	for i := 0; i < 1100; i++ {
		names = append(names, fmt.Sprintf("%s%d/x", long, i))
	}
	if f = refFilter(plan(names...)); !f.All || len(f.Patterns) != 0 {
		t.Errorf("many directories: %+v, want All", f)
	}
}

func TestPushDelete(t *testing.T) {
	h := newHistory(t)
	dst, before := h.destSnapshot(t, "main", h.c1, "old", h.c2)
	ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("", "old")}})
	ex.checkNoErrors(t, "")
	checkOutcomes(t, "", ex.push.Refs, []wantRef{{"old", h.c2, object.Zero, wire.StatusOK, false}})
	if ex.push.ObjectsSent != 0 {
		t.Errorf("sent %d objects", ex.push.ObjectsSent)
	}
	delete(before.refs, refName("old"))
	if d := dst.diff(before); d != "" {
		t.Errorf("destination: %s", d)
	}
	if st := dst.counts(); st.Commits != 1 {
		t.Errorf("destination stats %+v", st)
	}

	// Deleting a ref the remote does not have: refused.
	before = dst.snapshot()
	ex = runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("", "old")}})
	if ex.pushErr != nil {
		t.Fatalf("Push: %v", ex.pushErr)
	}
	checkOutcomes(t, "missing: ", ex.push.Refs, []wantRef{{"old", object.Zero, object.Zero, wire.StatusRejected, false}})
	dst.assertUnchanged(t, before)
	// The client refuses the only update itself and then has nothing to
	// say: it closes without an UPDATE, which the receiver reports.
	if ex.recvErr != nil {
		t.Logf("receiver (client sent no UPDATE): %v", ex.recvErr)
	}
}

// TestPushNothingToUpdate: when the client refuses every ref itself,
// protocol.md §5 says it sends an UPDATE or an ERROR saying why; a bare
// close is what the receiver must treat as an abandoned push.
func TestPushNothingToUpdate(t *testing.T) {
	h := newHistory(t)
	dst := h.dest(t, "main", h.c1)
	ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("", "gone")}})
	if ex.pushErr != nil {
		t.Fatalf("Push: %v", ex.pushErr)
	}
	var remote *wire.RemoteError
	if !errors.As(ex.recvErr, &remote) {
		t.Errorf("receiver error %v, want the client's ERROR", ex.recvErr)
	}
}

func TestPushDryRun(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c3)
	tests := []struct {
		name string
		refs []any
		want wantRef
	}{
		{"fresh", nil, wantRef{"main", object.Zero, h.c3, wire.StatusOK, false}},
		{"incremental", []any{"main", h.c1}, wantRef{"main", h.c1, h.c3, wire.StatusOK, false}},
		{"up to date", []any{"main", h.c3}, wantRef{"main", h.c3, h.c3, wire.StatusUpToDate, false}},
	}
	for i, tt := range tests {
		// What a real push sends.
		real := runPush(t, h.src, h.dest(t, tt.refs...), PushOptions{Specs: []PushSpec{spec("main", "main")}})
		real.checkNoErrors(t, fmt.Sprintf("#%d %s (real push): ", i, tt.name))

		dst, before := h.destSnapshot(t, tt.refs...)
		ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}, DryRun: true})
		ex.checkNoErrors(t, fmt.Sprintf("#%d %s: ", i, tt.name))
		checkOutcomes(t, fmt.Sprintf("#%d %s: ", i, tt.name), ex.push.Refs, []wantRef{tt.want})
		if ex.push.ObjectsSent != real.push.ObjectsSent || ex.push.BytesSent != real.push.BytesSent {
			t.Errorf("#%d %s: dry run reports %d objects, %d bytes; a real push sent %d, %d", i, tt.name,
				ex.push.ObjectsSent, ex.push.BytesSent, real.push.ObjectsSent, real.push.BytesSent)
		}
		if !ex.recv.DryRun || ex.recv.ObjectsWritten != 0 {
			t.Errorf("#%d: receiver: dry run %v, %d objects written", i, ex.recv.DryRun, ex.recv.ObjectsWritten)
		}
		dst.assertUnchanged(t, before)
		if st := dst.counts(); st.Written != 0 || st.Commits != 0 {
			t.Errorf("#%d: destination stats %+v", i, st)
		}
	}
}

// TestPushHistory pushes c3 to a remote at c1: c2 goes too.
func TestPushHistory(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c3)
	dst, before := h.destSnapshot(t, "main", h.c1)
	ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}})
	ex.checkNoErrors(t, "")
	checkOutcomes(t, "", ex.push.Refs, []wantRef{{"main", h.c1, h.c3, wire.StatusOK, false}})
	want := append(newObjects(t, h.src, h.c2), newObjects(t, h.src, h.c3)...)
	if ex.push.ObjectsSent != 6 || len(want) != 6 {
		t.Errorf("sent %d objects, want 6", ex.push.ObjectsSent)
	}
	if got := addedObjects(dst, before); !slices.Equal(got, nameStrings(want)) {
		t.Errorf("new objects\n got %v\nwant %v", got, nameStrings(want))
	}
	var chain []object.Checksum
	for c := dst.refValue("main"); !c.IsZero(); {
		info, ok, err := dst.Commit(c)
		if err != nil || !ok {
			t.Fatalf("walking the destination's history: %s: ok %v, err %v", c, ok, err)
		}
		if err := dst.complete(c); err != nil {
			t.Error(err)
		}
		chain = append(chain, c)
		c = info.Parent
	}
	if !slices.Equal(chain, []object.Checksum{h.c3, h.c2, h.c1}) {
		t.Errorf("destination history %v", chain)
	}
}

// TestPushAllRefs pushes with no specs: every local ref to the same name.
func TestPushAllRefs(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c3)
	h.src.setRef("side", h.c2b)
	dst := newMemStore()
	ex := runPush(t, h.src, dst, PushOptions{})
	ex.checkNoErrors(t, "")
	checkOutcomes(t, "", ex.push.Refs, []wantRef{
		{"main", object.Zero, h.c3, wire.StatusOK, false},
		{"side", object.Zero, h.c2b, wire.StatusOK, false},
	})
	want := h.src.reachable(t, h.c1, h.c2, h.c3, h.c2b)
	if ex.push.ObjectsSent != uint64(len(want)) {
		t.Errorf("sent %d objects, want %d", ex.push.ObjectsSent, len(want))
	}
	dst.assertRefsComplete(t)
}

func TestPushLocalErrors(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2)
	h.src.markPartial(h.c3)
	for i, sp := range []PushSpec{
		spec("nope", "main"),        // no such ref
		spec(h.c3.String(), "main"), // partial commit
		spec(strings.Repeat("0", 64), "main"),
	} {
		dst, before := h.destSnapshot(t, "main", h.c1)
		ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{sp}})
		if ex.pushErr == nil {
			t.Errorf("#%d: Push(%q) succeeded", i, sp.Src)
		}
		dst.assertUnchanged(t, before)
	}
}

// TestPushCorruptObject sends one object with a flipped byte: the
// receiver must refuse the whole push.
func TestPushCorruptObject(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2)
	var content, tree object.Name
	for _, n := range newObjects(t, h.src, h.c2) {
		switch n.Type {
		case object.File:
			content = n
		case object.DirTree:
			tree = n
		}
	}
	for i, bad := range []object.Name{content, tree, {Checksum: h.c2, Type: object.Commit}} {
		dst, before := h.destSnapshot(t, "main", h.c1)
		ex := runPush(t, corruptSource{memStore: h.src, bad: bad}, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}})
		var remote *wire.RemoteError
		if !errors.As(ex.pushErr, &remote) {
			t.Errorf("#%d (%s): Push error %v, want a *RemoteError", i, bad.Type, ex.pushErr)
		} else if !strings.Contains(remote.Message, bad.Checksum.String()) {
			t.Logf("#%d (%s): remote error does not name the object: %v", i, bad.Type, remote)
		}
		if ex.recvErr == nil {
			t.Errorf("#%d (%s): Receive succeeded", i, bad.Type)
		}
		dst.assertUnchanged(t, before)
		if st := dst.counts(); st.Commits != 0 || st.Aborts != 1 {
			t.Errorf("#%d: destination stats %+v", i, st)
		}
	}
}

// manyFiles returns n files of size bytes each, all different.
func manyFiles(n, size int) map[string][]byte {
	files := map[string][]byte{}
	for i := 0; i < n; i++ {
		files[fmt.Sprintf("f%04d", i)] = bytes.Repeat([]byte(fmt.Sprintf("%07d\n", i)), size/8)
	}
	return files
}

// firstSent is the content object the pusher sends first: contents go
// first, in checksum order.
func firstSent(names []object.Name) object.Name {
	var first object.Name
	for _, n := range names {
		if n.Type == object.File && (first.Type == 0 || bytes.Compare(n.Checksum[:], first.Checksum[:]) < 0) {
			first = n
		}
	}
	return first
}

// TestPushCorruptObjectManyObjects is TestPushCorruptObject with the
// corrupted object first of many: the receiver gives up while the client
// still has objects to send.
func TestPushCorruptObjectManyObjects(t *testing.T) {
	src := newMemStore()
	c := newCommit(t, src, object.Zero, manyFiles(200, 16<<10))
	src.setRef("main", c)
	dst := newMemStore()
	bad := firstSent(src.reachable(t, c))
	ex := runPush(t, corruptSource{memStore: src, bad: bad}, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}})
	var remote *wire.RemoteError
	if !errors.As(ex.pushErr, &remote) {
		t.Errorf("Push error %v, want a *RemoteError", ex.pushErr)
	}
	if ex.recvErr == nil {
		t.Errorf("Receive succeeded")
	}
	dst.assertUnchanged(t, memSnapshot{})
}

// TestPushSourceReadError makes reading one local object fail: Push must
// return that error, and the receiver must not apply anything.
func TestPushSourceReadError(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2)
	errRead := errors.New("test: input/output error")
	for i, bad := range newObjects(t, h.src, h.c2) {
		for _, dryRun := range []bool{false, true} {
			dst, before := h.destSnapshot(t, "main", h.c1)
			ex := runPush(t, corruptSource{memStore: h.src, bad: bad, err: errRead}, dst,
				PushOptions{Specs: []PushSpec{spec("main", "main")}, DryRun: dryRun})
			if !errors.Is(ex.pushErr, errRead) {
				t.Errorf("#%d (%s, dry run %v): Push error %v, want %v", i, bad.Type, dryRun, ex.pushErr, errRead)
			}
			if ex.recvErr == nil {
				t.Errorf("#%d (%s, dry run %v): Receive succeeded", i, bad.Type, dryRun)
			}
			dst.assertUnchanged(t, before)
		}
	}
}

// clientStream builds a client's side of a session by hand.
type clientStream struct {
	tb  testing.TB
	buf bytes.Buffer
	fw  *wire.FrameWriter
}

func newClientStream(tb testing.TB) *clientStream {
	s := &clientStream{tb: tb}
	s.fw = wire.NewFrameWriter(&s.buf)
	return s
}

func (s *clientStream) msg(m wire.Message) *clientStream {
	s.tb.Helper()
	if err := s.fw.WriteMessage(m); err != nil {
		s.tb.Fatalf("writing %v: %v", m.FrameType(), err)
	}
	return s
}

func (s *clientStream) hello(caps ...string) *clientStream {
	return s.msg(&wire.Hello{Versions: []uint16{wire.Version}, Capabilities: caps, Agent: "hand-written"})
}

// deflated writes a metadata object sent deflated, its content z.
func (s *clientStream) deflated(n object.Name, z []byte) *clientStream {
	s.tb.Helper()
	if err := s.fw.WriteObject(&wire.ObjectHeader{Name: n, Size: uint64(len(z)), Deflated: true}, bytes.NewReader(z)); err != nil {
		s.tb.Fatal(err)
	}
	return s
}

func (s *clientStream) frame(t wire.FrameType, p []byte) *clientStream {
	s.tb.Helper()
	if err := s.fw.WriteFrame(t, p); err != nil {
		s.tb.Fatal(err)
	}
	return s
}

// header writes an OBJECT frame and no DATA.
func (s *clientStream) header(n object.Name, size uint64) *clientStream {
	return s.msg(&wire.ObjectHeader{Name: n, Size: size})
}

func (s *clientStream) object(n object.Name, data []byte) *clientStream {
	s.tb.Helper()
	if err := s.fw.WriteObject(&wire.ObjectHeader{Name: n, Size: uint64(len(data))}, bytes.NewReader(data)); err != nil {
		s.tb.Fatal(err)
	}
	return s
}

// objects writes the objects, read from src.
func (s *clientStream) objects(src *memStore, names []object.Name) *clientStream {
	for _, n := range names {
		s.object(n, src.object(n))
	}
	return s
}

func (s *clientStream) update(dryRun bool, refs ...wire.RefUpdate) *clientStream {
	return s.msg(&wire.Update{DryRun: dryRun, Refs: refs})
}

func (s *clientStream) raw(p []byte) *clientStream {
	s.fw.Flush()
	s.buf.Write(p)
	return s
}

func (s *clientStream) bytes() []byte {
	s.fw.Flush()
	return s.buf.Bytes()
}

func frameHeader(t wire.FrameType, length uint32) []byte {
	h := []byte{byte(t), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[1:], length)
	return h
}

// TestReceiveGarbage feeds the receiver broken client streams: it must
// fail, promptly, and leave the repository as it was.
func TestReceiveGarbage(t *testing.T) {
	h := newHistory(t)
	newObjs := newObjects(t, h.src, h.c2) // content, dirtree, commit of c2
	var content object.Name
	for _, n := range newObjs {
		if n.Type == object.File {
			content = n
		}
	}
	upd := wire.RefUpdate{Ref: refName("main"), Old: h.c1, New: h.c2}
	corrupted := bytes.Clone(h.src.object(content))
	corrupted[len(corrupted)-1] ^= 1
	notJSON := []byte("this is not a commit")
	notJSONName := object.Name{Checksum: object.Checksum(sha256.Sum256(notJSON)), Type: object.Commit}
	rnd := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rnd.UintN(256))
	}
	s := func() *clientStream { return newClientStream(t) }
	var dirtree object.Name
	for _, n := range newObjs {
		if n.Type == object.DirTree {
			dirtree = n
		}
	}
	deflate := func(b []byte) []byte {
		t.Helper()
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestCompression)
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	zTree := deflate(h.src.object(dirtree))
	zBomb := deflate(make([]byte, MaxMetadataSize+1))
	zOther := deflate(append(bytes.Clone(h.src.object(dirtree)), 0))

	tests := []struct {
		name   string
		input  []byte
		opts   ReceiveOptions
		errIs  error  // if set, errors.Is(err, errIs) must hold
		errHas string // if set, the error must contain it
	}{
		{name: "empty input", input: nil},
		{name: "random bytes", input: random},
		{name: "text", input: []byte("Welcome to the server!\nLast login: yesterday\n")},
		{name: "HELLO with a bad magic", input: s().frame(wire.FrameHello, []byte("not a hello at all, really")).bytes()},
		{name: "HELLO with trailing bytes", input: s().raw(append(frameHeader(wire.FrameHello, 0), 0)).bytes()},
		{name: "no common version", input: s().msg(&wire.Hello{Versions: []uint16{2, 3}}).bytes()},
		{name: "UPDATE before HELLO", input: s().update(false, upd).bytes()},
		{name: "OBJECT before HELLO", input: s().objects(h.src, newObjs).hello().update(false, upd).bytes()},
		{name: "QUERY before HELLO", input: s().msg(&wire.Query{Objects: newObjs}).bytes()},
		{name: "DATA before HELLO", input: s().frame(wire.FrameData, []byte("x")).bytes()},
		{name: "DATA without OBJECT", input: s().hello().frame(wire.FrameData, []byte("xyz")).update(false, upd).bytes()},
		{name: "second HELLO", input: s().hello().hello().update(false, upd).bytes()},
		{name: "ADVERTISE from the client", input: s().hello().msg(&wire.Advertise{Mode: wire.ModeArchive}).update(false, upd).bytes()},
		{name: "HAVE from the client", input: s().hello().msg(&wire.Have{Present: []bool{true}}).update(false, upd).bytes()},
		{name: "RESULT from the client", input: s().hello().msg(&wire.Result{Refs: []wire.RefResult{{Ref: refName("main")}}}).update(false, upd).bytes()},
		{name: "unknown frame type", input: s().hello().raw(frameHeader(14, 0)).update(false, upd).bytes(), errIs: wire.ErrUnknownFrame},
		{name: "frame over MaxPayload before HELLO", input: frameHeader(wire.FrameHello, wire.MaxPayload+1), errIs: wire.ErrFrameTooLarge},
		{name: "frame over MaxPayload", input: s().hello().raw(frameHeader(wire.FrameQuery, wire.MaxPayload+1)).bytes(), errIs: wire.ErrFrameTooLarge},
		{name: "DATA frame over MaxPayload in an object",
			input: s().hello().header(content, 2*wire.MaxPayload).raw(frameHeader(wire.FrameData, 0xffffffff)).bytes(), errIs: wire.ErrFrameTooLarge},
		{name: "metadata over MaxMetadataSize",
			input: s().hello().header(object.Name{Checksum: h.c2, Type: object.DirTree}, MaxMetadataSize+1).bytes(), errHas: "limit"},
		{name: "commitmeta over MaxMetadataSize",
			input: s().hello().header(object.Name{Checksum: h.c2, Type: object.CommitMeta}, 1<<40).bytes(), errHas: "limit"},
		{name: "content over MaxObjectSize",
			input: s().hello().header(content, 1<<16+1).raw(bytes.Repeat([]byte{0}, 1<<16+1)).bytes(),
			opts:  ReceiveOptions{MaxObjectSize: 1 << 16}, errHas: "limit"},
		{name: "content over the default MaxObjectSize",
			input: s().hello().header(content, DefaultMaxObjectSize+1).bytes(), errHas: "limit"},
		{name: "object cut short", input: s().hello().header(content, 100).frame(wire.FrameData, make([]byte, 50)).update(false, upd).bytes()},
		{name: "object data overruns", input: s().hello().header(content, 10).frame(wire.FrameData, make([]byte, 20)).update(false, upd).bytes()},
		{name: "QUERY inside an object",
			input: s().hello().header(content, 10).frame(wire.FrameData, make([]byte, 5)).msg(&wire.Query{Objects: newObjs}).update(false, upd).bytes()},
		{name: "OBJECT with a bad type", input: s().hello().frame(wire.FrameObject, append([]byte{5}, make([]byte, 40)...)).update(false, upd).bytes()},
		{name: "OBJECT payload too short", input: s().hello().frame(wire.FrameObject, []byte{1, 2, 3}).update(false, upd).bytes()},
		{name: "corrupted object",
			input:  s().hello().object(content, corrupted).objects(h.src, withoutName(newObjs, content)).update(false, upd).bytes(),
			errHas: "corrupted"},
		{name: "commit that does not parse", input: s().hello().object(notJSONName, notJSON).update(false, upd).bytes()},
		{name: "deflated object without deflate-metadata",
			input:  s().hello().deflated(dirtree, zTree).update(false, upd).bytes(),
			errHas: "not negotiated"},
		{name: "deflated object: not a deflate stream",
			input:  s().hello(wire.CapDeflateMetadata).deflated(dirtree, []byte("not deflate at all")).update(false, upd).bytes(),
			errHas: "invalid deflate stream"},
		{name: "deflated object: stream cut short",
			input:  s().hello(wire.CapDeflateMetadata).deflated(dirtree, zTree[:len(zTree)-2]).update(false, upd).bytes(),
			errHas: "invalid deflate stream"},
		{name: "deflated object: bytes after the stream",
			input:  s().hello(wire.CapDeflateMetadata).deflated(dirtree, append(bytes.Clone(zTree), 0)).update(false, upd).bytes(),
			errHas: "1 bytes after the end of the deflate stream"},
		{name: "deflated object: inflates past MaxMetadataSize",
			input:  s().hello(wire.CapDeflateMetadata).deflated(dirtree, zBomb).update(false, upd).bytes(),
			errHas: "inflates to more than the limit"},
		{name: "deflated object: another object's content",
			input:  s().hello(wire.CapDeflateMetadata).deflated(dirtree, zOther).objects(h.src, withoutName(newObjs, dirtree)).update(false, upd).bytes(),
			errHas: "its content has checksum"},
		{name: "objects and no UPDATE", input: s().hello().objects(h.src, newObjs).bytes()},
		{name: "malformed UPDATE", input: s().hello().objects(h.src, newObjs).frame(wire.FrameUpdate, []byte{0, 0, 0, 0, 0}).bytes()},
		{name: "UPDATE with unknown flags", input: s().hello().objects(h.src, newObjs).frame(wire.FrameUpdate, []byte{0x80, 0, 0, 0, 0}).bytes()},
		{name: "ERROR from the client", input: s().hello().objects(h.src, newObjs).msg(&wire.ErrorMsg{Message: "client gives up"}).bytes(),
			errHas: "client gives up"},
	}
	for i, tt := range tests {
		dst, before := h.destSnapshot(t, "main", h.c1)
		start := time.Now()
		res, err := receiveTimeout(t, bytes.NewReader(tt.input), dst, tt.opts)
		if err == nil {
			t.Errorf("#%d %s: Receive succeeded: %+v", i, tt.name, res)
		} else {
			if tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Errorf("#%d %s: error %v, want %v", i, tt.name, err, tt.errIs)
			}
			if tt.errHas != "" && !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("#%d %s: error %q does not contain %q", i, tt.name, err, tt.errHas)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("#%d %s: Receive took %v", i, tt.name, d)
		}
		if d := dst.diff(before); d != "" {
			t.Errorf("#%d %s: destination changed: %s", i, tt.name, d)
		}
		dst.assertNoTxn(t)
		if st := dst.counts(); st.Commits != 0 {
			t.Errorf("#%d %s: destination stats %+v", i, tt.name, st)
		}
	}
}

func withoutName(names []object.Name, x object.Name) []object.Name {
	return slices.DeleteFunc(slices.Clone(names), func(n object.Name) bool { return n == x })
}

// tripwire is a reader that must not be read.
type tripwire struct{ read bool }

func (w *tripwire) Read(p []byte) (int, error) {
	w.read = true
	return 0, io.EOF
}

// TestReceiveFrameTooLargeNotRead checks that the receiver gives up on a
// frame header announcing too much without reading on.
func TestReceiveFrameTooLargeNotRead(t *testing.T) {
	for i, prefix := range [][]byte{nil, newClientStream(t).hello().bytes()} {
		trip := &tripwire{}
		input := io.MultiReader(bytes.NewReader(append(prefix, frameHeader(wire.FrameObject, wire.MaxPayload+1)...)), trip)
		dst := newMemStore()
		_, err := receiveTimeout(t, input, dst, ReceiveOptions{})
		if !errors.Is(err, wire.ErrFrameTooLarge) {
			t.Errorf("#%d: error %v, want ErrFrameTooLarge", i, err)
		}
		if trip.read {
			t.Errorf("#%d: the receiver read past the oversized frame header", i)
		}
		dst.assertUnchanged(t, memSnapshot{})
	}
}

// handshake is the start of a hand-driven client session: HELLO out,
// HELLO and ADVERTISE in.
func handshake(fr *wire.FrameReader, fw *wire.FrameWriter) (*wire.Advertise, error) {
	if err := fw.WriteMessage(&wire.Hello{Versions: []uint16{wire.Version}}); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil {
		return nil, err
	}
	m, err := fr.ReadMessage()
	if err != nil {
		return nil, err
	}
	if _, ok := m.(*wire.Hello); !ok {
		return nil, fmt.Errorf("got %v, want HELLO", m.FrameType())
	}
	if m, err = fr.ReadMessage(); err != nil {
		return nil, err
	}
	adv, ok := m.(*wire.Advertise)
	if !ok {
		return nil, fmt.Errorf("got %v, want ADVERTISE", m.FrameType())
	}
	return adv, nil
}

// TestReceiveClientDies cuts the connection in the middle of a push.
func TestReceiveClientDies(t *testing.T) {
	h := newHistory(t)
	newObjs := newObjects(t, h.src, h.c2)
	sendObjects := func(fw *wire.FrameWriter, names []object.Name) error {
		for _, n := range names {
			data := h.src.object(n)
			if err := fw.WriteObject(&wire.ObjectHeader{Name: n, Size: uint64(len(data))}, bytes.NewReader(data)); err != nil {
				return err
			}
		}
		return fw.Flush()
	}
	tests := []struct {
		name   string
		resetW bool // close with an error rather than EOF
		script func(fr *wire.FrameReader, fw *wire.FrameWriter) error
	}{
		{"after some objects", false, func(fr *wire.FrameReader, fw *wire.FrameWriter) error {
			return sendObjects(fw, newObjs[:2])
		}},
		{"reset after some objects", true, func(fr *wire.FrameReader, fw *wire.FrameWriter) error {
			return sendObjects(fw, newObjs[:1])
		}},
		{"inside an object", false, func(fr *wire.FrameReader, fw *wire.FrameWriter) error {
			n := newObjs[0]
			data := h.src.object(n)
			if err := fw.WriteMessage(&wire.ObjectHeader{Name: n, Size: uint64(len(data))}); err != nil {
				return err
			}
			if err := fw.WriteFrame(wire.FrameData, data[:len(data)/2]); err != nil {
				return err
			}
			return fw.Flush()
		}},
		{"inside a frame", false, func(fr *wire.FrameReader, fw *wire.FrameWriter) error {
			n := newObjs[0]
			if err := fw.WriteMessage(&wire.ObjectHeader{Name: n, Size: 100}); err != nil {
				return err
			}
			if err := fw.WriteFrame(wire.FrameData, make([]byte, 100)); err != nil {
				return err
			}
			return fw.Flush() // the writer below cuts the stream in the DATA frame
		}},
		{"after a QUERY", false, func(fr *wire.FrameReader, fw *wire.FrameWriter) error {
			if err := fw.WriteMessage(&wire.Query{Objects: newObjs}); err != nil {
				return err
			}
			if err := fw.Flush(); err != nil {
				return err
			}
			m, err := fr.ReadMessage()
			if err != nil {
				return err
			}
			if h, ok := m.(*wire.Have); !ok || len(h.Present) != len(newObjs) || slices.Contains(h.Present, true) {
				return fmt.Errorf("unexpected answer %+v", m)
			}
			return nil
		}},
	}
	for i, tt := range tests {
		dst, before := h.destSnapshot(t, "main", h.c1)
		var scriptErr, recvErr error
		runPair(t, func(r io.Reader, w io.Writer) {
			pw := w.(*io.PipeWriter)
			out := io.Writer(pw)
			if tt.name == "inside a frame" {
				out = &cutWriter{w: pw, left: wire.HeaderSize + 1 + 32 + 8 + wire.HeaderSize + 50} // OBJECT: type, checksum, size
			}
			fr, fw := wire.NewFrameReader(r), wire.NewFrameWriter(out)
			if _, scriptErr = handshake(fr, fw); scriptErr == nil {
				scriptErr = tt.script(fr, fw)
			}
			if tt.resetW {
				pw.CloseWithError(errors.New("connection reset by peer"))
			}
		}, func(r io.Reader, w io.Writer) {
			_, recvErr = Receive(r, w, dst, ReceiveOptions{})
		})
		if scriptErr != nil {
			t.Fatalf("#%d %s: client script: %v", i, tt.name, scriptErr)
		}
		if recvErr == nil {
			t.Errorf("#%d %s: Receive succeeded", i, tt.name)
		}
		dst.assertUnchanged(t, before)
		if st := dst.counts(); st.Commits != 0 || st.Aborts != 1 {
			t.Errorf("#%d %s: destination stats %+v", i, tt.name, st)
		}
	}
}

// cutWriter passes the first left bytes written since the handshake
// through and drops the rest: the connection is cut mid-frame.
type cutWriter struct {
	w    io.Writer
	left int
	hand bool
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if !c.hand { // the handshake's HELLO goes through whole
		c.hand = true
		return c.w.Write(p)
	}
	n := min(len(p), c.left)
	c.left -= n
	if _, err := c.w.Write(p[:n]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// TestReceiveIncompleteCommit sends a commit without one of its objects.
func TestReceiveIncompleteCommit(t *testing.T) {
	h := newHistory(t)
	var content object.Name
	var rest []object.Name
	for _, n := range newObjects(t, h.src, h.c2) {
		if n.Type == object.File {
			content = n
		} else {
			rest = append(rest, n)
		}
	}
	if content.Type == 0 || len(rest) != 2 {
		t.Fatalf("fixture: %v %v", content, rest)
	}
	for i, update := range []wire.RefUpdate{
		{Ref: refName("main"), Old: h.c1, New: h.c2},
		{Ref: refName("other"), New: h.c2}, // a new ref, same commit
	} {
		dst, before := h.destSnapshot(t, "main", h.c1)
		input := newClientStream(t).hello().objects(h.src, rest).update(false, update).bytes()
		_, err := receiveTimeout(t, bytes.NewReader(input), dst, ReceiveOptions{})
		if err == nil || !strings.Contains(err.Error(), h.c2.String()) {
			t.Errorf("#%d: error %v, want one naming commit %s", i, err, h.c2)
		}
		dst.assertUnchanged(t, before)
		if st := dst.counts(); st.Commits != 0 {
			t.Errorf("#%d: destination stats %+v", i, st)
		}
	}
}

// TestReceiveUpdateUnsentCommit asks for a ref to point at a commit that
// is neither in the repository nor sent: refused, but not an error.
func TestReceiveUpdateUnsentCommit(t *testing.T) {
	h := newHistory(t)
	dst, before := h.destSnapshot(t, "main", h.c1)
	input := newClientStream(t).hello().update(false, wire.RefUpdate{Ref: refName("main"), Old: h.c1, New: h.c2}).bytes()
	res, err := receiveTimeout(t, bytes.NewReader(input), dst, ReceiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refs) != 1 || res.Refs[0].Status != wire.StatusRejected {
		t.Errorf("results %+v", res.Refs)
	}
	dst.assertUnchanged(t, before)
}

// TestReceiveLargeResult sends an UPDATE whose RESULT is larger than the
// UPDATE: every ref name is invalid, and the refusal message repeats the
// name (as libostree's "Invalid ref name NAME" does).
func TestReceiveLargeResult(t *testing.T) {
	h := newHistory(t)
	dst := h.dest(t, "main", h.c1)
	var refs []wire.RefUpdate
	for i := 0; i < wire.MaxRefUpdates; i++ {
		refs = append(refs, wire.RefUpdate{Ref: refName(fmt.Sprintf("bad name %021d", i)), New: h.c2})
	}
	if size := len(newClientStream(t).update(false, refs...).bytes()); size > wire.HeaderSize+wire.MaxPayload {
		t.Fatalf("fixture: UPDATE of %d bytes", size)
	}
	input := newClientStream(t).hello().update(false, refs...).bytes()
	res, err := receiveTimeout(t, bytes.NewReader(input), dst, ReceiveOptions{})
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	for _, r := range res.Refs {
		if r.Status != wire.StatusRejected {
			t.Fatalf("%+v", r)
		}
	}
}

// ---- fuzzing ----

// fuzzFixture is the destination FuzzReceive runs against (c1 at main),
// and a source with a child commit c2 at main.
func fuzzFixture(tb testing.TB) (src, dst *memStore) {
	tb.Helper()
	src, dst = newMemStore(), newMemStore()
	// Small, so that the recorded streams are short: the fuzzer's
	// minimization is quadratic in the input's length.
	files := map[string][]byte{"a": []byte("1")}
	c1 := newCommit(tb, src, object.Zero, files)
	newCommit(tb, dst, object.Zero, files)
	dst.setRef("main", c1)
	files["b"] = []byte("2")
	c2 := newCommit(tb, src, c1, files)
	src.setRef("main", c2)
	src.setRef("dev", c2)
	return src, dst
}

// recordPush runs a successful push from the fuzz fixture and returns what
// the client wrote.
func recordPush(tb testing.TB, opts PushOptions) []byte {
	tb.Helper()
	src, dst := fuzzFixture(tb)
	var rec bytes.Buffer
	ex := runPushRecord(tb, src, dst, opts, ReceiveOptions{}, &rec)
	ex.checkNoErrors(tb, "recording: ")
	if !ex.push.OK() {
		tb.Fatalf("recording: push failed: %+v", ex.push.Refs)
	}
	return rec.Bytes()
}

func fuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	update := recordPush(tb, PushOptions{Specs: []PushSpec{spec("main", "main")}})
	dry := recordPush(tb, PushOptions{Specs: []PushSpec{spec("main", "main")}, DryRun: true})
	two := recordPush(tb, PushOptions{Specs: []PushSpec{spec("main", "main"), spec("dev", "dev")}})
	del := recordPush(tb, PushOptions{Specs: []PushSpec{spec("", "main")}})
	seeds := [][]byte{update, dry, two, del}
	for _, n := range []int{1, wire.HeaderSize, len(update) / 3, len(update) / 2, len(update) - 1} {
		seeds = append(seeds, update[:n])
	}
	return seeds
}

// TestReplayRecordedPush checks that the recorded streams FuzzReceive
// starts from are accepted when replayed: the fuzzer then starts deep.
func TestReplayRecordedPush(t *testing.T) {
	for i, seed := range fuzzSeeds(t)[:4] {
		_, dst := fuzzFixture(t)
		res, err := receiveTimeout(t, bytes.NewReader(seed), dst, ReceiveOptions{})
		if err != nil {
			t.Fatalf("#%d: replay: %v", i, err)
		}
		for _, r := range res.Refs {
			if r.Status != wire.StatusOK {
				t.Errorf("#%d: %+v", i, r)
			}
		}
		dst.assertRefsComplete(t)
	}
}

func FuzzReceive(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	_, template := fuzzFixture(f)
	f.Fuzz(func(t *testing.T, input []byte) {
		dst := template.clone()
		before := dst.snapshot()
		_, err := receiveTimeout(t, bytes.NewReader(input), dst, ReceiveOptions{MaxObjectSize: 4 << 20})
		dst.assertNoTxn(t)
		if err != nil {
			dst.assertUnchanged(t, before)
			if st := dst.counts(); st.Commits != 0 {
				t.Errorf("Receive failed (%v) after committing: %+v", err, st)
			}
			return
		}
		dst.assertRefsComplete(t)
	})
}

// TestPushDeflateMetadata pushes the same commits with deflate-metadata in
// effect and without it: the metadata objects that deflate smaller go
// deflated, fewer bytes cross, and the receiver ends with the same objects
// and counts the same bytes either way.
func TestPushDeflateMetadata(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c3)
	type run struct {
		deflated, objects int
		wire              int
		push              *PushResult
		dst               *memStore
	}
	push := func(no []string) run {
		var rec bytes.Buffer
		dst := newMemStore()
		ex := runPushRecord(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}, NoCapabilities: no, Compress: true},
			ReceiveOptions{}, &rec)
		if ex.pushErr != nil || ex.recvErr != nil || !ex.push.OK() {
			t.Fatalf("push: %v, receive: %v, result %+v", ex.pushErr, ex.recvErr, ex.push)
		}
		r := run{wire: rec.Len(), push: ex.push, dst: dst}
		fr := wire.NewFrameReader(&rec)
		for {
			ft, p, err := fr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if ft == wire.FrameObject {
				var oh wire.ObjectHeader
				if err := oh.UnmarshalBinary(p); err != nil {
					t.Fatal(err)
				}
				r.objects++
				if oh.Deflated {
					r.deflated++
				}
			}
		}
		return r
	}
	with, without := push(nil), push([]string{wire.CapDeflateMetadata})
	if with.deflated == 0 || without.deflated != 0 {
		t.Fatalf("deflated objects: %d with the capability, %d without", with.deflated, without.deflated)
	}
	if with.objects != without.objects || with.push.BytesSent != without.push.BytesSent {
		t.Errorf("with: %d objects, %d bytes counted; without: %d, %d",
			with.objects, with.push.BytesSent, without.objects, without.push.BytesSent)
	}
	if with.wire >= without.wire {
		t.Errorf("the client wrote %d bytes with deflate-metadata, %d without", with.wire, without.wire)
	}
	if d := with.dst.diff(without.dst.snapshot()); d != "" {
		t.Errorf("the destinations differ: %s", d)
	}
	t.Logf("%d of %d objects deflated; %d bytes written by the client, %d without", with.deflated, with.objects, with.wire, without.wire)
}
