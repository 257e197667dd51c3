package e2e

// Retention: keep_commits and keep_younger_than prune a repository after
// pushes, through the real sshd, with the ostree CLI as the oracle.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// hasCommit reports whether repo holds commit c.
func hasCommit(t *testing.T, repo, c string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(repo, "objects", c[:2], c[2:]+".commit"))
	return err == nil
}

// TestRetention: with keep_commits: 2, each push past two commits prunes
// the oldest, of every ref (one the push did not touch too), with the
// static deltas to pruned commits; a dry run prunes nothing; the pusher
// and the log are told; keep_younger_than prunes by the commits' age.
func TestRetention(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 40)
	remote := e.remote("archive")
	plain := e.config("static_deltas: yes\n")
	conf := e.config("keep_commits: 2\nstatic_deltas: yes\n")

	// os/other: three commits, pushed before retention is on.
	var other []string
	for i := range 3 {
		os.WriteFile(filepath.Join(e.tree, "other"), []byte(fmt.Sprint(i)), 0o644)
		other = append(other, e.commit("os/other", fmt.Sprintf("other %d", i)))
	}
	wantCode(t, e.pushEnv(plain, e.dest(remote), "os/other"), 0)
	// A remote ref (an admin's ostree pull into the repository) at the
	// first of them keeps it, as ostree prune --refs-only would (found
	// by a hostile review: retention counted only own and collection refs).
	testrepo.Ostree(t, "refs", "--repo="+remote, "--create=upstream:os/old", other[0])

	// os/main: one commit a push.
	main := []string{testrepo.RevParse(t, e.src, "os/main")}
	wantCode(t, e.pushEnv(conf, e.dest(remote), "os/main"), 0)
	for i := 1; i < 5; i++ {
		os.WriteFile(filepath.Join(e.tree, "main"), []byte(fmt.Sprint(i)), 0o644)
		main = append(main, e.commit("os/main", fmt.Sprintf("main %d", i)))
		r := e.pushEnv(conf, "--json", e.dest(remote), "os/main")
		wantCode(t, r, 0)
		if i < 2 {
			continue
		}
		msgs := strings.Join(parseJSONMessages(t, r), "\n")
		if !strings.Contains(msgs, "retention (keep_commits: 2): pruned") {
			t.Errorf("push %d: the pusher was not told what retention pruned: %q", i, msgs)
		}
		if !strings.Contains(r.stderr, "; pruned ") {
			t.Errorf("push %d: the push record does not say what was pruned:\n%s", i, r.stderr)
		}
	}
	testrepo.Fsck(t, remote)
	for i, c := range main {
		if want := i >= 3; hasCommit(t, remote, c) != want {
			t.Errorf("os/main's commit %d: in the repository %v, want %v", i, !want, want)
		}
	}
	// The ref the pushes did not touch is held to the rules too (its
	// third commit back would go), but the remote ref keeps that one.
	for i, c := range other {
		if !hasCommit(t, remote, c) {
			t.Errorf("os/other's commit %d is gone", i)
		}
	}
	testrepo.Ostree(t, "refs", "--repo="+remote, "--delete", "upstream:os/old")
	os.WriteFile(filepath.Join(e.tree, "main"), []byte("after upstream"), 0o644)
	main = append(main, e.commit("os/main", "after upstream"))
	wantCode(t, e.pushEnv(conf, e.dest(remote), "os/main"), 0)
	if hasCommit(t, remote, other[0]) || !hasCommit(t, remote, other[1]) {
		t.Errorf("os/other after the remote ref went: commit 0 there %v, commit 1 %v", hasCommit(t, remote, other[0]), hasCommit(t, remote, other[1]))
	}
	sameRef(t, e.src, remote, "os/main")
	sameRef(t, e.src, remote, "os/other")
	// Deltas: those to pruned commits went, the one from a pruned commit
	// to a kept one stays (clients still on it update through it).
	deltas := testrepo.Ostree(t, "static-delta", "list", "--repo="+remote)
	if strings.Contains(deltas, main[1]+"-"+main[2]) || strings.Contains(deltas, main[2]+"-"+main[3]) ||
		!strings.Contains(deltas, main[3]+"-"+main[4]) || !strings.Contains(deltas, main[4]+"-"+main[5]) {
		t.Errorf("static deltas after retention:\n%s", deltas)
	}
	// The summary names no delta that went: a client pulls over HTTP.
	client := filepath.Join(e.dir, "client")
	testrepo.Init(t, client, "bare-user")
	testrepo.Ostree(t, "remote", "add", "--repo="+client, "--no-gpg-verify", "origin", serveHTTP(t, remote))
	testrepo.Ostree(t, "pull", "--repo="+client, "origin", "os/main")

	// A dry run prunes nothing.
	os.WriteFile(filepath.Join(e.tree, "main"), []byte("dry"), 0o644)
	e.commit("os/main", "dry")
	before := snap(t, remote)
	wantCode(t, e.pushEnv(conf, "--dry-run", e.dest(remote), "os/main"), 0)
	unchanged(t, remote, before)
	if !hasCommit(t, remote, main[len(main)-2]) {
		t.Errorf("a dry run pruned")
	}

	// By age: two commits of 2020 and one of now, in one push; the old
	// ones go, the tip stays whatever its age.
	aged := e.remote("bare-user")
	os.WriteFile(filepath.Join(e.tree, "aged"), []byte("1"), 0o644)
	old1 := e.commit("os/aged", "old 1", "--timestamp=2020-01-01 00:00:00")
	os.WriteFile(filepath.Join(e.tree, "aged"), []byte("2"), 0o644)
	old2 := e.commit("os/aged", "old 2", "--timestamp=2020-01-02 00:00:00")
	os.WriteFile(filepath.Join(e.tree, "aged"), []byte("3"), 0o644)
	young := e.commit("os/aged", "young", "--timestamp="+time.Now().UTC().Format("2006-01-02 15:04:05"))
	wantCode(t, e.pushEnv(e.config("keep_younger_than: 30d\n"), e.dest(aged), "os/aged"), 0)
	if hasCommit(t, aged, old1) || hasCommit(t, aged, old2) || !hasCommit(t, aged, young) {
		t.Errorf("keep_younger_than: 30d kept %v %v %v", hasCommit(t, aged, old1), hasCommit(t, aged, old2), hasCommit(t, aged, young))
	}
	testrepo.Fsck(t, aged)

	// Where libostree's locking is off, a prune could delete what a
	// concurrent push counts on: retention is skipped, and said.
	unlocked := filepath.Join(e.dir, "unlocked")
	testrepo.Init(t, unlocked, "archive")
	testrepo.Ostree(t, "config", "--repo="+unlocked, "set", "core.locking", "false")
	r := e.pushEnv(e.config("keep_commits: 1\n"), "--json", e.dest(unlocked), "os/aged")
	wantCode(t, r, 0)
	if !hasCommit(t, unlocked, old1) {
		t.Errorf("with core.locking off, retention pruned")
	}
	if msgs := strings.Join(parseJSONMessages(t, r), "\n"); !strings.Contains(msgs, "retention skipped: the repository's core.locking is off") {
		t.Errorf("with core.locking off: %q", msgs)
	}
}

