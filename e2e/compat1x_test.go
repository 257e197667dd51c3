package e2e

// Mixed versions with ostree-push 1.x, the Python line distributions ship:
// Debian's package (unpacked by ci/setup into build/ostree-push-1.x, never
// installed, never on PATH) run with Debian's python3 against our receiver
// through the test sshd, directly and through ostree-receive-shell as the
// key's forced command. The ostree command is the oracle: the refs keep the
// builder's checksums (1.x re-committed them), fsck is clean.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ostree-push/ostree-push/internal/sshtest"
	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// python1x returns where ci/setup unpacked Debian's ostree-push 1.x, and
// its version; it skips the test (fails it under CI=true) when that is
// missing or cannot run.
func python1x(t *testing.T) (dir, version string) {
	t.Helper()
	root, err := sshtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(root, "build", "ostree-push-1.x")
	v, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if err == nil {
		probe := exec.Command("/usr/bin/python3", "-c", "import gi, yaml; gi.require_version('OSTree', '1.0'); from gi.repository import OSTree")
		if out, perr := probe.CombinedOutput(); perr != nil {
			err = &exec.Error{Name: "python3 with gi, yaml and OSTree 1.0", Err: perr}
			t.Logf("%s", out)
		}
	}
	if err != nil {
		msg := "Debian's ostree-push 1.x is not usable here (run ci/setup): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir, strings.TrimSpace(string(v))
}

// env1x is a test world for mixed versions: a source with os/main and the
// ref app, an empty archive repository dst, and a receiver configuration
// holding conf.
func env1x(t *testing.T, files int, app, conf string) (e *env, dst, confPath string) {
	t.Helper()
	e = newEnv(t, files)
	python1x(t)
	e.commit(app, "first")
	dst = filepath.Join(e.dir, "dst")
	testrepo.Init(t, dst, "archive")
	confPath = filepath.Join(e.dir, "receive.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return e, dst, confPath
}

// python1xCommand is a remote command line that runs program of 1.x with
// Debian's python3.
func python1xCommand(t *testing.T, program string) string {
	dir, _ := python1x(t)
	return "env PYTHONPATH=" + shellQuote(filepath.Join(dir, "usr", "lib", "python3", "dist-packages")) +
		" /usr/bin/python3 " + shellQuote(filepath.Join(dir, "usr", "bin", program))
}

// run1x runs a program of ostree-push 1.x with Debian's python3, with an
// ssh on PATH that reaches the test sshd (1.x runs plain `ssh`).
func (e *env) run1x(program string, args ...string) run {
	e.t.Helper()
	dir, version := python1x(e.t)
	wrap := filepath.Join(e.dir, "ssh-for-1x")
	if err := os.MkdirAll(wrap, 0o755); err != nil {
		e.t.Fatal(err)
	}
	script := "#!/bin/sh\nexec /usr/bin/ssh -F " + shellQuote(e.ssh.ConfigFile) + ` "$@"` + "\n"
	if err := os.WriteFile(filepath.Join(wrap, "ssh"), []byte(script), 0o755); err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", append([]string{filepath.Join(dir, "usr", "bin", program)}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+wrap+":/usr/bin:/bin",
		"PYTHONPATH="+filepath.Join(dir, "usr", "lib", "python3", "dist-packages"))
	return runCmd(e.t, cmd, program+" "+version+" "+strings.Join(args, " "))
}

// sameRefs checks that dst's refs are src's, checksum for checksum.
func sameRefs(t *testing.T, src, dst string, refs ...string) {
	t.Helper()
	for _, r := range refs {
		if s, d := testrepo.RevParse(t, src, r), testrepo.RevParse(t, dst, r); s != d {
			t.Errorf("%s: remote %s, local %s: the checksum was not kept", r, d, s)
		}
	}
}

// TestClient1xToOurReceiver: Debian's ostree-push 1.x pushes to our
// ostree-receive, run directly by the key.
func TestClient1xToOurReceiver(t *testing.T) {
	t.Parallel()
	e, dst, conf := env1x(t, 30, "app/one", "update: ostree\n")
	receive := "env OSTREE_RECEIVE_CONF=" + conf + " " + filepath.Join(binDir, "ostree-receive")
	push := func(args ...string) run {
		return e.run1x("ostree-push", append([]string{"--repo=" + e.src, "--command=" + receive}, args...)...)
	}

	// Every ref, fresh.
	if r := push(e.dest(dst)); r.code != 0 || !strings.Contains(r.stderr, "[new ref]") {
		t.Fatalf("1.x push of every ref: exit %d", r.code)
	}
	sameRefs(t, e.src, dst, "os/main", "app/one")
	testrepo.Fsck(t, dst)
	if out := testrepo.Ostree(t, "--repo="+dst, "summary", "--view"); !strings.Contains(out, "os/main") || !strings.Contains(out, "app/one") {
		t.Errorf("the summary does not list the refs:\n%s", out)
	}

	// One ref, a fast-forward, through ostree-receive-1 (what 1.2 runs
	// first), installed as make install does: a symlink.
	link := filepath.Join(e.dir, "bin", "ostree-receive-1")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(binDir, "ostree-receive"), link); err != nil {
		t.Fatal(err)
	}
	testrepo.ChangeTree(t, e.tree, 3, 10)
	e.commit("os/main", "second")
	r := e.run1x("ostree-push", "--repo="+e.src, "--command=env OSTREE_RECEIVE_CONF="+conf+" "+link, e.dest(dst), "os/main")
	if r.code != 0 {
		t.Fatalf("1.x push of a new commit through ostree-receive-1: exit %d", r.code)
	}
	sameRefs(t, e.src, dst, "os/main")

	// A dry run (1.x's -n) moves nothing and says so.
	before := testrepo.RevParse(t, dst, "os/main")
	testrepo.ChangeTree(t, e.tree, 4, 10)
	e.commit("os/main", "third")
	if r := push("-n", e.dest(dst), "os/main"); r.code != 0 || !strings.Contains(r.stderr, "dry run") {
		t.Fatalf("1.x dry run: exit %d", r.code)
	}
	if got := testrepo.RevParse(t, dst, "os/main"); got != before {
		t.Fatalf("a dry run moved os/main to %s", got)
	}

	// Back to an older commit: not a fast-forward, refused, and said.
	testrepo.Ostree(t, "--repo="+e.src, "reset", "os/main", before+"^")
	r = push(e.dest(dst), "os/main")
	if r.code == 0 || !strings.Contains(r.stderr, "non-fast-forward") {
		t.Fatalf("a non-fast-forward from 1.x: exit %d", r.code)
	}
	if got := testrepo.RevParse(t, dst, "os/main"); got != before {
		t.Fatalf("a refused push moved os/main to %s", got)
	}

	// A repository the receiver cannot open: refused, said, no hang.
	if r := push(e.dest(filepath.Join(e.dir, "no-such-repo"))); r.code == 0 || !strings.Contains(r.stderr, "no-such-repo") {
		t.Fatalf("a missing repository: exit %d", r.code)
	}

	// A ref the client lacks.
	if r := push(e.dest(dst), "no/such"); r.code == 0 {
		t.Fatal("a ref the client lacks: exit 0")
	}
	testrepo.Fsck(t, dst)
}

