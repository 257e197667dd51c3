package e2e

// The receiver against a hostile pusher (issue 15): one subtest per
// finding, each a client written from protocol.md that a publisher's stolen
// key could run, fed to the real ostree-receive against a real repository.
// Each was written first and seen to fail on the receiver before the fix;
// RELIABILITY.md lists them with their outcome.

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/sshtest"
	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/ostreefile"
	"github.com/ostree-push/ostree-push/pkg/sign"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// attackConf writes a configuration file for one attack: idle_timeout
// short, plus extra.
func attackConf(t *testing.T, extra string) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "attack.conf")
	if err := os.WriteFile(conf, []byte("idle_timeout: 5s\n"+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// attackerMeta commits the tree to branch in the source repository with
// an attacker's detached metadata, and returns that metadata: what a
// hostile push sends as another commit's.
func (w *hostileWorld) attackerMeta(t *testing.T, branch string) []byte {
	t.Helper()
	hex := testrepo.Commit(t, w.e.src, branch, w.e.tree, "meta", "--add-detached-metadata-string=attacker=x")
	evil, err := os.ReadFile(filepath.Join(w.e.src, "objects", hex[:2], hex[2:]+".commitmeta"))
	if err != nil {
		t.Fatal(err)
	}
	return evil
}

// refused checks that run ended with a RESULT refusing its first ref with
// a message saying want, and a non-zero exit.
func refused(t *testing.T, r receiverRun, status wire.RefStatus, want string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("exit 0, want a failure")
	}
	res, ok := r.last().msg.(*wire.Result)
	if !ok || len(res.Refs) == 0 {
		t.Fatalf("want a RESULT last, got %v %+v", r.last().typ, r.last().msg)
	}
	if res.Refs[0].Status != status || !strings.Contains(strings.ToLower(res.Refs[0].Message), strings.ToLower(want)) {
		t.Errorf("RESULT: %v %q, want %v and %q", res.Refs[0].Status, res.Refs[0].Message, status, want)
	}
}

// failed checks that run ended with an ERROR saying want and a non-zero exit.
func failed(t *testing.T, r receiverRun, want string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("exit 0, want a failure")
	}
	em, ok := r.last().msg.(*wire.ErrorMsg)
	if !ok {
		t.Fatalf("want an ERROR last, got %v %+v", r.last().typ, r.last().msg)
	}
	if !strings.Contains(strings.ToLower(em.Message), strings.ToLower(want)) {
		t.Errorf("ERROR %q does not say %q", em.Message, want)
	}
}

