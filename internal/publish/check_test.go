package publish_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/internal/publish"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// TestStoreIgnoringConditions: a store that ignores If-Match and
// If-None-Match is refused before anything but the config is written,
// unless Unconditional says to publish anyway.
func TestStoreIgnoringConditions(t *testing.T) {
	f := newFixture(t, "archive", 10)
	for _, existing := range []bool{false, true} {
		st := newClosedStore(t)
		if existing {
			publishOK(t, f, st, publish.Options{Specs: specs("os/main:os/old")})
		}
		keys := len(st.Keys())
		st.NoConditions = true
		_, err := publish.Publish(context.Background(), f.repo, st, publish.Options{Specs: specs("os/main")})
		if err == nil || !strings.Contains(err.Error(), "ignores conditional writes") {
			t.Fatalf("existing=%v: publishing to a store that ignores conditions: %v", existing, err)
		}
		if got := ref(t, st, "os/main"); got != "" {
			t.Fatalf("existing=%v: os/main moved: %s", existing, got)
		}
		if n := len(st.Keys()); n > keys+1 {
			t.Errorf("existing=%v: a refused publish wrote %d files", existing, n-keys)
		}
		res := publishOK(t, f, st, publish.Options{Specs: specs("os/main"), Unconditional: true})
		if res.ObjectsSent == 0 && !existing {
			t.Error("nothing uploaded")
		}
		pull(t, st.Memory, map[string]object.Checksum{"os/main": f.rev("os/main")})
	}
}

// flip changes a byte of file p, at offset at (negative: from the end).
func flip(t *testing.T, p string, at int) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if at < 0 {
		at += len(data)
	}
	data[at] ^= 0x55
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// objectPath is where repository repo keeps object n.
func objectPath(repo string, n object.Name, mode string) string {
	key := objectKey(n)
	if n.Type == object.File && mode != "archive" {
		key = strings.TrimSuffix(key, ".filez") + ".file"
	}
	return filepath.Join(repo, filepath.FromSlash(key))
}

// TestCorruptObjectNotUploaded: an object damaged on disk makes the
// publish fail before it is uploaded, and no ref moves.
func TestCorruptObjectNotUploaded(t *testing.T) {
	cases := []struct {
		mode string
		typ  object.Type
		at   int
	}{
		{"archive", object.File, -3}, // in the deflated content
		{"archive", object.File, 10}, // in the header
		{"archive", object.File, 3},  // the header's size
		{"archive", object.DirTree, 5},
		{"archive", object.DirTree, -1},
		{"archive", object.DirMeta, 1},
		{"bare-user", object.File, -1},
		{"bare-user", object.DirTree, 2},
	}
	for _, c := range cases {
		t.Run(c.mode+"/"+c.typ.String(), func(t *testing.T) {
			f := newFixture(t, c.mode, 10)
			head := f.rev("os/main")
			// The largest object of the type: some content to damage.
			var victim object.Name
			var size int64
			for _, n := range f.reachable(head) {
				if n.Type != c.typ {
					continue
				}
				fi, err := os.Lstat(objectPath(f.path, n, c.mode))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().IsRegular() && fi.Size() > size {
					victim, size = n, fi.Size()
				}
			}
			if size == 0 {
				t.Fatal("no object to damage")
			}
			flip(t, objectPath(f.path, victim, c.mode), c.at)
			f.reopen()
			st := newClosedStore(t)
			var uploaded atomic.Bool
			st.Before = func(op, key string) error {
				if op == "PUT" && key == objectKey(victim) {
					uploaded.Store(true)
				}
				return nil
			}
			_, err := publish.Publish(context.Background(), f.repo, st, publish.Options{Specs: specs("os/main"), Jobs: 2})
			if err == nil {
				t.Fatalf("publishing with %s damaged succeeded", victim)
			}
			t.Logf("%s damaged: %v", victim, err)
			if uploaded.Load() {
				t.Errorf("the damaged %s was uploaded", victim)
			}
			for _, k := range st.Keys() {
				if strings.HasPrefix(k, "refs/") || k == "summary" || strings.HasSuffix(k, ".commit") {
					t.Errorf("%s in the bucket after a failed publish", k)
				}
			}
		})
	}
}