// key1x is the README's authorized_keys options (after command=...) for a
// key that ostree-push 1.x clients use: remote forwarding, listening only
// on the server's loopback, and no other forwarding worth the name.
const key1x = `,restrict,port-forwarding,permitlisten="localhost:*",permitopen="localhost:1"`

// TestClient1xThroughShell: the same through ostree-receive-shell as the
// key's forced command, with 1.0's command (ostree-receive) and 1.2's
// (ostree-receive-1), with the README's key options for 1.x clients; and
// our own client through the same key.
func TestClient1xThroughShell(t *testing.T) {
	t.Parallel()
	e := newShellEnv(t, key1x)
	python1x(t)
	dst := filepath.Join(e.dir, "dst")
	testrepo.Init(t, dst, "archive")
	for i, command := range []string{"ostree-receive", "ostree-receive-1"} {
		if i > 0 {
			testrepo.ChangeTree(t, e.tree, int64(i), 10)
			e.commit("os/main", command)
		}
		r := e.run1x("ostree-push", "--repo="+e.src, "--command="+command, e.dest(dst), "os/main")
		if r.code != 0 {
			t.Fatalf("1.x push through the shell with %s: exit %d", command, r.code)
		}
		sameRefs(t, e.src, dst, "os/main")
	}
	testrepo.ChangeTree(t, e.tree, 9, 10)
	e.commit("os/main", "ours")
	if r := e.shellPush("", e.dest(dst), "os/main"); r.code != 0 {
		t.Fatalf("our client through the same key: exit %d", r.code)
	}
	sameRefs(t, e.src, dst, "os/main")
	testrepo.Fsck(t, dst)
}

