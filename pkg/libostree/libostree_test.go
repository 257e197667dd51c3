package libostree_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// TestMain fails the run when a wrapper is left open: the leak check.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if n := libostree.Live(); n != 0 {
			fmt.Fprintf(os.Stderr, "FAIL: %d libostree wrappers left open\n", n)
			code = 1
		}
	}
	os.Exit(code)
}

// source is an archive repo with one generated commit, shared by the tests
// that only read it.
type source struct {
	path   string
	commit object.Checksum
}

var (
	sourceOnce sync.Once
	sourceRepo source
	sourceErr  error
)

func sharedSource(t *testing.T) source {
	t.Helper()
	testrepo.RequireTools(t)
	sourceOnce.Do(func() {
		dir, err := os.MkdirTemp("", "libostree-test-src-")
		if err != nil {
			sourceErr = err
			return
		}
		sourceRepo.path = filepath.Join(dir, "repo")
		tree := filepath.Join(dir, "tree")
		// Hundreds of files, nested dirs, symlinks, executables, empty
		// files, and one file over 8 MiB.
		testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 400, Seed: 1, BigFile: 9 << 20})
		testrepo.Init(t, sourceRepo.path, "archive")
		c := testrepo.Commit(t, sourceRepo.path, "test/main", tree, "first")
		testrepo.Ostree(t, "commit", "--repo="+sourceRepo.path, "--branch=test/main", "--subject=second",
			"--tree=dir="+tree, "--add-detached-metadata-string=note=hello", "--timestamp=2024-01-02T00:00:00Z")
		_ = c
		sourceRepo.commit, sourceErr = object.ParseChecksum(testrepo.RevParse(t, sourceRepo.path, "test/main"))
	})
	if sourceErr != nil {
		t.Fatal(sourceErr)
	}
	return sourceRepo
}