func TestHostilePusher(t *testing.T) {
	w := newHostileWorld(t)

	// Finding 1: a refused or interrupted push's objects went live with
	// the next accepted push, which took up its staging directory: detached
	// metadata replacing a published commit's, and a commit without its
	// tree and without a partial mark (ostree fsck failed).
	t.Run("01-staging-taken-up", func(t *testing.T) {
		t.Parallel()
		evil := w.attackerMeta(t, "scratch/meta")
		meta := wireObject{name: object.Name{Type: object.CommitMeta, Checksum: w.c1}, data: evil}
		orphanCommit := w.orphObjs[0]
		if orphanCommit.name.Type != object.Commit {
			t.Fatal("the orphan's objects do not start with its commit")
		}
		bad := wire.RefUpdate{Ref: wire.RefName{Name: "os/../x"}, New: w.c1}
		for _, tc := range []struct {
			name  string
			input []byte
		}{
			{"refused", newStream(t).hello().object(meta).object(orphanCommit).update(bad).bytes()},
			{"interrupted", newStream(t).hello().object(meta).object(orphanCommit).bytes()},
		} {
			t.Run(tc.name, func(t *testing.T) {
				repo := w.e.copyRepo(w.template, "attack 01 "+tc.name)
				c1meta := filepath.Join(repo, "objects", w.c1.String()[:2], w.c1.String()[2:]+".commitmeta")
				_, statErr := os.Stat(c1meta)
				before := snap(t, repo)
				if r := w.receive(t, repo, hostileInput{data: tc.input}); r.code == 0 {
					t.Errorf("the hostile push: exit 0")
				}
				unchanged(t, repo, before)
				good := newStream(t).hello().objects(w.objs).update(mainRef(w.c1, w.c2)).bytes()
				if r := w.receive(t, repo, hostileInput{data: good}); r.code != 0 {
					t.Fatalf("the good push after it: exit %d", r.code)
				}
				if _, err := os.Stat(c1meta); !os.IsNotExist(err) || !os.IsNotExist(statErr) {
					t.Errorf("c1 has detached metadata after the good push (stat: %v; before the attack: %v)", err, statErr)
				}
				if _, err := os.Stat(filepath.Join(repo, "objects", w.orphan.String()[:2], w.orphan.String()[2:]+".commit")); !os.IsNotExist(err) {
					t.Errorf("the hostile push's commit is in objects/ after the good push (stat: %v)", err)
				}
				testrepo.Fsck(t, repo)
			})
		}
	})

	// Finding 1, last part: a pusher allowed any ref could replace the
	// detached metadata (the signatures) of any commit the repository
	// already had, in a push that moves its own ref. Now such metadata may
	// only gain signatures, unless allow_metadata_rewrite is set.
	// Review finding: a client that stops reading (closes its end) got the
	// receiver killed by SIGPIPE at its next write, so nothing filtered
	// its staging directory: a foreign transaction (an admin's ostree
	// commit, flatpak build-update-repo) would take up its commit and
	// detached metadata as they were.
	t.Run("01-staging-client-gone", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 01 gone")
		evil := w.attackerMeta(t, "scratch/meta3")
		meta := wireObject{name: object.Name{Type: object.CommitMeta, Checksum: w.c1}, data: evil}
		cmd := exec.Command(filepath.Join(binDir, "ostree-receive"), repo)
		cmd.Env = append(os.Environ(), "OSTREE_RECEIVE_CONF="+attackConf(t, ""), "OSTREE_RECEIVE_LOG_STDERR=1", goraceEnv())
		outR, outW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = outW, &stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		outW.Close()
		stdin.Write(newStream(t).hello().bytes())
		fr := wire.NewFrameReader(outR)
		for _, want := range []string{"HELLO", "ADVERTISE"} {
			if _, err := fr.ReadMessage(); err != nil {
				t.Fatalf("reading the receiver's %s: %v", want, err)
			}
		}
		stdin.Write(newStream(t).object(meta).object(w.orphObjs[0]).bytes())
		// Wait until both are staged, then stop reading and ask.
		deadline := time.Now().Add(20 * time.Second)
		for {
			m, _ := filepath.Glob(filepath.Join(repo, "tmp", "staging-*", "*", "*.commitmeta"))
			c, _ := filepath.Glob(filepath.Join(repo, "tmp", "staging-*", "*", "*.commit"))
			if len(m) > 0 && len(c) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the objects were not staged within 20 s\n%s", stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		outR.Close()
		stdin.Write(newStream(t).msg(&wire.Query{Objects: []object.Name{{Type: object.File, Checksum: w.c1}}}).bytes())
		err = cmd.Wait()
		stdin.Close()
		t.Logf("ostree-receive: %v\n%s", err, stderr.String())
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Errorf("the receiver was killed by %v", ws.Signal())
			}
		}
		for _, pat := range []string{"*.commitmeta", "*.commit"} {
			if left, _ := filepath.Glob(filepath.Join(repo, "tmp", "staging-*", "*", pat)); len(left) > 0 {
				t.Errorf("left in staging for any transaction to take up: %q", left)
			}
		}
	})

	t.Run("01-rewrite-published-metadata", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 01 rewrite")
		c1meta := filepath.Join(repo, "objects", w.c1.String()[:2], w.c1.String()[2:]+".commitmeta")
		evil := w.attackerMeta(t, "scratch/meta2")
		n := 0
		c1Commit := loadObjects(t, w.e.src, w.c1)[0]
		if c1Commit.name != (object.Name{Type: object.Commit, Checksum: w.c1}) {
			t.Fatal("c1's objects do not start with its commit")
		}
		// Each push creates a new ref at c1: a change of a commit's
		// detached metadata is taken only for a commit a ref of the push
		// points to (so that the rules on refs cover it).
		pushTo := func(at object.Checksum, meta []byte, conf string, extra ...wireObject) receiverRun {
			m := wireObject{name: object.Name{Type: object.CommitMeta, Checksum: w.c1}, data: meta}
			n++ // a new ref each time, so that the push moves one
			other := wire.RefUpdate{Ref: wire.RefName{Name: fmt.Sprintf("os/other%d", n)}, New: at}
			return w.receive(t, repo, hostileInput{data: newStream(t).hello().objects(extra).object(m).objects(w.objs).update(other).bytes(), conf: attackConf(t, conf)})
		}
		pushWith := func(meta []byte, conf string, extra ...wireObject) receiverRun {
			return pushTo(w.c1, meta, conf, extra...)
		}
		push := func(meta []byte, conf string) receiverRun { return pushWith(meta, conf) }
		before := snap(t, repo)
		failed(t, push(evil, ""), "detached metadata")
		unchanged(t, repo, before)
		// Sending the published commit again does not make it new.
		failed(t, pushWith(evil, "", c1Commit), "detached metadata")
		unchanged(t, repo, before)
		// Adding a signature is allowed.
		sig := bytes.Repeat([]byte{7}, 64)
		signed, err := sign.AppendDetachedSignature(nil, libostree.MetadataKeyEd25519, sig)
		if err != nil {
			t.Fatal(err)
		}
		// ... not with a push whose refs go elsewhere.
		failed(t, pushTo(w.c2, signed, ""), "which no ref of this push points to")
		unchanged(t, repo, before)
		if r := push(signed, ""); r.code != 0 {
			t.Fatalf("a push adding a signature to c1's detached metadata: exit %d", r.code)
		}
		if got, err := os.ReadFile(c1meta); err != nil || !bytes.Equal(got, signed) {
			t.Errorf("c1's detached metadata after adding a signature: %v", err)
		}
		// A malformed signature put before the valid one is not an
		// addition: clients stop at the first signature that fails.
		junkFirst, err := sign.SetDetachedSignatures(signed, libostree.MetadataKeyEd25519, [][]byte{{1}, sig})
		if err != nil {
			t.Fatal(err)
		}
		failed(t, push(junkFirst, ""), "detached metadata")
		// Dropping it again is not: the signatures are merged, and the
		// one there stays; unless allow_metadata_rewrite.
		empty, err := sign.SetDetachedSignatures(signed, libostree.MetadataKeyEd25519, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r := push(empty, ""); r.code != 0 {
			t.Fatalf("a push of c1's detached metadata without its signature: exit %d", r.code)
		}
		if got, err := os.ReadFile(c1meta); err != nil || !bytes.Equal(got, signed) {
			t.Errorf("c1's signature did not stay: %v", err)
		}
		if r := push(evil, "allow_metadata_rewrite: yes\n"); r.code != 0 {
			t.Fatalf("with allow_metadata_rewrite: exit %d", r.code)
		}
		if got, _ := os.ReadFile(c1meta); !bytes.Equal(got, evil) {
			t.Errorf("allow_metadata_rewrite: c1's detached metadata was not replaced")
		}
		testrepo.Fsck(t, repo)
	})

	// Finding 2: a refused push into a bare repository, with the receiver
	// running as root, left a setuid-root file under the world-traversable
	// tmp/staging-*.
	t.Run("02-setuid-in-staging", func(t *testing.T) {
		t.Parallel()
		if os.Geteuid() != 0 {
			t.Skip("needs root: a bare repository's files keep their owner")
		}
		repo := filepath.Join(t.TempDir(), "bare")
		testrepo.Init(t, repo, "bare")
		h := &ostreefile.FileHeader{Mode: ostreefile.ModeRegular | 0o4755}
		content := []byte("#!/bin/sh\necho root\n")
		sum, err := ostreefile.Checksum(h, bytes.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		suid := wireObject{name: object.Name{Type: object.File, Checksum: sum}, data: append(h.ContentStreamHeader(), content...)}
		denied := wire.RefUpdate{Ref: wire.RefName{Name: "os/main"}, New: w.c2}
		conf := attackConf(t, "deny_refs: ['*']\n")
		for _, in := range [][]byte{
			newStream(t).hello().object(suid).objects(w.objs).update(denied).bytes(), // refused
			newStream(t).hello().object(suid).bytes(),                                // interrupted
		} {
			if r := w.receive(t, repo, hostileInput{data: in, conf: conf}); r.code == 0 {
				t.Errorf("exit 0")
			}
			filepath.WalkDir(filepath.Join(repo, "tmp"), func(path string, d os.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return nil
				}
				switch {
				case fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0:
					t.Errorf("%s is left with mode %v", path, fi.Mode())
				case d.IsDir() && strings.HasPrefix(d.Name(), "staging-") && fi.Mode().Perm()&0o077 != 0:
					t.Errorf("staging directory %s has mode %v, want 0700", path, fi.Mode().Perm())
				}
				return nil
			})
		}
		// The interrupted push's staging is taken up by the next push, but
		// not its setuid file, which no commit of that push needs.
		caps := newStream(t).helloCaps(wire.CapResume).objects(w.objs).update(wire.RefUpdate{Ref: wire.RefName{Name: "os/main"}, New: w.c2}).bytes()
		if r := w.receive(t, repo, hostileInput{data: caps}); r.code != 0 {
			t.Fatalf("a good push: exit %d", r.code)
		}
		hex := sum.String()
		if _, err := os.Stat(filepath.Join(repo, "objects", hex[:2], hex[2:]+".file")); !os.IsNotExist(err) {
			t.Errorf("the setuid file is in objects/ after the next push (stat: %v)", err)
		}
		testrepo.Fsck(t, repo)
	})

	// Finding 3: signature checks held the ref lock for hours: a
	// commitmeta of 150,000 forged signatures, verified again for each
	// ref pointing to the commit, while every other push waited on a lock
	// with no timeout.
	t.Run("03-signature-work-and-lock-wait", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 03")
		before := snap(t, repo)
		key, trusted := ed25519Key(t)
		conf := attackConf(t, "sign_verify: yes\nsign_trustedkeyfile: "+trusted+"\nlog_level: DEBUG\n")
		forged := make([][]byte, 2000)
		for i := range forged {
			forged[i] = bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 32)
		}
		meta, err := sign.SetDetachedSignatures(nil, libostree.MetadataKeyEd25519, forged)
		if err != nil {
			t.Fatal(err)
		}
		many := wireObject{name: object.Name{Type: object.CommitMeta, Checksum: w.c2}, data: meta}
		refs := func(names ...string) []wire.RefUpdate {
			var ups []wire.RefUpdate
			for _, n := range names {
				old := object.Zero
				if n == "os/main" {
					old = w.c1
				}
				ups = append(ups, wire.RefUpdate{Ref: wire.RefName{Name: n}, Old: old, New: w.c2})
			}
			return ups
		}
		r := w.receive(t, repo, hostileInput{data: newStream(t).hello().objects(w.objs).object(many).update(refs("os/main")...).bytes(), conf: conf})
		refused(t, r, wire.StatusRejected, "too many signatures")
		unchanged(t, repo, before)
		// gpg checks every signature packet of an entry: 500 packets in
		// one ostree.gpgsigs entry count as 500.
		var packets []byte
		for i := 0; i < 500; i++ {
			packets = append(packets, 0xc2, 8, byte(i), byte(i>>8), 0, 0, 0, 0, 0, 0)
		}
		gpgMeta, err := sign.SetDetachedSignatures(nil, libostree.MetadataKeyGPG, [][]byte{packets})
		if err != nil {
			t.Fatal(err)
		}
		onePacked := wireObject{name: object.Name{Type: object.CommitMeta, Checksum: w.c2}, data: gpgMeta}
		r = w.receive(t, repo, hostileInput{data: newStream(t).hello().objects(w.objs).object(onePacked).update(refs("os/main")...).bytes(), conf: conf})
		refused(t, r, wire.StatusRejected, "too many signatures")
		unchanged(t, repo, before)
		// A good signature is checked once, however many refs point to
		// the commit (one without ref bindings, to be pushed to any ref).
		c3 := object.MustParseChecksum(testrepo.Commit(t, w.e.src, "scratch/unbound", w.e.tree, "unbound", "--no-bindings"))
		objs3 := loadObjects(t, w.e.src, c3)
		good := wireObject{name: object.Name{Type: object.CommitMeta, Checksum: c3}, data: mustSign(t, key, c3, objs3[0].data)}
		var ups []wire.RefUpdate
		for _, n := range []string{"os/a", "os/b", "os/c", "os/d"} {
			ups = append(ups, wire.RefUpdate{Ref: wire.RefName{Name: n}, New: c3})
		}
		r = w.receive(t, repo, hostileInput{data: newStream(t).hello().objects(objs3).object(good).update(ups...).bytes(), conf: conf})
		if r.code != 0 {
			t.Fatalf("a signed push to four refs: exit %d", r.code)
		}
		if n := strings.Count(r.stderr, "valid ed25519 signature by"); n != 1 {
			t.Errorf("the commit's signature was verified %d times for four refs, want once", n)
		}
		// The ref lock is waited for at most lock_timeout.
		lock, err := os.OpenFile(filepath.Join(repo, "ostree-push-refs.lock"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		up := wire.RefUpdate{Ref: wire.RefName{Name: "os/e"}, New: w.c2}
		r = w.receive(t, repo, hostileInput{data: newStream(t).hello().update(up).bytes(), conf: attackConf(t, "lock_timeout: 2s\n")})
		failed(t, r, "lock_timeout")
		if r.took > 20*time.Second {
			t.Errorf("gave up on the ref lock after %v; lock_timeout is 2s", r.took)
		}
	})

	// Finding 9: what a peer or libostree says reached the receiver's
	// standard error (the pusher's terminal through ssh) and the journal
	// raw: a refused push could print a fake success line.
	t.Run("09-log-forging", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 09")
		forged := "os/x\r\x1b[K\x1b[32mok: push accepted\x07"
		up := wire.RefUpdate{Ref: wire.RefName{Name: forged}, New: w.c2}
		in := newStream(t).hello().objects(w.objs).update(up).bytes()
		in = append(in, newStream(t).msg(&wire.ErrorMsg{Message: "\r\x1b[2Kfake"}).bytes()...)
		r := w.receive(t, repo, hostileInput{data: in})
		for _, c := range "\r\x1b\x07" {
			if strings.ContainsRune(r.stderr, c) {
				t.Errorf("the receiver's standard error holds %q raw:\n%q", c, r.stderr)
			}
		}
		if !strings.Contains(r.stderr, `\x1b[K`) {
			t.Errorf("the receiver's standard error does not show the forged ref name escaped:\n%s", r.stderr)
		}
	})

	// Finding 9, the other way: what the remote writes to its standard
	// error reached the pusher's terminal raw through ssh (a remote that is
	// not ostree-receive, or one on a compromised server, could print a fake
	// success line or retitle the terminal).
	t.Run("09-remote-stderr", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 09 remote")
		forge := `printf '\033]0;owned\007\033[2K\rok: pushed\r\nplain line\r\nno newline\033[K' >&2; exec "$@"`
		r := w.e.pushRun(pushCall{args: []string{w.e.dest(repo), "os/main"}, receiveWrap: []string{"sh", "-c", forge, "sh"}})
		wantCode(t, r, 0)
		for _, c := range "\r\x1b\x07" {
			if strings.ContainsRune(r.stderr, c) {
				t.Errorf("ostree-push's standard error holds %q raw:\n%q", c, r.stderr)
			}
		}
		for _, want := range []string{`\x1b]0;owned\x07\x1b[2K\x0dok: pushed` + "\n", "\nplain line\n", `no newline\x1b[K`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("ostree-push's standard error lacks %q:\n%q", want, r.stderr)
			}
		}
	})

	// Finding 10 (the shell's part): ostree-receive-shell passed its
	// environment on whole, so a client that sshd lets set variables
	// (AcceptEnv here; environment= in authorized_keys or
	// PermitUserEnvironment do the same) chose the receiver's configuration
	// and, in a test build, ran the before-refs hook. The test hooks are
	// gone from release builds (TestReleaseBinariesHaveNoTestHooks); the
	// shell now passes on an allow-list, which drops both.
	t.Run("10-shell-environment", func(t *testing.T) {
		t.Parallel()
		e := newShellEnvWith(t, sshtest.Options{KeyOptions: shellKey(",no-pty"), AcceptEnv: "*"})
		remote := e.remote("archive")
		denyAll := filepath.Join(e.dir, "attacker.conf")
		if err := os.WriteFile(denyAll, []byte("deny_refs: ['*']\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		marker := filepath.Join(e.dir, "hook-ran")
		config, err := os.ReadFile(e.ssh.ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		config = append(config, fmt.Sprintf("    SetEnv \"OSTREE_RECEIVE_CONF=%s\" \"OSTREE_RECEIVE_TEST_BEFORE_REFS=touch %s\" \"XDG_CONFIG_HOME=%s\" LANG=C.UTF-8\n",
			denyAll, marker, e.dir)...)
		sshConfig := filepath.Join(e.dir, "ssh_config_setenv")
		if err := os.WriteFile(sshConfig, config, 0o644); err != nil {
			t.Fatal(err)
		}
		server := *e.ssh
		server.ConfigFile = sshConfig
		e.ssh = &server
		r := e.shellPush("", e.dest(remote), "os/main")
		wantCode(t, r, 0)
		sameRef(t, e.src, remote, "os/main")
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("the client's OSTREE_RECEIVE_TEST_BEFORE_REFS ran on the server")
		}
	})

	// Finding 11: sixty 10 MiB metadata objects took one receiver to 469
	// MiB: objects waiting for a writer were not bounded by their bytes.
	// Measured on a receiver built without the race detector (which
	// multiplies memory), under /usr/bin/time.
	t.Run("11-memory", func(t *testing.T) {
		t.Parallel()
		bin := noRaceReceiver(t)
		repo := w.e.copyRepo(w.template, "attack 11")
		big, err := sign.SetDetachedSignatures(nil, "junk", [][]byte{bytes.Repeat([]byte{0x5a}, transfer.MaxMetadataSize-256)})
		if err != nil {
			t.Fatal(err)
		}
		meta := wireObject{name: object.Name{Type: object.CommitMeta, Checksum: w.c2}, data: big}
		one := newStream(t).object(meta).bytes()
		head := newStream(t).hello().objects(w.objs).bytes()
		tail := newStream(t).update(mainRef(w.c1, w.c2)).bytes()
		cmd := exec.Command("/usr/bin/time", "-f", "maxrss-kb %M", bin, repo)
		cmd.Env = append(os.Environ(), "OSTREE_RECEIVE_CONF="+attackConf(t, ""), "OSTREE_RECEIVE_LOG_STDERR=1")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			stdin.Write(head)
			for i := 0; i < 60; i++ {
				stdin.Write(one)
			}
			stdin.Write(tail)
			stdin.Close()
		}()
		err = cmd.Wait()
		var kb int
		fmt.Sscanf(stderr.String()[strings.LastIndex(stderr.String(), "maxrss-kb"):], "maxrss-kb %d", &kb)
		t.Logf("receiver: %v, peak RSS %d MiB\n%s", err, kb>>10, stderr.String())
		if err != nil {
			t.Fatalf("the push of 60 large metadata objects failed: %v", err)
		}
		if kb == 0 || kb > 128<<10 {
			t.Errorf("peak RSS %d KiB, want at most 128 MiB", kb)
		}
	})

	// Finding 12: with a signature policy on, a commit's ref binding was
	// not checked: a signed commit made for os/testing could be pushed to
	// os/stable (libostree's pull refuses that).
	t.Run("12-ref-binding", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 12")
		before := snap(t, repo)
		key, trusted := ed25519Key(t)
		conf := attackConf(t, "sign_verify: yes\nsign_trustedkeyfile: "+trusted+"\n")
		// c2 was committed on os/main, so it is bound to os/main.
		sig := wireObject{name: object.Name{Type: object.CommitMeta, Checksum: w.c2}, data: mustSign(t, key, w.c2, w.objs[0].data)}
		stable := wire.RefUpdate{Ref: wire.RefName{Name: "os/stable"}, New: w.c2}
		r := w.receive(t, repo, hostileInput{data: newStream(t).hello().objects(w.objs).object(sig).update(stable).bytes(), conf: conf})
		refused(t, r, wire.StatusRejected, "ref binding")
		unchanged(t, repo, before)
		r = w.receive(t, repo, hostileInput{data: newStream(t).hello().objects(w.objs).object(sig).update(mainRef(w.c1, w.c2)).bytes(), conf: conf})
		if r.code != 0 {
			t.Fatalf("the same commit to os/main, the ref it is bound to: exit %d", r.code)
		}
	})

	// Finding 4: 1,200 long ref names made the repository unusable: every
	// push then failed, the refs no longer fitting in one ADVERTISE frame.
	// They are now advertised across frames (advertise-refs), and max_refs
	// refuses a push that would pass it.
	t.Run("04-many-refs", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 04")
		seg := strings.Repeat("r", 240)
		for i := 0; i < 1200; i++ {
			name := fmt.Sprintf("%s/%s/%s/%s/%04d", seg, seg, seg, seg, i)
			path := filepath.Join(repo, "refs", "heads", name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(w.c1.String()+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := w.e.pushRun(pushCall{args: []string{w.e.dest(repo), "os/main"}})
		if r.code != 0 {
			t.Fatalf("a push to a repository of 1,201 long refs: exit %d\n%s", r.code, r.stderr)
		}
		sameRef(t, w.e.src, repo, "os/main")
		up := wire.RefUpdate{Ref: wire.RefName{Name: "os/one-more"}, New: w.c1}
		// A client without advertise-refs is told why it cannot push.
		rr := w.receive(t, repo, hostileInput{data: newStream(t).hello().update(up).bytes()})
		failed(t, rr, "do not fit in one ADVERTISE frame")
		rr = w.receive(t, repo, hostileInput{data: newStream(t).helloCaps(wire.CapAdvertiseRefs).update(up).bytes(), conf: attackConf(t, "max_refs: 1201\n")})
		refused(t, rr, wire.StatusRejected, "max_refs")
		testrepo.Fsck(t, repo)
	})

	// Finding 4, the summary: creating one app/x ref silently switched the
	// summary update to flatpak build-update-repo, which then failed on
	// every push with sign_keyfiles set, the summary staying stale with
	// nothing but a warning. update now names its method (auto, ostree,
	// flatpak, no); a failed update is marked, said on every push while
	// the mark stays, and retried by the next push that moves a ref.
	t.Run("04-summary-method", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 04 summary")
		key, _ := ed25519Key(t)
		secret := filepath.Join(t.TempDir(), "secret.ed25519")
		os.WriteFile(secret, []byte(sign.EncodeKey(key)+"\n"), 0o600)
		app := wire.RefUpdate{Ref: wire.RefName{Name: "app/org.example.App/x86_64/stable"}, New: w.c1}
		r := w.receive(t, repo, hostileInput{data: newStream(t).hello().update(app).bytes(), conf: attackConf(t, "update: auto\nsign_keyfiles: ["+secret+"]\n")})
		if r.code != 0 {
			t.Fatalf("the push of an app/ ref: exit %d", r.code)
		}
		mark := filepath.Join(repo, "ostree-push-summary-stale")
		if _, err := os.Stat(mark); err != nil {
			t.Errorf("a failed summary update left no mark: %v", err)
		}
		// The next push says so, even when it moves nothing.
		r = w.receive(t, repo, hostileInput{data: newStream(t).hello().update(app).bytes(), conf: attackConf(t, "update: ostree\nsign_keyfiles: ["+secret+"]\n")})
		if !strings.Contains(r.stderr, "the summary is stale") {
			t.Errorf("a push while the summary is marked stale does not say so:\n%s", r.stderr)
		}
		// update: ostree regenerates it (signed) at the next push that
		// moves a ref, and the mark goes.
		other := wire.RefUpdate{Ref: wire.RefName{Name: "os/other"}, New: w.c1}
		r = w.receive(t, repo, hostileInput{data: newStream(t).hello().update(other).bytes(), conf: attackConf(t, "update: ostree\nsign_keyfiles: ["+secret+"]\n")})
		if r.code != 0 {
			t.Fatalf("update: ostree: exit %d", r.code)
		}
		if _, err := os.Stat(mark); !os.IsNotExist(err) {
			t.Errorf("the mark is still there after a good summary update: %v", err)
		}
		if out := testrepo.Ostree(t, "summary", "--repo="+repo, "--view"); !strings.Contains(out, "app/org.example.App/x86_64/stable") {
			t.Errorf("the summary does not list the app ref:\n%s", out)
		}
	})

	// Finding 5: libostree's pattern ends in a '$' that matches before a
	// final newline, so "os/stable\n" was a valid ref: it bypassed
	// deny_refs, and `ostree refs` showed os/stable twice.
	t.Run("05-control-character-ref", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 05")
		before := snap(t, repo)
		conf := attackConf(t, "deny_refs: ['os/stable']\n")
		for _, c := range []string{"\n", "\x1b", "\x7f"} {
			name := "os/stable" + c
			if c == "\x1b" {
				name = "os/sta" + c + "ble"
			}
			up := wire.RefUpdate{Ref: wire.RefName{Name: name}, New: w.c2}
			r := w.receive(t, repo, hostileInput{data: newStream(t).hello().objects(w.objs).update(up).bytes(), conf: conf})
			refused(t, r, wire.StatusRejected, "control character")
			coll := wire.RefUpdate{Ref: wire.RefName{CollectionID: "org.example.Os" + c, Name: "os/x"}, New: w.c2}
			r = w.receive(t, repo, hostileInput{data: newStream(t).hello().objects(w.objs).update(coll).bytes(), conf: conf})
			refused(t, r, wire.StatusRejected, "control character")
		}
		unchanged(t, repo, before)
	})

	// Finding 6: max_object_size and max_push_size counted the bytes on
	// the wire: a .filez of 16 KiB inflating to 16 MiB passed a 1M limit.
	t.Run("06-inflated-size", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 06")
		before := snap(t, repo)
		bomb := filezObject(t, 16<<20)
		caps := []string{wire.CapArchiveFilez}
		in := newStream(t).helloCaps(caps...).filez(bomb).objects(w.objs).update(mainRef(w.c1, w.c2)).bytes()
		r := w.receive(t, repo, hostileInput{data: in, conf: attackConf(t, "max_object_size: 1M\n")})
		failed(t, r, "declares a content size of 16777216 bytes, over the limit of 1048576")
		unchanged(t, repo, before)
		// Many small ones against max_push_size.
		s := newStream(t).helloCaps(caps...)
		for i := 0; i < 4; i++ {
			s.filez(filezObject(t, 400<<10+i))
		}
		r = w.receive(t, repo, hostileInput{data: s.objects(w.objs).update(mainRef(w.c1, w.c2)).bytes(), conf: attackConf(t, "max_push_size: 1M\n")})
		failed(t, r, "push exceeds the server's limit of 1048576 bytes")
		unchanged(t, repo, before)
	})

	// Finding 7: a client that stops reading kept the receiver, and the
	// repository's shared lock, forever (idle_timeout only watched reads),
	// and one that sends a byte per interval was never dropped.
	t.Run("07-stalled-client", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 07")
		before := snap(t, repo)
		// QUERYs whose HAVEs fill the pipe the client never reads.
		names := make([]object.Name, wire.MaxQueryObjects)
		for i := range names {
			names[i] = object.Name{Type: object.File, Checksum: object.Checksum{byte(i), byte(i >> 8), 1}}
		}
		// A commit staged first: the watchdog's exit leaves only what
		// may be taken up.
		s := newStream(t).hello().object(w.orphObjs[0])
		for i := 0; i < 40; i++ {
			s.msg(&wire.Query{Objects: names})
		}
		r := stalledReceive(t, repo, s.bytes(), attackConf(t, "idle_timeout: 2s\n"), nil)
		if r.code == 0 || !strings.Contains(r.stderr, "stopped reading") {
			t.Errorf("a client that stops reading: exit %d after %v, stderr:\n%s", r.code, r.took, r.stderr)
		}
		if left, _ := filepath.Glob(filepath.Join(repo, "tmp", "staging-*", "*", "*.commit")); len(left) > 0 {
			t.Errorf("the watchdog's exit left a commit in staging for any transaction to take up: %q", left)
		}
		// A byte every half second, under idle_timeout, for ever.
		slow := newStream(t).hello().objects(w.objs).bytes()
		trickle := func(to io.Writer) {
			for _, b := range slow {
				if _, err := to.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
		r = stalledReceive(t, repo, nil, attackConf(t, "idle_timeout: 2s\nmax_push_duration: 3s\n"), trickle)
		if r.code == 0 || !strings.Contains(r.stderr, "max_push_duration") || r.took > 15*time.Second {
			t.Errorf("a trickling client: exit %d after %v, stderr:\n%s", r.code, r.took, r.stderr)
		}
		unchanged(t, repo, before)
	})

	// Finding 8: allow_refs and deny_refs matched a collection ref by its
	// name alone, so with allow_refs [os/*] a pusher could create
	// (org.example.Os, os/y), a mirror of another collection's ref the
	// server never meant to take. Plain patterns now match the
	// repository's own refs only; (COLLECTION, REF) patterns match
	// collection refs.
	t.Run("08-collection-refs", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 08")
		before := snap(t, repo)
		coll := func(c, name string) wire.RefUpdate {
			return wire.RefUpdate{Ref: wire.RefName{CollectionID: c, Name: name}, New: w.c2}
		}
		push := func(conf string, up wire.RefUpdate) receiverRun {
			return w.receive(t, repo, hostileInput{data: newStream(t).hello().objects(w.objs).update(up).bytes(), conf: attackConf(t, conf)})
		}
		refused(t, push("allow_refs: ['os/*']\n", coll("org.example.Os", "os/y")), wire.StatusRejected, "allow_refs")
		refused(t, push("deny_refs: ['(org.example.*, os/*)']\n", coll("org.example.Os", "os/y")), wire.StatusRejected, "deny_refs")
		// A plain deny pattern denies the name in any collection too.
		refused(t, push("deny_refs: ['os/*']\n", coll("org.example.Os", "os/y")), wire.StatusRejected, "deny_refs")
		unchanged(t, repo, before)
		if r := push("allow_refs: ['os/*', '(org.example.Os, dev/*)']\n", coll("org.example.Os", "dev/y")); r.code != 0 {
			t.Fatalf("a collection ref allowed by (org.example.Os, dev/*): exit %d", r.code)
		}
		if got := testrepo.Ostree(t, "refs", "--repo="+repo, "--collections"); !strings.Contains(got, "(org.example.Os, dev/y)") {
			t.Errorf("ostree refs --collections:\n%s\nwant (org.example.Os, dev/y)", got)
		}
	})
}