// TestClient1xNoPortForwarding: a key with no-port-forwarding (what the
// README recommends for our own clients) refuses 1.x's tunnel before
// anything runs; the README says so.
func TestClient1xNoPortForwarding(t *testing.T) {
	t.Parallel()
	e := newShellEnv(t, ",no-pty,no-port-forwarding")
	python1x(t)
	dst := filepath.Join(e.dir, "dst")
	testrepo.Init(t, dst, "archive")
	r := e.run1x("ostree-push", "--repo="+e.src, e.dest(dst), "os/main")
	if r.code == 0 || !strings.Contains(r.stderr, "port forwarding failed") {
		t.Fatalf("1.x through a no-port-forwarding key: exit %d", r.code)
	}
	if out := testrepo.Ostree(t, "--repo="+dst, "refs"); strings.TrimSpace(out) != "" {
		t.Fatalf("refs appeared: %q", out)
	}
}

// receive1x is a --receive-command that runs Debian's ostree-receive 1.x
// on the test sshd's side, with conf as its configuration.
func receive1x(t *testing.T, conf string) string {
	return "env OSTREE_RECEIVE_CONF=" + shellQuote(conf) + " " + python1xCommand(t, "ostree-receive")
}

// sameTree checks that the remote ref's tree is the local one's, file for
// file (1.x re-commits: the commits differ, the trees must not).
func sameTree(t *testing.T, src, dst, ref string) {
	t.Helper()
	a := testrepo.Ostree(t, "ls", "--repo="+src, "-R", "-C", ref)
	b := testrepo.Ostree(t, "ls", "--repo="+dst, "-R", "-C", ref)
	if a != b {
		t.Errorf("%s: the remote tree differs from the local one", ref)
	}
}

// TestOurClientTo1xServer: our ostree-push against Debian's ostree-receive
// 1.x: the native push is refused by 1.x's command line, and the push is
// made again the 1.x way (HTTP on 127.0.0.1, an ssh tunnel), with an
// honest report per ref.
func TestOurClientTo1xServer(t *testing.T) {
	t.Parallel()
	e, dst, conf := env1x(t, 30, "app/one", "log_level: INFO\n")
	push := func(args ...string) run {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "ostree-push"),
			append([]string{"--repo=" + e.src, "--receive-command=" + receive1x(t, conf)}, args...)...)
		cmd.Env = append(os.Environ(), "OSTREE_PUSH_SSH=ssh -F "+e.ssh.ConfigFile)
		return runCmd(t, cmd, "ostree-push "+strings.Join(args, " "))
	}

	// --server-1x=never: one clear sentence, nothing moved.
	r := push("--server-1x=never", e.dest(dst))
	if r.code != 1 || !strings.Contains(r.stderr, "runs the receiver of ostree-push 1.x") || strings.Contains(r.stderr, "usage:") {
		t.Fatalf("--server-1x=never: exit %d", r.code)
	}

	// --to cannot include a 1.x server: said in one sentence.
	r = push("--to", e.dest(dst), "os/main")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot include: push to it on its own") || strings.Contains(r.stderr, "usage:") {
		t.Fatalf("--to a 1.x server: exit %d", r.code)
	}

	// Every ref, fresh: the 1.x way, re-committed, the same trees.
	r = push(e.dest(dst))
	if r.code != 0 || !strings.Contains(r.stderr, "runs ostree-push 1.x") || !strings.Contains(r.stderr, "[new ref]") ||
		!strings.Contains(r.stderr, "re-committed app/one") || strings.Contains(r.stderr, "usage:") {
		t.Fatalf("push to a 1.x server: exit %d", r.code)
	}
	// 1.x adds Flatpak's metadata to an app/ ref's commit; os/main's
	// copy can come out the same, byte for byte.
	if testrepo.RevParse(t, dst, "app/one") == testrepo.RevParse(t, e.src, "app/one") {
		t.Errorf("app/one: the same checksum: 1.x did not re-commit?")
	}
	for _, ref := range []string{"os/main", "app/one"} {
		sameTree(t, e.src, dst, ref)
	}
	testrepo.Fsck(t, dst)

	// Nothing new: up to date, also for the app, whose copy on the
	// server has another checksum (1.x says: not newer, same content).
	r = push(e.dest(dst), "os/main", "app/one")
	if r.code != 0 || strings.Count(r.stderr, "[up to date]") != 2 {
		t.Fatalf("a second push of the same commits: exit %d", r.code)
	}

	// A new commit, with --json.
	// (1.x compares timestamps: each commit a day later.)
	testrepo.ChangeTree(t, e.tree, 5, 10)
	e.commit("os/main", "second", "--timestamp=2024-01-02T00:00:00Z")
	r = push("--json", e.dest(dst), "os/main")
	var res jsonResult
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || len(res.Refs) != 1 || res.Refs[0].Status != "updated" {
		t.Fatalf("--json push of a new commit: exit %d, %+v", r.code, res)
	}
	sameTree(t, e.src, dst, "os/main")

	// A dry run moves nothing.
	before := testrepo.RevParse(t, dst, "os/main")
	testrepo.ChangeTree(t, e.tree, 6, 10)
	e.commit("os/main", "third", "--timestamp=2024-01-03T00:00:00Z")
	if r = push("-n", e.dest(dst), "os/main"); r.code != 0 || !strings.Contains(r.stderr, "dry run") {
		t.Fatalf("dry run: exit %d", r.code)
	}
	if got := testrepo.RevParse(t, dst, "os/main"); got != before {
		t.Fatalf("a dry run moved os/main")
	}

	// An older commit: 1.x skips it, and the exit status says so; --force
	// makes 1.x take it.
	testrepo.Ostree(t, "--repo="+e.src, "reset", "os/main", "os/main^^")
	if r = push(e.dest(dst), "os/main"); r.code != 1 || !strings.Contains(r.stderr, "skipped by the ostree-push 1.x server") {
		t.Fatalf("an older commit: exit %d", r.code)
	}
	if got := testrepo.RevParse(t, dst, "os/main"); got != before {
		t.Fatalf("a skipped ref moved")
	}
	if r = push("--force", e.dest(dst), "os/main"); r.code != 0 {
		t.Fatalf("--force: exit %d", r.code)
	}
	sameTree(t, e.src, dst, "os/main")
	testrepo.Fsck(t, dst)
}