// parseJSONMessages returns the remote_messages of a push's --json.
func parseJSONMessages(t *testing.T, r run) []string {
	t.Helper()
	var res struct {
		Remote []string `json:"remote_messages"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json output %q: %v", r.stdout, err)
	}
	return res.Remote
}

// TestPushDuringRetention: publishers push their own refs at once, again
// and again, into a repository with keep_commits: 1, so that every push
// prunes (or skips retention when another push holds the repository):
// after each round every ref is at its commit, whole, and fsck passes.
func TestPushDuringRetention(t *testing.T) {
	rounds := 3
	if stress() {
		rounds = 20
	}
	e := newEnv(t, 200)
	remote := e.remote("archive")
	conf := e.config("keep_commits: 1\n")
	refs := []string{"os/a", "os/b", "os/c"}
	failures, pruned, skipped := 0, 0, 0
	for round := 0; round < rounds; round++ {
		want := map[string]string{}
		for i, ref := range refs {
			testrepo.ChangeTree(t, e.tree, int64(1000*round+i), 20)
			want[ref] = e.commit(ref, fmt.Sprintf("%s round %d", ref, round))
		}
		runs := parallelPushes(e, len(refs), func(i int) pushCall {
			return pushCall{args: []string{"--json", e.dest(remote), refs[i]}, receiveEnv: conf, timeout: 2 * time.Minute}
		})
		ok := t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			for i, r := range runs {
				wantCode(t, r, 0)
				msgs := strings.Join(parseJSONMessages(t, r), "\n")
				switch {
				case strings.Contains(msgs, "retention (keep_commits: 1): pruned"):
					pruned++
				case strings.Contains(msgs, "retention skipped"):
					skipped++
				}
				if got := testrepo.RevParse(t, remote, refs[i]); got != want[refs[i]] {
					t.Errorf("%s = %q, want %q", refs[i], got, want[refs[i]])
				}
			}
			testrepo.Fsck(t, remote)
			for _, ref := range refs {
				got, err := testrepo.OstreeErr("ls", "--repo="+remote, "-R", "-C", want[ref])
				if err != nil {
					t.Fatalf("ostree ls -R %s on the remote: %v", ref, err)
				}
				if got != testrepo.Ostree(t, "ls", "--repo="+e.src, "-R", "-C", want[ref]) {
					t.Errorf("the remote's tree of %s differs from the source's", ref)
				}
			}
		})
		if !ok {
			failures++
		}
	}
	t.Logf("%d pushes pruned, %d skipped retention, in %d rounds of %d", pruned, skipped, rounds, len(refs))
	if pruned == 0 {
		t.Errorf("no push pruned")
	}
	reliability(t, "concurrent/push-during-retention", rounds, failures, fmt.Sprintf("pruned=%d skipped=%d", pruned, skipped))
}
