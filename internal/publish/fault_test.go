package publish_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/internal/publish"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// TestFaultAtEveryStep publishes with a failure injected at each step and
// checks that the refs did not move, or (after a "ref" step) that the bucket is closed;
// then publishes again and checks that it completes and pulls.
func TestFaultAtEveryStep(t *testing.T) {
	steps := []string{"objects", "dirtrees", "commits", "refs", "ref os/main", "ref os/stable", "summary", "summary.sig"}
	for _, incremental := range []bool{false, true} {
		f := newFixture(t, "archive", 30)
		first := f.rev("os/main").String()
		if incremental {
			f.change("os/main", 3)
		}
		head := f.rev("os/main")
		for _, step := range steps {
			t.Run(fmt.Sprintf("%s/incremental=%v", step, incremental), func(t *testing.T) {
				t.Parallel()
				st := newClosedStore(t)
				sign := func(s []byte) ([]byte, error) { return fakeSign(s), nil }
				if incremental {
					publishOK(t, f, st, publish.Options{Specs: specs(first+":os/main", first+":os/stable"), SignSummary: sign})
				}
				before := map[string]string{"os/main": ref(t, st, "os/main"), "os/stable": ref(t, st, "os/stable")}
				injected := errors.New("injected")
				opts := publish.Options{Specs: specs("os/main", "os/main:os/stable"), SignSummary: sign,
					Fault: func(s string) error {
						if s == step {
							return injected
						}
						return nil
					}}
				_, err := publish.Publish(context.Background(), f.repo, st, opts)
				if !errors.Is(err, injected) {
					t.Fatalf("publish with a fault at %q: %v", step, err)
				}
				moved := 0
				for name, old := range before {
					switch got := ref(t, st, name); got {
					case old:
					case head.String():
						moved++
					default:
						t.Errorf("%s is %s after the fault", name, got)
					}
				}
				if !strings.HasPrefix(step, "ref ") && !strings.HasPrefix(step, "summary") && moved > 0 {
					t.Errorf("a fault at %q moved %d refs", step, moved)
				}
				opts.Fault = nil
				publishOK(t, f, st, opts)
				for name := range before {
					if got := ref(t, st, name); got != head.String() {
						t.Errorf("after publishing again %s is %s, want %s", name, got, head)
					}
				}
				checkSummary(t, st.Memory, map[string]object.Checksum{"os/main": head, "os/stable": head}, true)
				complete(t, f, st.Memory, head)
				if incremental { // the slowest part; once per step is enough
					pull(t, st.Memory, map[string]object.Checksum{"os/main": head, "os/stable": head})
				}
				// Repaired: a publish again writes nothing.
				writes := st.writes
				publishOK(t, f, st, opts)
				if st.writes != writes {
					t.Errorf("a publish with nothing to do wrote %d files", st.writes-writes)
				}
			})
		}
	}
}

// fakeSign is a deterministic summary.sig for a summary.
func fakeSign(summary []byte) []byte { return append([]byte("signed:"), summary...) }

// checkSummary checks that the bucket's summary lists exactly want, and
// that summary.sig, when there is one (or signed says there must be),
// signs it (fakeSign).
func checkSummary(t testing.TB, st *bucket.Memory, want map[string]object.Checksum, signed bool) {
	t.Helper()
	got := summaryRefs(t, st)
	if len(got) != len(want) {
		t.Errorf("the summary lists %v, want %v", got, want)
	}
	for name, c := range want {
		if got[name] != c.String() {
			t.Errorf("the summary lists %s at %q, want %s", name, got[name], c)
		}
	}
	sig, _, err := st.Get(context.Background(), "summary.sig", 64<<20)
	if errors.Is(err, bucket.ErrNotFound) {
		if signed {
			t.Errorf("no summary.sig")
		}
		return
	}
	data, _, err2 := st.Get(context.Background(), "summary", 64<<20)
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	if string(sig) != string(fakeSign(data)) {
		t.Errorf("summary.sig does not sign the summary")
	}
}

// TestFailNthPut: the Nth PUT of a publish fails, for every N; the refs
// do not move (or the bucket stays closed), and a publish then completes.
func TestFailNthPut(t *testing.T) {
	for _, incremental := range []bool{false, true} {
		t.Run(fmt.Sprintf("incremental=%v", incremental), func(t *testing.T) {
			f := newFixture(t, "archive", 20)
			first := f.rev("os/main").String()
			setup := func() (*closedStore, map[string]string) {
				st := newClosedStore(t)
				if incremental {
					publishOK(t, f, st, publish.Options{Specs: specs(first+":os/main", first+":os/stable")})
				}
				return st, map[string]string{"os/main": ref(t, st, "os/main"), "os/stable": ref(t, st, "os/stable")}
			}
			if incremental {
				f.change("os/main", 4)
			}
			head := f.rev("os/main")
			opts := publish.Options{Specs: specs("os/main", "os/main:os/stable"), Jobs: 3}
			// How many PUTs a publish makes.
			st, _ := setup()
			base := st.Requests().Put
			publishOK(t, f, st, opts)
			total := int(st.Requests().Put - base)
			if total < 10 {
				t.Fatalf("a publish made only %d PUTs", total)
			}
			for n := 1; n <= total; n++ {
				st, before := setup()
				var puts atomic.Int64
				st.Before = func(op, key string) error {
					if op == "PUT" && puts.Add(1) == int64(n) {
						return fmt.Errorf("injected failure of PUT %s", key)
					}
					return nil
				}
				res, err := publish.Publish(context.Background(), f.repo, st, opts)
				if err == nil && res.OK() {
					t.Fatalf("PUT %d failed and the publish succeeded", n)
				}
				movedOne := false
				for name, old := range before {
					if got := ref(t, st, name); got != old {
						movedOne = true
						if got != head.String() {
							t.Fatalf("PUT %d failed: %s is %q", n, name, got)
						}
					}
				}
				if movedOne && err == nil {
					t.Errorf("PUT %d failed: a ref moved and the publish reported no error", n)
				}
				st.Before = nil
				publishOK(t, f, st, opts)
				checkSummary(t, st.Memory, map[string]object.Checksum{"os/main": head, "os/stable": head}, false)
				if n%8 == 0 || n == total {
					pull(t, st.Memory, map[string]object.Checksum{"os/main": head, "os/stable": head})
				}
				if t.Failed() {
					t.Fatalf("PUT %d of %d failed", n, total)
				}
			}
		})
	}
}

