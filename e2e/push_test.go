package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

func TestFreshPush(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 300)
	// The pushed commit carries detached metadata (where signatures live).
	e.commit("os/main", "signed", "--add-detached-metadata-string=note=carried along")
	for _, mode := range []string{"archive", "bare-user"} {
		t.Run(mode, func(t *testing.T) {
			remote := e.remote(mode)
			r := e.push("--json", e.dest(remote), "os/main")
			wantCode(t, r, 0)
			res := parseJSON(t, r)
			if len(res.Refs) != 1 || res.Refs[0].Status != "created" || res.Refs[0].Ref != "os/main" {
				t.Fatalf("refs %+v", res.Refs)
			}
			// The tip's objects, its detached metadata, and its parent
			// commit (same tree: nothing else new).
			if want := countReachable(t, e.src, "os/main") + 2; res.ObjectsSent != want {
				t.Errorf("sent %d objects, want %d", res.ObjectsSent, want)
			}
			testrepo.Fsck(t, remote)
			sameRef(t, e.src, remote, "os/main")
			ls := func(repo string) string {
				return testrepo.Ostree(t, "ls", "--repo="+repo, "-R", "-C", "os/main")
			}
			if ls(remote) != ls(e.src) {
				t.Fatal("ostree ls -R differs between source and remote")
			}
			meta := testrepo.Ostree(t, "show", "--repo="+remote, "--print-detached-metadata-key=note", "os/main")
			if !strings.Contains(meta, "carried along") {
				t.Fatalf("detached metadata on the remote: %q", meta)
			}
		})
	}
}

func TestIncrementalPush(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 200)
	remote := e.remote("archive")
	wantCode(t, e.push(e.dest(remote), "os/main"), 0)

	// A new file at the top: the commit, the root dirtree, the file.
	if err := os.WriteFile(filepath.Join(e.tree, "top-new"), []byte("new at the top\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.commit("os/main", "second")
	r := e.push("--json", e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if res := parseJSON(t, r); res.ObjectsSent != 3 || res.Refs[0].Status != "updated" {
		t.Fatalf("incremental push of one top-level file: %+v; want 3 objects, updated", res)
	}

	// A changed file three directories down: commit, 4 dirtrees, file.
	deep := filepath.Join(e.tree, "x", "y", "z")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	e.commit("os/main", "third (adds dirs)")
	wantCode(t, e.push(e.dest(remote), "os/main"), 0)
	if err := os.WriteFile(filepath.Join(deep, "f"), []byte("deep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.commit("os/main", "fourth")
	r = e.push("--json", e.dest(remote), "os/main")
	if res := parseJSON(t, r); res.ObjectsSent != 6 {
		t.Fatalf("incremental push of one deep file: sent %d objects, want 6", res.ObjectsSent)
	}
	testrepo.Fsck(t, remote)
	sameRef(t, e.src, remote, "os/main")
	// The whole history arrived, parent by parent.
	log := testrepo.Ostree(t, "log", "--repo="+remote, "os/main")
	for _, s := range []string{"first", "second", "third", "fourth"} {
		if !strings.Contains(log, s) {
			t.Fatalf("remote log lacks %q:\n%s", s, log)
		}
	}

	// Up to date: nothing sent, exit 0.
	r = e.push("--json", e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if res := parseJSON(t, r); res.ObjectsSent != 0 || res.Refs[0].Status != "up-to-date" {
		t.Fatalf("no-op push: %+v", res)
	}
	r = e.push(e.dest(remote), "os/main")
	if !strings.Contains(r.stderr, "[up to date]") || !strings.Contains(r.stderr, "To "+e.dest(remote)) {
		t.Fatalf("no-op push report:\n%s", r.stderr)
	}
}

func TestNonFastForwardAndForce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 100)
	remote := e.remote("archive")
	wantCode(t, e.push(e.dest(remote), "os/main"), 0)
	os.WriteFile(filepath.Join(e.tree, "more"), []byte("more\n"), 0o644)
	e.commit("os/main", "second")
	wantCode(t, e.push(e.dest(remote), "os/main"), 0)

	// A commit on another line of history (no parent).
	os.WriteFile(filepath.Join(e.tree, "other"), []byte("other\n"), 0o644)
	e.commit("os/other", "unrelated", "--orphan")
	before := snap(t, remote)
	r := e.push(e.dest(remote), "os/other:os/main")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "[rejected]") || !strings.Contains(r.stderr, "os/main (non-fast-forward)") {
		t.Fatalf("report:\n%s", r.stderr)
	}
	unchanged(t, remote, before)

	// Going back to the parent is not a fast-forward either.
	wantCode(t, e.push(e.dest(remote), "os/main^:os/main"), 1)
	unchanged(t, remote, before)

	// --force moves it; so does +REFSPEC.
	r = e.push("--force", e.dest(remote), "os/other:os/main")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "(forced update)") {
		t.Fatalf("report:\n%s", r.stderr)
	}
	if got := testrepo.RevParse(t, remote, "os/main"); got != testrepo.RevParse(t, e.src, "os/other") {
		t.Fatalf("forced: remote os/main = %s", got)
	}
	wantCode(t, e.push(e.dest(remote), "+os/main:os/main"), 0)
	sameRef(t, e.src, remote, "os/main")
	testrepo.Fsck(t, remote)
}

func TestStaleRefRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 100)
	remote := e.remote("archive")
	wantCode(t, e.push(e.dest(remote), "os/main"), 0)
	os.WriteFile(filepath.Join(e.tree, "more"), []byte("more\n"), 0o644)
	e.commit("os/main", "second")

	// Between the advertisement and the ref update, someone else moves
	// os/main on the remote (here: commits on top of it there).
	other := filepath.Join(e.dir, "other-tree")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "f"), []byte("someone else\n"), 0o644)
	hook := "ostree commit --repo=" + shellQuote(remote) + " -b os/main -s elsewhere --tree=dir=" + shellQuote(other) + " >/dev/null"
	r := e.pushEnv(map[string]string{"OSTREE_RECEIVE_TEST_BEFORE_REFS": hook}, "--json", e.dest(remote), "os/main")
	wantCode(t, r, 1)
	res := parseJSON(t, r)
	if res.Refs[0].Status != "rejected" || res.Refs[0].Reason != "stale" {
		t.Fatalf("refs %+v: want rejected, stale", res.Refs)
	}
	if log := testrepo.Ostree(t, "log", "--repo="+remote, "os/main"); !strings.Contains(log, "elsewhere") {
		t.Fatalf("the other writer's commit was overwritten:\n%s", log)
	}
	testrepo.Fsck(t, remote)
}

