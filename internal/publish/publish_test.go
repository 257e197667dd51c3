package publish_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/publish"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// TestClosedAtEveryWrite: a fresh publish and an incremental one keep the
// bucket closed at every write (closedStore checks it), upload what the
// commit needs and no more than the bucket lacks, and the result pulls.
func TestClosedAtEveryWrite(t *testing.T) {
	f := newFixture(t, "archive", 60)
	st := newClosedStore(t)
	first := f.rev("os/main")

	res := publishOK(t, f, st, publish.Options{Specs: specs("os/main"), Jobs: 4})
	want := uint64(len(f.reachable(first)))
	if res.ObjectsSent != want {
		t.Errorf("fresh publish uploaded %d objects, want %d", res.ObjectsSent, want)
	}
	if res.Presence != "LIST" {
		t.Errorf("fresh publish asked presence by %q, want LIST", res.Presence)
	}
	complete(t, f, st.Memory, first)
	if got := ref(t, st, "os/main"); got != first.String() {
		t.Fatalf("os/main is %q, want %s", got, first)
	}
	if got := summaryRefs(t, st); len(got) != 1 || got["os/main"] != first.String() {
		t.Fatalf("summary lists %v", got)
	}

	second := f.change("os/main", 1)
	writes := st.writes
	res = publishOK(t, f, st, publish.Options{Specs: specs("os/main")})
	if res.ObjectsSent == 0 || res.ObjectsSent >= want/2 {
		t.Errorf("incremental publish uploaded %d objects (the first %d)", res.ObjectsSent, want)
	}
	if st.writes <= writes {
		t.Fatal("the incremental publish wrote nothing")
	}
	complete(t, f, st.Memory, second)
	if got := summaryRefs(t, st); got["os/main"] != second.String() {
		t.Fatalf("summary lists %v, want os/main at %s", got, second)
	}
	pull(t, st.Memory, map[string]object.Checksum{"os/main": second})

	// Up to date: nothing uploaded, nothing written.
	writes = st.writes
	res = publishOK(t, f, st, publish.Options{Specs: specs("os/main")})
	if res.ObjectsSent != 0 || res.Refs[0].Status != wire.StatusUpToDate {
		t.Errorf("no-op publish: %+v", res)
	}
	if st.writes != writes {
		t.Errorf("a no-op publish wrote %d files", st.writes-writes)
	}
}

// TestClosedWithHistory: publishing a ref three commits ahead uploads the
// commits in between too, closed at every write, from a bare-user
// repository (.filez made on the way).
func TestClosedWithHistory(t *testing.T) {
	f := newFixture(t, "bare-user", 40)
	st := newClosedStore(t)
	publishOK(t, f, st, publish.Options{Specs: specs("os/main")})
	var last object.Checksum
	for i := range 3 {
		last = f.change("os/main", int64(10+i))
	}
	publishOK(t, f, st, publish.Options{Specs: specs("os/main"), Jobs: 2})
	for c := last; !c.IsZero(); {
		complete(t, f, st.Memory, c)
		info, ok, err := f.repo.Commit(c)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		c = info.Parent
	}
	pull(t, st.Memory, map[string]object.Checksum{"os/main": last})
}

// TestDetachedMetadata: a commit's detached metadata is in the bucket
// before the commit; publishing the commit to another ref uploads nothing
// else; a dry run writes nothing.
func TestDetachedMetadata(t *testing.T) {
	f := newFixture(t, "archive", 10)
	c := f.change("os/main", 50, "--add-detached-metadata-string=note=hello")
	st := newClosedStore(t)
	st.detached = map[object.Checksum]bool{c: true}

	res, err := publish.Publish(context.Background(), f.repo, st, publish.Options{Specs: specs("os/main"), DryRun: true})
	if err != nil || !res.DryRun || res.ObjectsSent == 0 {
		t.Fatalf("dry run: %v %+v", err, res)
	}
	if keys := st.Keys(); len(keys) != 0 {
		t.Fatalf("a dry run wrote %v", keys)
	}

	publishOK(t, f, st, publish.Options{Specs: specs("os/main")})
	meta := objectKey(object.Name{Checksum: c, Type: object.CommitMeta})
	if _, _, err := st.Get(context.Background(), meta, 1<<20); err != nil {
		t.Fatalf("the detached metadata: %v", err)
	}
	res = publishOK(t, f, st, publish.Options{Specs: specs("os/main:os/stable")})
	if res.ObjectsSent > 1 {
		t.Errorf("the same commit to another ref uploaded %d objects", res.ObjectsSent)
	}
	pull(t, st.Memory, map[string]object.Checksum{"os/main": c, "os/stable": c})
}

// TestRequestsInParallel: presence by HEAD and the uploads are asked
// Jobs at a time, not one after the other.
func TestRequestsInParallel(t *testing.T) {
	f := newFixture(t, "archive", 30)
	st := newClosedStore(t)
	fill(t, st.Memory, 5000)
	publishOK(t, f, st, publish.Options{Specs: specs("os/main")})
	f.change("os/main", 60)
	var inFlight, most atomic.Int64
	st.Before = func(op, key string) error {
		if op == "HEAD" || op == "PUT" && strings.HasPrefix(key, "objects/") {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	}
	res := publishOK(t, f, st, publish.Options{Specs: specs("os/main"), Jobs: 8})
	if res.Presence != "HEAD" {
		t.Fatalf("presence by %q", res.Presence)
	}
	if most.Load() < 4 {
		t.Errorf("at most %d requests at once, with 8 jobs", most.Load())
	}
}

// TestDeleteRef: deleting a ref takes it out of the summary; the others
// stay listed where they are.
func TestDeleteRef(t *testing.T) {
	f := newFixture(t, "archive", 10)
	head := f.rev("os/main")
	st := newClosedStore(t)
	publishOK(t, f, st, publish.Options{Specs: specs("os/main", "os/main:os/stable", "os/main:os/testing")})
	publishOK(t, f, st, publish.Options{Specs: specs(":os/stable")})
	if got := ref(t, st, "os/stable"); got != "" {
		t.Fatalf("os/stable is %q after deleting it", got)
	}
	checkSummary(t, st.Memory, map[string]object.Checksum{"os/main": head, "os/testing": head}, false)
	res, err := publish.Publish(context.Background(), f.repo, st, publish.Options{Specs: specs(":os/stable")})
	if err != nil || res.OK() {
		t.Fatalf("deleting a ref that is not there: %v %+v", err, res.Refs)
	}
}
