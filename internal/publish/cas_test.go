package publish_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/internal/publish"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// casFixture: os/main published at base; local commits a (os/main's
// child) and b (another child of base, on branch other).
type casFixture struct {
	*fixture
	st         *closedStore
	base, a, b object.Checksum
}

func newCASFixture(t *testing.T, refs ...string) *casFixture {
	f := newFixture(t, "archive", 10)
	c := &casFixture{fixture: f, st: newClosedStore(t), base: f.rev("os/main")}
	var sp []string
	for _, r := range refs {
		sp = append(sp, "os/main:"+r)
	}
	publishOK(t, f, c.st, publish.Options{Specs: specs(sp...)})
	c.b = f.change("other", 20)
	c.a = f.change("os/main", 21)
	return c
}

// raceOn makes another publisher run publish just before this one's
// first PUT of key.
func (c *casFixture) raceOn(t *testing.T, key string, opts publish.Options) *atomic.Bool {
	var raced, inside atomic.Bool
	c.st.Before = func(op, k string) error {
		if op == "PUT" && k == key && !inside.Load() && raced.CompareAndSwap(false, true) {
			inside.Store(true)
			defer inside.Store(false)
			res, err := publish.Publish(context.Background(), c.repo, c.st, opts)
			if err != nil || !res.OK() {
				t.Errorf("the other publisher: %v %+v", err, res)
			}
		}
		return nil
	}
	return &raced
}

