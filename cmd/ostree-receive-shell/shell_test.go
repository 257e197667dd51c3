package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/transfer"
)

const testHome = "/home/push"

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		want []string // nil: an error
		code int      // exit status of the error
	}{
		// What ostree-push sends (RemoteCommand) and variants.
		{"plain", "ostree-receive /srv/repo", []string{"/srv/repo"}, 0},
		{"relative", "ostree-receive repo", []string{"repo"}, 0},
		{"absolute program", "/usr/local/bin/ostree-receive /srv/repo", []string{"/srv/repo"}, 0},
		{"quoted program", `'/opt/ostree push/bin/ostree-receive' /srv/repo`, []string{"/srv/repo"}, 0},
		{"relative program", "bin/ostree-receive repo", []string{"repo"}, 0},
		{"verbose", "ostree-receive --verbose /srv/repo", []string{"--verbose", "/srv/repo"}, 0},
		{"v", "ostree-receive -v /srv/repo", []string{"-v", "/srv/repo"}, 0},
		{"v twice", "ostree-receive -v --verbose r", []string{"-v", "--verbose", "r"}, 0},
		{"extra blanks", " \tostree-receive \t /srv/repo\n", []string{"/srv/repo"}, 0},
		{"quoted space", `ostree-receive '/srv/my repo'`, []string{"/srv/my repo"}, 0},
		{"quoted quote", `ostree-receive '/srv/remote archive'\''s repo'`, []string{"/srv/remote archive's repo"}, 0},
		{"double quotes", `ostree-receive "/srv/a \"b\" \$c"`, []string{`/srv/a "b" $c`}, 0},
		{"backslash", `ostree-receive /srv/a\ b`, []string{"/srv/a b"}, 0},
		{"home", "ostree-receive ~/repo", []string{testHome + "/repo"}, 0},
		{"home quoted rest", `ostree-receive ~/'my repo'`, []string{testHome + "/my repo"}, 0},
		{"home alone", "ostree-receive ~/", []string{testHome + "/"}, 0},
		{"tilde not prefix", "ostree-receive ~repo", []string{"~repo"}, 0},
		{"tilde user", "ostree-receive ~root/repo", []string{"~root/repo"}, 0},
		// A version-0 client (the original ostree-push).
		{"legacy", "ostree-receive --repo=/srv/repo", []string{"--repo=/srv/repo"}, 0},
		{"legacy verbose debug", "ostree-receive --repo=/srv/repo --verbose --debug", []string{"--verbose", "--debug", "--repo=/srv/repo"}, 0},
		{"legacy v first", "ostree-receive -v --repo=r", []string{"-v", "--repo=r"}, 0},
		{"legacy home", "ostree-receive --repo=~/repo", []string{"--repo=" + testHome + "/repo"}, 0},
		{"legacy quoted", `ostree-receive '--repo=/srv/my repo'`, []string{"--repo=/srv/my repo"}, 0},
		{"legacy empty", "ostree-receive --repo=", nil, exitUsage},
		{"legacy dash path", "ostree-receive --repo=-x", nil, exitUsage},
		{"legacy extra path", "ostree-receive --repo=/srv/repo /other", nil, exitUsage},
		{"legacy config", "ostree-receive --repo=/srv/repo --config=/tmp/c", nil, exitUsage},
		{"legacy repo twice", "ostree-receive --repo=/a --repo=/b", nil, exitUsage},
		{"legacy separate", "ostree-receive --repo /srv/repo", nil, exitUsage},
		{"debug without repo", "ostree-receive --debug /srv/repo", nil, exitUsage},

		// No expansion: these are literal (odd) paths that ostree-receive
		// will fail to open.
		{"command substitution", "ostree-receive $(id)", []string{"$(id)"}, 0},
		{"backquotes", "ostree-receive `id`", []string{"`id`"}, 0},
		{"variable", "ostree-receive $HOME/repo", []string{"$HOME/repo"}, 0},
		{"glob", "ostree-receive /srv/*", []string{"/srv/*"}, 0},
		{"redirection", "ostree-receive repo>/tmp/x", []string{"repo>/tmp/x"}, 0},
		{"quoted semicolon", "ostree-receive 'a; rm -rf /'", []string{"a; rm -rf /"}, 0},

		// Not ostree-receive: 127.
		{"sh", "sh", nil, exitNotAllowed},
		{"sh -c", "sh -c id", nil, exitNotAllowed},
		{"id", "id", nil, exitNotAllowed},
		{"semicolon", "ostree-receive; rm -rf /", nil, exitNotAllowed},
		{"and", "ostree-receive&&id", nil, exitNotAllowed},
		{"env prefix", "env A=b ostree-receive repo", nil, exitNotAllowed},
		{"assignment prefix", "A=b ostree-receive repo", nil, exitNotAllowed},
		{"similar name", "ostree-receiver repo", nil, exitNotAllowed},
		{"suffix without slash", "/bin/xostree-receive repo", nil, exitNotAllowed},
		{"trailing slash", "/bin/ostree-receive/ repo", nil, exitNotAllowed},
		{"the shell", "ostree-receive-shell", nil, exitNotAllowed},
		{"ostree", "ostree refs --repo=/srv/repo", nil, exitNotAllowed},
		{"scp", "scp -t /tmp", nil, exitNotAllowed},
		{"git", "git-receive-pack '/srv/git'", nil, exitNotAllowed},
		{"subst program", "$(ostree-receive) repo", nil, exitNotAllowed},

		// Malformed, or arguments ostree-receive must not get: 2.
		{"unterminated single", "ostree-receive 'repo", nil, exitUsage},
		{"unterminated double", `ostree-receive "repo`, nil, exitUsage},
		{"trailing backslash", `ostree-receive repo\`, nil, exitUsage},
		{"no path", "ostree-receive", nil, exitUsage},
		{"only options", "ostree-receive -v", nil, exitUsage},
		{"empty path", "ostree-receive ''", nil, exitUsage},
		{"extra argument", "ostree-receive a b", nil, exitUsage},
		// ostree-push 1.x: REPO URL [REF...], options anywhere; 1.2 runs
		// ostree-receive-1 first.
		{"1.x", "ostree-receive /srv/repo http://127.0.0.1:4000", []string{"--", "/srv/repo", "http://127.0.0.1:4000"}, 0},
		{"1.x refs", "ostree-receive -n r http://127.0.0.1:4000 a b/c", []string{"-n", "--", "r", "http://127.0.0.1:4000", "a", "b/c"}, 0},
		{"1.x options after", "ostree-receive r http://127.0.0.1:1 a -f -q", []string{"-f", "-q", "--", "r", "http://127.0.0.1:1", "a"}, 0},
		{"1.x home", "ostree-receive ~/r http://127.0.0.1:1", []string{"--", testHome + "/r", "http://127.0.0.1:1"}, 0},
		{"1.2", "ostree-receive-1 -v r http://127.0.0.1:1", []string{"-v", "--", "r", "http://127.0.0.1:1"}, 0},
		{"1.2 path", "/usr/bin/ostree-receive-1 r http://127.0.0.1:1 x", []string{"--", "r", "http://127.0.0.1:1", "x"}, 0},
		{"1.2 legacy", "ostree-receive-0 --repo=/srv/repo", []string{"--repo=/srv/repo"}, 0},
		{"1.x no-update", "ostree-receive --no-update r http://127.0.0.1:1", nil, exitUsage},
		{"1.x config", "ostree-receive r http://127.0.0.1:1 --config=/etc/passwd", nil, exitUsage},
		{"1.x file url", "ostree-receive r file:///etc", nil, exitUsage},
		{"1.x dash ref", "ostree-receive r http://127.0.0.1:1 -- -x", nil, exitUsage},
		{"1.x empty ref", "ostree-receive r http://127.0.0.1:1 ''", nil, exitUsage},
		{"1.x dash repo", "ostree-receive -- -r http://127.0.0.1:1", nil, exitUsage},
		{"1.2 one argument", "ostree-receive-1 /srv/repo", nil, exitUsage},
		{"1.2 legacy plain", "ostree-receive-0 /srv/repo", nil, exitUsage},
		{"1.2 other", "ostree-receive-2 /srv/repo", nil, exitNotAllowed},
		{"substitution split", "ostree-receive $(touch /tmp/x)", nil, exitUsage},
		{"option after path", "ostree-receive repo -v", nil, exitUsage},
		{"config", "ostree-receive --config=/etc/shadow x", nil, exitUsage},
		{"config separate", "ostree-receive --config /etc/shadow x", nil, exitUsage},
		{"config verbose", "ostree-receive -v --config=/etc/passwd x", nil, exitUsage},
		{"double dash", "ostree-receive -- -x", nil, exitUsage},
		{"double dash plain", "ostree-receive -- x", nil, exitUsage},
		{"dash path", "ostree-receive -x", nil, exitUsage},
		{"lone dash", "ostree-receive -", nil, exitUsage},
		{"help", "ostree-receive --help", nil, exitUsage},
		{"version", "ostree-receive --version", nil, exitUsage},
		{"verbose value", "ostree-receive --verbose=true x", nil, exitUsage},
		{"combined short", "ostree-receive -vh x", nil, exitUsage},
		{"nul", "ostree-receive a\x00b", nil, exitUsage},

		// Nothing at all: an interactive session, 1.
		{"empty", "", nil, exitInteractive},
		{"blank", " \t\n", nil, exitInteractive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCommand(tt.cmd, testHome)
			if tt.want != nil {
				if err != nil {
					t.Fatalf("parseCommand(%q): %v", tt.cmd, err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("parseCommand(%q) = %q, want %q", tt.cmd, got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("parseCommand(%q) = %q, want an error (exit %d)", tt.cmd, got, tt.code)
			}
			if c := exitCode(err); c != tt.code {
				t.Fatalf("parseCommand(%q): %v: exit %d, want %d", tt.cmd, err, c, tt.code)
			}
		})
	}
}

// TestParseRemoteCommand checks that whatever path ostree-push sends
// (transfer.RemoteCommand) arrives intact.
func TestParseRemoteCommand(t *testing.T) {
	for _, path := range []string{
		"/srv/repo", "repo", "/srv/remote archive's repo", `a"b\c$d` + "`e`", "tab\there", "new\nline",
		"~/repo", "~/my repo", "/srv/ünïcode", "/srv/;&|<>*?[]{}()!#",
	} {
		for _, receive := range []string{"", "ostree-receive", "ostree-receive --verbose", "'/opt/x y/ostree-receive' -v"} {
			cmd := transfer.RemoteCommand(receive, path)
			got, err := parseCommand(cmd, testHome)
			if err != nil {
				t.Errorf("%q: %v", cmd, err)
				continue
			}
			want := path
			if strings.HasPrefix(path, "~/") {
				want = testHome + path[1:]
			}
			if got[len(got)-1] != want {
				t.Errorf("%q: path %q, want %q", cmd, got[len(got)-1], want)
			}
		}
	}
}

