package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// concurrentClients is how many pushes run at once (the issue asks for 8).
const concurrentClients = 8

// TestConcurrentPushes: pushes of different refs to one repository all
// land; pushes of different histories to one ref each land or are refused
// (stale or non-fast-forward), never lost or mixed.
func TestConcurrentPushes(t *testing.T) {
	e := newEnv(t, 100)
	remote := e.remote("archive")
	const n = concurrentClients
	var commits []string
	for i := 0; i < n; i++ {
		os.WriteFile(filepath.Join(e.tree, "which"), []byte(fmt.Sprintf("%d\n", i)), 0o644)
		commits = append(commits, e.commit(fmt.Sprintf("os/r%d", i), fmt.Sprintf("ref %d", i), "--orphan"))
	}

	runs := parallelPushes(e, n, func(i int) pushCall {
		return pushCall{args: []string{e.dest(remote), fmt.Sprintf("os/r%d", i)}, timeout: 2 * time.Minute}
	})
	for i, r := range runs {
		wantCode(t, r, 0)
		sameRef(t, e.src, remote, fmt.Sprintf("os/r%d", i))
	}
	testrepo.Fsck(t, remote)

	// Now every client pushes its own history to the same ref.
	runs = parallelPushes(e, n, func(i int) pushCall {
		return pushCall{args: []string{"--json", e.dest(remote), fmt.Sprintf("os/r%d:os/shared", i)}, timeout: 2 * time.Minute}
	})
	landed := 0
	for i, r := range runs {
		switch r.code {
		case 0:
			landed++
		case 1:
			if res := parseJSON(t, r); len(res.Refs) != 1 || res.Refs[0].Reason != "stale" && res.Refs[0].Reason != "non-fast-forward" {
				t.Fatalf("push %d refused, but not as stale or non-fast-forward: %+v", i, res.Refs)
			}
		default:
			t.Fatalf("push %d: exit %d", i, r.code)
		}
	}
	final := testrepo.RevParse(t, remote, "os/shared")
	if landed < 1 || !contains(commits, final) {
		t.Fatalf("%d pushes landed; os/shared = %q, want one of the pushed commits", landed, final)
	}
	testrepo.Fsck(t, remote)
	reliability(t, "concurrent/different-refs", n, 0)
}

// TestConcurrentSameRefStale: 8 clients push 8 different children of the
// ref's commit to it at once, all having read the same old value (each
// receiver waits, just before the ref lock, until all 8 have their objects
// in). Exactly one lands; the 7 others are refused as stale; the ref is
// the one that landed; fsck passes; no client hangs.
func TestConcurrentSameRefStale(t *testing.T) {
	rounds := 1
	if stress() {
		rounds = 10
	}
	e := newEnv(t, 100)
	remote := e.remote("archive")
	wantCode(t, e.pushRun(pushCall{args: []string{e.dest(remote), "os/main"}}), 0)
	failures := 0
	for round := 0; round < rounds; round++ {
		// pushRun reports on e.t: the round's subtest while it runs.
		if !t.Run(fmt.Sprint("round", round), func(t *testing.T) { e.t = t; sameRefRound(e, remote, round) }) {
			failures++
		}
	}
	e.t = t
	reliability(t, "concurrent/same-ref-stale", rounds*concurrentClients, failures)
}

