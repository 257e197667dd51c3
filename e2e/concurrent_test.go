package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// TestConcurrentPushes: pushes of different refs to one repository all
// land; pushes of different histories to one ref each land or are refused
// (stale or non-fast-forward), never lost or mixed.
func TestConcurrentPushes(t *testing.T) {
	e := newEnv(t, 100)
	remote := e.remote("archive")
	const n = 4
	var commits []string
	for i := 0; i < n; i++ {
		os.WriteFile(filepath.Join(e.tree, "which"), []byte(fmt.Sprintf("%d\n", i)), 0o644)
		commits = append(commits, e.commit(fmt.Sprintf("os/r%d", i), fmt.Sprintf("ref %d", i), "--orphan"))
	}

	var wg sync.WaitGroup
	runs := make([]run, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			runs[i] = e.push(e.dest(remote), fmt.Sprintf("os/r%d", i))
		}(i)
	}
	wg.Wait()
	for i, r := range runs {
		wantCode(t, r, 0)
		sameRef(t, e.src, remote, fmt.Sprintf("os/r%d", i))
	}
	testrepo.Fsck(t, remote)

	// Now every client pushes its own history to the same ref.
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			runs[i] = e.push(e.dest(remote), fmt.Sprintf("os/r%d:os/shared", i))
		}(i)
	}
	wg.Wait()
	landed := 0
	final := testrepo.RevParse(t, remote, "os/shared")
	for i, r := range runs {
		switch r.code {
		case 0:
			landed++
		case 1:
		default:
			t.Fatalf("push %d: exit %d", i, r.code)
		}
	}
	found := false
	for _, c := range commits {
		found = found || c == final
	}
	if landed < 1 || !found {
		t.Fatalf("%d pushes landed; os/shared = %q, want one of the pushed commits", landed, final)
	}
	testrepo.Fsck(t, remote)
}
