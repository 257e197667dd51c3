package e2e

// Version-0 clients (the original ostree-push): a client written from the
// protocol's description runs `ostree-receive --repo=PATH` over the test
// sshd, reads INFO, sends UPDATE and the source repository's object files
// with PUTOBJECT, and DONE. The receiver must verify every object and
// move the refs only after DONE, all or none, as in version 1.

import (
	"bufio"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

// v0Client is one version-0 session through the test sshd.
type v0Client struct {
	t      *testing.T
	cmd    *exec.Cmd
	w      io.WriteCloser
	r      *bufio.Reader
	stderr lockedBuffer // written by exec's copying goroutine
}

// lockedBuffer is a bytes.Buffer that one goroutine may write while
// another reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (e *env) v0Connect(remoteCommand string) *v0Client {
	e.t.Helper()
	c := &v0Client{t: e.t}
	c.cmd = exec.Command("ssh", "-F", e.ssh.ConfigFile, e.ssh.Host(), remoteCommand)
	c.cmd.Env = append(os.Environ(), goraceEnv())
	c.cmd.Stderr = &c.stderr
	var err error
	if c.w, err = c.cmd.StdinPipe(); err != nil {
		e.t.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	c.r = bufio.NewReader(out)
	if err := c.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	return c
}

func (c *v0Client) send(m *wire.V0Message) {
	c.t.Helper()
	if err := wire.WriteV0(c.w, m); err != nil {
		c.t.Fatalf("sending %v: %v (receiver: %s)", m.Type, err, c.stderr.String())
	}
}

func (c *v0Client) read(want wire.V0Type) *wire.V0Message {
	c.t.Helper()
	m, err := wire.ReadV0(c.r)
	if err != nil {
		c.t.Fatalf("reading %v: %v (receiver: %s)", want, err, c.stderr.String())
	}
	if m.Type != want {
		c.t.Fatalf("got %v, want %v", m.Type, want)
	}
	return m
}

// status reads a STATUS and returns its result and message.
func (c *v0Client) status() (bool, string) {
	c.t.Helper()
	m := c.read(wire.V0Status)
	ok, _ := m.Get("result").(bool)
	msg, _ := m.Get("message").(string)
	return ok, msg
}

// putObject sends one object file of an archive repository.
func (c *v0Client) putObject(name string, data []byte) {
	c.t.Helper()
	c.send(&wire.V0Message{Type: wire.V0PutObject, Body: []wire.V0Entry{
		{Key: "object", Value: name}, {Key: "size", Value: uint64(len(data))}}})
	if _, err := c.w.Write(data); err != nil {
		c.t.Fatalf("sending %s: %v", name, err)
	}
}

// done sends DONE and returns the receiver's exit status. A receiver that
// refused the push may have ended before DONE: then it cannot be sent.
func (c *v0Client) done() int {
	c.t.Helper()
	wire.WriteV0(c.w, &wire.V0Message{Type: wire.V0Done})
	c.w.Close()
	io.Copy(io.Discard, c.r)
	return exitCode(c.cmd.Wait())
}

// objectFiles lists an archive repository's object files (relative to
// objects/, e.g. "ab/cdef….commit"), sorted: metadata of commits last, as
// the order does not matter to a receiver that checks after DONE.
func objectFiles(t *testing.T, repo string) []string {
	t.Helper()
	var files []string
	root := filepath.Join(repo, "objects")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

func v0Receive(remote string, extra ...string) string {
	words := []string{shellQuote(filepath.Join(binDir, "ostree-receive")), shellQuote("--repo=" + remote)}
	return strings.Join(append(words, extra...), " ")
}

func TestLegacyV0Push(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 60)
	remote := e.remote("archive")
	commit := testrepo.RevParse(t, e.src, "os/main")

	c := e.v0Connect(v0Receive(remote, "--verbose"))
	info := c.read(wire.V0Info)
	if mode := info.Get("mode"); mode != int32(1) {
		t.Errorf("INFO mode %v, want 1 (archive)", mode)
	}
	if refs, _ := info.Get("refs").([]wire.V0Pair); len(refs) != 0 {
		t.Errorf("INFO refs of an empty repository: %v", refs)
	}
	c.send(&wire.V0Message{Type: wire.V0Update, Body: []wire.V0Entry{
		{Key: "os/main", Value: wire.V0Pair{A: zeros, B: commit}}}})
	if ok, msg := c.status(); !ok {
		t.Fatalf("UPDATE refused: %s", msg)
	}
	files := objectFiles(t, e.src)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(e.src, "objects", f))
		if err != nil {
			t.Fatal(err)
		}
		c.putObject(strings.ReplaceAll(f, "/", ""), data)
		if ok, msg := c.status(); !ok {
			t.Fatalf("PUTOBJECT %s refused: %s", f, msg)
		}
	}
	if code := c.done(); code != 0 {
		t.Fatalf("receiver exit %d: %s", code, c.stderr.String())
	}
	sameRef(t, e.src, remote, "os/main")
	testrepo.Fsck(t, remote)
	t.Logf("version 0: %d objects pushed", len(files))

	// A second session sees the ref in INFO; an update with a stale old
	// value is refused at once, and nothing changes.
	before := snap(t, remote)
	c = e.v0Connect(v0Receive(remote))
	info = c.read(wire.V0Info)
	refs, _ := info.Get("refs").([]wire.V0Pair)
	if len(refs) != 1 || refs[0] != (wire.V0Pair{A: "os/main", B: commit}) {
		t.Fatalf("INFO refs %v, want os/main at %s", refs, commit)
	}
	c.send(&wire.V0Message{Type: wire.V0Update, Body: []wire.V0Entry{
		{Key: "os/main", Value: wire.V0Pair{A: zeros, B: commit}}}})
	if ok, msg := c.status(); ok || !strings.Contains(msg, "is at "+commit) {
		t.Errorf("stale UPDATE: %v %q", ok, msg)
	}
	if code := c.done(); code == 0 {
		t.Error("the receiver exited 0 after refusing the update")
	}
	unchanged(t, remote, before)
}

