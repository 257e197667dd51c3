package e2e

// Hostile and broken input: crafted byte streams fed to the real
// ostree-receive (its standard input, or through the test sshd), against a
// real repository. Each stream must end with a clear error on the
// receiver's standard error and, where the protocol allows, in an ERROR
// frame to the client, a non-zero exit, and the repository exactly as it
// was (refs, the files of objects/, ostree fsck). Streams that are well
// formed but ask for a ref change the receiver refuses (an invalid ref
// name, a history the receiver cannot see) end as the protocol says
// instead: a RESULT naming the refusal, exit status 0, nothing changed.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/store"
	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// wireObject is an object as a client sends it: its name and content.
type wireObject struct {
	name object.Name
	data []byte
}

// hostileWorld is a remote repository holding c1 at os/main (copied for
// every case) and the objects a client would send to move it to c2.
type hostileWorld struct {
	e        *env
	template string
	c1, c2   object.Checksum
	objs     []wireObject // everything reachable from c2, the commit first
	orphan   object.Checksum
	orphObjs []wireObject // a commit claiming a parent no one has, and its tree
	conf     string       // configuration: idle_timeout short, root unset
}

func newHostileWorld(t *testing.T) *hostileWorld {
	t.Helper()
	e := newEnv(t, 30)
	w := &hostileWorld{e: e}
	w.template = e.remote("archive")
	wantCode(t, e.pushRun(pushCall{args: []string{e.dest(w.template), "os/main"}}), 0)
	w.c1 = object.MustParseChecksum(testrepo.RevParse(t, w.template, "os/main"))
	testrepo.ChangeTree(t, e.tree, 3, 30)
	w.c2 = object.MustParseChecksum(e.commit("os/main", "second"))
	fake := strings.Repeat("ab", 32)
	w.orphan = object.MustParseChecksum(e.commit("os/orphan", "claims a parent", "--parent="+fake))
	w.objs = loadObjects(t, e.src, w.c2)
	w.orphObjs = loadObjects(t, e.src, w.orphan)
	w.conf = filepath.Join(e.dir, "hostile.conf")
	os.WriteFile(w.conf, []byte("idle_timeout: 1s\n"), 0o644)
	return w
}

// loadObjects reads every object reachable from c in repo, as a client
// without capabilities sends them (file objects as content streams).
func loadObjects(t *testing.T, repo string, c object.Checksum) []wireObject {
	t.Helper()
	r, err := store.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	names, err := r.Reachable([]object.Checksum{c})
	if err != nil {
		t.Fatal(err)
	}
	var out []wireObject
	for _, n := range names {
		var data []byte
		if n.Type == object.File {
			rc, _, err := r.OpenContent(n.Checksum)
			if err != nil {
				t.Fatal(err)
			}
			data, err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
		} else if data, err = r.ReadMetadata(n); err != nil {
			t.Fatal(err)
		}
		o := wireObject{name: n, data: data}
		if n.Type == object.Commit {
			out = append([]wireObject{o}, out...)
		} else {
			out = append(out, o)
		}
	}
	return out
}

// find returns the first object of type typ.
func (w *hostileWorld) find(t *testing.T, typ object.Type) wireObject {
	t.Helper()
	for _, o := range w.objs {
		if o.name.Type == typ && (typ != object.File || len(o.data) > 64) {
			return o
		}
	}
	t.Fatalf("no %v object of more than 64 bytes in the fixture", typ)
	return wireObject{}
}

// stream builds a client's byte stream with pkg/transfer's encoders, and
// raw bytes where a hostile client breaks the rules the encoders keep.
type stream struct {
	t   *testing.T
	buf bytes.Buffer
	fw  *wire.FrameWriter
}

func newStream(t *testing.T) *stream {
	s := &stream{t: t}
	s.fw = wire.NewFrameWriter(&s.buf)
	return s
}

func (s *stream) msg(m wire.Message) *stream {
	s.t.Helper()
	if err := s.fw.WriteMessage(m); err != nil {
		s.t.Fatalf("encoding %v: %v", m.FrameType(), err)
	}
	return s
}

