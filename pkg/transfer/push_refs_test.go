package transfer

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

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

// TestPushServerDryRun: a push the server runs dry (its dry_run) is
// reported as a dry run to the client (RESULT_FLAGS' DRY_RUN, with
// result-dry-run), though the client did not ask for one; a real push is
// not, and without the capability the client cannot tell.
func TestPushServerDryRun(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2)
	for i, tc := range []struct {
		serverDry, clientDry bool
		off                  []string
		want                 bool
	}{
		{false, false, nil, false},
		{true, false, nil, true},
		{false, true, nil, true},
		{true, false, []string{wire.CapResultDryRun}, false},
	} {
		dst, before := h.destSnapshot(t, "main", h.c1)
		ex := runPushRecord(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}, DryRun: tc.clientDry, NoCapabilities: tc.off},
			ReceiveOptions{Agent: "test-receive/1", Policy: Policy{DryRun: tc.serverDry}}, nil)
		ex.checkNoErrors(t, fmt.Sprintf("#%d: ", i))
		if ex.push.DryRun != tc.want {
			t.Errorf("#%d: PushResult.DryRun = %v, want %v", i, ex.push.DryRun, tc.want)
		}
		if !ex.recv.DryRun != !(tc.serverDry || tc.clientDry) {
			t.Errorf("#%d: ReceiveResult.DryRun = %v", i, ex.recv.DryRun)
		}
		if tc.serverDry || tc.clientDry {
			dst.assertUnchanged(t, before)
		} else if dst.refValue("main") != h.c2 {
			t.Errorf("#%d: main did not move", i)
		}
	}
}

// TestPushLocalRejectNotServerDryRun: a ref the client refuses (not a
// fast-forward) beside one it would push makes the UPDATE a dry run (all
// or none); the RESULT's DRY_RUN flags that answers it are the client's
// own doing, not the server's dry run.
func TestPushLocalRejectNotServerDryRun(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2b)
	h.src.setRef("other", h.c2)
	dst, before := h.destSnapshot(t, "main", h.c2, "other", h.c1)
	ex := runPush(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main"), spec("other", "other")}})
	ex.checkNoErrors(t, "")
	checkOutcomes(t, "", ex.push.Refs, []wantRef{
		{"main", h.c2, h.c2b, wire.StatusNonFastForward, false},
		{"other", h.c1, h.c2, wire.StatusAtomic, false},
	})
	if ex.push.DryRun {
		t.Error("PushResult.DryRun is set: the report would call it the server's dry run")
	}
	dst.assertUnchanged(t, before)
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

// TestPushServerForce: a receiver that accepts non-fast-forward updates
// from every client (its force: yes) says so (server-force), and the
// client sends such an update without --force for it to judge: it moves,
// forced. Without the capability, or when the receiver also denies
// non-fast-forward updates, the client refuses it locally as before.
func TestPushServerForce(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2b)
	for i, tc := range []struct {
		pol  Policy
		off  []string
		want wantRef
	}{
		{Policy{ForceAll: true}, nil, wantRef{"main", h.c2, h.c2b, wire.StatusOK, true}},
		{Policy{ForceAll: true}, []string{wire.CapServerForce}, wantRef{"main", h.c2, h.c2b, wire.StatusNonFastForward, false}},
		{Policy{ForceAll: true, DenyNonFastForward: true}, nil, wantRef{"main", h.c2, h.c2b, wire.StatusNonFastForward, false}},
		{Policy{}, nil, wantRef{"main", h.c2, h.c2b, wire.StatusNonFastForward, false}},
	} {
		dst := h.dest(t, "main", h.c2)
		ex := runPushRecord(t, h.src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}, NoCapabilities: tc.off},
			ReceiveOptions{Agent: "test-receive/1", Policy: tc.pol}, nil)
		ex.checkNoErrors(t, fmt.Sprintf("#%d: ", i))
		checkOutcomes(t, fmt.Sprintf("#%d: ", i), ex.push.Refs, []wantRef{tc.want})
		if moved := dst.refValue("main") == h.c2b; moved != (tc.want.status == wire.StatusOK) {
			t.Errorf("#%d: main moved: %v", i, moved)
		}
	}
}

// TestPolicyRuleNames: a receiver that names the rules behind its limits
// (a per-identity rule, say) has the refusals say them; without names,
// the messages are as they were.
func TestPolicyRuleNames(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c2b)
	for i, tc := range []struct {
		pol  Policy
		want string
	}{
		{Policy{DenyNonFastForward: true}, "and the server denies non-fast-forward updates"},
		{Policy{DenyNonFastForward: true, DenyNonFastForwardRule: "users.alice.deny_non_fast_forward"}, "and users.alice.deny_non_fast_forward denies non-fast-forward updates"},
	} {
		dst := h.dest(t, "main", h.c2)
		ex := runPushRecord(t, h.src, dst, PushOptions{Specs: []PushSpec{{Src: "main", Dst: refName("main"), Force: true}}},
			ReceiveOptions{Agent: "test-receive/1", Policy: tc.pol}, nil)
		if len(ex.recv.Refs) != 1 || !strings.Contains(ex.recv.Refs[0].Message, tc.want) {
			t.Errorf("#%d: %+v, want %q", i, ex.recv.Refs, tc.want)
		}
	}
	h.src.setRef("main", h.c3)
	for i, tc := range []struct {
		ropts ReceiveOptions
		want  string
	}{
		{ReceiveOptions{Policy: Policy{MaxPushSize: 10}}, "push exceeds the server's limit of 10 bytes"},
		{ReceiveOptions{Policy: Policy{MaxPushSize: 10, MaxPushSizeRule: "users.bob.max_push_size"}}, "push exceeds the limit of 10 bytes (users.bob.max_push_size)"},
		{ReceiveOptions{MaxObjectSize: 1, MaxObjectSizeRule: "users.bob.max_object_size"}, "over the limit of 1 (users.bob.max_object_size)"},
	} {
		ex := runPushRecord(t, h.src, newMemStore(), PushOptions{Specs: []PushSpec{spec("main", "main")}}, tc.ropts, nil)
		if ex.recvErr == nil || !strings.Contains(ex.recvErr.Error(), tc.want) {
			t.Errorf("#%d: %v, want %q", i, ex.recvErr, tc.want)
		}
	}
}