func sameRefRound(e *env, remote string, round int) {
	t := e.t
	const n = concurrentClients
	base := testrepo.RevParse(t, remote, "os/main")
	var commits []string
	for i := 0; i < n; i++ {
		os.WriteFile(filepath.Join(e.tree, "which"), []byte(fmt.Sprintf("round %d client %d\n", round, i)), 0o644)
		commits = append(commits, testrepo.Commit(t, e.src, fmt.Sprintf("os/c%d", i), e.tree,
			fmt.Sprintf("client %d", i), "--parent="+base))
	}
	barrier := filepath.Join(e.dir, fmt.Sprintf("barrier-%d", round))
	os.MkdirAll(barrier, 0o755)
	// Wait (at most 30s: never a hang) until every receiver is here.
	wait := fmt.Sprintf(`touch %s/$$; i=0; while [ $(ls %s | wc -l) -lt %d ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done`,
		shellQuote(barrier), shellQuote(barrier), n)
	runs := parallelPushes(e, n, func(i int) pushCall {
		return pushCall{
			args:       []string{"--json", e.dest(remote), fmt.Sprintf("os/c%d:os/main", i)},
			receiveEnv: map[string]string{"OSTREE_RECEIVE_TEST_BEFORE_REFS": wait},
			timeout:    2 * time.Minute,
		}
	})
	if got, _ := os.ReadDir(barrier); len(got) != n {
		t.Fatalf("%d of %d receivers reached the ref lock together", len(got), n)
	}
	landed := ""
	for i, r := range runs {
		res := parseJSON(t, r)
		switch {
		case r.code == 0 && landed == "":
			landed = commits[i]
		case r.code == 0:
			t.Errorf("push %d landed too, after %s", i, landed)
		case r.code == 1 && len(res.Refs) == 1 && res.Refs[0].Reason == "stale":
			if !strings.Contains(r.stderr, "stale") {
				t.Errorf("push %d: the report does not say stale:\n%s", i, r.stderr)
			}
		default:
			t.Errorf("push %d: exit %d, %+v: want landed or stale", i, r.code, res.Refs)
		}
	}
	if final := testrepo.RevParse(t, remote, "os/main"); landed == "" || final != landed {
		t.Errorf("os/main = %q; the push that landed sent %q", final, landed)
	}
	testrepo.Fsck(t, remote)
}

// TestPushDuringPrune: pushes while `ostree prune --refs-only` runs on the
// remote again and again. The pushed commit's tree reuses objects the
// remote holds unreferenced (a deleted ref's), which prune would delete:
// the receiver must not count on them once prune may have run. Afterwards
// fsck passes and the pushed commit is complete.
func TestPushDuringPrune(t *testing.T) {
	rounds := 3
	if stress() {
		rounds = 20
	}
	e := newEnv(t, 300)
	remote := e.remote("archive")
	wantCode(t, e.pushRun(pushCall{args: []string{e.dest(remote), "os/main"}}), 0)
	var prunes, pruneErrs atomic.Int32
	failures := 0
	for round := 0; round < rounds; round++ {
		// The remote gets a commit of the next tree under a ref that is
		// then deleted: its objects stay until a prune.
		testrepo.ChangeTree(t, e.tree, int64(100+round), 30)
		e.commit("os/scratch", fmt.Sprintf("scratch %d", round), "--orphan")
		wantCode(t, e.pushRun(pushCall{args: []string{e.dest(remote), "os/scratch"}}), 0)
		testrepo.Ostree(t, "refs", "--repo="+remote, "--delete", "os/scratch")
		os.WriteFile(filepath.Join(e.tree, "round"), []byte(fmt.Sprint(round)), 0o644)
		want := e.commit("os/main", fmt.Sprintf("round %d", round))

		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				out, err := exec.Command("ostree", "prune", "--repo="+remote, "--refs-only").CombinedOutput()
				prunes.Add(1)
				if err != nil {
					pruneErrs.Add(1)
					t.Logf("ostree prune: %v\n%s", err, out)
				}
			}
		}()
		r := e.pushRun(pushCall{args: []string{e.dest(remote), "os/main"}, timeout: 2 * time.Minute})
		close(stop)
		wg.Wait()
		ok := t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			wantCode(t, r, 0)
			if got := testrepo.RevParse(t, remote, "os/main"); got != want {
				t.Fatalf("os/main = %q, want %q", got, want)
			}
			testrepo.Fsck(t, remote)
			if _, err := os.Stat(filepath.Join(remote, "state", want+".commitpartial")); err == nil {
				t.Errorf("commit %s is marked partial", want)
			}
			got, err := testrepo.OstreeErr("ls", "--repo="+remote, "-R", "-C", want)
			if err != nil {
				t.Fatalf("ostree ls -R %s on the remote: %v", want, err)
			}
			if got != testrepo.Ostree(t, "ls", "--repo="+e.src, "-R", "-C", want) {
				t.Errorf("the remote's tree of %s differs from the source's", want)
			}
		})
		if !ok {
			failures++
		}
	}
	t.Logf("%d prunes ran during %d pushes (%d failed)", prunes.Load(), rounds, pruneErrs.Load())
	reliability(t, "concurrent/push-during-prune", rounds, failures, fmt.Sprintf("prunes=%d", prunes.Load()))
}

// parallelPushes runs n pushes at once and returns their results.
func parallelPushes(e *env, n int, call func(i int) pushCall) []run {
	var wg sync.WaitGroup
	runs := make([]run, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			runs[i] = e.pushRun(call(i))
		}(i)
	}
	wg.Wait()
	return runs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
