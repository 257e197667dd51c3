package publish_test

import (
	"context"
	"testing"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/internal/publish"
)

// TestRequestCounts: what a publish asks of the store. A fresh one lists
// objects/ once and writes every object once; an incremental one asks
// only about the objects beyond the bucket's commit; a no-op reads the
// config, the ref and the summary, nothing else.
func TestRequestCounts(t *testing.T) {
	f := newFixture(t, "archive", 200)
	repo := f.repo
	st := bucket.NewMemory()
	ctx := context.Background()
	publishOnce := func() (*publish.Result, bucket.Counts) {
		t.Helper()
		before := st.Requests()
		res, err := publish.Publish(ctx, repo, st, publish.Options{})
		if err != nil || !res.OK() {
			t.Fatalf("publish: %v %+v", err, res)
		}
		after := st.Requests()
		return res, bucket.Counts{Get: after.Get - before.Get, Head: after.Head - before.Head, List: after.List - before.List,
			Put: after.Put - before.Put, Delete: after.Delete - before.Delete, Part: after.Part - before.Part}
	}

	res, c := publishOnce()
	objects := int64(res.ObjectsSent)
	// GET config, ref, summary; one LIST of objects/; PUT the objects,
	// the config (first publish) and the two probes of conditional
	// writes, the ref, the summary; with no summary before, it is made
	// from every ref: a LIST of refs/heads/ and a GET of each; a HEAD of
	// summary.sig.
	if want := (bucket.Counts{Get: 4, List: 2, Put: objects + 5, Head: 1}); c != want {
		t.Errorf("fresh publish of %d objects: %v, want %v", objects, c, want)
	}

	f.change("os/main", 2)
	repo = f.repo
	res, c = publishOnce()
	if res.ObjectsSent == 0 || int64(res.ObjectsSent) > objects/4 || c.Total() > int64(res.ObjectsSent)+10 {
		t.Errorf("incremental publish of %d objects: %v", res.ObjectsSent, c)
	}

	_, c = publishOnce()
	// The config, the ref, and the summary (that it lists the ref where
	// it is: a publish killed before writing it leaves it behind).
	if want := (bucket.Counts{Get: 3}); c != want {
		t.Errorf("no-op publish: %v, want %v", c, want)
	}
}
