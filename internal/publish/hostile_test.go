package publish_test

import (
	"bytes"
	"context"
	"math/rand"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/internal/publish"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/summary"
)

// What other writers of the bucket may have left there: each file is
// read bounded and checked, and gives a clear error or is worked around.

func put(t *testing.T, st bucket.Store, key string, body []byte) {
	t.Helper()
	if _, err := st.Put(context.Background(), key, body, bucket.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestHostileRef: a ref file that is not a checksum and a newline is
// refused by name, nothing written; forced (+REF), the publish overwrites
// it. One too large to read is an error either way.
func TestHostileRef(t *testing.T) {
	f := newFixture(t, "archive", 5)
	for name, body := range map[string][]byte{
		"garbage":   []byte("hello\n"),
		"empty":     nil,
		"two lines": []byte(f.rev("os/main").String() + "\n" + f.rev("os/main").String() + "\n"),
		"oversized": bytes.Repeat([]byte("a"), 1<<20),
		"binary":    {0, 0xff, '\n'},
	} {
		t.Run(name, func(t *testing.T) {
			st := bucket.NewMemory()
			put(t, st, "refs/heads/os/main", body)
			keys := len(st.Keys())
			res, err := publish.Publish(context.Background(), f.repo, st, publish.Options{Specs: specs("os/main")})
			var msg string
			switch {
			case err != nil:
				msg = err.Error()
			case res.OK():
				t.Fatalf("publishing over a ref of %q: %+v", body[:min(len(body), 20)], res.Refs)
			default:
				msg = res.Refs[0].Message
			}
			if !strings.Contains(msg, "refs/heads/os/main") || len(msg) > 300 {
				t.Errorf("the refusal says %q", msg)
			}
			if n := len(st.Keys()); n != keys {
				t.Errorf("%d files written", n-keys)
			}
			res, err = publish.Publish(context.Background(), f.repo, st, publish.Options{Specs: specs("+os/main")})
			if name == "oversized" {
				if err == nil {
					t.Fatal("forced over a ref too large to read: no error")
				}
				return
			}
			if err != nil || !res.OK() {
				t.Fatalf("forced over a broken ref: %v %+v", err, res)
			}
			data, _, _ := st.Get(context.Background(), "refs/heads/os/main", 100)
			if string(data) != f.rev("os/main").String()+"\n" {
				t.Fatalf("after the forced publish the ref is %q", data)
			}
		})
	}
}

// TestHostileConfig: a bucket whose config is another kind of repository,
// or no repository's, is refused before anything is written.
func TestHostileConfig(t *testing.T) {
	f := newFixture(t, "archive", 5)
	for name, cfg := range map[string]string{
		"bare":       "[core]\nrepo_version=1\nmode=bare\n",
		"bare-user":  "[core]\nmode=bare-user\n",
		"no mode":    "[core]\nrepo_version=1\n",
		"garbage":    "\x00\x01\x02",
		"oversized":  "[core]\nmode=archive-z2\n#" + strings.Repeat("x", 1<<20),
		"other mode": "[core]\nmode=\x1b[31marchive\n",
	} {
		t.Run(name, func(t *testing.T) {
			st := bucket.NewMemory()
			put(t, st, "config", []byte(cfg))
			_, err := publish.Publish(context.Background(), f.repo, st, publish.Options{Specs: specs("os/main")})
			if err == nil {
				t.Fatal("published into a bucket whose config is not an archive repository's")
			}
			if strings.ContainsRune(err.Error(), 0x1b) {
				t.Errorf("the error prints the bucket's escape sequence: %q", err)
			}
			if keys := st.Keys(); len(keys) != 1 {
				t.Errorf("files written: %v", keys)
			}
		})
	}
}

// TestHostileSummary: a summary that cannot be read, or from which the
// new one cannot be derived, is replaced by one made from the refs.
func TestHostileSummary(t *testing.T) {
	f := newFixture(t, "archive", 5)
	head := f.rev("os/main")
	// A valid summary to damage.
	good := bucket.NewMemory()
	publishOK(t, f, good, publish.Options{Specs: specs("os/main")})
	valid, _, err := good.Get(context.Background(), "summary", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, 5000)
	rng.Read(random)
	bodies := map[string][]byte{
		"empty":     {},
		"garbage":   []byte("not a summary"),
		"random":    random,
		"truncated": valid[:len(valid)/2],
		"zeros":     make([]byte, 4096),
		"ones":      bytes.Repeat([]byte{0xff}, 300),
	}
	for i := range 20 {
		d := bytes.Clone(valid)
		d[rng.Intn(len(d))] ^= byte(1 + rng.Intn(255))
		bodies["flipped"+string(rune('a'+i))] = d
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			st := newClosedStore(t)
			publishOK(t, f, st, publish.Options{Specs: specs("os/main:os/old")})
			put(t, st.Memory, "summary", body)
			res := publishOK(t, f, st, publish.Options{Specs: specs("os/main")})
			data, _, err := st.Get(context.Background(), "summary", 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			refs, err := summary.Refs(data)
			if err != nil {
				t.Fatalf("the summary written: %v", err)
			}
			got := map[string]object.Checksum{}
			for _, r := range refs {
				got[r.Name] = r.Commit
			}
			if got["os/main"] != head {
				t.Fatalf("the summary lists %v (regenerated %v)", got, res.SummaryRegenerated)
			}
			if !res.SummaryRegenerated && got["os/old"] != head {
				// Derived from a damaged summary that still read: it
				// must at least say what the refs published say.
				t.Logf("derived: %v", got)
			}
		})
	}
}

// TestHostileRefsInRegeneratedSummary: a summary made from every ref
// leaves out the refs in the bucket it cannot list (bad names, bad
// contents, commits nowhere), rather than failing the publish that has
// moved its refs already.
func TestHostileRefsInRegeneratedSummary(t *testing.T) {
	f := newFixture(t, "archive", 5)
	head := f.rev("os/main")
	st := bucket.NewMemory()
	put(t, st, "refs/heads/bad name", []byte(head.String()+"\n"))
	put(t, st, "refs/heads/garbage", []byte("garbage\n"))
	put(t, st, "refs/heads/huge", bytes.Repeat([]byte("a"), 1<<20))
	var nowhere object.Checksum
	nowhere[0] = 1
	put(t, st, "refs/heads/nowhere", []byte(nowhere.String()+"\n"))
	put(t, st, "summary", []byte("garbage"))
	res, err := publish.Publish(context.Background(), f.repo, st, publish.Options{Specs: specs("os/main")})
	if err != nil || !res.OK() {
		t.Fatalf("publish: %v %+v", err, res)
	}
	if got := summaryRefs(t, st); len(got) != 1 || got["os/main"] != head.String() {
		t.Fatalf("the summary lists %v", got)
	}
}

// TestSummaryListsMissingCommit: a summary (which others write) that
// lists a commit the bucket does not have is not taken as proof that the
// bucket has that commit's objects.
func TestSummaryListsMissingCommit(t *testing.T) {
	f := newFixture(t, "archive", 10)
	base := f.rev("os/main")
	next := f.change("os/main", 40)
	// A bucket that had base under os/old, pruned of it since.
	st := bucket.NewMemory()
	publishOK(t, f, st, publish.Options{Specs: specs(base.String() + ":os/old")})
	for _, k := range st.Keys() {
		if strings.HasPrefix(k, "objects/") || strings.HasPrefix(k, "refs/") {
			if err := st.Delete(context.Background(), k, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	publishOK(t, f, st, publish.Options{Specs: specs("os/main")})
	complete(t, f, st, next)
	pull(t, st, map[string]object.Checksum{"os/main": next})
}

// TestHostileListing: keys under objects/ that are no object's (others'
// files, odd names, a first page that ends on one) do not upset the
// choice between HEAD and LIST, nor the answer.
func TestHostileListing(t *testing.T) {
	f := newFixture(t, "archive", 10)
	for name, keys := range map[string][]string{
		"not hex": {"objects/zz", "objects/zz/zz.filez", "objects/", "objects/-", "objects/g0/x"},
		"full page of junk": func() []string {
			var k []string
			for i := range 1500 {
				k = append(k, "objects/00/junk-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26))
			}
			return k
		}(),
		"low keys": func() []string {
			var k []string
			for i := range 1200 {
				k = append(k, "objects/00/00"+strings.Repeat("0", i%50)+".filez"+strings.Repeat("~", i/50))
			}
			return k
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			st := bucket.NewMemory()
			for _, k := range keys {
				put(t, st, k, []byte("x"))
			}
			res := publishOK(t, f, st, publish.Options{Specs: specs("os/main")})
			t.Logf("presence by %s: %v", res.Presence, res.Requests)
			complete(t, f, st, f.rev("os/main"))
			if res.Requests.Head > int64(res.Checked)+2 || res.Requests.List > 40 {
				t.Errorf("%v for %d objects", res.Requests, res.Checked)
			}
		})
	}
}
