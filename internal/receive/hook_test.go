package receive

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/pushlog"
	"github.com/ostree-push/ostree-push/internal/receiveconfig"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// hookServer is a server whose update_hook is hook, for a repository at
// path.
func hookServer(hook, path string) *server {
	return &server{
		settings: receiveconfig.Repo{Update: receiveconfig.UpdateAuto, UpdateHook: hook},
		log:      pushlog.New(io.Discard, pushlog.Error, true),
		path:     path,
	}
}

// script writes an executable shell script into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func sum(b byte) object.Checksum {
	var c object.Checksum
	for i := range c {
		c[i] = b
	}
	return c
}

func update(name string, old, new object.Checksum) wire.RefUpdate {
	return wire.RefUpdate{Ref: wire.RefName{Name: name}, Old: old, New: new}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHookEnvironment: the hook gets the repository, the refs and their
// updates in its environment, its arguments as update_hook spells them
// (split like a shell, never expanded), and what it prints reaches the
// pusher.
func TestHookEnvironment(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out dir")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	hook := script(t, dir, "hook", `
out=$1
printf '%s' "$OSTREE_RECEIVE_REPO" >"$out/repo"
printf '%s' "$OSTREE_RECEIVE_REFS" >"$out/refs"
printf '%s' "$OSTREE_RECEIVE_UPDATES" >"$out/updates"
shift
printf '%s|' "$@" >"$out/args"
echo "hook says hi"
echo "second line" >&2
`)
	repo := filepath.Join(dir, "repo")
	s := hookServer(transfer.ShellQuote(hook)+` '`+out+`' "$HOME" 'two words' \*`, repo)
	zero := object.Zero
	notes := s.runHook(context.Background(), []wire.RefUpdate{
		update("os/x86_64/stable", zero, sum(1)),
		update("main", sum(1), sum(2)),
		update("gone", sum(2), zero),
	})
	if got := readFile(t, filepath.Join(out, "repo")); got != repo {
		t.Errorf("OSTREE_RECEIVE_REPO = %q, want %q", got, repo)
	}
	if got, want := readFile(t, filepath.Join(out, "refs")), "os/x86_64/stable main gone"; got != want {
		t.Errorf("OSTREE_RECEIVE_REFS = %q, want %q", got, want)
	}
	wantUpdates := "os/x86_64/stable " + zero.String() + " " + sum(1).String() + "\n" +
		"main " + sum(1).String() + " " + sum(2).String() + "\n" +
		"gone " + sum(2).String() + " " + zero.String()
	if got := readFile(t, filepath.Join(out, "updates")); got != wantUpdates {
		t.Errorf("OSTREE_RECEIVE_UPDATES = %q, want %q", got, wantUpdates)
	}
	if got, want := readFile(t, filepath.Join(out, "args")), "$HOME|two words|*|"; got != want {
		t.Errorf("hook arguments %q, want %q", got, want)
	}
	want := []string{"update_hook: hook says hi", "update_hook: second line"}
	if strings.Join(notes, "\n") != strings.Join(want, "\n") {
		t.Errorf("notes %q, want %q", notes, want)
	}
}

// TestHookPeerValuesNotInterpreted: ref names come from the pusher. The
// receiver refuses names libostree would not take before any hook runs,
// but the hook must not depend on that: it runs without a shell and gets
// each value as it is, whatever it holds.
func TestHookPeerValuesNotInterpreted(t *testing.T) {
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	hook := script(t, dir, "hook", `printf '%s' "$OSTREE_RECEIVE_REFS" >"$1"`)
	got := filepath.Join(dir, "refs")
	hostile := []string{
		"$(touch " + pwned + ")",
		"`touch " + pwned + "`",
		"a;touch${IFS}" + pwned,
		`'"\`,
		"$OSTREE_RECEIVE_REPO",
	}
	var moved []wire.RefUpdate
	for _, name := range hostile {
		moved = append(moved, update(name, object.Zero, sum(3)))
	}
	s := hookServer(transfer.ShellQuote(hook)+" "+transfer.ShellQuote(got), filepath.Join(dir, "repo; touch "+pwned))
	if notes := s.runHook(context.Background(), moved); len(notes) != 0 {
		t.Errorf("notes: %q", notes)
	}
	if refs := readFile(t, got); refs != strings.Join(hostile, " ") {
		t.Errorf("OSTREE_RECEIVE_REFS = %q, want the names as sent", refs)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Errorf("a ref name was run as a command")
	}
}

