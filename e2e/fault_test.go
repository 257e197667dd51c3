package e2e

// Fault injection: pushes killed at every step, on every side (ostree-push,
// the ssh between them, ostree-receive), with SIGKILL and SIGTERM. After each
// kill the remote must be as it was (same refs, same files in objects/) or,
// when the kill came late enough, hold the whole push; ostree fsck must pass,
// no ref may point at an incomplete commit, and the next push must land.
//
// The short form (go test ./e2e/) runs a representative matrix; with
// OSTREE_PUSH_STRESS=1 (ci/stress) the whole matrix runs several times, plus
// random scenarios whose seed is printed (OSTREE_PUSH_FAULT_SEED replays it).
// Each scenario logs a "RELIABILITY: scenario=... runs=... failures=..." line
// for ci/stress's table.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// stress reports whether the long forms run (OSTREE_PUSH_STRESS=1).
func stress() bool { return os.Getenv("OSTREE_PUSH_STRESS") == "1" }

// goraceEnv stops race-built binaries from sleeping a second at exit
// (ThreadSanitizer's atexit_sleep_ms), which would double a push's time.
func goraceEnv() string {
	g := os.Getenv("GORACE")
	if !strings.Contains(g, "atexit_sleep_ms") {
		g = strings.TrimSpace(g + " atexit_sleep_ms=0")
	}
	return "GORACE=" + g
}

// reliability logs the line ci/stress collects into RELIABILITY.md's table.
func reliability(t *testing.T, scenario string, runs, failures int, extra ...string) {
	t.Helper()
	line := fmt.Sprintf("RELIABILITY: scenario=%s runs=%d failures=%d", scenario, runs, failures)
	if len(extra) > 0 {
		line += " " + strings.Join(extra, " ")
	}
	t.Log(line)
}

// requireTool fails (CI=true) or skips when an external tool is missing.
func requireTool(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (run ci/setup): %v", path, err)
		}
		t.Skipf("%s not found (run ci/setup): %v", path, err)
	}
}

// pushCall is one ostree-push run with everything a reliability test may
// want to change.
type pushCall struct {
	args        []string          // DEST and refspecs, and options
	clientEnv   []string          // added to ostree-push's environment
	receiveEnv  map[string]string // for the remote ostree-receive
	receiveWrap []string          // words run before the ostree-receive binary
	clientWrap  []string          // words run before the ostree-push binary (e.g. /usr/bin/time)
	bin         string            // directory of the binaries (default binDir)
	sshCommand  string            // default: ssh -F the test sshd's config
	timeout     time.Duration     // default 3 minutes; longer is a hang
	started     func(pid int)     // called once ostree-push runs
}

// pushRun runs ostree-push as c says. A push that does not end within the
// timeout is killed and reported as hung (r.code -1).
func (e *env) pushRun(c pushCall) run {
	e.t.Helper()
	bin := c.bin
	if bin == "" {
		bin = binDir
	}
	words := []string{"env", goraceEnv()}
	var keys []string
	for k := range c.receiveEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		words = append(words, k+"="+c.receiveEnv[k])
	}
	words = append(words, c.receiveWrap...)
	words = append(words, filepath.Join(bin, "ostree-receive"))
	for i, w := range words {
		words[i] = shellQuote(w)
	}
	ssh := c.sshCommand
	if ssh == "" {
		ssh = "ssh -F " + shellQuote(e.ssh.ConfigFile)
	}
	timeout := c.timeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{"--repo=" + e.src, "--receive-command=" + strings.Join(words, " "), "--ssh-command=" + ssh}
	// One try, unless the call asks for retries: the faults here end a
	// push, which a retry would otherwise complete.
	if !slices.ContainsFunc(c.args, func(a string) bool { return strings.HasPrefix(a, "--retry") }) {
		args = append(args, "--retry=0")
	}
	args = append(args, c.args...)
	argv := append(append(append([]string{}, c.clientWrap...), filepath.Join(bin, "ostree-push")), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), goraceEnv()), c.clientEnv...)
	cmd.WaitDelay = 20 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("starting ostree-push: %v", err)
	}
	if c.started != nil {
		c.started(cmd.Process.Pid)
	}
	err := cmd.Wait()
	r := run{stdout: stdout.String(), stderr: stderr.String()}
	switch exit, ok := err.(*exec.ExitError); {
	case ctx.Err() != nil:
		r.code = -1
		e.t.Errorf("ostree-push %s: no result within %v: it hangs\n%s", strings.Join(c.args, " "), timeout, r.stderr)
	case ok:
		r.code = exit.ExitCode()
	case err != nil:
		e.t.Fatalf("running ostree-push: %v", err)
	}
	e.t.Logf("ostree-push %s: exit %d\n%s%s", strings.Join(c.args, " "), r.code, r.stdout, r.stderr)
	return r
}

// copyRepo copies a repository (cp -a) to a new directory of e.dir.
func (e *env) copyRepo(from, name string) string {
	e.t.Helper()
	to := filepath.Join(e.dir, name)
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		e.t.Fatalf("cp -a %s %s: %v\n%s", from, to, err, out)
	}
	return to
}