// TestLegacyV0Refusals: what the receiver refuses from a version-0 client,
// each with the remote unchanged.
func TestLegacyV0Refusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 30)
	commit := testrepo.RevParse(t, e.src, "os/main")
	files := objectFiles(t, e.src)
	read := func(f string) []byte {
		data, err := os.ReadFile(filepath.Join(e.src, "objects", f))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	update := &wire.V0Message{Type: wire.V0Update, Body: []wire.V0Entry{
		{Key: "os/main", Value: wire.V0Pair{A: zeros, B: commit}}}}

	// start opens a session and gets past UPDATE.
	start := func(remote string) *v0Client {
		c := e.v0Connect(v0Receive(remote))
		c.read(wire.V0Info)
		c.send(update)
		if ok, msg := c.status(); !ok {
			t.Fatalf("UPDATE refused: %s", msg)
		}
		return c
	}

	t.Run("corrupt object", func(t *testing.T) {
		remote := e.remote("archive")
		before := snap(t, remote)
		c := start(remote)
		var filez string
		for _, f := range files {
			if strings.HasSuffix(f, ".filez") {
				filez = f
				break
			}
		}
		data := read(filez)
		data[len(data)/2] ^= 0x40
		c.putObject(strings.ReplaceAll(filez, "/", ""), data)
		if ok, msg := c.status(); ok || !strings.Contains(msg, strings.ReplaceAll(filez, "/", "")[:20]) {
			t.Errorf("corrupt .filez: %v %q", ok, msg)
		}
		if code := c.done(); code == 0 {
			t.Error("exit 0")
		}
		unchanged(t, remote, before)
		testrepo.Fsck(t, remote)
	})

	t.Run("incomplete commit", func(t *testing.T) {
		remote := e.remote("archive")
		before := snap(t, remote)
		c := start(remote)
		skipped := false
		for _, f := range files {
			if !skipped && strings.HasSuffix(f, ".dirtree") {
				skipped = true
				continue
			}
			c.putObject(strings.ReplaceAll(f, "/", ""), read(f))
			if ok, msg := c.status(); !ok {
				t.Fatalf("PUTOBJECT %s refused: %s", f, msg)
			}
		}
		if code := c.done(); code == 0 {
			t.Error("exit 0 for a commit sent without one of its trees")
		}
		if !strings.Contains(c.stderr.String(), "without all its objects") {
			t.Errorf("receiver said: %s", c.stderr.String())
		}
		unchanged(t, remote, before)
	})

	t.Run("bare object file", func(t *testing.T) {
		remote := e.remote("archive")
		before := snap(t, remote)
		c := start(remote)
		c.putObject(commit+".file", []byte("raw"))
		if ok, msg := c.status(); ok || !strings.Contains(msg, "archive repository's object file") {
			t.Errorf(".file object: %v %q", ok, msg)
		}
		c.done()
		unchanged(t, remote, before)
	})

	t.Run("bare-user destination", func(t *testing.T) {
		remote := e.remote("bare-user")
		before := snap(t, remote)
		c := e.v0Connect(v0Receive(remote))
		if mode := c.read(wire.V0Info).Get("mode"); mode != int32(2) {
			t.Errorf("INFO mode %v, want 2 (bare-user)", mode)
		}
		c.send(update)
		if ok, msg := c.status(); ok || !strings.Contains(msg, "need an archive repository") {
			t.Errorf("UPDATE into bare-user: %v %q", ok, msg)
		}
		c.done()
		unchanged(t, remote, before)
	})

	t.Run("invalid ref name", func(t *testing.T) {
		remote := e.remote("archive")
		c := e.v0Connect(v0Receive(remote))
		c.read(wire.V0Info)
		c.send(&wire.V0Message{Type: wire.V0Update, Body: []wire.V0Entry{
			{Key: "../escape", Value: wire.V0Pair{A: zeros, B: commit}}}})
		if ok, msg := c.status(); ok || !strings.Contains(msg, "invalid ref name") {
			t.Errorf("UPDATE ../escape: %v %q", ok, msg)
		}
		c.done()
	})

	t.Run("garbage", func(t *testing.T) {
		remote := e.remote("archive")
		before := snap(t, remote)
		c := e.v0Connect(v0Receive(remote))
		c.read(wire.V0Info)
		c.w.Write([]byte("lots of garbage that is not a message"))
		c.w.Close()
		if code := exitCode(c.cmd.Wait()); code == 0 {
			t.Error("exit 0 on garbage")
		}
		if !strings.Contains(c.stderr.String(), "version 0:") {
			t.Errorf("receiver said: %s", c.stderr.String())
		}
		unchanged(t, remote, before)
	})
}

