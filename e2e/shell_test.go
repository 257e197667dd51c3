package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/sshtest"
	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// shellKey is the authorized_keys options of a push-only key: the forced
// command is the built ostree-receive-shell, which runs the ostree-receive
// beside it in binDir.
func shellKey(extra string) string {
	shell := shellQuote(filepath.Join(binDir, "ostree-receive-shell"))
	return `command="` + strings.ReplaceAll(shell, `"`, `\"`) + `"` + extra
}

// newShellEnv is newEnv with the client key restricted to
// ostree-receive-shell by the key options extra (appended to command=...).
func newShellEnv(t *testing.T, extra string) *env {
	t.Helper()
	return newShellEnvWith(t, sshtest.Options{KeyOptions: shellKey(extra)})
}

// newShellEnvWith is newShellEnv with the test sshd's options.
func newShellEnvWith(t *testing.T, opts sshtest.Options) *env {
	t.Helper()
	testrepo.RequireTools(t)
	e := &env{t: t, dir: t.TempDir()}
	e.ssh = sshtest.StartWithOptions(t, opts)
	e.src = filepath.Join(e.dir, "src")
	e.tree = filepath.Join(e.dir, "tree")
	testrepo.GenerateTree(t, e.tree, testrepo.TreeOptions{Files: 50, Seed: 11})
	testrepo.Init(t, e.src, "archive")
	e.commit("os/main", "first")
	return e
}

// shellPush runs ostree-push through the restricted key; receive, when not
// empty, is its --receive-command.
func (e *env) shellPush(receive string, args ...string) run {
	e.t.Helper()
	argv := []string{"--repo=" + e.src}
	if receive != "" {
		argv = append(argv, "--receive-command="+receive)
	}
	cmd := exec.Command(filepath.Join(binDir, "ostree-push"), append(argv, args...)...)
	cmd.Env = append(os.Environ(), "OSTREE_PUSH_SSH=ssh -F "+e.ssh.ConfigFile)
	return runCmd(e.t, cmd, fmt.Sprintf("ostree-push --receive-command=%q %s", receive, strings.Join(args, " ")))
}

// ssh runs ssh to the test server with sshArgs (options, then the remote
// command words, if any), standard input closed.
func (e *env) sshExec(sshArgs ...string) run {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append([]string{"-F", e.ssh.ConfigFile}, sshArgs...)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Stdin = nil
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	r := run{stdout: stdout.String(), stderr: stderr.String()}
	if exit, ok := err.(*exec.ExitError); ok {
		r.code = exit.ExitCode()
	} else if err != nil {
		e.t.Fatalf("ssh %q: %v", sshArgs, err)
	}
	e.t.Logf("ssh %q: exit %d\nstdout: %s\nstderr: %s", sshArgs, r.code, r.stdout, r.stderr)
	return r
}