// TestHookFailures: a hook that fails, cannot run or cannot be parsed is
// reported as a warning; the refs have moved regardless.
func TestHookFailures(t *testing.T) {
	dir := t.TempDir()
	failing := script(t, dir, "failing", "echo 'it broke' >&2\nexit 3\n")
	for _, tc := range []struct {
		hook string
		want []string
	}{
		{failing, []string{"update_hook: it broke", "warning: the refs moved, but update_hook failed: exit status 3"}},
		{filepath.Join(dir, "missing"), []string{"warning: the refs moved, but update_hook failed: fork/exec " + filepath.Join(dir, "missing") + ": no such file or directory"}},
		{"   ", []string{`warning: update_hook "   ": empty command`}},
		{"'unterminated", nil}, // a warning, whatever SplitCommand says
	} {
		notes := hookServer(tc.hook, dir).runHook(context.Background(), []wire.RefUpdate{update("main", object.Zero, sum(1))})
		if tc.want == nil {
			if len(notes) != 1 || !strings.HasPrefix(notes[0], `warning: update_hook "'unterminated": `) {
				t.Errorf("%q: notes %q", tc.hook, notes)
			}
			continue
		}
		if strings.Join(notes, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%q: notes %q, want %q", tc.hook, notes, tc.want)
		}
	}
}

// TestHookOutputCut: the pusher is shown at most hookOutputMax bytes of
// what a hook prints.
func TestHookOutputCut(t *testing.T) {
	dir := t.TempDir()
	hook := script(t, dir, "chatty", `i=0; while [ $i -lt 2000 ]; do echo "line $i of chatter"; i=$((i+1)); done`)
	notes := hookServer(hook, dir).runHook(context.Background(), nil)
	total := 0
	for _, n := range notes {
		total += len(strings.TrimPrefix(n, "update_hook: ")) + 1
	}
	if total > hookOutputMax+len("[output cut]")+2 {
		t.Errorf("%d bytes of output shown, more than %d", total, hookOutputMax)
	}
	if last := notes[len(notes)-1]; last != "update_hook: [output cut]" {
		t.Errorf("last note %q, want the cut said", last)
	}
	if notes[0] != "update_hook: line 0 of chatter" {
		t.Errorf("first note %q", notes[0])
	}
}

// started makes a FIFO a hook writes to once it runs, and returns its
// path and a function that waits for the hook's line.
func started(t *testing.T, dir string) (string, func() string) {
	t.Helper()
	fifo := filepath.Join(dir, "started")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	return fifo, func() string {
		f, err := os.Open(fifo) // blocks until the hook opens it
		if err != nil {
			t.Error(err)
			return ""
		}
		defer f.Close()
		line, _ := bufio.NewReader(f).ReadString('\n')
		return strings.TrimSpace(line)
	}
}

// killLater kills, when the test ends, a process a hook left behind.
func killLater(t *testing.T, pid string) {
	t.Helper()
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 1 {
		t.Fatalf("pid %q", pid)
	}
	t.Cleanup(func() { syscall.Kill(n, syscall.SIGKILL) })
}

// shortWaitDelay makes runCommand stop reading a finished or killed
// command's output soon, for a test.
func shortWaitDelay(t *testing.T) {
	old := waitDelay
	waitDelay = 50 * time.Millisecond
	t.Cleanup(func() { waitDelay = old })
}

// TestHookCancelled: a hook still running when its context ends is
// killed and reported with the context's cause (the timeout's, in
// production), even when it started a process that holds its output.
// The test cancels the context once the hook says it runs: no sleeps.
func TestHookCancelled(t *testing.T) {
	shortWaitDelay(t)
	for _, tc := range []struct{ name, body string }{
		{"blocked", `echo $$ >"$1"; exec sleep 600`},
		{"child holds the output", `sleep 600 & echo $! >"$1"; wait`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fifo, wait := started(t, dir)
			hook := script(t, dir, "hook", tc.body)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			done := make(chan []string, 1)
			go func() {
				done <- hookServer(transfer.ShellQuote(hook)+" "+transfer.ShellQuote(fifo), dir).
					runHook(ctx, []wire.RefUpdate{update("main", object.Zero, sum(1))})
			}()
			killLater(t, wait())
			cancel(errors.New("cancelled by the test"))
			notes := <-done
			want := "warning: the refs moved, but update_hook failed: cancelled by the test"
			if len(notes) == 0 || notes[len(notes)-1] != want {
				t.Errorf("notes %q, want the last one %q", notes, want)
			}
		})
	}
}

// TestHookBackgroundJob: a hook that starts a job in the background and
// exits succeeds without waiting for the job, though the job keeps the
// hook's output open.
func TestHookBackgroundJob(t *testing.T) {
	shortWaitDelay(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	hook := script(t, dir, "hook", `sleep 600 & echo $! >"$1"; echo "job started"`)
	notes := hookServer(transfer.ShellQuote(hook)+" "+transfer.ShellQuote(pidFile), dir).
		runHook(context.Background(), []wire.RefUpdate{update("main", object.Zero, sum(1))})
	killLater(t, strings.TrimSpace(readFile(t, pidFile)))
	if strings.Join(notes, "\n") != "update_hook: job started" {
		t.Errorf("notes %q", notes)
	}
}
