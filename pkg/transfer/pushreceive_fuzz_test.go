package transfer

import (
	"bytes"
	"io"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

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
