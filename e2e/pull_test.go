package e2e

// Pull over ssh: ostree-pull-ssh runs ostree-push --stdio on the far side
// of the test sshd and receives into a local repository, with a push's
// guarantees.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// pullRun runs ostree-pull-ssh from the source repository (e.src, seen as
// the remote) into local, through the test sshd.
func (e *env) pullRun(local string, senderEnv map[string]string, args ...string) run {
	e.t.Helper()
	send := "env " + goraceEnv()
	for k, v := range senderEnv {
		send += " " + shellQuote(k+"="+v)
	}
	send += " " + shellQuote(filepath.Join(binDir, "ostree-push"))
	argv := append([]string{"--repo=" + local, "--send-command=" + send,
		"--ssh-command=ssh -F " + shellQuote(e.ssh.ConfigFile)}, args...)
	cmd := exec.Command(filepath.Join(binDir, "ostree-pull-ssh"), argv...)
	cmd.Env = append(os.Environ(), goraceEnv())
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := run{stdout: stdout.String(), stderr: stderr.String(), code: exitCode(err)}
	e.t.Logf("ostree-pull-ssh %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	return r
}

func TestPullOverSSH(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 120)
	source := e.dest(e.src)
	for _, mode := range []string{"bare-user", "archive"} {
		t.Run(mode, func(t *testing.T) {
			local := filepath.Join(t.TempDir(), "local "+mode)
			testrepo.Init(t, local, mode)

			r := e.pullRun(local, nil, "--json", source, "os/main")
			wantCode(t, r, 0)
			first := parseJSON(t, r)
			if want := countReachable(t, e.src, "os/main"); int(first.ObjectsSent) != want {
				t.Errorf("fresh pull received %d objects, want %d", first.ObjectsSent, want)
			}
			sameRef(t, e.src, local, "os/main")
			testrepo.Fsck(t, local)

			// Up to date: nothing moves.
			r = e.pullRun(local, nil, "--json", source, "os/main")
			wantCode(t, r, 0)
			if j := parseJSON(t, r); j.ObjectsSent != 0 || j.Refs[0].Status != "up-to-date" {
				t.Errorf("second pull: %+v", j)
			}
		})
	}

	local := filepath.Join(t.TempDir(), "local")
	testrepo.Init(t, local, "bare-user")
	wantCode(t, e.pullRun(local, nil, source, "os/main"), 0)

	// Incremental: one new file, so a commit, its dirtrees and the file.
	os.WriteFile(filepath.Join(e.tree, "pulled-later"), []byte("new\n"), 0o644)
	e.commit("os/main", "second")
	r := e.pullRun(local, nil, "--json", source, "os/main")
	wantCode(t, r, 0)
	if j := parseJSON(t, r); j.ObjectsSent == 0 || j.ObjectsSent > 6 {
		t.Errorf("incremental pull received %d objects", j.ObjectsSent)
	}
	sameRef(t, e.src, local, "os/main")

	// Signed at the source since: the pull brings the signature alone.
	key, _, _ := edKey(t, e.dir, "pulled", 9)
	signEd25519(t, e.src, "os/main", key)
	r = e.pullRun(local, nil, "--json", source, "os/main")
	wantCode(t, r, 0)
	if j := parseJSON(t, r); j.ObjectsSent != 1 || j.Refs[0].Status != "up-to-date" || !j.Refs[0].Signed {
		t.Errorf("pull of a signature: %+v", j)
	}
	c := testrepo.RevParse(t, e.src, "os/main")
	want, _ := os.ReadFile(filepath.Join(e.src, "objects", c[:2], c[2:]+".commitmeta"))
	if got, _ := os.ReadFile(filepath.Join(local, "objects", c[:2], c[2:]+".commitmeta")); len(want) == 0 || string(got) != string(want) {
		t.Errorf("the pulled detached metadata differs from the source's")
	}

	// SRC:DST into another local ref; a dry run changes nothing.
	before := snap(t, local)
	wantCode(t, e.pullRun(local, nil, "--dry-run", source, "os/main:mirror/main"), 0)
	unchanged(t, local, before)
	wantCode(t, e.pullRun(local, nil, source, "os/main:mirror/main"), 0)
	if testrepo.RevParse(t, local, "mirror/main") != testrepo.RevParse(t, e.src, "os/main") {
		t.Error("os/main:mirror/main did not land")
	}

	// The local ref moved on its own: the pull is not a fast-forward and is
	// rejected unless forced.
	os.WriteFile(filepath.Join(e.tree, "local-only"), []byte("x\n"), 0o644)
	testrepo.Commit(t, local, "os/main", e.tree, "local work")
	before = snap(t, local)
	r = e.pullRun(local, nil, source, "os/main")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "non-fast-forward") {
		t.Errorf("non-fast-forward pull said: %s", r.stderr)
	}
	unchanged(t, local, before)
	wantCode(t, e.pullRun(local, nil, source, "+os/main"), 0)
	sameRef(t, e.src, local, "os/main")

	// A deletion makes no sense in a pull.
	wantCode(t, e.pullRun(local, nil, source, ":os/main"), 2)
}

// TestPullInterrupted: the sender dies in the middle of the objects; the
// local repository is left as it was, and the next pull lands.
func TestPullInterrupted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 150)
	local := filepath.Join(t.TempDir(), "local")
	testrepo.Init(t, local, "archive")
	before := snap(t, local)
	r := e.pullRun(local, map[string]string{"OSTREE_PUSH_FAULT": "push:object@40"}, e.dest(e.src), "os/main")
	if r.code == 0 {
		t.Fatal("a pull whose sender died exited 0")
	}
	unchanged(t, local, before)
	wantCode(t, e.pullRun(local, nil, e.dest(e.src), "os/main"), 0)
	sameRef(t, e.src, local, "os/main")
	testrepo.Fsck(t, local)
}