func TestParseCommandHome(t *testing.T) {
	for _, tt := range []struct{ home, want string }{
		{"/root", "/root/r"},
		{"/home/push/", "/home/push/r"},
		{"/", "/r"},
	} {
		got, err := parseCommand("ostree-receive ~/r", tt.home)
		if err != nil || len(got) != 1 || got[0] != tt.want {
			t.Errorf("home %q: %q, %v; want %q", tt.home, got, err, tt.want)
		}
	}
	if _, err := parseCommand("ostree-receive ~/r", ""); exitCode(err) != exitUsage {
		t.Errorf("no home: %v", err)
	}
	if got, err := parseCommand("ostree-receive /r", ""); err != nil || got[0] != "/r" {
		t.Errorf("no home, absolute path: %q, %v", got, err)
	}
}

// FuzzParseCommand checks that whatever a client sends, an accepted command
// only ever yields the allowed options and one path that is not an option.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"ostree-receive /srv/repo", "ostree-receive -v '/a b'", "ostree-receive ~/x",
		"ostree-receive --config=/etc/shadow x", "ostree-receive -- -x", "sh -c id",
		"ostree-receive -n r http://127.0.0.1:1 a", "ostree-receive-1 r http://x -- b", "ostree-receive-0 --repo=r",
		`"ostree-receive" "-v" "x"`, `ostree-receive\ -v x`, "",
		"ostree-receive --user=admin x", "ostree-receive --user admin x", "ostree-receive x --user=admin",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		args, err := parseCommand(cmd, testHome)
		if err != nil {
			if c := exitCode(err); c != exitUsage && c != exitNotAllowed && c != exitInteractive {
				t.Fatalf("%q: exit %d: %v", cmd, c, err)
			}
			return
		}
		if len(args) == 0 {
			t.Fatalf("%q: no arguments", cmd)
		}
		if i := slices.Index(args, "--"); i >= 0 {
			// The URL form: allowed options, then REPO URL [REF...].
			for _, a := range args[:i] {
				if !urlOptions[a] {
					t.Fatalf("%q: option %q passed on", cmd, a)
				}
			}
			pos := args[i+1:]
			if len(pos) < 2 || !strings.HasPrefix(pos[1], "http://") {
				t.Fatalf("%q: positional arguments %q", cmd, pos)
			}
			for _, a := range append([]string{pos[0]}, pos[2:]...) {
				if a == "" || strings.HasPrefix(a, "-") || strings.IndexByte(a, 0) >= 0 {
					t.Fatalf("%q: argument %q passed on", cmd, a)
				}
			}
			return
		}
		path := args[len(args)-1]
		legacy := strings.HasPrefix(path, "--repo=")
		path = strings.TrimPrefix(path, "--repo=")
		for _, a := range args[:len(args)-1] {
			if a != "-v" && a != "--verbose" && !(legacy && a == "--debug") {
				t.Fatalf("%q: option %q passed on", cmd, a)
			}
		}
		if path == "" || strings.HasPrefix(path, "-") || strings.IndexByte(path, 0) >= 0 {
			t.Fatalf("%q: path %q passed on", cmd, path)
		}
		words, _ := transfer.SplitCommand(cmd)
		if !isProgram(words[0], receiveName) && !isProgram(words[0], receiveName+"-1") && !isProgram(words[0], receiveName+"-0") {
			t.Fatalf("%q: program %q accepted", cmd, words[0])
		}
	})
}

