package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/sshtest"
	"github.com/ostree-push/ostree-push/internal/testrepo"
)

// userKey is the authorized_keys options of a key whose forced command is
// ostree-receive-shell with args (--user NAME), with HOME set to home: the
// receiver reads its configuration from home/.config/ostree (the shell
// passes HOME on, and drops OSTREE_RECEIVE_CONF and XDG_CONFIG_HOME).
func userKey(home, args string) string {
	cmd := "env HOME=" + shellQuote(home) + " " + shellQuote(filepath.Join(binDir, "ostree-receive-shell"))
	if args != "" {
		cmd += " " + args
	}
	return `command="` + strings.ReplaceAll(cmd, `"`, `\"`) + `",no-pty,no-port-forwarding`
}

// pushAs runs ostree-push through the ssh client configuration of one key.
func (e *env) pushAs(sshConfig string, args ...string) run {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "ostree-push"), append([]string{"--repo=" + e.src}, args...)...)
	cmd.Env = append(os.Environ(), "OSTREE_PUSH_SSH=ssh -F "+sshConfig)
	return runCmd(e.t, cmd, fmt.Sprintf("ostree-push (%s) %s", filepath.Base(sshConfig), strings.Join(args, " ")))
}

// pushRefused checks that a push failed with msg in what the pusher saw, and
// changed nothing.
func pushRefused(t *testing.T, r run, msg string) {
	t.Helper()
	if r.code == 0 || !strings.Contains(r.stderr+r.stdout, msg) {
		t.Fatalf("exit %d, want a refusal with %q\nstdout: %s\nstderr: %s", r.code, msg, r.stdout, r.stderr)
	}
}