func TestShellPush(t *testing.T) {
	t.Parallel()
	e := newShellEnv(t, ",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding")
	remote := e.remote("archive")

	// The default --receive-command: the shell runs the ostree-receive
	// beside it.
	r := e.shellPush("", e.dest(remote), "os/main")
	wantCode(t, r, 0)
	testrepo.Fsck(t, remote)
	sameRef(t, e.src, remote, "os/main")

	// A receive command with an absolute path (any: the shell ignores it)
	// and --verbose, which reaches ostree-receive.
	if err := os.WriteFile(filepath.Join(e.tree, "second"), []byte("second\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.commit("os/main", "second")
	r = e.shellPush("/nonexistent/bin/ostree-receive --verbose", e.dest(remote), "os/main")
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "ostree-receive: ") {
		t.Fatalf("no verbose output from ostree-receive in %q", r.stderr)
	}
	testrepo.Fsck(t, remote)
	sameRef(t, e.src, remote, "os/main")

	// Anything else is refused before a receiver runs.
	before := snap(t, remote)
	e.commit("os/main", "third")
	r = e.shellPush("env A=b ostree-receive", e.dest(remote), "os/main")
	if r.code == 0 || !strings.Contains(r.stderr, "command not allowed") {
		t.Fatalf("env prefix: exit %d, stderr %q", r.code, r.stderr)
	}
	unchanged(t, remote, before)
}

func TestShellRefusesCommands(t *testing.T) {
	t.Parallel()
	e := newShellEnv(t, ",no-pty")
	marker := filepath.Join(e.dir, "marker")
	for _, tt := range []struct {
		cmd  string
		code int
		msg  string
	}{
		{"sh -c id", 127, "command not allowed"},
		{"id", 127, "command not allowed"},
		{"touch " + marker, 127, "command not allowed"},
		{"sh -c 'touch " + marker + "'", 127, "command not allowed"},
		{"/bin/bash -i", 127, "command not allowed"},
		{"ostree-receive; touch " + marker, 127, "command not allowed"},
		{"ostree-receive-shell", 127, "command not allowed"},
		{"ostree-receive x; touch " + marker, 2, "extra argument"},
		{"ostree-receive x && touch " + marker, 2, "extra argument"},
		{"ostree-receive $(touch " + marker + ")", 2, "extra argument"},
		{"ostree-receive `touch " + marker + "`", 2, "extra argument"},
		// One word: a literal, odd, repository path that does not exist.
		{`ostree-receive "$(touch ` + marker + `)"`, 1, "ostree-receive: "},
		{"ostree-receive 'unterminated", 2, "unterminated"},
	} {
		t.Run(tt.cmd, func(t *testing.T) {
			r := e.sshExec(e.ssh.Host(), tt.cmd)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.msg) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tt.code, tt.msg)
			}
			// Only ostree-receive itself may answer, and only with an
			// ERROR frame (type 10) saying why it refused.
			if r.stdout != "" && (tt.code != 1 || r.stdout[0] != 10) {
				t.Fatalf("stdout %q, want nothing", r.stdout)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("%s was created", marker)
			}
		})
	}
}

func TestShellInteractive(t *testing.T) {
	t.Parallel()
	const msg = "interactive login is not allowed; this account only accepts ostree-push"
	t.Run("no-pty", func(t *testing.T) {
		e := newShellEnv(t, ",no-pty")
		// No command and no terminal: the shell runs and refuses.
		for _, args := range [][]string{{e.ssh.Host()}, {"-T", e.ssh.Host()}} {
			r := e.sshExec(args...)
			if r.code != 1 || !strings.Contains(r.stderr, msg) {
				t.Fatalf("ssh %q: exit %d\nstdout: %q\nstderr: %q", args, r.code, r.stdout, r.stderr)
			}
		}
		// A terminal forced with -tt: sshd refuses it (no-pty) and ssh
		// gives up on its own (255) before a session starts.
		r := e.sshExec("-tt", e.ssh.Host())
		if r.code != 255 || !strings.Contains(r.stderr, "PTY allocation request failed") {
			t.Fatalf("ssh -tt: exit %d\nstdout: %q\nstderr: %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("pty", func(t *testing.T) {
		// A key without no-pty: the shell gets a terminal, refuses, and the
		// message comes back through the terminal, on stdout.
		e := newShellEnv(t, "")
		r := e.sshExec("-tt", e.ssh.Host())
		if r.code != 1 || !strings.Contains(r.stdout+r.stderr, msg) {
			t.Fatalf("exit %d\nstdout: %q\nstderr: %q", r.code, r.stdout, r.stderr)
		}
	})
}

func TestShellOptionInjection(t *testing.T) {
	t.Parallel()
	e := newShellEnv(t, ",no-pty")
	remote := e.remote("archive")
	before := snap(t, remote)
	for _, cmd := range []string{
		"ostree-receive --config=/etc/passwd " + shellQuote(remote),
		"ostree-receive --config /etc/passwd " + shellQuote(remote),
		"ostree-receive -v --config=/etc/passwd " + shellQuote(remote),
		"ostree-receive -- -x",
		"ostree-receive -x",
		"ostree-receive " + shellQuote(remote) + " --config=/etc/passwd",
	} {
		r := e.sshExec(e.ssh.Host(), cmd)
		if r.code != 2 {
			t.Fatalf("%q: exit %d, want 2\nstderr: %s", cmd, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "ostree-receive-shell: ") {
			t.Fatalf("%q: stderr %q", cmd, r.stderr)
		}
	}
	// The same through ostree-push's --receive-command.
	r := e.shellPush("ostree-receive --config=/etc/passwd", e.dest(remote), "os/main")
	if r.code == 0 || !strings.Contains(r.stderr, "option not allowed") {
		t.Fatalf("push with --config: exit %d, stderr %q", r.code, r.stderr)
	}
	unchanged(t, remote, before)
}