// objectRequests counts the LIST and HEAD requests st gets about objects.
type objectRequests struct{ list, head atomic.Int64 }

func countObjectRequests(st *closedStore) *objectRequests {
	n := &objectRequests{}
	st.Before = func(op, key string) error {
		switch {
		case op == "LIST" && strings.HasPrefix(key, "objects/"):
			n.list.Add(1)
		case op == "HEAD" && strings.HasPrefix(key, "objects/"):
			n.head.Add(1)
		}
		return nil
	}
	return n
}

func (n *objectRequests) take() (list, head int64) { return n.list.Swap(0), n.head.Swap(0) }

// TestPresence: what a publish asks of the bucket.
func TestPresence(t *testing.T) {
	f := newFixture(t, "archive", 30)
	head := f.rev("os/main")

	// Fresh: one listing page settles it.
	st := newClosedStore(t)
	n := countObjectRequests(st)
	res := publishOK(t, f, st, publish.Options{Specs: specs("os/main")})
	if list, heads := n.take(); res.Presence != "LIST" || list != 1 || heads != 0 {
		t.Errorf("fresh publish: presence by %q, %d LIST, %d HEAD", res.Presence, list, heads)
	}

	// The same commit to another ref: nothing to upload; with the summary
	// saying where os/main is, one HEAD (that the commit is there).
	res = publishOK(t, f, st, publish.Options{Specs: specs("os/main:os/stable")})
	if res.ObjectsSent != 0 {
		t.Errorf("the same commit to another ref uploaded %d objects", res.ObjectsSent)
	}
	if list, heads := n.take(); list != 0 || heads != 1 {
		t.Errorf("the same commit to another ref: %d LIST, %d HEAD", list, heads)
	}
	// Without the summary the walk is whole and the listing answers.
	if err := st.Delete(context.Background(), "summary", ""); err != nil {
		t.Fatal(err)
	}
	res = publishOK(t, f, st, publish.Options{Specs: specs("os/main:os/testing")})
	if res.ObjectsSent != 0 {
		t.Errorf("the same commit to a third ref, no summary: uploaded %d objects", res.ObjectsSent)
	}
	if list, heads := n.take(); list != 1 || heads != 0 {
		t.Errorf("the same commit to a third ref, no summary: %d LIST, %d HEAD", list, heads)
	}
	checkSummary(t, st.Memory, map[string]object.Checksum{"os/main": head, "os/stable": head, "os/testing": head}, false)

	// A big bucket (others' objects): a whole commit is asked by LIST, a
	// small change by HEAD.
	big := newClosedStore(t)
	fill(t, big.Memory, 20000)
	n = countObjectRequests(big)
	res = publishOK(t, f, big, publish.Options{Specs: specs("os/main")})
	list, heads := n.take()
	if res.Presence != "LIST" || heads != 0 || list > 40 || list < 20 {
		t.Errorf("a whole commit into a big bucket: presence by %q, %d LIST, %d HEAD", res.Presence, list, heads)
	}
	f.change("os/main", 30)
	res = publishOK(t, f, big, publish.Options{Specs: specs("os/main")})
	list, heads = n.take()
	if res.Presence != "HEAD" || list != 1 || heads > int64(res.Checked) || heads == 0 {
		t.Errorf("a small change into a big bucket: presence by %q, %d LIST, %d HEAD for %d objects", res.Presence, list, heads, res.Checked)
	}
	complete(t, f, big.Memory, f.rev("os/main"))
}

// fill puts n objects of another repository into st, spread over the key
// space as checksums are.
func fill(t *testing.T, st *bucket.Memory, n int) {
	t.Helper()
	var c object.Checksum
	for i := range n {
		c[0], c[1], c[2], c[3] = byte(i*2654435761>>24), byte(i*2654435761>>16), byte(i>>8), byte(i)
		if _, err := st.Put(context.Background(), objectKey(object.Name{Checksum: c, Type: object.File}), []byte("x"), bucket.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