func open(t *testing.T, path string) *libostree.Repo {
	t.Helper()
	r, err := libostree.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func create(t *testing.T, mode libostree.Mode) *libostree.Repo {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dest")
	r, err := libostree.Create(path, mode, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestOpenMissing(t *testing.T) {
	_, err := libostree.Open(filepath.Join(t.TempDir(), "nothing"))
	if err == nil {
		t.Fatal("opening a missing repository succeeded")
	}
	var e *libostree.Error
	if !strings.Contains(err.Error(), "opening repository") || !asError(err, &e) || e.Domain == "" {
		t.Fatalf("error %v: want a wrapped *libostree.Error with a domain", err)
	}
}

func asError(err error, target **libostree.Error) bool {
	for err != nil {
		if e, ok := err.(*libostree.Error); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestCreateModes(t *testing.T) {
	testrepo.RequireTools(t)
	for _, mode := range []libostree.Mode{libostree.ModeArchive, libostree.ModeBare, libostree.ModeBareUser, libostree.ModeBareUserOnly} {
		r := create(t, mode)
		if got := r.Mode(); got != mode {
			t.Errorf("created %s, Mode() = %s", mode, got)
		}
		out := testrepo.Ostree(t, "config", "--repo="+r.Path(), "get", "core.mode")
		if strings.TrimSpace(out) != string(mode) && !(mode == libostree.ModeArchive && strings.TrimSpace(out) == "archive-z2") {
			t.Errorf("ostree config says mode %q for %s", out, mode)
		}
	}
	if _, err := libostree.Create(t.TempDir(), "nonsense", nil); err == nil {
		t.Error("created a repository with mode nonsense")
	}
}

func TestCollectionRefs(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	path := filepath.Join(t.TempDir(), "dest")
	r, err := libostree.Create(path, libostree.ModeArchive, &libostree.CreateOptions{CollectionID: "org.example.Os"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.CollectionID(); got != "org.example.Os" {
		t.Fatalf("CollectionID() = %q", got)
	}
	copyCommit(t, s, r, src.commit, func(txn *libostree.Txn) {
		if err := txn.SetCollectionRef("org.example.Os", "os/stable", src.commit); err != nil {
			t.Fatal(err)
		}
		if err := txn.SetCollectionRef("org.example.Mirror", "other", src.commit); err != nil {
			t.Fatal(err)
		}
	})
	refs, err := r.ListCollectionRefs()
	if err != nil {
		t.Fatal(err)
	}
	want := []libostree.Ref{
		{CollectionID: "org.example.Mirror", Name: "other", Commit: src.commit},
		{CollectionID: "org.example.Os", Name: "os/stable", Commit: src.commit},
	}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("ListCollectionRefs() = %+v, want %+v", refs, want)
	}
	plain, err := r.ListRefs("")
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != 1 || plain[0].Name != "os/stable" {
		t.Fatalf("ListRefs() = %+v, want only os/stable (mirrors excluded)", plain)
	}
	if err := (&libostree.Txn{}).SetCollectionRef("not a collection", "x", src.commit); err == nil {
		t.Error("invalid collection id accepted")
	}
}

func TestRefsAndCommit(t *testing.T) {
	src := sharedSource(t)
	r := open(t, src.path)
	c, ok, err := r.ResolveRev("test/main")
	if err != nil || !ok || c != src.commit {
		t.Fatalf("ResolveRev(test/main) = %s, %v, %v; want %s", c, ok, err, src.commit)
	}
	if _, ok, err := r.ResolveRev("no/such/ref"); err != nil || ok {
		t.Fatalf("ResolveRev(no/such/ref) = %v, %v; want not found, no error", ok, err)
	}
	parent, ok, err := r.ResolveRev("test/main^")
	if err != nil || !ok {
		t.Fatalf("ResolveRev(test/main^): %v %v", ok, err)
	}
	refs, err := r.ListRefs("")
	if err != nil || len(refs) != 1 || refs[0].Name != "test/main" || refs[0].Commit != src.commit {
		t.Fatalf("ListRefs() = %+v, %v", refs, err)
	}
	if refs, err := r.ListRefs("test"); err != nil || len(refs) != 1 {
		t.Fatalf("ListRefs(test) = %+v, %v", refs, err)
	}
	if refs, err := r.ListRefs("other"); err != nil || len(refs) != 0 {
		t.Fatalf("ListRefs(other) = %+v, %v", refs, err)
	}

	commit, err := r.LoadCommit(src.commit)
	if err != nil {
		t.Fatal(err)
	}
	if commit.Parent != parent || commit.Subject != "second" || commit.Partial ||
		commit.Timestamp.Format("2006-01-02") != "2024-01-02" {
		t.Fatalf("LoadCommit = %+v; want parent %s, subject second, 2024-01-02", commit, parent)
	}
	// The oracle: ostree ls shows the root's dirtree and dirmeta checksums.
	out := testrepo.Ostree(t, "ls", "--repo="+src.path, "-C", "-d", src.commit.String(), "/")
	if !strings.Contains(out, commit.RootTree.String()) || !strings.Contains(out, commit.RootMeta.String()) {
		t.Fatalf("ostree ls -C -d / = %q; want root tree %s and meta %s", out, commit.RootTree, commit.RootMeta)
	}
	first, err := r.LoadCommit(parent)
	if err != nil || !first.Parent.IsZero() {
		t.Fatalf("first commit: %+v, %v; want no parent", first, err)
	}
	_, err = r.LoadCommit(object.Checksum{1})
	if !libostree.IsNotFound(err) {
		t.Fatalf("LoadCommit(missing) error %v: want not found", err)
	}

	meta, ok, err := r.ReadCommitMeta(src.commit)
	if err != nil || !ok || !bytes.Contains(meta, []byte("hello")) {
		t.Fatalf("ReadCommitMeta = %q, %v, %v", meta, ok, err)
	}
	if _, ok, err := r.ReadCommitMeta(parent); err != nil || ok {
		t.Fatalf("ReadCommitMeta(first) = %v, %v; want none", ok, err)
	}
}

func TestReachable(t *testing.T) {
	src := sharedSource(t)
	r := open(t, src.path)
	names, err := reachable(r, src.commit)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[object.Type]int{}
	seen := map[object.Name]bool{}
	for _, n := range names {
		counts[n.Type]++
		if seen[n] {
			t.Fatalf("%s listed twice", n)
		}
		seen[n] = true
	}
	if counts[object.Commit] != 1 || counts[object.File] < 300 || counts[object.DirTree] < 2 || counts[object.DirMeta] < 1 {
		t.Fatalf("reachable counts %v: want 1 commit, >=300 files, dirtrees, dirmeta", counts)
	}
	// The oracle: every file object is one ostree ls lists.
	out := testrepo.Ostree(t, "ls", "--repo="+src.path, "-R", "-C", src.commit.String())
	for n := range seen {
		if n.Type == object.File && !strings.Contains(out, n.Checksum.String()) {
			t.Fatalf("%s is not in ostree ls -R -C", n)
		}
	}
	parent, _, _ := r.ResolveRev("test/main^")
	both, err := reachable(r, src.commit, parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(both) != len(names)+1 { // same tree: only the parent commit is new
		t.Fatalf("Reachable(both) = %d objects, want %d", len(both), len(names)+1)
	}
}

// copyCommit copies every object reachable from commit from src to dst in
// one transaction through the streaming read and verified write API (what
// the receiver uses), with two writers, lets setRefs stage refs, commits.
func copyCommit(t *testing.T, src, dst *libostree.Repo, commit object.Checksum, setRefs func(*libostree.Txn)) libostree.Stats {
	t.Helper()
	names, err := reachable(src, commit)
	if err != nil {
		t.Fatal(err)
	}
	txn, _, err := dst.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	work := make(chan object.Name)
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if err := streamObject(src, txn, n); err != nil {
					errs <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		txn.Abort()
		t.Fatal(err)
	}
	if err := checkComplete(dst, commit); err != nil {
		t.Fatalf("CheckComplete before commit: %v", err)
	}
	setRefs(txn)
	stats, err := txn.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

func streamObject(src *libostree.Repo, txn *libostree.Txn, n object.Name) error {
	if n.Type == object.File {
		cr, err := src.OpenContent(n.Checksum)
		if err != nil {
			return err
		}
		defer cr.Close()
		return txn.WriteContent(n.Checksum, cr, cr.Size())
	}
	data, err := src.ReadMetadata(n)
	if err != nil {
		return err
	}
	return txn.WriteMetadata(n, data)
}
