package publish_test

import (
	"testing"

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