func (s *stream) hello() *stream {
	return s.msg(&wire.Hello{Versions: []uint16{wire.Version}, Agent: "hostile-test"})
}

// object sends o whole, with its true size.
func (s *stream) object(o wireObject) *stream {
	s.t.Helper()
	h := &wire.ObjectHeader{Name: o.name, Size: uint64(len(o.data))}
	if err := s.fw.WriteObject(h, bytes.NewReader(o.data)); err != nil {
		s.t.Fatal(err)
	}
	return s
}

func (s *stream) objects(objs []wireObject) *stream {
	for _, o := range objs {
		s.object(o)
	}
	return s
}

// frame writes one frame with the encoders' checks.
func (s *stream) frame(t wire.FrameType, payload []byte) *stream {
	s.t.Helper()
	if err := s.fw.WriteFrame(t, payload); err != nil {
		s.t.Fatal(err)
	}
	return s
}

// raw appends bytes as they are.
func (s *stream) raw(b []byte) *stream {
	s.fw.Flush()
	s.buf.Write(b)
	return s
}

// header appends a frame header announcing length bytes of type typ.
func (s *stream) header(typ byte, length uint32) *stream {
	var h [wire.HeaderSize]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:], length)
	return s.raw(h[:])
}

func (s *stream) update(refs ...wire.RefUpdate) *stream {
	return s.msg(&wire.Update{Refs: refs})
}

func (s *stream) bytes() []byte {
	s.fw.Flush()
	return s.buf.Bytes()
}

func mainRef(old, new object.Checksum) wire.RefUpdate {
	return wire.RefUpdate{Ref: wire.RefName{Name: "os/main"}, Old: old, New: new}
}

// receiverRun is what one ostree-receive run gave: its exit status, its
// standard error and the frames it wrote.
type receiverRun struct {
	code   int
	stderr string
	frames []receivedFrame
	took   time.Duration
}

type receivedFrame struct {
	typ wire.FrameType
	msg wire.Message
}

// last returns the last frame, or a zero one.
func (r receiverRun) last() receivedFrame {
	if len(r.frames) == 0 {
		return receivedFrame{}
	}
	return r.frames[len(r.frames)-1]
}

// hostileInput is how a case feeds the receiver: all at once (the input
// then ends), or held open after the bytes (a client that stalls).
type hostileInput struct {
	data  []byte
	stall bool
	ssh   bool     // through the test sshd instead of a pipe
	args  []string // the repository argument; default: the case's copy
	conf  string   // configuration file; default: the world's
}

