package publish_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/internal/publish"
	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/summary"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/walk"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// objectKey is where an archive repository keeps object n.
func objectKey(n object.Name) string {
	hex := n.Checksum.String()
	ext := n.Type.String()
	if n.Type == object.File {
		ext = "filez"
	}
	return "objects/" + hex[:2] + "/" + hex[2:] + "." + ext
}

func commitKey(c object.Checksum) string {
	return objectKey(object.Name{Checksum: c, Type: object.Commit})
}

// pointsTo is what the file at key (with content body) points to: the
// keys a reader following it will ask for.
func pointsTo(key string, body []byte) ([]string, error) {
	switch {
	case strings.HasSuffix(key, ".dirtree"):
		t, err := walk.ParseDirtree(body)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, f := range t.Files {
			out = append(out, objectKey(object.Name{Checksum: f.Sum, Type: object.File}))
		}
		for _, d := range t.Dirs {
			out = append(out, objectKey(object.Name{Checksum: d.Sum, Type: object.DirTree}),
				objectKey(object.Name{Checksum: d.Meta, Type: object.DirMeta}))
		}
		return out, nil
	case strings.HasSuffix(key, ".commit"):
		tree, meta, err := walk.Root(body)
		if err != nil {
			return nil, err
		}
		return []string{objectKey(object.Name{Checksum: tree, Type: object.DirTree}),
			objectKey(object.Name{Checksum: meta, Type: object.DirMeta})}, nil
	case strings.HasPrefix(key, "refs/heads/"):
		c, err := object.ParseChecksum(strings.TrimSuffix(string(body), "\n"))
		if err != nil {
			return nil, err
		}
		return []string{commitKey(c)}, nil
	case key == "summary":
		refs, err := summary.Refs(body)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, r := range refs {
			out = append(out, commitKey(r.Commit))
		}
		return out, nil
	case key == "summary.sig":
		return []string{"summary"}, nil
	}
	return nil, nil
}

// closedStore is a bucket.Memory that checks, before each write, that
// everything the file written points to is in the bucket already, and
// after each successful write or delete, that every file in the bucket
// has everything it points to in the bucket (the closure invariant).
type closedStore struct {
	*bucket.Memory
	t testing.TB

	mu     sync.Mutex
	points map[string][]string // what is in the bucket, and what each points to
	// detached, when set, names the commits whose detached metadata
	// must be in the bucket before they are.
	detached map[object.Checksum]bool
	writes   int
	failed   bool
}

func newClosedStore(t testing.TB) *closedStore {
	return &closedStore{Memory: bucket.NewMemory(), t: t, points: map[string][]string{}}
}

func (s *closedStore) deps(key string, body []byte) []string {
	deps, err := pointsTo(key, body)
	if err != nil {
		s.t.Errorf("%s written to the bucket does not parse: %v", key, err)
	}
	if strings.HasSuffix(key, ".commit") && len(key) > 0 {
		hex := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(key, "objects/"), ".commit"), "/", "")
		if c, err := object.ParseChecksum(hex); err == nil && s.detached[c] {
			deps = append(deps, objectKey(object.Name{Checksum: c, Type: object.CommitMeta}))
		}
	}
	return deps
}

func (s *closedStore) violation(format string, args ...any) {
	s.t.Helper()
	s.failed = true
	s.t.Errorf(format, args...)
}

// checkLocked checks the whole bucket; s.mu is held.
func (s *closedStore) checkLocked(after string) {
	s.t.Helper()
	for k, deps := range s.points {
		for _, d := range deps {
			if _, ok := s.points[d]; !ok {
				s.violation("after %s: %s is in the bucket without %s, which it points to", after, k, d)
			}
		}
	}
}

func (s *closedStore) before(key string, deps []string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range deps {
		if _, ok := s.points[d]; !ok {
			s.violation("writing %s while %s, which it points to, is not in the bucket", key, d)
		}
	}
}

func (s *closedStore) after(key string, deps []string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	s.points[key] = deps
	s.checkLocked("writing " + key)
}

func (s *closedStore) Put(ctx context.Context, key string, body []byte, o bucket.PutOptions) (string, error) {
	deps := s.deps(key, body)
	s.before(key, deps)
	etag, err := s.Memory.Put(ctx, key, body, o)
	if err == nil {
		s.after(key, deps)
	}
	return etag, err
}

func (s *closedStore) PutLarge(ctx context.Context, key string, r io.Reader, o bucket.PutOptions) error {
	s.before(key, nil)
	err := s.Memory.PutLarge(ctx, key, r, o)
	if err == nil {
		s.after(key, nil)
	}
	return err
}

func (s *closedStore) Delete(ctx context.Context, key, ifMatch string) error {
	err := s.Memory.Delete(ctx, key, ifMatch)
	if err == nil {
		s.mu.Lock()
		delete(s.points, key)
		s.checkLocked("deleting " + key)
		s.mu.Unlock()
	}
	return err
}

// fixture is a local repository and what it was made from.
type fixture struct {
	t    testing.TB
	dir  string
	path string // the repository
	tree string // the tree committed last
	repo *store.Repo
}