// TestStaleRef: another publisher moves the ref between this publish's
// read and its write: the write is refused, the other's update stays,
// and the summary says what the ref says.
func TestStaleRef(t *testing.T) {
	for _, other := range []string{"+other:os/main", ":os/main"} {
		t.Run(other, func(t *testing.T) {
			c := newCASFixture(t, "os/main")
			raced := c.raceOn(t, "refs/heads/os/main", publish.Options{Specs: specs(other)})
			res, err := publish.Publish(context.Background(), c.repo, c.st, publish.Options{Specs: specs("os/main")})
			if !raced.Load() {
				t.Fatal("the other publisher did not run")
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.OK() || res.Refs[0].Status != wire.StatusRejected || !strings.Contains(res.Refs[0].Message, "stale") {
				t.Fatalf("a stale publish: %+v", res.Refs)
			}
			want := c.b
			if other == ":os/main" {
				want = object.Zero
			}
			got := ref(t, c.st, "os/main")
			if want.IsZero() && got != "" || !want.IsZero() && got != want.String() {
				t.Fatalf("os/main is %q, want the other publisher's %v", got, want)
			}
			if want.IsZero() {
				checkSummary(t, c.st.Memory, map[string]object.Checksum{}, false)
			} else {
				checkSummary(t, c.st.Memory, map[string]object.Checksum{"os/main": want}, false)
			}
		})
	}
}

// TestStaleNewRef: two publishers create the same ref; the second is
// refused (If-None-Match).
func TestStaleNewRef(t *testing.T) {
	c := newCASFixture(t, "os/main")
	raced := c.raceOn(t, "refs/heads/os/new", publish.Options{Specs: specs("other:os/new")})
	res, err := publish.Publish(context.Background(), c.repo, c.st, publish.Options{Specs: specs("os/main:os/new")})
	if err != nil || !raced.Load() {
		t.Fatal(err, raced.Load())
	}
	if res.OK() || res.Refs[0].Status != wire.StatusRejected {
		t.Fatalf("%+v", res.Refs)
	}
	if got := ref(t, c.st, "os/new"); got != c.b.String() {
		t.Fatalf("os/new is %q, want %s", got, c.b)
	}
	checkSummary(t, c.st.Memory, map[string]object.Checksum{"os/main": c.base, "os/new": c.b}, false)
}

// TestStaleRollback: of a publish's refs, one turns out stale: those
// moved before it are put back, those after it are not moved, and none
// is reported moved.
func TestStaleRollback(t *testing.T) {
	c := newCASFixture(t, "os/a", "os/b", "os/c")
	raced := c.raceOn(t, "refs/heads/os/b", publish.Options{Specs: specs("+other:os/b")})
	res, err := publish.Publish(context.Background(), c.repo, c.st,
		publish.Options{Specs: specs("os/main:os/a", "os/main:os/b", "os/main:os/c", "os/main:os/new")})
	if err != nil || !raced.Load() {
		t.Fatal(err, raced.Load())
	}
	for _, o := range res.Refs {
		if o.Status == wire.StatusOK || o.Status == wire.StatusUpToDate {
			t.Errorf("%s reported %v (%s), but the publish moved no ref", o.Ref, o.Status, o.Message)
		}
	}
	want := map[string]object.Checksum{"os/a": c.base, "os/b": c.b, "os/c": c.base}
	for name, w := range want {
		if got := ref(t, c.st, name); got != w.String() {
			t.Errorf("%s is %q, want %s", name, got, w)
		}
	}
	if got := ref(t, c.st, "os/new"); got != "" {
		t.Errorf("os/new is %q, want none", got)
	}
	checkSummary(t, c.st.Memory, want, false)
}

// TestStaleRollbackOfNewRef: a new ref created before another turns out
// stale is removed again.
func TestStaleRollbackOfNewRef(t *testing.T) {
	c := newCASFixture(t, "os/b")
	raced := c.raceOn(t, "refs/heads/os/b", publish.Options{Specs: specs("+other:os/b")})
	res, err := publish.Publish(context.Background(), c.repo, c.st,
		publish.Options{Specs: specs("os/main:os/a", "os/main:os/b")})
	if err != nil || !raced.Load() {
		t.Fatal(err, raced.Load())
	}
	if res.OK() {
		t.Fatalf("%+v", res.Refs)
	}
	if got := ref(t, c.st, "os/a"); got != "" {
		t.Errorf("os/a is %q, want none (put back)", got)
	}
	if got := ref(t, c.st, "os/b"); got != c.b.String() {
		t.Errorf("os/b is %q, want %s", got, c.b)
	}
}

// TestSummarySigFollowsTheSummary: publisher A writes its summary; before
// its summary.sig lands, publisher B writes its own summary and
// summary.sig. A's signatures, of a summary no longer there, must not be
// what stays.
func TestSummarySigFollowsTheSummary(t *testing.T) {
	c := newCASFixture(t, "os/main")
	sign := func(s []byte) ([]byte, error) { return fakeSign(s), nil }
	raced := c.raceOn(t, "summary.sig", publish.Options{Specs: specs("other:os/stable"), SignSummary: sign})
	res, err := publish.Publish(context.Background(), c.repo, c.st, publish.Options{Specs: specs("os/main"), SignSummary: sign})
	if err != nil || !res.OK() || !raced.Load() {
		t.Fatal(err, res, raced.Load())
	}
	checkSummary(t, c.st.Memory, map[string]object.Checksum{"os/main": c.a, "os/stable": c.b}, true)
}

// appliedThenFailed applies a PUT of key, then answers as a lost response
// would: as the SDK's retry of the same request (its If-Match no longer
// holds: 412), or as a network error.
type appliedThenFailed struct {
	*bucket.Memory
	key  string
	mode string // "retry" or "lost"
}

func (s *appliedThenFailed) Put(ctx context.Context, key string, body []byte, o bucket.PutOptions) (string, error) {
	etag, err := s.Memory.Put(ctx, key, body, o)
	if err == nil && key == s.key {
		s.key = ""
		if s.mode == "retry" {
			return s.Memory.Put(ctx, key, body, o)
		}
		return "", errors.New("read: connection reset by peer")
	}
	return etag, err
}

// TestRefWriteLandedThenFailed: a ref write that the store made but whose
// answer was lost (or retried into a failed condition) is read again and
// counted as made: the publish goes on, every ref moved and summarized,
// instead of reporting the ref stale or not moved while it is there.
func TestRefWriteLandedThenFailed(t *testing.T) {
	for _, mode := range []string{"retry", "lost"} {
		t.Run(mode, func(t *testing.T) {
			f := newFixture(t, "archive", 10)
			st := &appliedThenFailed{Memory: bucket.NewMemory(), mode: mode}
			publishOK(t, f, st, publish.Options{Specs: specs("os/main", "os/main:os/b")})
			f.change("os/main", 3)
			st.key = "refs/heads/os/b"
			res := publishOK(t, f, st, publish.Options{Specs: specs("os/main", "os/main:os/b")})
			want := f.rev("os/main").String()
			for _, name := range []string{"os/main", "os/b"} {
				if got := ref(t, st, name); got != want {
					t.Errorf("%s is %s, want %s", name, got, want)
				}
				if got := summaryRefs(t, st)[name]; got != want {
					t.Errorf("the summary lists %s at %s, want %s", name, got, want)
				}
			}
			for _, r := range res.Refs {
				if r.Status != wire.StatusOK {
					t.Errorf("%s: %s %q", r.Ref, r.Status, r.Message)
				}
			}
		})
	}
}