func TestMultiRefAtomic(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 100)
	remote := e.remote("archive")
	e.commit("os/a", "a")
	e.commit("os/b", "b")
	wantCode(t, e.push(e.dest(remote), "os/a", "os/b"), 0)
	os.WriteFile(filepath.Join(e.tree, "more"), []byte("more\n"), 0o644)
	e.commit("os/a", "a2")
	e.commit("os/b", "b2")

	// os/b moves on the remote meanwhile: neither ref may move.
	hook := "ostree reset --repo=" + shellQuote(remote) + " os/b os/b^ 2>/dev/null || ostree commit --repo=" +
		shellQuote(remote) + " -b os/b -s moved --tree=ref=os/b >/dev/null"
	before := testrepo.Ostree(t, "refs", "--repo="+remote, "--list")
	aBefore := testrepo.RevParse(t, remote, "os/a")
	r := e.pushEnv(map[string]string{"OSTREE_RECEIVE_TEST_BEFORE_REFS": hook}, "--json", e.dest(remote), "os/a", "os/b")
	wantCode(t, r, 1)
	res := parseJSON(t, r)
	got := map[string]string{}
	for _, ref := range res.Refs {
		got[ref.Ref] = ref.Reason
	}
	if got["os/a"] != "atomic" || got["os/b"] != "stale" {
		t.Fatalf("reasons %v: want os/a atomic, os/b stale", got)
	}
	if testrepo.RevParse(t, remote, "os/a") != aBefore {
		t.Fatal("os/a moved although os/b was rejected")
	}
	_ = before
	testrepo.Fsck(t, remote)

	// A push of several refs that all hold moves them all.
	wantCode(t, e.push("--force", e.dest(remote), "os/a", "os/b"), 0)
	sameRef(t, e.src, remote, "os/a")
	sameRef(t, e.src, remote, "os/b")
}