// waitGone waits until the process whose pid is in file has exited (a
// zombie counts as gone): the receiver must be finished before the
// repository is judged. A missing file means it never started.
func waitGone(t *testing.T, file string, timeout time.Duration) {
	t.Helper()
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %s: %q", file, data)
	}
	deadline := time.Now().Add(timeout)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d (%s) still runs %v after the push ended", pid, file, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// The scripts a fault world installs: the ssh wrapper (records ssh's pid
// and, when the run directory has the fifos, routes the client's output
// through the test's frame-counting proxy) and the receiver wrapper
// (records the receiver's pid).
const sshWrapper = `#!/bin/sh
d=$OSTREE_PUSH_TEST_RUN
echo $$ >"$d/ssh.pid"
if [ -p "$d/up" ]; then
	exec 3<&0
	cat <&3 >"$d/up" 3<&- &
	exec ssh -F "$OSTREE_PUSH_TEST_SSH_CONFIG" "$@" <"$d/down" 3<&-
fi
exec ssh -F "$OSTREE_PUSH_TEST_SSH_CONFIG" "$@"
`

const receiveWrapper = `#!/bin/sh
echo $$ >"$OSTREE_PUSH_TEST_RECEIVER_PID"
exec "$@"
`

// faultWorld is a source repository with new commits for two refs (and,
// for the commit-timing scenarios, a third with a large tree) and a
// template remote holding the old ones, copied for every scenario.
type faultWorld struct {
	e        *env
	template string
	refs     []string
	old, new map[string]string
	total    int   // objects a push to the template sends
	bytes    int64 // and their bytes
	sshWrap  string
	recvWrap string
	window   time.Duration // from the receiver's BEFORE_REFS hook to the end of a push
	mu       sync.Mutex
	n        int
}

func newFaultWorld(t *testing.T, files, bigFiles int) *faultWorld {
	t.Helper()
	e := newEnv(t, files)
	w := &faultWorld{e: e, refs: []string{"os/main", "os/b"}, old: map[string]string{}, new: map[string]string{}}
	marker := filepath.Join(e.tree, "b-marker")
	os.WriteFile(marker, []byte("b one\n"), 0o644)
	e.commit("os/b", "b first", "--orphan")
	w.template = e.remote("archive")
	wantCode(t, e.pushRun(pushCall{args: []string{e.dest(w.template), "os/main", "os/b"}}), 0)
	for _, r := range w.refs {
		w.old[r] = testrepo.RevParse(t, w.template, r)
	}
	testrepo.ChangeTree(t, e.tree, 11, 20)
	w.new["os/main"] = e.commit("os/main", "second")
	os.WriteFile(marker, []byte("b two\n"), 0o644)
	w.new["os/b"] = e.commit("os/b", "b second")
	if bigFiles > 0 {
		big := filepath.Join(e.dir, "big-tree")
		testrepo.GenerateTree(t, big, testrepo.TreeOptions{Files: bigFiles, Seed: 99})
		w.new["os/big"] = testrepo.Commit(t, e.src, "os/big", big, "big")
		w.refs = append(w.refs, "os/big")
	}
	w.sshWrap = filepath.Join(e.dir, "ssh-wrapper")
	w.recvWrap = filepath.Join(e.dir, "receive-wrapper")
	os.WriteFile(w.sshWrap, []byte(sshWrapper), 0o755)
	os.WriteFile(w.recvWrap, []byte(receiveWrapper), 0o755)

	// What a push sends, and how long a receiver takes from its
	// BEFORE_REFS hook (just before the ref lock) to the end of the push:
	// the window in which the commit-timing scenarios kill.
	r := e.pushRun(pushCall{args: append([]string{"--dry-run", "--json", e.dest(w.template)}, w.refs...)})
	wantCode(t, r, 0)
	res := parseJSON(t, r)
	w.total, w.bytes = res.ObjectsSent, res.BytesSent
	scratch := e.copyRepo(w.template, "timing repo")
	stamp := filepath.Join(e.dir, "timing-stamp")
	wantCode(t, e.pushRun(pushCall{
		args:       append([]string{e.dest(scratch)}, w.refs...),
		receiveEnv: map[string]string{"OSTREE_RECEIVE_TEST_BEFORE_REFS": "touch " + shellQuote(stamp)},
	}), 0)
	if fi, err := os.Stat(stamp); err == nil {
		w.window = time.Since(fi.ModTime())
	}
	w.window = max(w.window, 50*time.Millisecond)
	t.Logf("fault world: %d files, refs %v, a push sends %d objects (%d bytes); commit window %v",
		files, w.refs, w.total, w.bytes, w.window)
	return w
}

// faultScenario is where and how a push is killed.
type faultScenario struct {
	side  string // "client", "receiver", "ssh"
	point string // a fault point (client, receiver), an ssh proxy point, or "commit" (timing)
	sig   string // "KILL" or "TERM"
	delay time.Duration
	// autoSummary: the remote has core.auto-update-summary set, so the
	// refs move inside libostree's transaction (commitRefsInTxn) and each
	// ref written outside one regenerates the summary.
	autoSummary bool
}