// receive runs ostree-receive on repo with in.
func (w *hostileWorld) receive(t *testing.T, repo string, in hostileInput) receiverRun {
	t.Helper()
	conf := in.conf
	if conf == "" {
		conf = w.conf
	}
	args := in.args
	if args == nil {
		args = []string{repo}
	}
	envs := []string{"OSTREE_RECEIVE_CONF=" + conf, "OSTREE_RECEIVE_LOG_STDERR=1", goraceEnv()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	if in.ssh {
		words := append([]string{"env"}, envs...)
		words = append(words, filepath.Join(binDir, "ostree-receive"))
		words = append(words, args...)
		for i, s := range words {
			words[i] = shellQuote(s)
		}
		cmd = exec.CommandContext(ctx, "ssh", "-F", w.e.ssh.ConfigFile, w.e.ssh.Host(), strings.Join(words, " "))
	} else {
		cmd = exec.CommandContext(ctx, filepath.Join(binDir, "ostree-receive"), args...)
		cmd.Env = append(os.Environ(), envs...)
	}
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var stdin io.WriteCloser
	if in.stall {
		p, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdin = p
	} else {
		cmd.Stdin = bytes.NewReader(in.data)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if stdin != nil {
		// Write, then say nothing more; close only once the receiver
		// has given up (or the test's deadline has passed).
		stdin.Write(in.data)
		defer stdin.Close()
	}
	err := cmd.Wait()
	r := receiverRun{stderr: stderr.String(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("ostree-receive did not end within a minute: it hangs\nstderr: %s", r.stderr)
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	fr := wire.NewFrameReader(bytes.NewReader(stdout.Bytes()))
	for {
		typ, p, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the receiver's output is not a sequence of frames: %v\n% x", err, stdout.Bytes())
		}
		m, err := wire.DecodeMessage(typ, p)
		if err != nil {
			t.Fatalf("the receiver wrote a %v frame that does not decode: %v", typ, err)
		}
		r.frames = append(r.frames, receivedFrame{typ: typ, msg: m})
	}
	t.Logf("ostree-receive: exit %d after %v, %d frames, stderr:\n%s", r.code, r.took.Round(time.Millisecond), len(r.frames), r.stderr)
	return r
}

// hostileCase is one stream and what it must end with.
type hostileCase struct {
	name  string
	in    func(w *hostileWorld, t *testing.T, repo string) hostileInput
	want  string         // in the ERROR frame and on stderr (case-insensitive)
	noErr bool           // the protocol forbids an ERROR frame here (a version-0 client)
	refs  wire.RefStatus // refused, not failed: the RESULT's status for the first ref
}

func hostileCases() []hostileCase {
	data := func(b func(w *hostileWorld, t *testing.T) []byte) func(w *hostileWorld, t *testing.T, repo string) hostileInput {
		return func(w *hostileWorld, t *testing.T, repo string) hostileInput { return hostileInput{data: b(w, t)} }
	}
	corrupt := func(typ object.Type) func(w *hostileWorld, t *testing.T) []byte {
		return func(w *hostileWorld, t *testing.T) []byte {
			o := w.find(t, typ)
			bad := wireObject{name: o.name, data: bytes.Clone(o.data)}
			// A file's last data byte; a letter of the commit's subject.
			at := len(bad.data) - 1
			if typ == object.Commit {
				at = bytes.Index(bad.data, []byte("second")) + 3
			}
			bad.data[at] ^= 0x20
			return newStream(t).hello().object(bad).objects(w.objs).update(mainRef(w.c1, w.c2)).bytes()
		}
	}
	declare := func(typ object.Type, size uint64) func(w *hostileWorld, t *testing.T) []byte {
		return func(w *hostileWorld, t *testing.T) []byte {
			o := w.find(t, typ)
			return newStream(t).hello().msg(&wire.ObjectHeader{Name: o.name, Size: size}).bytes()
		}
	}
	var cases []hostileCase
	add := func(c hostileCase) { cases = append(cases, c) }

	add(hostileCase{name: "empty", want: "connection closed before HELLO",
		in: data(func(w *hostileWorld, t *testing.T) []byte { return nil })})
	add(hostileCase{name: "checksum-mismatch-file", want: "checksum", in: data(corrupt(object.File))})
	add(hostileCase{name: "checksum-mismatch-commit", want: "checksum", in: data(corrupt(object.Commit))})
	add(hostileCase{name: "checksum-mismatch-ssh", want: "checksum",
		in: func(w *hostileWorld, t *testing.T, repo string) hostileInput {
			return hostileInput{data: corrupt(object.File)(w, t), ssh: true}
		}})
	add(hostileCase{name: "truncated-object-eof", want: "bytes of an object still to come",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			o := w.find(t, object.File)
			s := newStream(t).hello().objects(w.objs[:3]).msg(&wire.ObjectHeader{Name: o.name, Size: uint64(len(o.data))})
			return s.frame(wire.FrameData, o.data[:len(o.data)/2]).bytes()
		})})
	add(hostileCase{name: "truncated-object-then-update", want: "want DATA frame",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			o := w.find(t, object.File)
			s := newStream(t).hello().msg(&wire.ObjectHeader{Name: o.name, Size: uint64(len(o.data))})
			return s.frame(wire.FrameData, o.data[:len(o.data)/2]).update(mainRef(w.c1, w.c2)).bytes()
		})})
	add(hostileCase{name: "truncated-frame", want: "stream ends inside a DATA frame",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			o := w.find(t, object.File)
			s := newStream(t).hello().msg(&wire.ObjectHeader{Name: o.name, Size: uint64(len(o.data))})
			return s.header(byte(wire.FrameData), uint32(len(o.data))).raw(o.data[:10]).bytes()
		})})
	add(hostileCase{name: "no-update", want: "connection closed before UPDATE",
		in: data(func(w *hostileWorld, t *testing.T) []byte { return newStream(t).hello().objects(w.objs).bytes() })})
	add(hostileCase{name: "oversize-metadata", want: "over the limit of 10485760", in: data(declare(object.DirTree, 11<<20))})
	add(hostileCase{name: "oversize-file", want: "over the limit of 68719476736", in: data(declare(object.File, 1<<62))})
	add(hostileCase{name: "oversize-configured", want: "over the limit of 1048576",
		in: func(w *hostileWorld, t *testing.T, repo string) hostileInput {
			conf := filepath.Join(t.TempDir(), "small.conf")
			os.WriteFile(conf, []byte("max_object_size: 1M\nidle_timeout: 1s\n"), 0o644)
			return hostileInput{data: declare(object.File, 2<<20)(w, t), conf: conf}
		}})
	add(hostileCase{name: "frame-too-large", want: "more than the 1048576 allowed",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			return newStream(t).hello().header(byte(wire.FrameQuery), wire.MaxPayload+1).bytes()
		})})
	add(hostileCase{name: "frame-too-large-first", want: "more than the 1048576 allowed",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			return newStream(t).header(byte(wire.FrameHello), 0xffffffff).bytes()
		})})
	add(hostileCase{name: "frame-too-large-ssh", want: "more than the 1048576 allowed",
		in: func(w *hostileWorld, t *testing.T, repo string) hostileInput {
			return hostileInput{data: newStream(t).hello().header(byte(wire.FrameData), 0x7fffffff).bytes(), ssh: true}
		}})
	add(hostileCase{name: "unknown-frame-type", want: "unknown frame type",
		in: data(func(w *hostileWorld, t *testing.T) []byte { return newStream(t).hello().header(42, 0).bytes() })})
	add(hostileCase{name: "unknown-object-type", want: "type 7",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			p := make([]byte, 1+32+8)
			p[0] = 7 // payload link: not an object a client may send
			copy(p[1:], w.c2[:])
			return newStream(t).hello().frame(wire.FrameObject, p).bytes()
		})})
	add(hostileCase{name: "filez-not-negotiated", want: "was not negotiated",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			o := w.find(t, object.File)
			return newStream(t).hello().msg(&wire.ObjectHeader{Name: o.name, Size: 10, Filez: true}).bytes()
		})})
	add(hostileCase{name: "query-before-hello", want: "want HELLO",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			return newStream(t).msg(&wire.Query{Objects: []object.Name{w.objs[0].name}}).hello().bytes()
		})})
	add(hostileCase{name: "hello-twice", want: "unexpected HELLO frame",
		in: data(func(w *hostileWorld, t *testing.T) []byte { return newStream(t).hello().hello().bytes() })})
	add(hostileCase{name: "data-without-object", want: "unexpected DATA frame",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			return newStream(t).hello().frame(wire.FrameData, []byte("stray")).bytes()
		})})
	add(hostileCase{name: "have-from-client", want: "unexpected HAVE frame",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			return newStream(t).hello().msg(&wire.Have{Present: []bool{true}}).bytes()
		})})
	add(hostileCase{name: "result-from-client", want: "unexpected RESULT frame",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			return newStream(t).hello().msg(&wire.Result{Refs: []wire.RefResult{{Ref: wire.RefName{Name: "os/main"}}}}).bytes()
		})})
	add(hostileCase{name: "commit-without-tree", want: "was sent without all its objects",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			return newStream(t).hello().object(w.objs[0]).update(mainRef(w.c1, w.c2)).bytes()
		})})
	add(hostileCase{name: "metadata-for-unknown-commit", want: "detached metadata sent for commit",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			meta := wireObject{name: object.Name{Type: object.CommitMeta, Checksum: w.c2}}
			return newStream(t).hello().object(meta).update(mainRef(w.c1, w.c1)).bytes()
		})})
	add(hostileCase{name: "version-0-client", want: "version 0 of the protocol", noErr: true,
		in: data(func(w *hostileWorld, t *testing.T) []byte { return []byte("l\x00\x00\x01rest of an old message") })})
	add(hostileCase{name: "root-escape", want: "not under the configured root",
		in: func(w *hostileWorld, t *testing.T, repo string) hostileInput {
			root := filepath.Join(t.TempDir(), "served")
			os.MkdirAll(root, 0o755)
			conf := filepath.Join(t.TempDir(), "root.conf")
			os.WriteFile(conf, []byte("root: "+root+"\n"), 0o644)
			rel, _ := filepath.Rel(root, repo) // through ..
			return hostileInput{data: newStream(t).hello().objects(w.objs).update(mainRef(w.c1, w.c2)).bytes(), conf: conf, args: []string{rel}}
		}})
	for _, ssh := range []bool{false, true} {
		suffix := map[bool]string{false: "", true: "-ssh"}[ssh]
		add(hostileCase{name: "idle-mid-header" + suffix, want: "idle timeout",
			in: func(w *hostileWorld, t *testing.T, repo string) hostileInput {
				return hostileInput{data: newStream(t).hello().raw([]byte{byte(wire.FrameQuery), 0}).bytes(), stall: true, ssh: ssh}
			}})
	}
	add(hostileCase{name: "idle-mid-object", want: "idle timeout",
		in: func(w *hostileWorld, t *testing.T, repo string) hostileInput {
			o := w.find(t, object.File)
			s := newStream(t).hello().objects(w.objs[:2]).msg(&wire.ObjectHeader{Name: o.name, Size: uint64(len(o.data))})
			return hostileInput{data: s.frame(wire.FrameData, o.data[:len(o.data)/2]).bytes(), stall: true}
		}})

	// Ref changes the receiver refuses: the protocol answers them in
	// RESULT, exits non-zero, and nothing moves.
	add(hostileCase{name: "invalid-ref-name", refs: wire.StatusRejected, want: "invalid ref name",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			bad := wire.RefUpdate{Ref: wire.RefName{Name: "os/../main"}, New: w.c2}
			return newStream(t).hello().objects(w.objs).update(bad).bytes()
		})})
	add(hostileCase{name: "invalid-collection-id", refs: wire.StatusRejected, want: "invalid ref name",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			bad := wire.RefUpdate{Ref: wire.RefName{CollectionID: "not a collection id", Name: "os/main"}, New: w.c2}
			return newStream(t).hello().objects(w.objs).update(bad).bytes()
		})})
	add(hostileCase{name: "commit-never-sent", refs: wire.StatusRejected, want: "was not sent",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			return newStream(t).hello().update(mainRef(w.c1, w.c2)).bytes()
		})})
	add(hostileCase{name: "claimed-parent-chain", refs: wire.StatusNonFastForward, want: "is not an ancestor",
		in: data(func(w *hostileWorld, t *testing.T) []byte {
			return newStream(t).hello().objects(w.orphObjs).update(mainRef(w.c1, w.orphan)).bytes()
		})})
	return cases
}