func TestDeleteRef(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 50)
	remote := e.remote("archive")
	e.commit("os/gone", "to delete")
	wantCode(t, e.push(e.dest(remote), "os/main", "os/gone"), 0)
	r := e.push(e.dest(remote), ":os/gone")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "[deleted]") {
		t.Fatalf("report:\n%s", r.stderr)
	}
	if got := testrepo.RevParse(t, remote, "os/gone"); got != "" {
		t.Fatalf("os/gone still resolves to %s", got)
	}
	sameRef(t, e.src, remote, "os/main")
	// Deleting a ref that is not there is an error.
	wantCode(t, e.push(e.dest(remote), ":os/gone"), 1)
	testrepo.Fsck(t, remote)
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 100)
	remote := e.remote("archive")
	before := snap(t, remote)
	r := e.push("--dry-run", "--json", e.dest(remote), "os/main")
	wantCode(t, r, 0)
	res := parseJSON(t, r)
	if !res.DryRun || res.Refs[0].Status != "created" || res.ObjectsSent != countReachable(t, e.src, "os/main") || res.BytesSent == 0 {
		t.Fatalf("dry run: %+v", res)
	}
	unchanged(t, remote, before)
	r = e.push("-n", e.dest(remote), "os/main")
	if !strings.Contains(r.stderr, "(dry run)") || !strings.Contains(r.stderr, "would send") {
		t.Fatalf("dry-run report:\n%s", r.stderr)
	}
	unchanged(t, remote, before)
}

func TestAllRefsByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 50)
	e.commit("os/second", "second ref")
	remote := e.remote("bare-user")
	wantCode(t, e.push(e.dest(remote)), 0)
	sameRef(t, e.src, remote, "os/main")
	sameRef(t, e.src, remote, "os/second")
	testrepo.Fsck(t, remote)
}

func TestURLDestination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 50)
	remote := e.remote("archive")
	wantCode(t, e.push("ssh://"+e.ssh.Host()+":"+e.ssh.Port+remote, "os/main"), 0)
	sameRef(t, e.src, remote, "os/main")
}

func TestLocalTransport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 100)
	remote := e.remote("bare-user")
	// No ssh at all: the receiver beside ostree-push runs directly.
	cmd := []string{"--repo=" + e.src, "--json", remote, "os/main"}
	out, err := execPush(t, cmd...)
	if err != nil {
		t.Fatalf("local push: %v\n%s", err, out)
	}
	testrepo.Fsck(t, remote)
	sameRef(t, e.src, remote, "os/main")
	out, err = execPush(t, "--repo="+e.src, "file://"+remote, "os/main")
	if err != nil || !strings.Contains(out, "[up to date]") {
		t.Fatalf("file:// push: %v\n%s", err, out)
	}
}

func TestReceiverKilledBeforeRefs(t *testing.T) {
	e := newEnv(t, 200)
	remote := e.remote("archive")
	before := snap(t, remote)
	// The receiver dies after staging every object, before moving refs.
	r := e.pushEnv(map[string]string{"OSTREE_RECEIVE_TEST_BEFORE_REFS": "kill -9 $PPID"}, e.dest(remote), "os/main")
	wantCode(t, r, 1)
	unchanged(t, remote, before)
	// The next push succeeds.
	wantCode(t, e.push(e.dest(remote), "os/main"), 0)
	sameRef(t, e.src, remote, "os/main")
	testrepo.Fsck(t, remote)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for i, args := range [][]string{
		{},
		{"--no-such-flag", "x"},
		{"host:/repo", "a:b:c"},
		{"host:/repo", ":"},
	} {
		out, err := execPush(t, args...)
		if code := exitCode(err); code != 2 {
			t.Errorf("#%d ostree-push %v: exit %d, want 2\n%s", i, args, code, out)
		}
	}
	out, err := execPush(t, "--version")
	if err != nil || !strings.HasPrefix(out, "ostree-push ") || !strings.Contains(out, "libostree 2022.7") {
		t.Errorf("--version: %v %q", err, out)
	}
}

