package libostree_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/walk"
)

// The tests of this package walk repositories with pkg/walk, through
// internal/store's loader: pkg/walk's own tests of the walks over real
// repositories are here, where the binding makes them.

func loader(r *libostree.Repo) walk.Loader { return store.Loader(r) }

func reachable(r *libostree.Repo, commits ...object.Checksum) ([]object.Name, error) {
	return walk.Reachable(loader(r), commits...)
}

func reachableSince(r *libostree.Repo, base object.Checksum, commits ...object.Checksum) ([]object.Name, error) {
	return walk.ReachableSince(loader(r), base, commits...)
}

func checkComplete(r *libostree.Repo, c object.Checksum) error {
	return walk.CheckComplete(loader(r), c, object.Zero)
}

func checkCompleteSince(r *libostree.Repo, c, base object.Checksum) error {
	return walk.CheckComplete(loader(r), c, base)
}

func TestCheckCompleteFindsMissing(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	names, err := reachable(s, src.commit)
	if err != nil {
		t.Fatal(err)
	}
	d := create(t, libostree.ModeArchive)
	txn, _, err := d.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Abort()
	var skippedFile, skippedTree bool
	for _, n := range names {
		if n.Type == object.File && !skippedFile {
			skippedFile = true
			continue
		}
		if err := streamObject(s, txn, n); err != nil {
			t.Fatal(err)
		}
	}
	var inc *walk.IncompleteError
	err = checkComplete(d, src.commit)
	if e, ok := err.(*walk.IncompleteError); !ok || e.Missing.Type != object.File {
		t.Fatalf("CheckComplete with a file missing: %v", err)
	}
	_ = inc
	// Without the root dirtree the walk stops early.
	d2 := create(t, libostree.ModeArchive)
	txn2, _, _ := d2.PrepareTransaction()
	defer txn2.Abort()
	commit, _ := s.LoadCommit(src.commit)
	for _, n := range names {
		if n.Type == object.DirTree && n.Checksum == commit.RootTree {
			skippedTree = true
			continue
		}
		if err := streamObject(s, txn2, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := checkComplete(d2, src.commit).(*walk.IncompleteError); !ok || !skippedTree {
		t.Fatalf("CheckComplete without the root dirtree: %v", checkComplete(d2, src.commit))
	}
	if _, ok := checkComplete(d2, object.Checksum{7}).(*walk.IncompleteError); !ok {
		t.Fatal("CheckComplete of a missing commit did not say incomplete")
	}
}

// TestCheckCompletePartial: a commit marked partial is checked strictly
// (libostree's traverse would skip its missing directories), and the mark
// comes and goes with MarkCommitPartial.
func TestCheckCompletePartial(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	names, err := reachable(s, src.commit)
	if err != nil {
		t.Fatal(err)
	}
	commit, _ := s.LoadCommit(src.commit)
	for _, skip := range []object.Type{object.DirTree, object.DirMeta, object.File, 0} {
		d := create(t, libostree.ModeArchive) // fresh: an aborted transaction's objects stay staged
		txn, _, err := d.PrepareTransaction()
		if err != nil {
			t.Fatal(err)
		}
		skipped := false
		for _, n := range names {
			if !skipped && n.Type == skip && (skip != object.DirTree || n.Checksum != commit.RootTree) {
				skipped = true // a dirtree below the root, any dirmeta, any file
				continue
			}
			if err := streamObject(s, txn, n); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.MarkCommitPartial(src.commit, true); err != nil {
			t.Fatal(err)
		}
		if c, _ := d.LoadCommit(src.commit); !c.Partial {
			t.Fatalf("MarkCommitPartial(true): the commit is not partial")
		}
		err = checkComplete(d, src.commit)
		switch e, ok := err.(*walk.IncompleteError); {
		case skip == 0 && err != nil:
			t.Errorf("a complete commit marked partial: CheckComplete = %v", err)
		case skip != 0 && skipped && (!ok || e.Missing.Type != skip):
			t.Errorf("a partial commit without a %v: CheckComplete = %v", skip, err)
		}
		if err := d.MarkCommitPartial(src.commit, false); err != nil {
			t.Fatal(err)
		}
		if c, _ := d.LoadCommit(src.commit); c.Partial {
			t.Fatalf("MarkCommitPartial(false): the commit is still partial")
		}
		txn.Abort()
	}
}

// TestReachableSince checks that ReachableSince(c1, c2) lists every object
// c2 needs that c1 does not, nothing c2 does not need, and far fewer
// objects than Reachable(c2) when little changed.
func TestReachableSince(t *testing.T) {
	testrepo.RequireTools(t)
	dir := t.TempDir()
	tree, path := filepath.Join(dir, "tree"), filepath.Join(dir, "repo")
	testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 600, Seed: 7})
	testrepo.Init(t, path, "archive")
	c1 := object.MustParseChecksum(testrepo.Commit(t, path, "test/main", tree, "first"))
	testrepo.ChangeTree(t, tree, 8, 2)
	// A new nested directory, a directory whose mode changed, and a
	// subtree copied to a second path.
	if err := os.MkdirAll(filepath.Join(tree, "added/deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "added/deeper/f"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(tree, "added"), 0o700); err != nil {
		t.Fatal(err)
	}
	testrepo.Ostree(t, "commit", "--repo="+path, "--branch=test/main", "--subject=second",
		"--tree=dir="+tree, "--add-detached-metadata-string=note=x")
	c2 := object.MustParseChecksum(testrepo.RevParse(t, path, "test/main"))
	r := open(t, path)

	set := func(names []object.Name, err error) map[object.Name]bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		m := map[object.Name]bool{}
		for _, n := range names {
			if m[n] {
				t.Fatalf("%s listed twice", n)
			}
			m[n] = true
		}
		return m
	}
	full1, full2 := set(reachable(r, c1)), set(reachable(r, c2))
	since := set(reachableSince(r, c1, c2))
	for n := range since {
		if !full2[n] {
			t.Errorf("%s listed, but the commit does not need it", n)
		}
	}
	need := 0
	for n := range full2 {
		if !full1[n] {
			need++
			if !since[n] {
				t.Errorf("%s is needed, not in the base, and not listed", n)
			}
		}
	}
	if !since[object.Name{Checksum: c2, Type: object.CommitMeta}] {
		t.Error("the commit's detached metadata is not listed")
	}
	if len(since) > len(full2)/2 || len(since) < need {
		t.Errorf("ReachableSince listed %d objects; %d are needed, the commit has %d", len(since), need, len(full2))
	}
	// Against itself: only the commit.
	if same := set(reachableSince(r, c2, c2)); len(same) != 2 {
		t.Errorf("ReachableSince(c2, c2) = %v, want the commit and its detached metadata", same)
	}
	t.Logf("ReachableSince: %d objects; needed %d; Reachable: %d", len(since), need, len(full2))

	// CheckCompleteSince: a repository with c1 gets what ReachableSince
	// lists, one file left out, then that file.
	d := create(t, libostree.ModeArchive)
	copyCommit(t, r, d, c1, func(*libostree.Txn) {})
	txn, _, err := d.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Abort()
	var skipped object.Name
	for n := range since {
		if n.Type == object.File && !full1[n] && skipped.Checksum.IsZero() {
			skipped = n
			continue
		}
		if err := streamObject(r, txn, n); err != nil {
			t.Fatal(err)
		}
	}
	if e, ok := checkCompleteSince(d, c2, c1).(*walk.IncompleteError); !ok || e.Missing != skipped {
		t.Fatalf("CheckCompleteSince with %s left out: %v", skipped, checkCompleteSince(d, c2, c1))
	}
	if err := checkComplete(d, c2); err == nil {
		t.Fatal("CheckComplete with a file left out: no error")
	}
	if err := streamObject(r, txn, skipped); err != nil {
		t.Fatal(err)
	}
	if err := checkCompleteSince(d, c2, c1); err != nil {
		t.Fatalf("CheckCompleteSince with everything: %v", err)
	}
	if err := checkComplete(d, c2); err != nil {
		t.Fatalf("CheckComplete with everything: %v", err)
	}
	// A base that is not in the repository is an error.
	if _, err := reachableSince(r, object.MustParseChecksum(strings.Repeat("ab", 32)), c2); err == nil {
		t.Error("a missing base gave no error")
	}
}