// newFixture makes a repository of mode with a tree several levels deep
// committed to os/main.
func newFixture(t testing.TB, mode string, files int) *fixture {
	t.Helper()
	testrepo.RequireTools(t)
	f := &fixture{t: t, dir: t.TempDir()}
	f.path = filepath.Join(f.dir, "repo")
	f.tree = filepath.Join(f.dir, "tree")
	testrepo.GenerateTree(t, f.tree, testrepo.TreeOptions{Files: files, Seed: 7})
	// A chain of directories a reader descends through, a file at each
	// level, so that dirtrees are uploaded in several rounds.
	deep := f.tree
	for i := range 5 {
		deep = filepath.Join(deep, fmt.Sprintf("level%d", i))
		if err := os.MkdirAll(deep, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(deep, "file"), []byte(fmt.Sprintf("level %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testrepo.Init(t, f.path, mode)
	testrepo.Commit(t, f.path, "os/main", f.tree, "first", "--no-bindings")
	f.reopen()
	return f
}

func (f *fixture) reopen() {
	f.t.Helper()
	if f.repo != nil {
		f.repo.Close()
	}
	r, err := store.Open(f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.repo = r
	f.t.Cleanup(func() { r.Close() })
}

// change changes the tree (a file deep down among them) and commits it to
// branch, returning the commit.
func (f *fixture) change(branch string, seed int64, extra ...string) object.Checksum {
	f.t.Helper()
	testrepo.ChangeTree(f.t, f.tree, seed, 5)
	p := filepath.Join(f.tree, "level0", "level1", "level2", "level3", "file")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("changed %d\n", seed)), 0o644); err != nil {
		f.t.Fatal(err)
	}
	c := testrepo.Commit(f.t, f.path, branch, f.tree, fmt.Sprintf("change %d", seed), append([]string{"--no-bindings"}, extra...)...)
	f.reopen()
	return object.MustParseChecksum(c)
}

func (f *fixture) rev(ref string) object.Checksum {
	f.t.Helper()
	return object.MustParseChecksum(testrepo.RevParse(f.t, f.path, ref))
}

// reachable lists every object commit c reaches in the local repository.
func (f *fixture) reachable(c object.Checksum) []object.Name {
	f.t.Helper()
	names, err := f.repo.Reachable([]object.Checksum{c})
	if err != nil {
		f.t.Fatal(err)
	}
	return names
}

func specs(refs ...string) []transfer.PushSpec {
	var out []transfer.PushSpec
	for _, r := range refs {
		force := strings.HasPrefix(r, "+")
		r = strings.TrimPrefix(r, "+")
		src, dst, ok := strings.Cut(r, ":")
		if !ok {
			dst = src
		}
		out = append(out, transfer.PushSpec{Src: src, Dst: wire.RefName{Name: dst}, Force: force})
	}
	return out
}

func publishOK(t testing.TB, f *fixture, st bucket.Store, opts publish.Options) *publish.Result {
	t.Helper()
	res, err := publish.Publish(context.Background(), f.repo, st, opts)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if !res.OK() {
		t.Fatalf("publish: refs not moved: %+v", res.Refs)
	}
	return res
}

// ref is what the bucket's ref says ("" for none).
func ref(t testing.TB, st bucket.Store, name string) string {
	t.Helper()
	data, _, err := st.Get(context.Background(), "refs/heads/"+name, 1<<10)
	if errors.Is(err, bucket.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(data), "\n")
}

// summaryRefs is what the bucket's summary lists, name to commit.
func summaryRefs(t testing.TB, st bucket.Store) map[string]string {
	t.Helper()
	data, _, err := st.Get(context.Background(), "summary", 64<<20)
	if errors.Is(err, bucket.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	refs, err := summary.Refs(data)
	if err != nil {
		t.Fatalf("the bucket's summary: %v", err)
	}
	out := map[string]string{}
	for _, r := range refs {
		out[r.Name] = r.Commit.String()
	}
	return out
}

// complete checks that the bucket holds every object commit c reaches.
func complete(t testing.TB, f *fixture, st *bucket.Memory, c object.Checksum) {
	t.Helper()
	keys := st.Keys()
	var missing []string
	for _, n := range f.reachable(c) {
		if n.Type == object.CommitMeta {
			continue
		}
		if _, ok := slices.BinarySearch(keys, objectKey(n)); !ok {
			missing = append(missing, n.String())
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the bucket lacks %d objects of %s: %v", len(missing), c, missing[:min(len(missing), 5)])
	}
}

// dump writes the bucket's files to a new directory: an archive
// repository, as a reader over HTTP sees it.
func dump(t testing.TB, st *bucket.Memory) string {
	t.Helper()
	dir := t.TempDir()
	// What a reader does not fetch, and libostree wants to find.
	for _, d := range []string{"refs/heads", "refs/remotes", "refs/mirrors", "tmp", "state", "extensions"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range st.Keys() {
		data, _, err := st.Get(context.Background(), k, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// pull checks the bucket with ostree fsck, then pulls refs from it as a
// reader does (through the summary, over a file:// URL) and checks that
// each is the commit want says.
func pull(t testing.TB, st *bucket.Memory, want map[string]object.Checksum) {
	t.Helper()
	src := dump(t, st)
	testrepo.Fsck(t, src)
	dst := filepath.Join(t.TempDir(), "pulled")
	testrepo.Init(t, dst, "archive")
	testrepo.Ostree(t, "remote", "add", "--repo="+dst, "--no-gpg-verify", "origin", "file://"+src)
	for name, c := range want {
		if out, err := testrepo.OstreeErr("pull", "--repo="+dst, "origin", name); err != nil {
			t.Fatalf("ostree pull %s: %v\n%s", name, err, out)
		}
		if got := testrepo.RevParse(t, dst, "origin:"+name); got != c.String() {
			t.Fatalf("pulled %s at %s, want %s", name, got, c)
		}
	}
	testrepo.Fsck(t, dst)
}
