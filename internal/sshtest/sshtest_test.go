package sshtest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ostree-push/ostree-push/internal/sshtest"
)

func TestEcho(t *testing.T) {
	s := sshtest.Start(t)
	if s.Port == "" || s.Dir == "" {
		t.Fatalf("incomplete server: %+v", s)
	}
	if _, err := os.Stat(s.ConfigFile); err != nil {
		t.Fatalf("config file: %v", err)
	}
	out, err := s.Run(t, "echo hello")
	if err != nil {
		t.Fatal(err)
	}
	if out != "hello\n" {
		t.Fatalf("echo hello printed %q", out)
	}

	// SSHCommand + Host is what callers hand to ostree-push.
	args := append(s.SSHCommand(), s.Host(), "echo", "again")
	b, err := exec.Command(args[0], args[1:]...).Output()
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	if string(b) != "again\n" {
		t.Fatalf("%v printed %q", args, b)
	}

	// A failing remote command reports an error.
	if _, err := s.Run(t, "exit 3"); err == nil {
		t.Fatal("exit 3: no error")
	}
}

func TestTwoServers(t *testing.T) {
	a := sshtest.Start(t)
	b := sshtest.Start(t)
	if a.Port == b.Port {
		t.Fatalf("both servers on port %s", a.Port)
	}
	var wg sync.WaitGroup
	for _, s := range []*sshtest.Server{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := s.Run(t, "echo $PWD >/dev/null; echo hello")
			if err != nil {
				t.Error(err)
				return
			}
			if out != "hello\n" {
				t.Errorf("port %s: got %q", s.Port, out)
			}
		}()
	}
	wg.Wait()
}

func TestStopOnCleanup(t *testing.T) {
	var dir string
	t.Run("server", func(t *testing.T) {
		s := sshtest.Start(t)
		dir = s.Dir
		if _, err := os.Stat(filepath.Join(dir, "sshd.pid")); err != nil {
			t.Fatalf("pid file: %v", err)
		}
	})
	if dir == "" {
		t.Skip("server did not start")
	}
	// The subtest's cleanup stopped sshd and removed its directory.
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after cleanup (err=%v)", dir, err)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := sshtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "module github.com/ostree-push/ostree-push") {
		t.Fatalf("%s/go.mod is not this module's", root)
	}
}

func TestKeyOptions(t *testing.T) {
	// A forced command replaces what the client asks for, which it sees in
	// $SSH_ORIGINAL_COMMAND.
	s := sshtest.StartWithOptions(t, sshtest.Options{
		KeyOptions: `command="echo forced: \"$SSH_ORIGINAL_COMMAND\"",no-pty,no-port-forwarding`,
	})
	b, err := os.ReadFile(filepath.Join(s.Dir, "authorized_keys"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `command="echo forced: \"$SSH_ORIGINAL_COMMAND\"",no-pty,no-port-forwarding ssh-ed25519 `) {
		t.Fatalf("authorized_keys: %q", b)
	}
	out, err := s.Run(t, "echo hello")
	if err != nil {
		t.Fatal(err)
	}
	if out != "forced: echo hello\n" {
		t.Fatalf("got %q", out)
	}

	// A forced command that fails does not keep the server from starting.
	f := sshtest.StartWithOptions(t, sshtest.Options{KeyOptions: `command="exit 3"`})
	if _, err := f.Run(t, "true"); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("forced exit 3: %v", err)
	}
}

func TestStartIgnoresKeyOptionsEnv(t *testing.T) {
	t.Setenv("TEST_SSHD_KEY_OPTIONS", `command="exit 3"`)
	s := sshtest.Start(t)
	out, err := s.Run(t, "echo hello")
	if err != nil || out != "hello\n" {
		t.Fatalf("echo hello: %q, %v", out, err)
	}
}

// TestAddKey: each key logs in as its own, with its own forced command.
func TestAddKey(t *testing.T) {
	s := sshtest.StartWithOptions(t, sshtest.Options{KeyOptions: `command="echo first"`})
	second := s.AddKey(t, "second", `command="echo second",no-pty`)
	for config, want := range map[string]string{s.ConfigFile: "first\n", second: "second\n"} {
		out, err := exec.Command("ssh", "-F", config, s.Host(), "true").Output()
		if err != nil || string(out) != want {
			t.Errorf("ssh -F %s: %q, %v; want %q", config, out, err, want)
		}
	}
}