// TestLegacyV0ThroughShell: the restricted shell lets a version-0 client's
// command line through, and nothing more.
func TestLegacyV0ThroughShell(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10)
	remote := e.remote("archive")
	shell := filepath.Join(binDir, "ostree-receive-shell")
	cmd := exec.Command("ssh", "-F", e.ssh.ConfigFile, e.ssh.Host(),
		"env", "OSTREE_RECEIVE_SHELL_RECEIVE="+filepath.Join(binDir, "ostree-receive"), goraceEnv(),
		shell, "-c", shellQuote("ostree-receive --repo="+shellQuote(remote)))
	var in bytes.Buffer
	wire.WriteV0(&in, &wire.V0Message{Type: wire.V0Done})
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("through the shell: %v", err)
	}
	m, err := wire.ReadV0(bytes.NewReader(out))
	if err != nil || m.Type != wire.V0Info {
		t.Fatalf("through the shell: %v, %v", m, err)
	}
}

// TestLegacyV0Hostile: the hostile-pusher checks hold for a version-0
// client too (the restricted shell lets its command line through): a
// .filez is counted by the content size it declares, and new detached
// metadata for a commit the repository has may only add signatures.
func TestLegacyV0Hostile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10)
	remote := e.remote("archive")
	wantCode(t, e.push(e.dest(remote), "os/main"), 0)
	commit := testrepo.RevParse(t, e.src, "os/main")
	conf := filepath.Join(e.dir, "v0.conf")
	if err := os.WriteFile(conf, []byte("max_object_size: 1M\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	session := func(name string, data []byte) (bool, string, int) {
		c := e.v0Connect("env OSTREE_RECEIVE_CONF=" + shellQuote(conf) + " " + v0Receive(remote))
		c.read(wire.V0Info)
		c.send(&wire.V0Message{Type: wire.V0Update, Body: []wire.V0Entry{
			{Key: "os/other", Value: wire.V0Pair{A: zeros, B: commit}}}})
		if ok, msg := c.status(); !ok {
			t.Fatalf("UPDATE refused: %s", msg)
		}
		c.putObject(name, data)
		ok, msg := c.status()
		return ok, msg, c.done()
	}
	before := snap(t, remote)

	// 16 KiB on the wire, 16 MiB inflated, against max_object_size: 1M.
	big := filezObject(t, 16<<20)
	ok, msg, code := session(big.name.Checksum.String()+".filez", big.data)
	if ok || code == 0 || !strings.Contains(msg, "declares a content size of 16777216 bytes") {
		t.Errorf("a 16 MiB .filez of %d bytes: STATUS %v %q, exit %d", len(big.data), ok, msg, code)
	}
	unchanged(t, remote, before)

	// The published commit's detached metadata replaced.
	scratch := testrepo.Commit(t, e.src, "scratch/meta", e.tree, "meta", "--add-detached-metadata-string=attacker=x")
	evil, err := os.ReadFile(filepath.Join(e.src, "objects", scratch[:2], scratch[2:]+".commitmeta"))
	if err != nil {
		t.Fatal(err)
	}
	ok, msg, code = session(commit+".commitmeta", evil)
	if code == 0 {
		t.Errorf("new detached metadata for the published commit: STATUS %v %q, exit 0", ok, msg)
	}
	unchanged(t, remote, before)
}