// fakeSystem records what run would exec.
type fakeSystem struct {
	env                    map[string]string
	receiver               string
	self                   string
	execErr                error
	stdout, stderr         bytes.Buffer
	execPath               string
	execArgv, execEnviron  []string
	execCalled, selfFailed bool
}

func (f *fakeSystem) system() system {
	return system{
		lookupEnv: func(k string) (string, bool) { v, ok := f.env[k]; return v, ok },
		executable: func() (string, error) {
			if f.self == "" {
				f.selfFailed = true
				return "", errors.New("no executable")
			}
			return f.self, nil
		},
		exec: func(p string, argv, envv []string) error {
			f.execCalled, f.execPath, f.execArgv, f.execEnviron = true, p, argv, envv
			return f.execErr
		},
		environ: func() []string {
			var kv []string
			for k, v := range f.env {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
		receiver: f.receiver,
		stdout:   &f.stdout,
		stderr:   &f.stderr,
	}
}

// stubDir makes a directory with an executable ostree-receive and a
// non-executable file, and returns it.
func stubDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, receiveName), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRun(t *testing.T) {
	sibling := stubDir(t)
	lonely := t.TempDir() // a shell with no receiver beside it
	stub := filepath.Join(stubDir(t), receiveName)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		receiver string
		self     string
		execErr  error
		code     int
		exec     []string // argv when exec is expected
		stdout   string   // substring
		stderr   string   // substring
		noStderr bool
	}{
		{name: "login shell", args: []string{"-c", "ostree-receive '/srv/a b'"}, self: filepath.Join(sibling, selfName),
			exec: []string{filepath.Join(sibling, receiveName), "/srv/a b"}, noStderr: true},
		{name: "forced command", env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive -v ~/r", "HOME": "/h"},
			self: filepath.Join(sibling, selfName), exec: []string{filepath.Join(sibling, receiveName), "-v", "/h/r"}},
		{name: "both", args: []string{"-c", selfName}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			self: filepath.Join(sibling, selfName), exec: []string{filepath.Join(sibling, receiveName), "r"}},
		{name: "both absolute", args: []string{"-c", "'/usr/local/bin/ostree-receive-shell'"},
			env:  map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			self: filepath.Join(sibling, selfName), exec: []string{filepath.Join(sibling, receiveName), "r"}},
		{name: "both refused", args: []string{"-c", selfName}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "sh"},
			code: exitNotAllowed, stderr: "command not allowed"},
		{name: "both without original", args: []string{"-c", selfName}, code: exitInteractive, stderr: "interactive login is not allowed"},
		{name: "-c wins over original", args: []string{"-c", "ostree-receive x"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "sh"},
			self: filepath.Join(sibling, selfName), exec: []string{filepath.Join(sibling, receiveName), "x"}},
		{name: "test receiver", args: []string{"-c", "ostree-receive x"}, self: filepath.Join(lonely, selfName),
			receiver: stub, exec: []string{stub, "x"}},
		{name: "sibling before test receiver", args: []string{"-c", "ostree-receive x"}, self: filepath.Join(sibling, selfName),
			receiver: stub, exec: []string{filepath.Join(sibling, receiveName), "x"}},
		{name: "client path ignored", args: []string{"-c", "/tmp/evil/ostree-receive x"}, self: filepath.Join(lonely, selfName),
			receiver: stub, exec: []string{stub, "x"}},
		{name: "test receiver relative", args: []string{"-c", "ostree-receive x"}, self: filepath.Join(lonely, selfName),
			receiver: "bin/ostree-receive", code: exitCannotExec, stderr: "absolute"},
		{name: "exec fails", args: []string{"-c", "ostree-receive x"}, self: filepath.Join(sibling, selfName),
			execErr: errors.New("permission denied"), code: exitCannotExec, stderr: "cannot run"},
		{name: "interactive", code: exitInteractive, stderr: "interactive login is not allowed; this account only accepts ostree-push"},
		{name: "empty original", env: map[string]string{"SSH_ORIGINAL_COMMAND": ""}, code: exitInteractive, stderr: "interactive"},
		{name: "empty -c", args: []string{"-c", ""}, code: exitInteractive, stderr: "interactive"},
		{name: "not allowed", args: []string{"-c", "sh -c id"}, code: exitNotAllowed, stderr: "command not allowed"},
		{name: "config", env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive --config=/etc/passwd r"},
			code: exitUsage, stderr: "option not allowed"},
		{name: "unterminated", args: []string{"-c", "ostree-receive 'x"}, code: exitUsage, stderr: "unterminated"},
		{name: "-c without command", args: []string{"-c"}, code: exitUsage},
		{name: "-c extra", args: []string{"-c", "ostree-receive x", "y"}, code: exitUsage},
		{name: "unknown flag", args: []string{"--bogus"}, code: exitUsage, stderr: "--help"},
		{name: "help", args: []string{"--help"}, stdout: "127  command not allowed", noStderr: true},
		{name: "h", args: []string{"-h"}, stdout: "Usage: ostree-receive-shell", noStderr: true},
		{name: "version", args: []string{"--version"}, stdout: "ostree-receive-shell dev\n", noStderr: true},
		{name: "help as command", args: []string{"-c", "--help"}, code: exitNotAllowed},

		// An identity, from the forced command only (per-key rights).
		{name: "user", args: []string{"--user", "alice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive -v r"},
			self: filepath.Join(sibling, selfName), exec: []string{filepath.Join(sibling, receiveName), "--user=alice", "-v", "r"}},
		{name: "user=", args: []string{"--user=bob.smith@example-1_x"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			self: filepath.Join(sibling, selfName), exec: []string{filepath.Join(sibling, receiveName), "--user=bob.smith@example-1_x", "r"}},
		{name: "user legacy", args: []string{"--user", "alice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive --repo=r"},
			self: filepath.Join(sibling, selfName), exec: []string{filepath.Join(sibling, receiveName), "--user=alice", "--repo=r"}},
		{name: "user 1.x", args: []string{"--user", "alice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive-1 -n r http://127.0.0.1:1 a"},
			self: filepath.Join(sibling, selfName), exec: []string{filepath.Join(sibling, receiveName), "--user=alice", "-n", "--", "r", "http://127.0.0.1:1", "a"}},
		{name: "user through login shell", args: []string{"-c", selfName + " --user alice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			self: filepath.Join(sibling, selfName), exec: []string{filepath.Join(sibling, receiveName), "--user=alice", "r"}},
		{name: "user= through login shell", args: []string{"-c", "'/usr/bin/ostree-receive-shell' --user=alice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			self: filepath.Join(sibling, selfName), exec: []string{filepath.Join(sibling, receiveName), "--user=alice", "r"}},
		{name: "user interactive", args: []string{"--user", "alice"}, code: exitInteractive, stderr: "interactive login is not allowed"},
		{name: "user through login shell interactive", args: []string{"-c", selfName + " --user alice"}, code: exitInteractive, stderr: "interactive"},
		{name: "user refused command", args: []string{"--user", "alice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "sh"},
			code: exitNotAllowed, stderr: "command not allowed"},
		// The client's command cannot set or change the identity.
		{name: "client user", env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive --user=admin r"},
			code: exitUsage, stderr: "option not allowed"},
		{name: "client user separate", env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive --user admin r"},
			code: exitUsage, stderr: "option not allowed"},
		{name: "client changes user", args: []string{"--user", "alice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive --user=admin r"},
			code: exitUsage, stderr: "option not allowed"},
		{name: "client user after path", args: []string{"--user", "alice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r --user=admin"},
			code: exitUsage, stderr: "extra argument"},
		{name: "client user legacy", args: []string{"--user", "alice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive --repo=r --user=admin"},
			code: exitUsage, stderr: "--repo=PATH takes only"},
		{name: "client user 1.x", args: []string{"--user", "alice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r http://127.0.0.1:1 --user=admin"},
			code: exitUsage, stderr: "option not allowed"},
		{name: "client user 1.x refs", args: []string{"--user", "alice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive-1 r http://127.0.0.1:1 -- --user=admin"},
			code: exitUsage, stderr: "not a ref name"},
		{name: "client runs the shell with a user", args: []string{"-c", "ostree-receive-shell --user admin"},
			code: exitInteractive, stderr: "interactive"},
		{name: "client login command with a user", args: []string{"-c", "ostree-receive --user=admin r"},
			code: exitUsage, stderr: "option not allowed"},
		// A bad identity in the forced command refuses every command.
		{name: "user bad characters", args: []string{"--user", "al ice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage, stderr: "invalid identity"},
		{name: "user newline", args: []string{"--user=alice\nINFO: forged"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage, stderr: "invalid identity"},
		{name: "user control", args: []string{"--user=al\x1bice"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage, stderr: "invalid identity"},
		{name: "user dash", args: []string{"--user", "-x"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage, stderr: "invalid identity"},
		{name: "user star", args: []string{"--user", "*"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage, stderr: "invalid identity"},
		{name: "user slash", args: []string{"--user", "../x"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage, stderr: "invalid identity"},
		{name: "user empty", args: []string{"--user="}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage, stderr: "invalid identity"},
		{name: "user too long", args: []string{"--user", strings.Repeat("a", 65)}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage, stderr: "invalid identity"},
		{name: "user missing", args: []string{"--user"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage, stderr: "--user NAME"},
		{name: "user twice", args: []string{"--user", "a", "--user", "b"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage},
		{name: "user extra", args: []string{"--user", "a", "x"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage},
		{name: "user bad through login shell", args: []string{"-c", selfName + " --user 'a;b'"}, env: map[string]string{"SSH_ORIGINAL_COMMAND": "ostree-receive r"},
			code: exitUsage, stderr: "invalid identity"},
		{name: "user with -c", args: []string{"--user", "alice", "-c", "ostree-receive r"}, code: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSystem{env: tt.env, receiver: tt.receiver, self: tt.self, execErr: tt.execErr}
			if f.env == nil {
				f.env = map[string]string{"HOME": testHome}
			}
			code := run(tt.args, f.system())
			if tt.exec != nil && tt.execErr == nil {
				if !f.execCalled {
					t.Fatalf("exit %d without exec; stderr %q", code, f.stderr.String())
				}
				if f.execPath != tt.exec[0] || !reflect.DeepEqual(f.execArgv, tt.exec) {
					t.Fatalf("exec %q %q, want %q", f.execPath, f.execArgv, tt.exec)
				}
				for _, kv := range f.execEnviron {
					if name, _, _ := strings.Cut(kv, "="); !passedEnv[name] {
						t.Fatalf("environment %q: %s is not on the allow-list", f.execEnviron, name)
					}
				}
			} else if f.execCalled && tt.execErr == nil {
				t.Fatalf("exec %q, want none", f.execArgv)
			}
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, f.stderr.String())
			}
			if !strings.Contains(f.stdout.String(), tt.stdout) {
				t.Fatalf("stdout %q, want %q in it", f.stdout.String(), tt.stdout)
			}
			if !strings.Contains(f.stderr.String(), tt.stderr) {
				t.Fatalf("stderr %q, want %q in it", f.stderr.String(), tt.stderr)
			}
			if tt.noStderr && f.stderr.Len() > 0 {
				t.Fatalf("stderr %q, want none", f.stderr.String())
			}
		})
	}
}

// TestEnvironment: the receiver gets the allow-listed variables sshd sets
// and locale variables holding locale names; nothing a client may have
// brought in, and no variable picks the program run.
func TestEnvironment(t *testing.T) {
	sibling := stubDir(t)
	lonely := t.TempDir()
	stub := filepath.Join(stubDir(t), receiveName)
	env := map[string]string{
		"HOME": "/home/push", "USER": "push", "LOGNAME": "push", "PATH": "/usr/bin:/bin", "SHELL": "/usr/bin/ostree-receive-shell",
		"SSH_CLIENT": "192.0.2.1 5555 22", "SSH_CONNECTION": "192.0.2.1 5555 192.0.2.2 22",
		"LANG": "de_DE.UTF-8", "LANGUAGE": "de_DE:en", "LC_MESSAGES": "de_DE@euro",
		"LC_ALL":                          "/tmp/evil/locale",
		"LC_CTYPE":                        "C\nX=1",
		"SSH_ORIGINAL_COMMAND":            "ostree-receive r",
		"OSTREE_RECEIVE_CONF":             "/tmp/evil.conf",
		"OSTREE_RECEIVE_TEST_BEFORE_REFS": "touch /tmp/pwned",
		"OSTREE_RECEIVE_SHELL_RECEIVE":    stub,
		"OSTREE_RECEIVE_LOG_STDERR":       "1",
		"OSTREE_RECEIVE_SYSTEMD_BUS":      "unix:path=/tmp/evil",
		"XDG_CONFIG_HOME":                 "/tmp/evil",
		"DBUS_SYSTEM_BUS_ADDRESS":         "unix:path=/tmp/evil",
		"LD_PRELOAD":                      "/tmp/evil.so",
		"LD_LIBRARY_PATH":                 "/tmp/evil",
		"GORACE":                          "log_path=/tmp/evil",
		"TMPDIR":                          "/tmp/evil",
	}
	want := []string{
		"HOME=/home/push", "LANG=de_DE.UTF-8", "LANGUAGE=de_DE:en", "LC_MESSAGES=de_DE@euro", "LOGNAME=push",
		"PATH=/usr/bin:/bin", "SHELL=/usr/bin/ostree-receive-shell",
		"SSH_CLIENT=192.0.2.1 5555 22", "SSH_CONNECTION=192.0.2.1 5555 192.0.2.2 22", "USER=push",
	}
	f := &fakeSystem{env: env, self: filepath.Join(sibling, selfName)}
	if code := run(nil, f.system()); code != 0 || !f.execCalled {
		t.Fatalf("exit %d, exec %v; stderr %q", code, f.execCalled, f.stderr.String())
	}
	got := slices.Sorted(slices.Values(f.execEnviron))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the receiver's environment:\n%q\nwant\n%q", got, want)
	}

	// The test build's extra variables.
	f = &fakeSystem{env: env, self: filepath.Join(sibling, selfName)}
	sys := f.system()
	sys.extraEnv = []string{"GORACE"}
	run(nil, sys)
	if !slices.Contains(f.execEnviron, "GORACE=log_path=/tmp/evil") {
		t.Errorf("extraEnv GORACE not passed: %q", f.execEnviron)
	}

	// $OSTREE_RECEIVE_SHELL_RECEIVE picks nothing: only a test build sets
	// system.receiver.
	f = &fakeSystem{env: env, self: filepath.Join(lonely, selfName)}
	run(nil, f.system())
	if f.execCalled && f.execPath == stub {
		t.Errorf("ran the client's $OSTREE_RECEIVE_SHELL_RECEIVE")
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// build builds the shell alone in a directory (no ostree-receive beside
// it), as the tests do (with the test hooks: $OSTREE_RECEIVE_SHELL_RECEIVE
// names its receiver), and returns its path.
func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "ostree-receive-shell-test-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-tags", "ostreepush_testhooks", "-o", filepath.Join(buildDir, selfName), ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, selfName)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// TestBinary runs the built shell the way sshd does, with a stub receiver
// that prints its arguments one a line, LANG and the marker variable
// (which the shell drops).
func TestBinary(t *testing.T) {
	shell := build(t)
	dir := t.TempDir()
	stub := filepath.Join(dir, "stub")
	script := "#!/bin/sh\nprintf '%s\\n' \"$0\" \"$@\" \"lang=$LANG marker=$SHELL_TEST_MARKER\"\n"
	if err := os.WriteFile(stub, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "marker")
	const receiveEnv = "OSTREE_RECEIVE_SHELL_RECEIVE"
	base := []string{"PATH=/usr/bin:/bin", "HOME=/home/push", "LANG=C.UTF-8", "SHELL_TEST_MARKER=dropped", receiveEnv + "=" + stub}

	tests := []struct {
		name   string
		args   []string
		env    []string
		code   int
		stdout string
		stderr string
	}{
		{"login shell", []string{"-c", `ostree-receive --verbose '/srv/remote archive'\''s repo'`}, nil, 0,
			stub + "\n--verbose\n/srv/remote archive's repo\nlang=C.UTF-8 marker=\n", ""},
		{"login shell home", []string{"-c", "/usr/bin/ostree-receive ~/'a b'"}, nil, 0,
			stub + "\n/home/push/a b\nlang=C.UTF-8 marker=\n", ""},
		{"forced command", nil, []string{"SSH_ORIGINAL_COMMAND=ostree-receive -v r"}, 0,
			stub + "\n-v\nr\nlang=C.UTF-8 marker=\n", ""},
		{"login shell and forced command", []string{"-c", "ostree-receive-shell"}, []string{"SSH_ORIGINAL_COMMAND=ostree-receive r"}, 0,
			stub + "\nr\nlang=C.UTF-8 marker=\n", ""},
		{"forced command with a user", []string{"--user", "alice"}, []string{"SSH_ORIGINAL_COMMAND=ostree-receive -v r"}, 0,
			stub + "\n--user=alice\n-v\nr\nlang=C.UTF-8 marker=\n", ""},
		{"login shell and forced command with a user", []string{"-c", "ostree-receive-shell --user alice"}, []string{"SSH_ORIGINAL_COMMAND=ostree-receive r"}, 0,
			stub + "\n--user=alice\nr\nlang=C.UTF-8 marker=\n", ""},
		{"client's user", []string{"--user", "alice"}, []string{"SSH_ORIGINAL_COMMAND=ostree-receive --user=bob r"}, exitUsage, "", "option not allowed"},
		{"bad user", []string{"--user", "alice;id"}, []string{"SSH_ORIGINAL_COMMAND=ostree-receive r"}, exitUsage, "", "invalid identity"},
		{"not allowed", []string{"-c", "touch " + marker}, nil, exitNotAllowed, "", "command not allowed"},
		{"sh", []string{"-c", "sh -c 'touch " + marker + "'"}, nil, exitNotAllowed, "", "command not allowed"},
		{"chained", []string{"-c", "ostree-receive x; touch " + marker}, nil, exitUsage, "", "extra argument"},
		{"config", []string{"-c", "ostree-receive --config=/etc/passwd r"}, nil, exitUsage, "", "option not allowed"},
		{"interactive", nil, nil, exitInteractive, "", "interactive login is not allowed"},
		{"version", []string{"--version"}, nil, 0, "ostree-receive-shell dev\n", ""},
		{"receiver missing", []string{"-c", "ostree-receive r"}, []string{receiveEnv + "=" + filepath.Join(dir, "nonexistent")},
			exitNotAllowed, "", "no such file"},
		{"receiver not executable", []string{"-c", "ostree-receive r"}, []string{receiveEnv + "=" + dir},
			exitCannotExec, "", "cannot run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(shell, tt.args...)
			cmd.Env = append(append([]string{}, base...), tt.env...)
			cmd.Dir = dir
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			if tt.code == 0 && stdout.String() != tt.stdout {
				t.Fatalf("stdout %q, want %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) || (tt.stderr == "" && stderr.Len() > 0) {
				t.Fatalf("stderr %q, want %q", stderr.String(), tt.stderr)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("%s was created", marker)
			}
		})
	}
}