// filezObject returns a .filez of a regular file of size zero bytes: a
// few kilobytes that inflate to size.
func filezObject(t *testing.T, size int) wireObject {
	t.Helper()
	h := &ostreefile.FileHeader{Mode: ostreefile.ModeRegular | 0o644}
	content := make([]byte, size)
	sum, err := ostreefile.Checksum(h, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	data := append(h.FilezHeader(uint64(size)), deflateRaw(t, content)...)
	return wireObject{name: object.Name{Checksum: sum, Type: object.File}, data: data}
}

// helloCaps is hello offering capabilities.
func (s *stream) helloCaps(caps ...string) *stream {
	return s.msg(&wire.Hello{Versions: []uint16{wire.Version}, Capabilities: caps, Agent: "hostile-test"})
}

// filez sends o, a .filez, as one.
func (s *stream) filez(o wireObject) *stream {
	s.t.Helper()
	h := &wire.ObjectHeader{Name: o.name, Size: uint64(len(o.data)), Filez: true}
	if err := s.fw.WriteObject(h, bytes.NewReader(o.data)); err != nil {
		s.t.Fatal(err)
	}
	return s
}

// deflateRaw compresses b as one raw deflate stream.
func deflateRaw(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(b)
	fw.Close()
	return buf.Bytes()
}

// stalledReceive runs ostree-receive on repo with a standard output nobody
// reads until it exits, and a standard input that gets data and then stays
// open (or that feed writes, slowly), for at most 40 seconds.
func stalledReceive(t *testing.T, repo string, data []byte, conf string, feed func(io.Writer)) receiverRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "ostree-receive"), repo)
	cmd.Env = append(os.Environ(), "OSTREE_RECEIVE_CONF="+conf, "OSTREE_RECEIVE_LOG_STDERR=1", goraceEnv())
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = outW, &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	go func() {
		if feed != nil {
			feed(stdin)
		} else {
			stdin.Write(data)
		}
		<-ctx.Done()
		stdin.Close()
	}()
	err = cmd.Wait()
	r := receiverRun{stderr: stderr.String(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("ostree-receive did not end within 40 seconds: it hangs\nstderr: %s", r.stderr)
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	t.Logf("ostree-receive: exit %d after %v, stderr:\n%s", r.code, r.took.Round(time.Millisecond), r.stderr)
	return r
}

// ed25519Key makes a key and a trusted key file holding its public half.
func ed25519Key(t *testing.T) (ed25519.PrivateKey, string) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "trusted.ed25519")
	if err := os.WriteFile(file, []byte(sign.EncodeKey(pub)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return key, file
}

// mustSign returns detached metadata holding key's signature of commit c,
// whose object bytes are data.
func mustSign(t *testing.T, key ed25519.PrivateKey, c object.Checksum, data []byte) []byte {
	t.Helper()
	meta, err := sign.AppendDetachedSignature(nil, libostree.MetadataKeyEd25519, sign.SignEd25519(key, data))
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

var noRace struct {
	once sync.Once
	bin  string
	err  error
}

// noRaceReceiver builds ostree-receive without the race detector (with the
// test hooks, as the other test binaries), once.
func noRaceReceiver(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("/usr/bin/time not found (run ci/setup)")
		}
		t.Skip("/usr/bin/time not found")
	}
	noRace.once.Do(func() {
		root, err := sshtest.RepoRoot()
		if err != nil {
			noRace.err = err
			return
		}
		noRace.bin = filepath.Join(binDir, "ostree-receive-norace")
		build := exec.Command("go", "build", "-tags", "ostreepush_testhooks", "-o", noRace.bin, "./cmd/ostree-receive")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			noRace.err = fmt.Errorf("building ostree-receive without -race: %v\n%s", err, out)
		}
	})
	if noRace.err != nil {
		t.Fatal(noRace.err)
	}
	return noRace.bin
}