// TestPerUserRights: two keys in one authorized_keys, each with its
// identity in its forced command (ostree-receive-shell --user alice, bob),
// and users: rules for each, through the real sshd. Each pushes its own
// refs and is refused the other's, and its deletes, forced updates and
// sizes follow its own rules; every refusal names the rule. The hook and
// the log records carry the identity. A client cannot pass --user itself,
// a bad identity refuses everything, and a key without identity gets "*".
func TestPerUserRights(t *testing.T) {
	t.Parallel()
	testrepo.RequireTools(t)
	e := &env{t: t, dir: t.TempDir()}
	home := filepath.Join(e.dir, "home")
	e.ssh = sshtest.StartWithOptions(t, sshtest.Options{KeyOptions: userKey(home, "--user alice")})
	alice := e.ssh.ConfigFile
	bob := e.ssh.AddKey(t, "bob", userKey(home, "--user=bob"))
	nobody := e.ssh.AddKey(t, "nobody", userKey(home, ""))
	badName := e.ssh.AddKey(t, "bad", userKey(home, "--user 'bob;x'"))

	e.src = filepath.Join(e.dir, "src")
	e.tree = filepath.Join(e.dir, "tree")
	testrepo.GenerateTree(t, e.tree, testrepo.TreeOptions{Files: 20, Seed: 19})
	testrepo.Init(t, e.src, "archive")
	e.commit("os/main", "os")
	e.commit("app/org.example.Foo", "app")
	remote := e.remote("archive")
	aliceOnly := filepath.Join(e.dir, "alice-only")
	testrepo.Init(t, aliceOnly, "archive")

	hookOut := filepath.Join(e.dir, "hook.log")
	hook := filepath.Join(e.dir, "hook")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho \"user=$OSTREE_RECEIVE_USER refs=$OSTREE_RECEIVE_REFS\" >>\"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`update_hook: %s
users:
  alice:
    allow_refs: ['os/*']
    deny_non_fast_forward: yes
    max_object_size: 64K
  bob:
    repos: [%s]
    allow_refs: ['app/*']
    deny_deletes: yes
  "*":
    repos: []
`, strconv.Quote(shellQuote(hook)+" "+shellQuote(hookOut)), strconv.Quote(remote))
	if err := os.MkdirAll(filepath.Join(home, ".config", "ostree"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".config", "ostree", "ostree-receive.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	hookSays := func(want string) {
		t.Helper()
		data, _ := os.ReadFile(hookOut)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if got := lines[len(lines)-1]; got != want {
			t.Fatalf("the hook's last run: %q, want %q", got, want)
		}
	}
	// The receiver logs to standard error, which the pusher sees, when
	// there is no journal; the push record carries the identity.
	_, err := os.Stat("/run/systemd/journal/socket")
	logsOnStderr := err != nil
	logged := func(r run, user string) {
		t.Helper()
		if logsOnStderr && (!strings.Contains(r.stderr, " as "+user+" to ") || !strings.Contains(r.stderr, " user="+user+" ")) {
			t.Fatalf("no push record with the identity %s in\n%s", user, r.stderr)
		}
	}

	// Each pushes its own refs.
	r := e.pushAs(alice, e.dest(remote), "os/main")
	wantCode(t, r, 0)
	sameRef(t, e.src, remote, "os/main")
	hookSays("user=alice refs=os/main")
	logged(r, "alice")
	r = e.pushAs(bob, e.dest(remote), "app/org.example.Foo")
	wantCode(t, r, 0)
	sameRef(t, e.src, remote, "app/org.example.Foo")
	hookSays("user=bob refs=app/org.example.Foo")
	logged(r, "bob")

	// And is refused the other's, with the rule named.
	before := snap(t, remote)
	e.commit("os/main", "os 2")
	e.commit("app/org.example.Foo", "app 2")
	r = e.pushAs(alice, e.dest(remote), "app/org.example.Foo")
	pushRefused(t, r, "refused by users.alice.allow_refs (os/*)")
	logged(r, "alice")
	r = e.pushAs(bob, e.dest(remote), "os/main")
	pushRefused(t, r, "refused by users.bob.allow_refs (app/*)")
	unchanged(t, remote, before)

	// Deletes: bob may not (users.bob.deny_deletes), alice may.
	r = e.pushAs(bob, e.dest(remote), ":app/org.example.Foo")
	pushRefused(t, r, "deleting refs is refused by users.bob.deny_deletes")
	r = e.pushAs(alice, e.dest(remote), "os/main:os/tmp")
	wantCode(t, r, 0)
	r = e.pushAs(alice, e.dest(remote), ":os/tmp")
	wantCode(t, r, 0)
	if testrepo.RevParse(t, remote, "os/tmp") != "" {
		t.Fatal("os/tmp was not deleted")
	}

	// Forced updates: alice may not (users.alice.deny_non_fast_forward),
	// bob may.
	testrepo.Commit(t, e.src, "os/main", e.tree, "rewritten", "--parent=none")
	testrepo.Commit(t, e.src, "app/org.example.Foo", e.tree, "rewritten", "--parent=none")
	r = e.pushAs(alice, e.dest(remote), "+os/main")
	pushRefused(t, r, "users.alice.deny_non_fast_forward denies non-fast-forward updates")
	r = e.pushAs(bob, e.dest(remote), "+app/org.example.Foo")
	wantCode(t, r, 0)
	sameRef(t, e.src, remote, "app/org.example.Foo")

	// Sizes: a 100 KiB file is over alice's max_object_size, not bob's.
	if err := os.WriteFile(filepath.Join(e.tree, "big"), []byte(strings.Repeat("0123456789abcdef", 100<<6)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.commit("os/main", "big")
	e.commit("app/org.example.Foo", "big")
	r = e.pushAs(alice, e.dest(remote), "+os/main")
	pushRefused(t, r, "over the limit of 65536 (users.alice.max_object_size)")
	r = e.pushAs(bob, e.dest(remote), "app/org.example.Foo")
	wantCode(t, r, 0)

	// A repository the identity may not push to: refused before anything
	// is read.
	before = snap(t, aliceOnly)
	r = e.pushAs(bob, e.dest(aliceOnly), "app/org.example.Foo")
	pushRefused(t, r, "refused by users.bob.repos: identity bob may not push to "+aliceOnly)
	unchanged(t, aliceOnly, before)

	// The client cannot choose its identity: --user in its command is
	// refused by the shell, whatever the key.
	before = snap(t, remote)
	for _, receive := range []string{"ostree-receive --user=alice", "ostree-receive --user alice"} {
		r = e.pushAs(bob, "--receive-command="+receive, e.dest(remote), "os/main")
		pushRefused(t, r, "option not allowed")
		r = e.pushAs(nobody, "--receive-command="+receive, e.dest(remote), "os/main")
		pushRefused(t, r, "option not allowed")
	}
	for _, cmd := range []string{
		"ostree-receive --user=alice " + shellQuote(remote),
		"ostree-receive " + shellQuote(remote) + " --user=alice",
		"ostree-receive --repo=" + shellQuote(remote) + " --user=alice",
		"ostree-receive-1 --user=alice " + shellQuote(remote) + " http://127.0.0.1:1",
		"ostree-receive-shell --user alice",
	} {
		r = e.sshExec("-F", bob, e.ssh.Host(), cmd)
		if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, "ostree-receive-shell: ") {
			t.Fatalf("%q: exit %d\nstdout: %q\nstderr: %s", cmd, r.code, r.stdout, r.stderr)
		}
	}

	// A key without identity gets "*", which allows no repository here.
	r = e.pushAs(nobody, e.dest(remote), "os/main")
	pushRefused(t, r, "refused by users.*.repos: a key without identity may not push to")

	// A bad identity in the forced command refuses every command.
	r = e.pushAs(badName, e.dest(remote), "os/main")
	pushRefused(t, r, `invalid identity "bob;x"`)
	unchanged(t, remote, before)
}

// TestClient1xPerUser: an ostree-push 1.x client through a key with an
// identity (its forced command ostree-receive-shell --user alice, with the
// README's options for 1.x keys) is held to alice's rules as our client
// is: its refs pulled through the tunnel pass users.alice.allow_refs or
// are refused, named; the hook gets the identity.
func TestClient1xPerUser(t *testing.T) {
	t.Parallel()
	testrepo.RequireTools(t)
	e := &env{t: t, dir: t.TempDir()}
	home := filepath.Join(e.dir, "home")
	cmd := "env HOME=" + shellQuote(home) + " " + shellQuote(filepath.Join(binDir, "ostree-receive-shell")) + " --user alice"
	e.ssh = sshtest.StartWithOptions(t, sshtest.Options{KeyOptions: `command="` + strings.ReplaceAll(cmd, `"`, `\"`) + `"` + key1x})
	python1x(t)
	e.src = filepath.Join(e.dir, "src")
	e.tree = filepath.Join(e.dir, "tree")
	testrepo.GenerateTree(t, e.tree, testrepo.TreeOptions{Files: 10, Seed: 23})
	testrepo.Init(t, e.src, "archive")
	e.commit("os/main", "os")
	e.commit("app/x", "app")
	dst := filepath.Join(e.dir, "dst")
	testrepo.Init(t, dst, "archive")
	hookOut := filepath.Join(e.dir, "hook.log")
	hook := filepath.Join(e.dir, "hook")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho \"user=$OSTREE_RECEIVE_USER\" >\"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("update_hook: %s\nusers:\n  alice:\n    allow_refs: ['os/*']\n", strconv.Quote(shellQuote(hook)+" "+shellQuote(hookOut)))
	if err := os.MkdirAll(filepath.Join(home, ".config", "ostree"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".config", "ostree", "ostree-receive.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	r := e.run1x("ostree-push", "--repo="+e.src, "--command=ostree-receive-1", e.dest(dst), "os/main")
	wantCode(t, r, 0)
	sameRefs(t, e.src, dst, "os/main")
	if data, _ := os.ReadFile(hookOut); strings.TrimSpace(string(data)) != "user=alice" {
		t.Fatalf("the hook got %q", data)
	}
	before := snap(t, dst)
	r = e.run1x("ostree-push", "--repo="+e.src, "--command=ostree-receive-1", e.dest(dst), "app/x")
	pushRefused(t, r, "refused by users.alice.allow_refs (os/*)")
	unchanged(t, dst, before)
}
