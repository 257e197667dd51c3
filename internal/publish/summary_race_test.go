package publish_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/internal/publish"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/summary"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// TestSummaryFollowsTheRefs: publisher A moves os/main; before A writes
// the summary, publisher B moves os/main again (forced) and writes its
// summary. A's summary write is refused (compare-and-swap), and the
// summary A writes then says what the ref says now: B's commit, not A's.
func TestSummaryFollowsTheRefs(t *testing.T) {
	f := newFixture(t, "archive", 10)
	base := f.rev("os/main").String()
	a := f.change("a", 1, "--parent="+base).String()
	b := f.change("b", 2, "--parent="+base).String()
	repo := f.repo

	st := bucket.NewMemory()
	ctx := context.Background()
	spec := func(rev string) []transfer.PushSpec {
		return []transfer.PushSpec{{Src: rev, Dst: wire.RefName{Name: "os/main"}, Force: true}}
	}
	if _, err := publish.Publish(ctx, repo, st, publish.Options{Specs: spec("os/main")}); err != nil {
		t.Fatal(err)
	}
	var raced atomic.Bool
	st.Before = func(op, key string) error {
		if op == "PUT" && key == "summary" && raced.CompareAndSwap(false, true) {
			res, err := publish.Publish(ctx, repo, st, publish.Options{Specs: spec("b")})
			if err != nil || !res.OK() {
				t.Errorf("publisher B: %v %+v", err, res)
			}
		}
		return nil
	}
	res, err := publish.Publish(ctx, repo, st, publish.Options{Specs: spec("a")})
	if err != nil || !res.OK() {
		t.Fatalf("publisher A: %v %+v", err, res)
	}
	if !raced.Load() {
		t.Fatal("publisher B never ran")
	}
	ref, _, err := st.Get(ctx, "refs/heads/os/main", 100)
	if err != nil || string(ref) != b+"\n" {
		t.Fatalf("os/main is %q (%v), want B's %s", ref, err, b)
	}
	data, _, err := st.Get(ctx, "summary", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := summary.Refs(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].Commit != object.MustParseChecksum(b) {
		t.Fatalf("the summary lists %v, want os/main at B's %s (A's was %s)", refs, b, a)
	}
}
