package libostree_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// TestPruneUnreachable: with the third of three commits kept, the first
// two go (objects, detached metadata, the delta to the second), what the
// third needs stays (fsck), and the exclusive lock nests around it.
func TestPruneUnreachable(t *testing.T) {
	testrepo.RequireTools(t)
	dir := t.TempDir()
	path, tree := filepath.Join(dir, "repo"), filepath.Join(dir, "tree")
	testrepo.Init(t, path, "archive")
	testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 20, Seed: 3})
	var commits []string
	for i := range 3 {
		os.WriteFile(filepath.Join(tree, "version"), []byte{byte('0' + i)}, 0o644)
		commits = append(commits, testrepo.Commit(t, path, "main", tree, "v", "--timestamp=2020-01-0"+string(rune('1'+i))+" 00:00:00"))
	}
	testrepo.Ostree(t, "static-delta", "generate", "--repo="+path, "--from="+commits[0], "--to="+commits[1])
	testrepo.Ostree(t, "static-delta", "generate", "--repo="+path, "--from="+commits[1], "--to="+commits[2])
	r := open(t, path)
	if err := r.LockExclusive(time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := r.PruneUnreachable([]object.Checksum{object.MustParseChecksum(commits[2])})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.UnlockExclusive(); err != nil {
		t.Fatal(err)
	}
	if st.Pruned < 4 || st.Freed == 0 || st.Objects <= st.Pruned {
		t.Errorf("stats %+v", st)
	}
	for _, c := range commits[:2] {
		if _, err := testrepo.OstreeErr("show", "--repo="+path, c); err == nil {
			t.Errorf("commit %s is still there", c)
		}
	}
	testrepo.Fsck(t, path)
	deltas := testrepo.Ostree(t, "static-delta", "list", "--repo="+path)
	if strings.Contains(deltas, commits[0]+"-"+commits[1]) || !strings.Contains(deltas, commits[1]+"-"+commits[2]) {
		t.Errorf("deltas after the prune (want the one to the first commit kept gone, the one from it kept):\n%s", deltas)
	}

	// A commit not whole: an error, nothing deleted.
	if _, err := r.PruneUnreachable([]object.Checksum{object.MustParseChecksum(commits[0])}); err == nil {
		t.Errorf("PruneUnreachable of a missing commit succeeded")
	}
	testrepo.Fsck(t, path)
}

// TestLockExclusiveWaits: with a transaction open on another handle (the
// shared lock), LockExclusive gives up after its wait, not libostree's.
func TestLockExclusiveWaits(t *testing.T) {
	testrepo.RequireTools(t)
	path := filepath.Join(t.TempDir(), "repo")
	testrepo.Init(t, path, "archive")
	other := open(t, path)
	if err := other.LockShared(); err != nil {
		t.Fatal(err)
	}
	r := open(t, path)
	start := time.Now()
	if err := r.LockExclusive(1500 * time.Millisecond); err == nil {
		t.Fatal("LockExclusive succeeded beside a shared lock")
	}
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Errorf("LockExclusive gave up after %v", d)
	}
	if err := other.UnlockShared(); err != nil {
		t.Fatal(err)
	}
	if err := r.LockExclusive(time.Second); err != nil {
		t.Fatalf("once the shared lock is gone: %v", err)
	}
	r.UnlockExclusive()
}