// TestHostileInput feeds every hostile case to ostree-receive.
func TestHostileInput(t *testing.T) {
	w := newHostileWorld(t)
	cases := hostileCases()
	var failures atomic.Int32
	t.Run("cases", func(t *testing.T) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				defer countFailure(t, &failures)
				repo := w.e.copyRepo(w.template, fmt.Sprintf("hostile %d", i))
				w.check(t, repo, c.in(w, t, repo), c)
			})
		}
	})
	reliability(t, "hostile/crafted-streams", len(cases), int(failures.Load()))
}

// TestHostileRandom feeds seeded random bytes: raw, and after a valid
// HELLO so that they reach the object loop.
func TestHostileRandom(t *testing.T) {
	w := newHostileWorld(t)
	seed := faultSeed(t)
	n := 12
	if stress() {
		n = 200
	}
	rng := rand.New(rand.NewSource(seed))
	inputs := make([][]byte, n)
	for i := range inputs {
		junk := make([]byte, rng.Intn(4096))
		rng.Read(junk)
		switch i % 3 {
		case 0:
			inputs[i] = junk
		case 1:
			inputs[i] = append(newStream(t).hello().bytes(), junk...)
		default:
			// Plausible headers with random payloads.
			s := newStream(t).hello()
			for j := 0; j < 1+rng.Intn(6); j++ {
				p := junk[:rng.Intn(len(junk)+1)]
				s.header(byte(1+rng.Intn(10)), uint32(len(p))).raw(p)
			}
			inputs[i] = s.bytes()
		}
	}
	var failures atomic.Int32
	t.Run("runs", func(t *testing.T) {
		for i, in := range inputs {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				t.Logf("seed %d, input %d: %d bytes", seed, i, len(in))
				defer countFailure(t, &failures)
				repo := w.e.copyRepo(w.template, fmt.Sprintf("random %d", i))
				c := hostileCase{want: "", noErr: len(in) > 0 && (in[0] == 'l' || in[0] == 'B')}
				w.check(t, repo, hostileInput{data: in}, c)
			})
		}
	})
	reliability(t, "hostile/random-bytes", n, int(failures.Load()), fmt.Sprintf("seed=%d", seed))
}