// TestPullFrom1xHost: ostree-pull-ssh against a host whose ostree-push is
// 1.x's (which has no --stdio) fails with one sentence, not 1.x's
// traceback, and changes nothing here.
func TestPullFrom1xHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10)
	local := filepath.Join(e.dir, "local")
	testrepo.Init(t, local, "archive")
	send := python1xCommand(t, "ostree-push")
	cmd := exec.Command(filepath.Join(binDir, "ostree-pull-ssh"), "--repo="+local, "--send-command="+send,
		"--ssh-command=ssh -F "+shellQuote(e.ssh.ConfigFile), e.dest(e.src), "os/main")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	code := exitCode(cmd.Run())
	t.Logf("ostree-pull-ssh from a 1.x host: exit %d\n%s", code, stderr.String())
	if code != 1 || !strings.Contains(stderr.String(), "runs ostree-push 1.x, which cannot serve a pull") || strings.Contains(stderr.String(), "Traceback") {
		t.Fatalf("exit %d, want 1 and one sentence", code)
	}
	if out := testrepo.Ostree(t, "refs", "--repo="+local); strings.TrimSpace(out) != "" {
		t.Fatalf("refs appeared: %q", out)
	}
}

// TestMigrateServerFirst: a site with 1.x everywhere replaces the server's
// receiver by ours and keeps its 1.x clients. A ref whose commits 1.x
// copied byte for byte (a plain ref, no collection ID) goes on as
// fast-forwards; a Flatpak ref, whose copies 1.x changed (xa.ref,
// xa.from_commit), is not a fast-forward of the server's commit once, and
// the server's force: yes lets it through (the README's migration steps).
func TestMigrateServerFirst(t *testing.T) {
	t.Parallel()
	const app = "app/org.example.App/x86_64/stable"
	e, dst, conf := env1x(t, 20, app, "update: yes\n") // 1.x and ours read the same file
	writeConf := func(s string) {
		if err := os.WriteFile(conf, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ours := "env OSTREE_RECEIVE_CONF=" + conf + " " + filepath.Join(binDir, "ostree-receive")

	// 1.x on both sides.
	if r := e.run1x("ostree-push", "--repo="+e.src, "--command="+receive1x(t, conf), e.dest(dst)); r.code != 0 {
		t.Fatalf("1.x to 1.x: exit %d", r.code)
	}
	recommitted := testrepo.RevParse(t, dst, app)
	if recommitted == testrepo.RevParse(t, e.src, app) {
		t.Fatal("1.x did not change the app's commit")
	}

	// The server now runs ours; the builder's new commits.
	testrepo.ChangeTree(t, e.tree, 8, 10)
	e.commit("os/main", "second", "--timestamp=2024-01-02T00:00:00Z")
	e.commit(app, "app 2", "--timestamp=2024-01-02T00:00:00Z")
	r := e.run1x("ostree-push", "--repo="+e.src, "--command="+ours, e.dest(dst))
	if r.code == 0 || !strings.Contains(r.stderr, "non-fast-forward") || !strings.Contains(r.stderr, "force: yes") {
		t.Fatalf("the app after the switch: exit %d, want a non-fast-forward refusal with the hint", r.code)
	}
	if got := testrepo.RevParse(t, dst, app); got != recommitted {
		t.Fatal("a refused push moved the app")
	}
	// os/main alone is a fast-forward: 1.x's copies were the builder's
	// commits, byte for byte.
	if r := e.run1x("ostree-push", "--repo="+e.src, "--command="+ours, e.dest(dst), "os/main"); r.code != 0 {
		t.Fatalf("os/main after the switch: exit %d", r.code)
	}
	sameRefs(t, e.src, dst, "os/main")

	// For the transition: force: yes on the server.
	writeConf("update: yes\nforce: yes\n")
	if r := e.run1x("ostree-push", "--repo="+e.src, "--command="+ours, e.dest(dst)); r.code != 0 || !strings.Contains(r.stderr, "forced update") {
		t.Fatalf("with force: yes: exit %d", r.code)
	}
	sameRefs(t, e.src, dst, "os/main", app)
	testrepo.Fsck(t, dst)
}

// TestHostile1xURL: a client with a push-only key names, as its URL,
// another service on the server's loopback (here a web server of another
// repository) or an address elsewhere: refused before anything is read,
// nothing lands.
func TestHostile1xURL(t *testing.T) {
	t.Parallel()
	e := newShellEnv(t, key1x)
	dst := filepath.Join(e.dir, "dst")
	testrepo.Init(t, dst, "archive")
	other := httptest.NewServer(http.FileServer(http.Dir(e.src))) // not the session's tunnel
	defer other.Close()
	var asked atomic.Int64
	other.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.FileServer(http.Dir(e.src)).ServeHTTP(w, r)
	})
	for _, tt := range []struct{ url, want string }{
		{other.URL, "not the client's tunnel"},
		{"http://127.0.0.1:1", "nothing listens"},
		{"http://192.0.2.1:80", "only a loopback address"},
		{"file:///etc", "extra argument"},
	} {
		r := e.sshExec(e.ssh.Host(), "ostree-receive "+shellQuote(dst)+" "+shellQuote(tt.url)+" os/main")
		if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("URL %s: exit %d; want a refusal with %q", tt.url, r.code, tt.want)
		}
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the other service was asked %d times", n)
	}
	if out := testrepo.Ostree(t, "refs", "--repo="+dst); strings.TrimSpace(out) != "" {
		t.Fatalf("refs appeared: %q", out)
	}
}