func (s faultScenario) String() string {
	if s.autoSummary {
		return s.side + "/" + s.sig + "/" + s.point + "/auto-update-summary"
	}
	return s.side + "/" + s.sig + "/" + s.point
}

// ssh proxy points: kill ssh when the client's stream reaches them.
const (
	sshQuery  = "first-query"   // the first QUERY (negotiation)
	sshUpdate = "before-update" // UPDATE, not forwarded
	sshAfter  = "after-update"  // UPDATE forwarded: the receiver commits
)

// landing says what a scenario allows: must the push land, may it?
func (w *faultWorld) landing(s faultScenario) (may, must bool) {
	switch {
	case s.point == "commit": // timing: anything from before the lock to after RESULT
		return true, false
	case s.side == "receiver":
		// The commit protocol's steps (internal/store/commit.go): killed
		// once the objects are in, the push lands when the next receiver
		// settles the ref journal; killed before, it does not.
		switch point, _, _ := strings.Cut(s.point, "@"); point {
		case "receive:committed", "commit:objects", "commit:ref", "commit:refs":
			return true, true
		}
		return false, false
	case s.side == "client":
		// SIGTERM is caught: ostree-push kills ssh, but may have sent
		// UPDATE by then.
		return s.sig == "TERM", false
	case s.side == "ssh":
		return s.point == sshAfter, false
	}
	return false, false
}

// pointFor maps "object@early|mid|last" to the world's object numbers.
func (w *faultWorld) pointFor(p string) string {
	for name, n := range map[string]int{"early": 1, "mid": (w.total + 1) / 2, "last": w.total} {
		p = strings.Replace(p, "@"+name, "@"+strconv.Itoa(n), 1)
	}
	return p
}

// faultOutcome is what one run found.
type faultOutcome struct {
	landed      bool
	published   int // objects/ files added although no ref moved (kills during the commit)
	mixed       bool
	resentObjs  int
	resentBytes int64
}

// runFault runs one scenario on a fresh copy of the template and checks
// the promise. It reports failures on t.
func (w *faultWorld) runFault(t *testing.T, s faultScenario) faultOutcome {
	e := w.e
	w.mu.Lock()
	w.n++
	n := w.n
	w.mu.Unlock()
	remote := e.copyRepo(w.template, fmt.Sprintf("remote %d's repo", n))
	if s.autoSummary {
		testrepo.Ostree(t, "config", "--repo="+remote, "set", "core.auto-update-summary", "true")
	}
	runDir := filepath.Join(e.dir, fmt.Sprintf("run-%d", n))
	os.MkdirAll(runDir, 0o755)
	before := snap(t, remote)
	recvPid := filepath.Join(runDir, "receiver.pid")
	call := pushCall{
		args:        append([]string{e.dest(remote)}, w.refs...),
		clientEnv:   []string{"OSTREE_PUSH_TEST_RUN=" + runDir, "OSTREE_PUSH_TEST_SSH_CONFIG=" + e.ssh.ConfigFile},
		receiveEnv:  map[string]string{"OSTREE_PUSH_TEST_RECEIVER_PID": recvPid},
		receiveWrap: []string{w.recvWrap},
		sshCommand:  w.sshWrap,
		timeout:     2 * time.Minute,
	}
	point := w.pointFor(s.point)
	var proxyDone chan error
	switch {
	case s.point == "commit":
		// A killer started by the receiver just before it takes the ref
		// lock, after a random delay within the time the rest takes.
		target := "$PPID"
		switch s.side {
		case "client":
			target = "$(cat " + shellQuote(filepath.Join(runDir, "client.pid")) + ")"
		case "ssh":
			target = "$(cat " + shellQuote(filepath.Join(runDir, "ssh.pid")) + ")"
		}
		call.receiveEnv["OSTREE_RECEIVE_TEST_BEFORE_REFS"] = fmt.Sprintf("(sleep %.4f; kill -%s %s) >/dev/null 2>&1 &",
			s.delay.Seconds(), s.sig, target)
		call.started = func(pid int) {
			os.WriteFile(filepath.Join(runDir, "client.pid"), []byte(strconv.Itoa(pid)), 0o644)
		}
	case s.side == "client":
		call.clientEnv = append(call.clientEnv, "OSTREE_PUSH_FAULT="+point+"/"+s.sig)
	case s.side == "receiver":
		call.receiveEnv["OSTREE_PUSH_FAULT"] = strings.Split(point, "+")[0] + "/" + s.sig
	case s.side == "ssh":
		proxyDone = startProxy(t, runDir, point, s.sig)
	}
	r := e.pushRun(call)
	if proxyDone != nil {
		if err := <-proxyDone; err != nil {
			t.Errorf("ssh proxy: %v", err)
		}
	}
	waitGone(t, recvPid, time.Minute)
	w.settle(t, s, remote, runDir)
	may, must := w.landing(s)
	if r.code == 0 && !may {
		t.Errorf("%s: the killed push exited 0", s)
	}

	var out faultOutcome
	testrepo.Fsck(t, remote)
	nOld, nNew := 0, 0
	for _, ref := range w.refs {
		switch got := testrepo.RevParse(t, remote, ref); got {
		case w.old[ref]:
			nOld++
		case w.new[ref]:
			nNew++
			w.checkComplete(t, remote, ref)
		default:
			t.Errorf("%s: %s is %q, neither the old %q nor the new %q", s, ref, got, w.old[ref], w.new[ref])
		}
	}
	switch {
	case nNew == len(w.refs):
		out.landed = true
		if !may {
			t.Errorf("%s: the push landed although it was killed before UPDATE reached the receiver", s)
		}
	case nOld == len(w.refs):
		if must {
			t.Errorf("%s: the push did not land although the refs had moved before the kill", s)
		}
		after := testrepo.ObjectFiles(t, remote)
		if !reflect.DeepEqual(after, before.objects) {
			added, removed := diffLists(before.objects, after)
			if s.point == "commit" && removed == 0 {
				// Killed inside libostree's commit, after it moved
				// objects in and before it wrote the refs: harmless
				// (fsck passed; prune removes them), and counted.
				out.published = added
				t.Logf("%s (delay %v): killed inside the transaction commit: %d objects in objects/, no ref moved", s, s.delay, added)
			} else {
				t.Errorf("%s: no ref moved but objects/ changed: %d files added, %d removed", s, added, removed)
			}
		}
	default:
		out.mixed = true
		t.Errorf("%s (delay %v): %d refs moved and %d did not, after the next receiver settled the ref journal: not all or nothing", s, s.delay, nNew, nOld)
	}
	if s.autoSummary && out.landed {
		checkSummaryRefs(t, remote, w.refs, w.new)
	}
	if t.Failed() {
		return out
	}

	// The next push lands.
	r = e.pushRun(pushCall{args: append([]string{"--json", e.dest(remote)}, w.refs...), timeout: 2 * time.Minute})
	if r.code != 0 {
		t.Errorf("%s: the push after the kill failed: exit %d\n%s", s, r.code, r.stderr)
		return out
	}
	res := parseJSON(t, r)
	out.resentObjs, out.resentBytes = res.ObjectsSent, res.BytesSent
	for _, ref := range w.refs {
		if got := testrepo.RevParse(t, remote, ref); got != w.new[ref] {
			t.Errorf("%s: after the next push %s is %q, want %q", s, ref, got, w.new[ref])
		}
		w.checkComplete(t, remote, ref)
	}
	testrepo.Fsck(t, remote)
	if !t.Failed() {
		os.RemoveAll(remote) // keep only failures' repositories around
	}
	return out
}