// TestUnknownRefBeforeSSH: a ref that matches nothing locally is an error
// before ssh (or a local receiver) starts, with and without --to.
func TestUnknownRefBeforeSSH(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5)
	marker := filepath.Join(e.dir, "ssh-started")
	ssh := "sh -c 'touch " + marker + "; exit 255'"
	for _, args := range [][]string{
		{"nohost:/x", "os/mian"},
		{"--to", "nohost:/x", "--to", "other:/y", "os/mian"},
		{"nohost:/x", "os/main", "os/mian:os/other"},
	} {
		cmd := exec.Command(filepath.Join(binDir, "ostree-push"), append([]string{"--repo=" + e.src, "--ssh-command=" + ssh}, args...)...)
		out, err := cmd.CombinedOutput()
		if code := exitCode(err); code != 1 || !strings.Contains(string(out), "os/mian does not match any local ref or commit") {
			t.Errorf("ostree-push %q: exit %d, output %q", args, code, out)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("ostree-push %q started ssh before finding os/mian missing", args)
			os.Remove(marker)
		}
	}
}

// TestUnreachableHost: when ssh itself fails (exit 255) before the other
// side says anything, ostree-push and ostree-pull-ssh say they cannot
// reach the host, not a protocol error.
func TestUnreachableHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5)
	ssh := "sh -c 'echo ssh: connect to host nohost port 22: Connection refused >&2; exit 255'"
	for _, prog := range []string{"ostree-push", "ostree-pull-ssh"} {
		cmd := exec.Command(filepath.Join(binDir, prog), "--repo="+e.src, "--ssh-command="+ssh, "nohost:/x", "os/main")
		out, err := cmd.CombinedOutput()
		want := prog + ": cannot reach nohost: ssh exited with status 255 (its message is above)"
		if code := exitCode(err); code != 1 || !strings.Contains(string(out), want) || strings.Contains(string(out), "protocol error") {
			t.Errorf("%s to an unreachable host: exit %d, output %q, want %q", prog, code, out, want)
		}
	}
	// ssh also exits 255, and says nothing, when the remote command is
	// killed by a signal: no "message above" to point at.
	ssh = "sh -c 'exit 255'"
	for _, prog := range []string{"ostree-push", "ostree-pull-ssh"} {
		cmd := exec.Command(filepath.Join(binDir, prog), "--repo="+e.src, "--ssh-command="+ssh, "host:/x", "os/main")
		out, err := cmd.CombinedOutput()
		want := prog + ": ssh to host exited with status 255 and no message: the connection failed, or the remote command was killed"
		if code := exitCode(err); code != 1 || !strings.Contains(string(out), want) {
			t.Errorf("%s, remote command killed: exit %d, output %q, want %q", prog, code, out, want)
		}
	}
}

// TestNestedRefNames: libostree keeps a ref in a file named after it, so a
// ref "nest" and a ref "nest/x" cannot both exist. A push that would need
// both is refused as a whole, with a status naming the other ref, and the
// repository takes the next push as before (the receiver once moved the
// first ref, failed on the second, and left a ref journal that no later
// push could settle).
func TestNestedRefNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5)
	remote := e.remote("archive")
	wantCode(t, e.push(e.dest(remote), "os/main:nest"), 0)
	for _, refs := range [][]string{
		{"os/main:nest/x"},                   // under an existing ref
		{"os/main:other", "os/main:other/x"}, // two of one push
		{"os/main:z", "os/main:nest/deeper/y"},
	} {
		r := e.push(append([]string{e.dest(remote)}, refs...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "cannot exist beside") {
			t.Errorf("push %v: exit %d, want a refusal saying the refs cannot exist beside each other\n%s", refs, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(remote, "ostree-push-refs.journal")); err == nil {
		t.Error("a ref journal was left behind")
	}
	for _, ref := range []string{"other", "z"} {
		if out, err := testrepo.OstreeErr("rev-parse", "--repo="+remote, ref); err == nil {
			t.Errorf("%s moved although its push was refused: %s", ref, out)
		}
	}
	wantCode(t, e.push(e.dest(remote), "os/main:after"), 0)
	testrepo.Fsck(t, remote)
}