// TestOurClientThrough1xShell: our client against a 1.x server whose key
// runs 1.x's ostree-receive-shell as sshd runs a login shell (`SHELL -c
// COMMAND`; 1.x's shell cannot be a forced command by itself): the native
// try is refused by 1.x's receiver, and the 1.x way goes through its shell.
func TestOurClientThrough1xShell(t *testing.T) {
	t.Parallel()
	testrepo.RequireTools(t)
	python1x(t)
	conf := filepath.Join(t.TempDir(), "receive1x.conf")
	if err := os.WriteFile(conf, []byte("log_level: INFO\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shell := "env OSTREE_RECEIVE_CONF=" + shellQuote(conf) + " " + python1xCommand(t, "ostree-receive-shell") + ` -c "$SSH_ORIGINAL_COMMAND"`
	e := newShellEnvWith(t, sshtest.Options{KeyOptions: `command="` + strings.ReplaceAll(shell, `"`, `\"`) + `",no-pty`})
	dst := filepath.Join(e.dir, "dst")
	testrepo.Init(t, dst, "archive")
	r := e.shellPush("", e.dest(dst), "os/main")
	if r.code != 0 || !strings.Contains(r.stderr, "runs ostree-push 1.x") {
		t.Fatalf("through 1.x's shell: exit %d", r.code)
	}
	sameTree(t, e.src, dst, "os/main")
	testrepo.Fsck(t, dst)
}
