package libostree_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// TestCopyRate measures the binding's copy rate on a generated commit. It
// runs only when OSTREE_PUSH_RATE_FILES is set (e.g. 20000):
//
//	OSTREE_PUSH_RATE_FILES=20000 go test -run TestCopyRate -v ./pkg/libostree
func TestCopyRate(t *testing.T) {
	files, _ := strconv.Atoi(os.Getenv("OSTREE_PUSH_RATE_FILES"))
	if files == 0 {
		t.Skip("set OSTREE_PUSH_RATE_FILES to measure")
	}
	testrepo.RequireTools(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: files, Seed: 42})
	srcPath := filepath.Join(dir, "src")
	testrepo.Init(t, srcPath, "archive")
	commit := object.MustParseChecksum(testrepo.Commit(t, srcPath, "main", tree, "rate"))
	s := open(t, srcPath)
	names, err := reachable(s, commit)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mode libostree.Mode
		copy func(*libostree.Txn, object.Name) error
	}{
		{"stream archive->archive", libostree.ModeArchive, func(txn *libostree.Txn, n object.Name) error { return streamObject(s, txn, n) }},
		{"stream archive->bare-user", libostree.ModeBareUser, func(txn *libostree.Txn, n object.Name) error { return streamObject(s, txn, n) }},
		{"import archive->archive", libostree.ModeArchive, func(txn *libostree.Txn, n object.Name) error {
			if n.Type == object.CommitMeta {
				return txn.CopyObject(s, n)
			}
			return txn.ImportObject(s, n, false)
		}},
	} {
		d := create(t, tc.mode)
		start := time.Now()
		txn, _, err := d.PrepareTransaction()
		if err != nil {
			t.Fatal(err)
		}
		work := make(chan object.Name, 64)
		done := make(chan error, 2)
		for w := 0; w < 2; w++ {
			go func() {
				var first error
				for n := range work {
					if err := tc.copy(txn, n); err != nil && first == nil {
						first = err
					}
				}
				done <- first
			}()
		}
		for _, n := range names {
			work <- n
		}
		close(work)
		for w := 0; w < 2; w++ {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		txn.SetRef("main", commit)
		if _, err := txn.Commit(); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		t.Logf("%s: %d objects in %.2fs = %.0f objects/s", tc.name, len(names), el.Seconds(), float64(len(names))/el.Seconds())
		testrepo.Fsck(t, d.Path())
	}
}
