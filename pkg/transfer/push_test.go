package transfer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

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

// TestPushIncremental pushes c2, then c3 (whose history holds c2), to a
// remote at c1: what the remote lacks goes, history included, and
// nothing else.
func TestPushIncremental(t *testing.T) {
	h := newHistory(t)
	for i, tc := range []struct {
		tip   object.Checksum
		new   []object.Checksum // the commits the push carries
		chain []object.Checksum // the remote's history after it
	}{
		{h.c2, []object.Checksum{h.c2}, []object.Checksum{h.c2, h.c1}},
		{h.c3, []object.Checksum{h.c2, h.c3}, []object.Checksum{h.c3, h.c2, h.c1}},
	} {
		h.src.setRef("main", tc.tip)
		dst, before := h.destSnapshot(t, "main", h.c1)
		ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}})
		ex.checkNoErrors(t, fmt.Sprintf("#%d: ", i))
		checkOutcomes(t, fmt.Sprintf("#%d: ", i), ex.push.Refs, []wantRef{{"main", h.c1, tc.tip, wire.StatusOK, false}})
		var want []object.Name
		for _, c := range tc.new {
			want = append(want, newObjects(t, h.src, c)...)
		}
		if len(want) != 3*len(tc.new) {
			t.Fatalf("#%d: fixture: %d new objects %v, want 3 a commit", i, len(want), want)
		}
		if ex.push.ObjectsSent != uint64(len(want)) || ex.push.BytesSent != sumSizes(t, h.src, want) {
			t.Errorf("#%d: sent %d objects, %d bytes; want %d, %d", i, ex.push.ObjectsSent, ex.push.BytesSent, len(want), sumSizes(t, h.src, want))
		}
		if got := addedObjects(dst, before); !slices.Equal(got, nameStrings(want)) {
			t.Errorf("#%d: new objects in the destination\n got %v\nwant %v", i, got, nameStrings(want))
		}
		var chain []object.Checksum
		for c := dst.refValue("main"); !c.IsZero(); {
			info, ok, err := dst.Commit(c)
			if err != nil || !ok {
				t.Fatalf("#%d: walking the destination's history: %s: ok %v, err %v", i, c, ok, err)
			}
			if err := dst.complete(c); err != nil {
				t.Errorf("#%d: %v", i, err)
			}
			chain = append(chain, c)
			c = info.Parent
		}
		if !slices.Equal(chain, tc.chain) {
			t.Errorf("#%d: destination history %v", i, chain)
		}
		if st := dst.counts(); st.Written != len(want) || st.Commits != 1 {
			t.Errorf("#%d: destination stats %+v", i, st)
		}
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