// TestSummaryRepairedWhenUpToDate: a publish killed after moving the refs
// and before writing the summary leaves refs the summary does not list
// (or lists where they were); publishing again finds the refs up to date
// and must still write the summary, which readers go by.
func TestSummaryRepairedWhenUpToDate(t *testing.T) {
	f := newFixture(t, "archive", 10)
	st := newClosedStore(t)
	first := f.rev("os/main")
	injected := errors.New("injected")
	failSummary := func(s string) error {
		if s == "summary" {
			return injected
		}
		return nil
	}
	opts := publish.Options{Specs: specs("os/main", "os/main:os/stable"), Fault: failSummary}
	if _, err := publish.Publish(context.Background(), f.repo, st, opts); !errors.Is(err, injected) {
		t.Fatal(err)
	}
	opts.Fault = nil
	res := publishOK(t, f, st, opts)
	for _, o := range res.Refs {
		if o.Status != wire.StatusUpToDate {
			t.Errorf("%s: %v, want up to date", o.Ref, o.Status)
		}
	}
	checkSummary(t, st.Memory, map[string]object.Checksum{"os/main": first, "os/stable": first}, false)

	// The same, the summary there but listing the refs where they were.
	second := f.change("os/main", 5)
	opts.Fault = failSummary
	if _, err := publish.Publish(context.Background(), f.repo, st, opts); !errors.Is(err, injected) {
		t.Fatal(err)
	}
	checkSummary(t, st.Memory, map[string]object.Checksum{"os/main": first, "os/stable": first}, false)
	opts.Fault = nil
	publishOK(t, f, st, opts)
	checkSummary(t, st.Memory, map[string]object.Checksum{"os/main": second, "os/stable": second}, false)
	pull(t, st.Memory, map[string]object.Checksum{"os/main": second, "os/stable": second})

	// Up to date and listed: nothing written.
	writes := st.writes
	publishOK(t, f, st, opts)
	if st.writes != writes {
		t.Errorf("a publish with nothing to do wrote %d files", st.writes-writes)
	}
}

// TestKilledDeletionRepaired: a deletion killed before the summary left
// the ref listed there; deleting it again takes it out (the ref is
// reported up to date: already deleted), where it was refused as a ref
// that does not exist and the summary kept it for good.
func TestKilledDeletionRepaired(t *testing.T) {
	f := newFixture(t, "archive", 10)
	st := bucket.NewMemory()
	publishOK(t, f, st, publish.Options{Specs: specs("os/main", "os/main:os/old")})
	_, err := publish.Publish(context.Background(), f.repo, st, publish.Options{Specs: specs(":os/old"),
		Fault: func(step string) error {
			if step == "summary" {
				return errors.New("killed")
			}
			return nil
		}})
	if err == nil {
		t.Fatal("the fault did not stop the publish")
	}
	if _, listed := summaryRefs(t, st)["os/old"]; !listed {
		t.Fatal("the killed deletion's summary does not list the ref: nothing to repair")
	}
	res := publishOK(t, f, st, publish.Options{Specs: specs(":os/old")})
	if res.Refs[0].Status != wire.StatusUpToDate {
		t.Errorf("deleting again: %s %q", res.Refs[0].Status, res.Refs[0].Message)
	}
	if _, listed := summaryRefs(t, st)["os/old"]; listed {
		t.Fatalf("after deleting again the summary still lists os/old: %v", summaryRefs(t, st))
	}
	// A ref neither in the bucket nor in the summary is still refused.
	res, err = publish.Publish(context.Background(), f.repo, st, publish.Options{Specs: specs(":os/never")})
	if err != nil || res.OK() {
		t.Fatalf("deleting a ref that never was: %v %+v", err, res.Refs)
	}
}

// TestFailedPublishReportsRefsNotMoved: a publish that fails before its
// refs move reports them not moved (the CLI prints the refs' outcomes of a
// failed publish); one that fails after reports the moved ref as moved.
func TestFailedPublishReportsRefsNotMoved(t *testing.T) {
	f := newFixture(t, "archive", 10)
	for _, c := range []struct {
		step  string
		moved bool
	}{{"objects", false}, {"refs", false}, {"summary", true}} {
		st := bucket.NewMemory()
		res, err := publish.Publish(context.Background(), f.repo, st, publish.Options{Specs: specs("os/main"),
			Fault: func(step string) error {
				if step == c.step {
					return errors.New("killed")
				}
				return nil
			}})
		if err == nil {
			t.Fatalf("%s: the fault did not stop the publish", c.step)
		}
		if got := res.Refs[0].Status == wire.StatusOK; got != c.moved {
			t.Errorf("failed at %s: os/main reported %s %q", c.step, res.Refs[0].Status, res.Refs[0].Message)
		}
	}
}
