package sshtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// SSHD is the sshd binary ci/test-sshd runs.
const SSHD = "/usr/sbin/sshd"

// host is the Host alias of the generated ssh_config.
const host = "testhost"

// Server is a running test sshd.
type Server struct {
	// Dir holds the keys, configs, pid file and sshd.log.
	Dir string
	// Port is the TCP port sshd listens on at 127.0.0.1.
	Port string
	// ConfigFile is the ssh client configuration (ssh -F) that defines Host().
	ConfigFile string
}

// SSHCommand returns the ssh command, with its options, that reaches the
// server: append Host() and a remote command to use it.
func (s *Server) SSHCommand() []string {
	return []string{"ssh", "-F", s.ConfigFile}
}

// Host returns the host alias defined in ConfigFile.
func (s *Server) Host() string { return host }

// Run runs cmd on the server through ssh (as the current user, by the
// remote user's shell) and returns its standard output. On failure the
// error includes the exit status and standard error.
func (s *Server) Run(t testing.TB, cmd string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append(s.SSHCommand()[1:], s.Host(), cmd)
	c := exec.CommandContext(ctx, "ssh", args...)
	var stdout, stderr bytes.Buffer
	c.Stdin = nil
	c.Stdout = &stdout
	c.Stderr = &stderr
	c.WaitDelay = 10 * time.Second
	if err := c.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ssh %s %q: %w: %s", s.Host(), cmd, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Start starts a test sshd in a new t.TempDir() and stops it when the test
// ends. It skips the test when sshd or ssh is not installed (fails under
// CI=true) and fails it when the server does not come up.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWithOptions(t, Options{})
}

// Options change how StartWithOptions sets up the server.
type Options struct {
	// KeyOptions, when not empty, precede the client key in
	// authorized_keys (one line), for instance
	//
	//	command="/path/ostree-receive-shell",no-pty,no-port-forwarding
	//
	// With a forced command the server is ready once sshd accepts the key,
	// whatever that command does with ci/test-sshd's probe.
	KeyOptions string
	// AcceptEnv, when not empty, is sshd's AcceptEnv: the patterns of the
	// environment variables a client may send (SetEnv, SendEnv), "*" for
	// any. By default sshd accepts none.
	AcceptEnv string
}

// StartWithOptions is Start with Options.
func StartWithOptions(t testing.TB, opts Options) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("sshtest: needs an sshd; skipped under -short (make test), run by make check")
	}
	if strings.ContainsAny(opts.KeyOptions, "\r\n") {
		t.Fatalf("sshtest: KeyOptions must be one line: %q", opts.KeyOptions)
	}
	if strings.ContainsAny(opts.AcceptEnv, "\r\n") {
		t.Fatalf("sshtest: AcceptEnv must be one line: %q", opts.AcceptEnv)
	}
	if missing := missingTools(); len(missing) > 0 {
		msg := fmt.Sprintf("sshtest: test sshd unavailable: missing %s (run ci/setup as root)", strings.Join(missing, ", "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	script := filepath.Join(root, "ci", "test-sshd")
	dir := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, script, "start", dir)
	c.Env = append(withoutEnv(withoutEnv(os.Environ(), keyOptionsEnv), acceptEnvEnv),
		keyOptionsEnv+"="+opts.KeyOptions, acceptEnvEnv+"="+opts.AcceptEnv)
	var stdout, stderr bytes.Buffer
	c.Stdout = &stdout
	c.Stderr = &stderr
	c.WaitDelay = 10 * time.Second
	runErr := c.Run()
	// Register the stop even when start failed: a half-started sshd must not
	// outlive the test. Cleanups run last-in first-out, so this runs before
	// the TempDir is removed.
	t.Cleanup(func() {
		stop := exec.Command(script, "stop", dir)
		if out, err := stop.CombinedOutput(); err != nil {
			t.Errorf("sshtest: %s stop %s: %v\n%s", script, dir, err, out)
		}
	})
	if runErr != nil {
		t.Fatalf("sshtest: %s start %s: %v\n%s", script, dir, runErr, stderr.String())
	}
	port := strings.TrimSpace(stdout.String())
	if port == "" {
		t.Fatalf("sshtest: %s start printed no port\n%s", script, stderr.String())
	}
	return &Server{
		Dir:        dir,
		Port:       port,
		ConfigFile: filepath.Join(dir, "ssh_config"),
	}
}

// AddKey authorizes one more client key, a new ed25519 key named name
// (letters, digits, '-' and '_') in Dir, with the authorized_keys options
// (a forced command, say; one line, may be empty), and returns an ssh
// client configuration (ssh -F) in which Host() logs in with that key
// alone. sshd reads authorized_keys at each login: the key works at once.
func (s *Server) AddKey(t testing.TB, name, options string) string {
	t.Helper()
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		t.Fatalf("sshtest: AddKey: bad key name %q", name)
	}
	if strings.ContainsAny(options, "\r\n") {
		t.Fatalf("sshtest: AddKey: options must be one line: %q", options)
	}
	key := filepath.Join(s.Dir, "client_key_"+name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test-sshd "+name, "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("sshtest: ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(pub)) + "\n"
	if options != "" {
		line = options + " " + line
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, "authorized_keys"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	config, err := os.ReadFile(s.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(config), "\n")
	replaced := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "IdentityFile ") {
			lines[i], replaced = "    IdentityFile "+key, true
		}
	}
	if !replaced {
		t.Fatalf("sshtest: AddKey: no IdentityFile in %s", s.ConfigFile)
	}
	configFile := filepath.Join(s.Dir, "ssh_config_"+name)
	if err := os.WriteFile(configFile, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return configFile
}

// keyOptionsEnv is how ci/test-sshd start takes Options.KeyOptions.
const keyOptionsEnv = "TEST_SSHD_KEY_OPTIONS"

// acceptEnvEnv is how ci/test-sshd start takes Options.AcceptEnv.
const acceptEnvEnv = "TEST_SSHD_ACCEPT_ENV"

// withoutEnv returns env without the variable name.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// missingTools lists what ci/test-sshd needs and cannot find.
func missingTools() []string {
	var missing []string
	if fi, err := os.Stat(SSHD); err != nil || fi.IsDir() {
		missing = append(missing, SSHD)
	}
	for _, name := range []string{"bash", "ssh", "ssh-keygen", "ss"} {
		if _, err := exec.LookPath(name); err != nil {
			missing = append(missing, name)
		}
	}
	return missing
}

// RepoRoot returns the directory holding go.mod, found by walking up from
// the working directory (go test runs in the package directory), falling
// back to this source file's directory.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, start := range starts {
		for dir := start; ; {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				if _, err := os.Stat(filepath.Join(dir, "ci", "test-sshd")); err == nil {
					return dir, nil
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("cannot find the repository root (a directory with go.mod and ci/test-sshd) above the working directory")
}
