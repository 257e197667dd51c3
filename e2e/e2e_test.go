// Package e2e tests ostree-push and ostree-receive as a user runs them:
// the built binaries, pushing through a real OpenSSH sshd on 127.0.0.1 that
// the tests start with their own keys, between repositories made by the
// ostree command, which is also the oracle (fsck, rev-parse, ls, log).
//
// Tests that measure time, memory or processes (bigfile, concurrent, fault,
// hostile, a receiver killed) run alone; the others call t.Parallel and run
// together once those are done, as many at a time as -parallel allows.
package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/s3test"
	"github.com/ostree-push/ostree-push/internal/sshtest"
	"github.com/ostree-push/ostree-push/internal/testrepo"
)

var binDir string

// TestMain builds the binaries once, with the race detector and the test
// hooks (the ostreepush_testhooks tag: see internal/testhooks). Under
// -short (make test, the fast tier) it runs nothing: every test here needs
// an sshd, and some need root; make check runs them all.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped under -short (make test); make check runs the end-to-end tests")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "ostree-push-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	root, err := sshtest.RepoRoot()
	if err == nil {
		for _, cmd := range []string{"ostree-push", "ostree-receive", "ostree-receive-shell", "ostree-pull-ssh"} {
			build := exec.Command("go", "build", "-race", "-tags", "ostreepush_testhooks", "-o", filepath.Join(dir, cmd), "./cmd/"+cmd)
			build.Dir = root
			if out, berr := build.CombinedOutput(); berr != nil {
				err = fmt.Errorf("building %s: %v\n%s", cmd, berr, out)
				break
			}
		}
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	s3test.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one test's world: a source repository, an sshd, and helpers to
// run ostree-push against it.
type env struct {
	t    *testing.T
	dir  string
	ssh  *sshtest.Server
	src  string // the local (source) repository
	tree string // the tree the source's commits are made from
}

func newEnv(t *testing.T, files int) *env {
	t.Helper()
	testrepo.RequireTools(t)
	e := &env{t: t, dir: t.TempDir()}
	e.ssh = sshtest.Start(t)
	e.src = filepath.Join(e.dir, "src")
	e.tree = filepath.Join(e.dir, "tree")
	testrepo.GenerateTree(t, e.tree, testrepo.TreeOptions{Files: files, Seed: 7})
	testrepo.Init(t, e.src, "archive")
	e.commit("os/main", "first")
	return e
}

// commit commits the tree to branch in the source and returns the checksum.
func (e *env) commit(branch, subject string, extra ...string) string {
	e.t.Helper()
	return testrepo.Commit(e.t, e.src, branch, e.tree, subject, extra...)
}

// remote makes an empty destination repository (its path has a space and
// a quote, so the remote command must be quoted right).
func (e *env) remote(mode string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, "remote "+mode+"'s repo")
	testrepo.Init(e.t, p, mode)
	return p
}

type run struct {
	stdout, stderr string
	code           int
}

// push runs ostree-push through the test sshd with extra environment
// variables for the remote ostree-receive (see receiveEnv).
func (e *env) pushEnv(receiveEnv map[string]string, args ...string) run {
	e.t.Helper()
	receive := "'" + filepath.Join(binDir, "ostree-receive") + "'"
	if len(receiveEnv) > 0 {
		var kv []string
		for k, v := range receiveEnv {
			kv = append(kv, k+"="+shellQuote(v))
		}
		receive = "env " + strings.Join(kv, " ") + " " + receive
	}
	cmd := exec.Command(filepath.Join(binDir, "ostree-push"),
		append([]string{"--repo=" + e.src, "--receive-command=" + receive}, args...)...)
	cmd.Env = append(os.Environ(), "OSTREE_PUSH_SSH=ssh -F "+e.ssh.ConfigFile)
	return runCmd(e.t, cmd, "ostree-push "+strings.Join(args, " "))
}

func (e *env) push(args ...string) run {
	e.t.Helper()
	return e.pushEnv(nil, args...)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// dest is the scp-like destination of a remote path through the test sshd.
func (e *env) dest(path string) string { return e.ssh.Host() + ":" + path }

type jsonResult struct {
	Refs []struct {
		Ref, Old, New, Status, Reason, Message string
		Signed                                 bool `json:"signatures_updated"`
	} `json:"refs"`
	ObjectsSent int     `json:"objects_sent"`
	BytesSent   int64   `json:"bytes_sent"`
	Seconds     float64 `json:"seconds"`
	DryRun      bool    `json:"dry_run"`
}

func parseJSON(t *testing.T, r run) jsonResult {
	t.Helper()
	var res jsonResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json output %q: %v", r.stdout, err)
	}
	return res
}

func wantCode(t *testing.T, r run, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
}

// sameRef checks that ref resolves to the same commit in both repositories.
func sameRef(t *testing.T, a, b, ref string) {
	t.Helper()
	ra, rb := testrepo.RevParse(t, a, ref), testrepo.RevParse(t, b, ref)
	if ra == "" || ra != rb {
		t.Fatalf("%s: %q in %s, %q in %s", ref, ra, a, rb, b)
	}
}

// snapshot is what a reader sees of a repository: its refs and objects.
type snapshot struct {
	refs    string
	objects []string
}

func snap(t *testing.T, repo string) snapshot {
	t.Helper()
	return snapshot{refs: testrepo.Ostree(t, "refs", "--repo="+repo), objects: testrepo.ObjectFiles(t, repo)}
}

func unchanged(t *testing.T, repo string, before snapshot) {
	t.Helper()
	after := snap(t, repo)
	if after.refs != before.refs {
		t.Fatalf("refs changed:\n%s\n->\n%s", before.refs, after.refs)
	}
	if !reflect.DeepEqual(after.objects, before.objects) {
		t.Fatalf("objects/ changed: %d -> %d files", len(before.objects), len(after.objects))
	}
	testrepo.Fsck(t, repo)
}

// countReachable counts the objects of a commit as ostree sees them: the
// commit, every dirtree and dirmeta and every distinct file object.
func countReachable(t *testing.T, repo, rev string) int {
	t.Helper()
	out := testrepo.Ostree(t, "ls", "--repo="+repo, "-R", "-C", rev)
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 6 && f[0][0] == 'd': // dir: mode uid gid tree meta path
			seen[f[4]+".dirtree"] = true
			seen[f[5]+".dirmeta"] = true
		case len(f) >= 5:
			seen[f[4]+".file"] = true
		}
	}
	return len(seen) + 1 // and the commit
}