// settle has the next receiver settle the ref journal a killed receiver
// left, as any receiver does before it advertises refs (a dry run of the
// same push), and checks that none is left. A scenario "A+B" kills that
// receiver too, at B, and settles again.
func (w *faultWorld) settle(t *testing.T, s faultScenario, remote, runDir string) {
	t.Helper()
	journal := filepath.Join(remote, "ostree-push-refs.journal")
	if _, err := os.Stat(journal); err != nil {
		return
	}
	faults := strings.Split(w.pointFor(s.point), "+")[1:]
	for i := 0; i <= len(faults); i++ {
		recvPid := filepath.Join(runDir, fmt.Sprintf("settle-%d.pid", i))
		call := pushCall{
			args:        append([]string{"--dry-run", w.e.dest(remote)}, w.refs...),
			receiveEnv:  map[string]string{"OSTREE_PUSH_TEST_RECEIVER_PID": recvPid},
			receiveWrap: []string{w.recvWrap},
			timeout:     time.Minute,
		}
		if i < len(faults) {
			call.receiveEnv["OSTREE_PUSH_FAULT"] = faults[i] + "/" + s.sig
		}
		r := w.e.pushRun(call)
		waitGone(t, recvPid, time.Minute)
		if i == len(faults) && r.code != 0 {
			t.Errorf("%s: the dry run that settles the ref journal failed: exit %d\n%s", s, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(journal); err == nil {
		t.Errorf("%s: the ref journal is still there after the next receiver ran", s)
	}
}

// checkComplete checks that ref's commit is whole in repo: not partial,
// and listing the same tree as the source.
func (w *faultWorld) checkComplete(t *testing.T, repo, ref string) {
	t.Helper()
	c := w.new[ref]
	if _, err := os.Stat(filepath.Join(repo, "state", c+".commitpartial")); err == nil {
		t.Errorf("%s: commit %s is marked partial", ref, c)
	}
	got, err := testrepo.OstreeErr("ls", "--repo="+repo, "-R", "-C", c)
	if err != nil {
		t.Errorf("%s: ostree ls -R %s: %v", ref, c, err)
		return
	}
	if want := testrepo.Ostree(t, "ls", "--repo="+w.e.src, "-R", "-C", c); got != want {
		t.Errorf("%s: the tree of %s differs from the source's", ref, c)
	}
}

func diffLists(a, b []string) (added, removed int) {
	in := map[string]int{}
	for _, x := range a {
		in[x]--
	}
	for _, x := range b {
		in[x]++
	}
	for _, v := range in {
		if v > 0 {
			added += v
		} else {
			removed -= v
		}
	}
	return added, removed
}

// startProxy makes the fifos the ssh wrapper routes the client's stream
// through, and forwards it frame by frame until the point, where it kills
// ssh with sig. The channel gets its result once the stream ends.
func startProxy(t *testing.T, dir, point, sig string) chan error {
	t.Helper()
	up, down := filepath.Join(dir, "up"), filepath.Join(dir, "down")
	for _, f := range []string{up, down} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	signal := syscall.SIGKILL
	if sig == "TERM" {
		signal = syscall.SIGTERM
	}
	objectN := 0
	if n, ok := strings.CutPrefix(point, "object@"); ok {
		objectN, _ = strconv.Atoi(n)
	}
	done := make(chan error, 1)
	go func() {
		in, err := os.OpenFile(up, os.O_RDONLY, 0)
		if err != nil {
			done <- err
			return
		}
		defer in.Close()
		out, err := os.OpenFile(down, os.O_WRONLY, 0)
		if err != nil {
			done <- err
			return
		}
		defer out.Close()
		kill := func() error {
			data, err := os.ReadFile(filepath.Join(dir, "ssh.pid"))
			if err != nil {
				return err
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			return syscall.Kill(pid, signal)
		}
		objects, killed := 0, false
		var hdr [wire.HeaderSize]byte
		for {
			if _, err := io.ReadFull(in, hdr[:]); err != nil {
				break // the client is gone
			}
			payload := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
			if _, err := io.ReadFull(in, payload); err != nil {
				break
			}
			ft := wire.FrameType(hdr[0])
			if ft == wire.FrameObject {
				objects++
			}
			at := (point == sshQuery && ft == wire.FrameQuery) ||
				(objectN > 0 && ft == wire.FrameObject && objects == objectN) ||
				(point == sshUpdate && ft == wire.FrameUpdate)
			if at {
				killed = true
				if err := kill(); err != nil {
					done <- err
					return
				}
				break
			}
			if _, err := out.Write(append(hdr[:], payload...)); err != nil {
				break
			}
			if point == sshAfter && ft == wire.FrameUpdate {
				time.Sleep(time.Duration(rand.Intn(20)) * time.Millisecond)
				killed = true
				if err := kill(); err != nil {
					done <- err
					return
				}
				break
			}
		}
		if !killed {
			done <- fmt.Errorf("the stream ended before %s (%d objects seen)", point, objects)
			return
		}
		done <- nil
	}()
	return done
}

// The matrix. Client and receiver points are transfer's fault points
// ("@early", "@mid", "@last" become object numbers); ssh points are the
// proxy's; "commit" is the timing-based kill around the transaction commit.
var (
	clientPoints   = []string{"push:negotiated", "push:object@early", "push:object@mid", "push:object@last", "push:update"}
	receiverPoints = []string{"receive:hello", "receive:object@early", "receive:object@mid", "receive:object@last",
		"receive:update", "receive:commit", "commit:journal", "commit:objects", "commit:ref@1", "commit:refs",
		"commit:ref@1+recover:ref@2", "receive:committed"}
	sshPoints = []string{sshQuery, "object@early", "object@mid", "object@last", sshUpdate, sshAfter}
)

func fullMatrix() []faultScenario {
	var m []faultScenario
	for _, sig := range []string{"KILL", "TERM"} {
		for _, p := range clientPoints {
			m = append(m, faultScenario{side: "client", point: p, sig: sig})
		}
		for _, p := range receiverPoints {
			m = append(m, faultScenario{side: "receiver", point: p, sig: sig})
		}
		for _, p := range sshPoints {
			m = append(m, faultScenario{side: "ssh", point: p, sig: sig})
		}
	}
	for _, p := range []string{"commit:journal", "commit:refs"} {
		m = append(m, faultScenario{side: "receiver", point: p, sig: "KILL", autoSummary: true})
	}
	return m
}

// checkSummaryRefs checks that the summary of repo lists each of refs at
// its commit in want, as `ostree summary --view` shows it.
func checkSummaryRefs(t *testing.T, repo string, refs []string, want map[string]string) {
	t.Helper()
	view := testrepo.Ostree(t, "summary", "--view", "--repo="+repo)
	for _, ref := range refs {
		_, rest, ok := strings.Cut(view, "* "+ref+"\n")
		if !ok {
			t.Errorf("the summary does not list %s:\n%s", ref, view)
			continue
		}
		if entry, _, _ := strings.Cut(rest, "\n\n"); !strings.Contains(entry, want[ref]) {
			t.Errorf("the summary lists %s at another commit than %s:\n%s", ref, want[ref], entry)
		}
	}
}

// shortMatrix is the representative subset make check runs.
func shortMatrix() []faultScenario {
	sc := func(side, point, sig string) faultScenario { return faultScenario{side: side, point: point, sig: sig} }
	return []faultScenario{
		sc("client", "push:negotiated", "KILL"),
		sc("client", "push:object@early", "KILL"),
		sc("client", "push:object@last", "KILL"),
		sc("client", "push:update", "KILL"),
		sc("client", "push:object@mid", "TERM"),
		sc("receiver", "receive:hello", "KILL"),
		sc("receiver", "receive:object@mid", "KILL"),
		sc("receiver", "receive:object@last", "TERM"),
		sc("receiver", "receive:update", "KILL"),
		sc("receiver", "receive:commit", "KILL"),
		sc("receiver", "receive:committed", "KILL"),
		sc("receiver", "receive:commit", "TERM"),
		sc("receiver", "commit:journal", "KILL"),
		sc("receiver", "commit:objects", "KILL"),
		sc("receiver", "commit:ref@1", "KILL"),
		sc("receiver", "commit:refs", "KILL"),
		sc("receiver", "commit:ref@1+recover:ref@2", "KILL"),
		{side: "receiver", point: "commit:journal", sig: "KILL", autoSummary: true},
		{side: "receiver", point: "commit:refs", sig: "KILL", autoSummary: true},
		sc("ssh", sshQuery, "KILL"),
		sc("ssh", "object@mid", "KILL"),
		sc("ssh", sshUpdate, "TERM"),
		sc("ssh", sshAfter, "KILL"),
	}
}

// faultSeed is OSTREE_PUSH_FAULT_SEED, or a new seed; it is printed.
func faultSeed(t *testing.T) int64 {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("OSTREE_PUSH_FAULT_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("OSTREE_PUSH_FAULT_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("fault seed %d (replay with OSTREE_PUSH_FAULT_SEED=%d)", seed, seed)
	fmt.Printf("fault seed %d (replay with OSTREE_PUSH_FAULT_SEED=%d)\n", seed, seed)
	return seed
}

// randomScenario picks a side, a signal and a point at random; object
// points get a random object number.
func (w *faultWorld) randomScenario(rng *rand.Rand) faultScenario {
	s := faultScenario{sig: []string{"KILL", "TERM"}[rng.Intn(2)]}
	var points []string
	switch rng.Intn(4) {
	case 0:
		s.side, points = "client", clientPoints
	case 1:
		s.side, points = "receiver", receiverPoints
	case 2:
		s.side, points = "ssh", sshPoints
	default:
		s.side = []string{"client", "receiver", "ssh", "receiver"}[rng.Intn(4)]
		s.point = "commit"
		s.delay = time.Duration(rng.Int63n(int64(w.window)))
		return s
	}
	s.point = points[rng.Intn(len(points))]
	if i := strings.Index(s.point, "@"); i >= 0 {
		s.point = s.point[:i] + "@" + strconv.Itoa(1+rng.Intn(w.total))
	}
	return s
}

// tally counts the runs of one scenario.
type tally struct {
	mu                                 sync.Mutex
	runs, failures, landed, pub, mixed int
}

func (ta *tally) add(failed bool, o faultOutcome) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	ta.runs++
	if failed {
		ta.failures++
	}
	if o.landed {
		ta.landed++
	}
	if o.published > 0 {
		ta.pub++
	}
	if o.mixed {
		ta.mixed++
	}
}

func (ta *tally) log(t *testing.T, name string) {
	t.Helper()
	extra := []string{fmt.Sprintf("landed=%d", ta.landed)}
	if ta.pub > 0 {
		extra = append(extra, fmt.Sprintf("objects_without_refs=%d", ta.pub))
	}
	if ta.mixed > 0 {
		extra = append(extra, fmt.Sprintf("mixed_refs=%d", ta.mixed))
	}
	reliability(t, name, ta.runs, ta.failures, extra...)
}

// TestFaultMatrix kills pushes at every point of the matrix.
func TestFaultMatrix(t *testing.T) {
	files, runs, matrix := 200, 1, shortMatrix()
	if stress() {
		runs, matrix = 3, fullMatrix()
	}
	w := newFaultWorld(t, files, 0)
	tallies := map[string]*tally{}
	t.Run("runs", func(t *testing.T) {
		for _, s := range matrix {
			ta := &tally{}
			tallies[s.String()] = ta
			for i := 0; i < runs; i++ {
				t.Run(strings.ReplaceAll(s.String(), "/", "_")+fmt.Sprint("#", i), func(t *testing.T) {
					t.Parallel()
					// Deferred: a run that stops with t.Fatal counts too.
					var o faultOutcome
					defer func() { ta.add(t.Failed(), o) }()
					o = w.runFault(t, s)
				})
			}
		}
	})
	for _, s := range matrix {
		tallies[s.String()].log(t, "fault/"+s.String())
	}
}

// TestFaultRandom kills pushes at random points: the points of the matrix
// with random object numbers, and timing-based kills of any side while the
// receiver commits, on a repository large enough for the commit to take a
// moment.
func TestFaultRandom(t *testing.T) {
	files, bigFiles, n := 200, 1000, 4
	if stress() {
		bigFiles, n = 4000, 150
	}
	// OSTREE_PUSH_FAULT_COMMIT_KILLS=N: only N kills of the receiver
	// while it commits, on the stress-sized repository (to check a fix
	// of that window without the rest of the stress run).
	forced := 2
	if v := os.Getenv("OSTREE_PUSH_FAULT_COMMIT_KILLS"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 {
			t.Fatalf("OSTREE_PUSH_FAULT_COMMIT_KILLS=%q", v)
		}
		bigFiles, n, forced = 4000, k, k
	}
	seed := faultSeed(t)
	rng := rand.New(rand.NewSource(seed))
	w := newFaultWorld(t, files, bigFiles)
	var scenarios []faultScenario
	for i := 0; i < n; i++ {
		s := w.randomScenario(rng)
		if i < forced { // always some kills of the receiver while it commits
			s = faultScenario{side: "receiver", point: "commit", sig: "KILL", delay: time.Duration(rng.Int63n(int64(w.window)))}
		}
		scenarios = append(scenarios, s)
	}
	all, commit := &tally{}, &tally{}
	t.Run("runs", func(t *testing.T) {
		for i, s := range scenarios {
			t.Run(fmt.Sprintf("%d_%s", i, strings.ReplaceAll(s.String(), "/", "_")), func(t *testing.T) {
				t.Parallel()
				t.Logf("seed %d, scenario %d: %s, delay %v", seed, i, s, s.delay)
				var o faultOutcome
				defer func() { // also when the run stops with t.Fatal
					all.add(t.Failed(), o)
					if s.point == "commit" {
						commit.add(t.Failed(), o)
					}
				}()
				o = w.runFault(t, s)
			})
		}
	})
	if forced < n { // not only the commit kills of OSTREE_PUSH_FAULT_COMMIT_KILLS
		all.log(t, "fault/random")
	}
	commit.log(t, "fault/random/kill-during-commit")
}

// TestFaultResume: a push whose receiver dies after most objects is
// retried; libostree kept the staged objects and, with the resume
// capability in effect, the receiver answers QUERY from them too, so the
// retry resends almost nothing (without it, everything).
func TestFaultResume(t *testing.T) {
	files := 1000
	if stress() {
		files = 3000
	}
	e := newEnv(t, files)
	remote := e.remote("archive")
	r := e.pushRun(pushCall{args: []string{"--dry-run", "--json", e.dest(remote), "os/main"}})
	wantCode(t, r, 0)
	first := parseJSON(t, r)
	total := first.ObjectsSent
	at := total - total/20 // 95%
	before := snap(t, remote)
	pid := filepath.Join(e.dir, "receiver.pid")
	wrap := filepath.Join(e.dir, "receive-wrapper")
	os.WriteFile(wrap, []byte(receiveWrapper), 0o755)
	r = e.pushRun(pushCall{
		args:        []string{e.dest(remote), "os/main"},
		receiveEnv:  map[string]string{"OSTREE_PUSH_FAULT": fmt.Sprintf("receive:object@%d", at), "OSTREE_PUSH_TEST_RECEIVER_PID": pid},
		receiveWrap: []string{wrap},
	})
	if r.code == 0 {
		t.Fatal("the interrupted push exited 0")
	}
	waitGone(t, pid, time.Minute)
	unchanged(t, remote, before)
	// Without the resume capability (a client that does not offer it),
	// the receiver answers from committed objects only: a dry run shows
	// everything would be sent again. (A dry run keeps the staging.)
	r = e.pushRun(pushCall{args: []string{"--dry-run", "--json", e.dest(remote), "os/main"}, clientEnv: []string{"OSTREE_PUSH_NO_CAPS=resume"}})
	wantCode(t, r, 0)
	without := parseJSON(t, r)
	if without.ObjectsSent != total {
		t.Errorf("without resume, a retry would send %d objects, want all %d", without.ObjectsSent, total)
	}
	r = e.pushRun(pushCall{args: []string{"--json", e.dest(remote), "os/main"}})
	wantCode(t, r, 0)
	second := parseJSON(t, r)
	sameRef(t, e.src, remote, "os/main")
	testrepo.Fsck(t, remote)
	pctObj := 100 * float64(second.ObjectsSent) / float64(total)
	pctBytes := 100 * float64(second.BytesSent) / float64(first.BytesSent)
	t.Logf("resume: first push %d objects, %d bytes, killed after %d; the retry sent %d objects (%.1f%%), %d bytes (%.1f%%)",
		total, first.BytesSent, at, second.ObjectsSent, pctObj, second.BytesSent, pctBytes)
	failures := 0
	if second.ObjectsSent*10 > total {
		failures = 1
		t.Errorf("the retry resent %d of %d objects: more than 10%%", second.ObjectsSent, total)
	}
	reliability(t, "resume", 1, failures, fmt.Sprintf("total_objects=%d", total), fmt.Sprintf("total_bytes=%d", first.BytesSent),
		fmt.Sprintf("killed_after=%d", at), fmt.Sprintf("resent_objects=%d", second.ObjectsSent),
		fmt.Sprintf("resent_bytes=%d", second.BytesSent), fmt.Sprintf("resent_pct=%.1f", pctObj),
		fmt.Sprintf("without_resume_objects=%d", without.ObjectsSent))
}

// TestRetry: a connection cut (the receiver killed) at 30%, 60% and 95% of
// the objects: ostree-push --retry reconnects, the receiver takes up what
// the cut push staged, and the one command lands, resending no more than
// 5% of the bytes sent before the cut; the JSON lists the failed try.
func TestRetry(t *testing.T) {
	e := newEnv(t, 1000)
	// What a cut loses in flight (ssh's window, the pipes: about 3 MiB
	// since ostree-receive grows its stdin pipe to 1 MiB, and the object
	// being sent) is resent whatever the push's size: files of a few MiB
	// make the push big enough (about 320 MiB) for it to be a small part,
	// as it is in a real publisher's push.
	big := filepath.Join(e.tree, "big")
	if err := os.MkdirAll(big, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(5))
	for i := 0; i < 100; i++ {
		data := make([]byte, 3<<20)
		rng.Read(data)
		if err := os.WriteFile(filepath.Join(big, fmt.Sprintf("f%02d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.commit("os/main", "with big files")
	// A refusal is never retried: here the receiver's ERROR (no such
	// repository).
	r := e.pushRun(pushCall{args: []string{"--retry=3", e.dest(filepath.Join(e.dir, "no such repo")), "os/main"}})
	if r.code != 1 || strings.Contains(r.stderr, "retrying") {
		t.Fatalf("a refusal: exit %d, want 1 without a retry", r.code)
	}
	r = e.pushRun(pushCall{args: []string{"--dry-run", "--json", e.dest(e.remote("archive")), "os/main"}})
	wantCode(t, r, 0)
	full := parseJSON(t, r)
	for _, pct := range []int{30, 60, 95} {
		t.Run(fmt.Sprintf("%d%%", pct), func(t *testing.T) {
			remote := filepath.Join(e.dir, fmt.Sprintf("remote-%d", pct))
			testrepo.Init(t, remote, "archive")
			at := full.ObjectsSent * pct / 100
			r := e.pushRun(pushCall{
				args: []string{"--retry=3", "--json", e.dest(remote), "os/main"},
				receiveEnv: map[string]string{"OSTREE_PUSH_FAULT": fmt.Sprintf("receive:object@%d", at),
					"OSTREE_PUSH_FAULT_ONCE": filepath.Join(e.dir, fmt.Sprintf("fault-%d", pct))},
			})
			wantCode(t, r, 0)
			var res struct {
				BytesSent int64 `json:"bytes_sent"`
				Retries   []struct {
					Error       string `json:"error"`
					ObjectsSent int    `json:"objects_sent"`
					BytesSent   int64  `json:"bytes_sent"`
				} `json:"retries"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatal(err)
			}
			if len(res.Retries) != 1 {
				t.Fatalf("retries %+v, want the one cut try", res.Retries)
			}
			sameRef(t, e.src, remote, "os/main")
			testrepo.Fsck(t, remote)
			before := res.Retries[0].BytesSent
			resent := before + res.BytesSent - full.BytesSent
			pctResent := 100 * float64(resent) / float64(before)
			t.Logf("cut at object %d of %d: %d bytes sent before the cut, %d after, %d resent (%.2f%% of those before)",
				at, full.ObjectsSent, before, res.BytesSent, resent, pctResent)
			reliability(t, fmt.Sprintf("retry-%d", pct), 1, map[bool]int{true: 1}[pctResent > 5],
				fmt.Sprintf("bytes_before_cut=%d", before), fmt.Sprintf("resent_bytes=%d", resent), fmt.Sprintf("resent_pct=%.2f", pctResent))
			if pctResent > 5 {
				t.Errorf("resent %.2f%% of the bytes sent before the cut, more than 5%%", pctResent)
			}
		})
	}
}

// TestFanOutRetry: with --to, a destination whose connection is cut is
// retried on its own; both land in one command.
func TestFanOutRetry(t *testing.T) {
	e := newEnv(t, 300)
	a, b := filepath.Join(e.dir, "a"), filepath.Join(e.dir, "b")
	testrepo.Init(t, a, "archive")
	testrepo.Init(t, b, "archive")
	r := e.pushRun(pushCall{
		args: []string{"--retry=3", "--json", "--to", e.dest(a), "--to", e.dest(b), "os/main"},
		// The first receiver to start is cut after 50 objects.
		receiveEnv: map[string]string{"OSTREE_PUSH_FAULT": "receive:object@50", "OSTREE_PUSH_FAULT_ONCE": filepath.Join(e.dir, "fault")},
	})
	wantCode(t, r, 0)
	var res struct {
		OK           bool `json:"ok"`
		Destinations []struct {
			OK      bool `json:"ok"`
			Retries []struct {
				Error       string `json:"error"`
				ObjectsSent int    `json:"objects_sent"`
			} `json:"retries"`
		} `json:"destinations"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.OK || len(res.Destinations) != 2 {
		t.Fatalf("--json: %+v, %v", res, err)
	}
	// The cut destination lists its lost try, with what it had sent (50
	// objects reached the receiver, more may have been on their way);
	// the other none.
	var tries []int
	for _, d := range res.Destinations {
		tries = append(tries, len(d.Retries))
		for _, a := range d.Retries {
			if a.Error == "" || a.ObjectsSent < 50 {
				t.Errorf("a retried try in --json: %+v", a)
			}
		}
	}
	if slices.Sort(tries); !slices.Equal(tries, []int{0, 1}) {
		t.Errorf("retries per destination: %v, want one destination with one", tries)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "fault")); err != nil {
		t.Fatal("no receiver was cut")
	}
	for _, d := range []string{a, b} {
		sameRef(t, e.src, d, "os/main")
		testrepo.Fsck(t, d)
	}
}