// countFailure, deferred in a subtest, counts it when it failed (also by
// t.Fatal).
func countFailure(t *testing.T, n *atomic.Int32) {
	if t.Failed() {
		n.Add(1)
	}
}

// check runs one case on repo and checks its outcome.
func (w *hostileWorld) check(t *testing.T, repo string, in hostileInput, c hostileCase) {
	t.Helper()
	before := snap(t, repo)
	r := w.receive(t, repo, in)
	want := strings.ToLower(c.want)
	if !strings.Contains(strings.ToLower(r.stderr), want) {
		t.Errorf("stderr does not say %q:\n%s", c.want, r.stderr)
	}
	last := r.last()
	switch {
	case c.refs != wire.StatusOK:
		if r.code == 0 {
			t.Errorf("a refused ref change: exit 0, want a failure (and the RESULT saying why)")
		}
		res, ok := last.msg.(*wire.Result)
		if !ok || len(res.Refs) != 1 {
			t.Fatalf("want a RESULT of one ref last, got %v %+v", last.typ, last.msg)
		}
		if res.Refs[0].Status != c.refs || !strings.Contains(strings.ToLower(res.Refs[0].Message), want) {
			t.Errorf("RESULT: %v %q, want %v and %q", res.Refs[0].Status, res.Refs[0].Message, c.refs, c.want)
		}
	default:
		if r.code == 0 {
			t.Errorf("exit 0, want a failure")
		}
		em, ok := last.msg.(*wire.ErrorMsg)
		switch {
		case c.noErr && len(r.frames) > 0:
			t.Errorf("a version-0 client got %d frames; it would not understand them", len(r.frames))
		case c.noErr:
		case !ok:
			t.Errorf("the last frame is %v, want ERROR", last.typ)
		case !strings.Contains(strings.ToLower(em.Message), want):
			t.Errorf("ERROR %q does not say %q", em.Message, c.want)
		}
		if in.stall && r.took > 10*time.Second {
			t.Errorf("the stalled client was dropped after %v; idle_timeout is 1s", r.took)
		}
	}
	unchanged(t, repo, before)
	// The repository still takes a good push.
	good := newStream(t).hello().objects(w.objs).update(mainRef(w.c1, w.c2)).bytes()
	if g := w.receive(t, repo, hostileInput{data: good}); g.code != 0 {
		t.Errorf("a good push after the hostile one failed: exit %d\n%s", g.code, g.stderr)
	} else if got := testrepo.RevParse(t, repo, "os/main"); got != w.c2.String() {
		t.Errorf("after the good push os/main is %q, want %s", got, w.c2)
	}
	testrepo.Fsck(t, repo)
}
