package transfer

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// clientStream builds a client's side of a session by hand.
type clientStream struct {
	tb  testing.TB
	buf bytes.Buffer
	fw  *wire.FrameWriter
}

func newClientStream(tb testing.TB) *clientStream {
	s := &clientStream{tb: tb}
	s.fw = wire.NewFrameWriter(&s.buf)
	return s
}

func (s *clientStream) msg(m wire.Message) *clientStream {
	s.tb.Helper()
	if err := s.fw.WriteMessage(m); err != nil {
		s.tb.Fatalf("writing %v: %v", m.FrameType(), err)
	}
	return s
}

func (s *clientStream) hello(caps ...string) *clientStream {
	return s.msg(&wire.Hello{Versions: []uint16{wire.Version}, Capabilities: caps, Agent: "hand-written"})
}

// deflated writes a metadata object sent deflated, its content z.
func (s *clientStream) deflated(n object.Name, z []byte) *clientStream {
	s.tb.Helper()
	if err := s.fw.WriteObject(&wire.ObjectHeader{Name: n, Size: uint64(len(z)), Deflated: true}, bytes.NewReader(z)); err != nil {
		s.tb.Fatal(err)
	}
	return s
}

func (s *clientStream) frame(t wire.FrameType, p []byte) *clientStream {
	s.tb.Helper()
	if err := s.fw.WriteFrame(t, p); err != nil {
		s.tb.Fatal(err)
	}
	return s
}

// header writes an OBJECT frame and no DATA.
func (s *clientStream) header(n object.Name, size uint64) *clientStream {
	return s.msg(&wire.ObjectHeader{Name: n, Size: size})
}

func (s *clientStream) object(n object.Name, data []byte) *clientStream {
	s.tb.Helper()
	if err := s.fw.WriteObject(&wire.ObjectHeader{Name: n, Size: uint64(len(data))}, bytes.NewReader(data)); err != nil {
		s.tb.Fatal(err)
	}
	return s
}

// objects writes the objects, read from src.
func (s *clientStream) objects(src *memStore, names []object.Name) *clientStream {
	for _, n := range names {
		s.object(n, src.object(n))
	}
	return s
}

func (s *clientStream) update(dryRun bool, refs ...wire.RefUpdate) *clientStream {
	return s.msg(&wire.Update{DryRun: dryRun, Refs: refs})
}

func (s *clientStream) raw(p []byte) *clientStream {
	s.fw.Flush()
	s.buf.Write(p)
	return s
}

func (s *clientStream) bytes() []byte {
	s.fw.Flush()
	return s.buf.Bytes()
}

func frameHeader(t wire.FrameType, length uint32) []byte {
	h := []byte{byte(t), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[1:], length)
	return h
}

// TestReceiveGarbage feeds the receiver broken client streams: it must
// fail, promptly, and leave the repository as it was.
func TestReceiveGarbage(t *testing.T) {
	h := newHistory(t)
	newObjs := newObjects(t, h.src, h.c2) // content, dirtree, commit of c2
	var content object.Name
	for _, n := range newObjs {
		if n.Type == object.File {
			content = n
		}
	}
	upd := wire.RefUpdate{Ref: refName("main"), Old: h.c1, New: h.c2}
	corrupted := bytes.Clone(h.src.object(content))
	corrupted[len(corrupted)-1] ^= 1
	notJSON := []byte("this is not a commit")
	notJSONName := object.Name{Checksum: object.Checksum(sha256.Sum256(notJSON)), Type: object.Commit}
	rnd := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rnd.UintN(256))
	}
	s := func() *clientStream { return newClientStream(t) }
	var dirtree object.Name
	for _, n := range newObjs {
		if n.Type == object.DirTree {
			dirtree = n
		}
	}
	deflate := func(b []byte) []byte {
		t.Helper()
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestCompression)
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	zTree := deflate(h.src.object(dirtree))
	zBomb := deflate(make([]byte, MaxMetadataSize+1))
	zOther := deflate(append(bytes.Clone(h.src.object(dirtree)), 0))
	mq := &wire.MetadataQuery{Commits: []wire.MetadataDigest{{Commit: h.c1}}}

	tests := []struct {
		name   string
		input  []byte
		opts   ReceiveOptions
		errIs  error  // if set, errors.Is(err, errIs) must hold
		errHas string // if set, the error must contain it
	}{
		{name: "empty input", input: nil},
		{name: "random bytes", input: random},
		{name: "text", input: []byte("Welcome to the server!\nLast login: yesterday\n")},
		{name: "HELLO with a bad magic", input: s().frame(wire.FrameHello, []byte("not a hello at all, really")).bytes()},
		{name: "HELLO with trailing bytes", input: s().raw(append(frameHeader(wire.FrameHello, 0), 0)).bytes()},
		{name: "no common version", input: s().msg(&wire.Hello{Versions: []uint16{2, 3}}).bytes()},
		{name: "UPDATE before HELLO", input: s().update(false, upd).bytes()},
		{name: "OBJECT before HELLO", input: s().objects(h.src, newObjs).hello().update(false, upd).bytes()},
		{name: "QUERY before HELLO", input: s().msg(&wire.Query{Objects: newObjs}).bytes()},
		{name: "DATA before HELLO", input: s().frame(wire.FrameData, []byte("x")).bytes()},
		{name: "DATA without OBJECT", input: s().hello().frame(wire.FrameData, []byte("xyz")).update(false, upd).bytes()},
		{name: "second HELLO", input: s().hello().hello().update(false, upd).bytes()},
		{name: "ADVERTISE from the client", input: s().hello().msg(&wire.Advertise{Mode: wire.ModeArchive}).update(false, upd).bytes()},
		{name: "HAVE from the client", input: s().hello().msg(&wire.Have{Present: []bool{true}}).update(false, upd).bytes()},
		{name: "RESULT from the client", input: s().hello().msg(&wire.Result{Refs: []wire.RefResult{{Ref: refName("main")}}}).update(false, upd).bytes()},
		{name: "unknown frame type", input: s().hello().raw(frameHeader(16, 0)).update(false, upd).bytes(), errIs: wire.ErrUnknownFrame},
		{name: "METADATA_QUERY without commitmeta-update",
			input: s().hello().msg(mq).update(false, upd).bytes(), errHas: "without commitmeta-update in effect"},
		{name: "a second METADATA_QUERY",
			input: s().hello(wire.CapCommitmetaUpdate).msg(mq).msg(mq).update(false, upd).bytes(), errHas: "a second METADATA_QUERY"},
		{name: "METADATA_QUERY after a QUERY",
			input: s().hello(wire.CapCommitmetaUpdate).msg(&wire.Query{Objects: newObjs}).msg(mq).update(false, upd).bytes(), errHas: "after a QUERY"},
		{name: "METADATA_QUERY after an OBJECT",
			input: s().hello(wire.CapCommitmetaUpdate).objects(h.src, newObjs).msg(mq).update(false, upd).bytes(), errHas: "after a QUERY or an OBJECT"},
		{name: "METADATA_HAVE from the client",
			input: s().hello(wire.CapCommitmetaUpdate).msg(&wire.MetadataHave{Current: []bool{true}}).update(false, upd).bytes()},
		{name: "signatures for a commit the repository has that no ref of the push points to",
			input:  s().hello(wire.CapCommitmetaUpdate).object(object.Name{Checksum: h.c1, Type: object.CommitMeta}, []byte("signatures")).objects(h.src, newObjs).update(false, upd).bytes(),
			errHas: "which no ref of this push points to"},
		{name: "frame over MaxPayload before HELLO", input: frameHeader(wire.FrameHello, wire.MaxPayload+1), errIs: wire.ErrFrameTooLarge},
		{name: "frame over MaxPayload", input: s().hello().raw(frameHeader(wire.FrameQuery, wire.MaxPayload+1)).bytes(), errIs: wire.ErrFrameTooLarge},
		{name: "DATA frame over MaxPayload in an object",
			input: s().hello().header(content, 2*wire.MaxPayload).raw(frameHeader(wire.FrameData, 0xffffffff)).bytes(), errIs: wire.ErrFrameTooLarge},
		{name: "metadata over MaxMetadataSize",
			input: s().hello().header(object.Name{Checksum: h.c2, Type: object.DirTree}, MaxMetadataSize+1).bytes(), errHas: "limit"},
		{name: "commitmeta over MaxMetadataSize",
			input: s().hello().header(object.Name{Checksum: h.c2, Type: object.CommitMeta}, 1<<40).bytes(), errHas: "limit"},
		{name: "content over MaxObjectSize",
			input: s().hello().header(content, 1<<16+1).raw(bytes.Repeat([]byte{0}, 1<<16+1)).bytes(),
			opts:  ReceiveOptions{MaxObjectSize: 1 << 16}, errHas: "limit"},
		{name: "content over the default MaxObjectSize",
			input: s().hello().header(content, DefaultMaxObjectSize+1).bytes(), errHas: "limit"},
		{name: "object cut short", input: s().hello().header(content, 100).frame(wire.FrameData, make([]byte, 50)).update(false, upd).bytes()},
		{name: "object data overruns", input: s().hello().header(content, 10).frame(wire.FrameData, make([]byte, 20)).update(false, upd).bytes()},
		{name: "QUERY inside an object",
			input: s().hello().header(content, 10).frame(wire.FrameData, make([]byte, 5)).msg(&wire.Query{Objects: newObjs}).update(false, upd).bytes()},
		{name: "OBJECT with a bad type", input: s().hello().frame(wire.FrameObject, append([]byte{5}, make([]byte, 40)...)).update(false, upd).bytes()},
		{name: "OBJECT payload too short", input: s().hello().frame(wire.FrameObject, []byte{1, 2, 3}).update(false, upd).bytes()},
		{name: "corrupted object",
			input:  s().hello().object(content, corrupted).objects(h.src, withoutName(newObjs, content)).update(false, upd).bytes(),
			errHas: "corrupted"},
		{name: "commit that does not parse", input: s().hello().object(notJSONName, notJSON).update(false, upd).bytes()},
		{name: "deflated object without deflate-metadata",
			input:  s().hello().deflated(dirtree, zTree).update(false, upd).bytes(),
			errHas: "not negotiated"},
		{name: "deflated object: not a deflate stream",
			input:  s().hello(wire.CapDeflateMetadata).deflated(dirtree, []byte("not deflate at all")).update(false, upd).bytes(),
			errHas: "invalid deflate stream"},
		{name: "deflated object: stream cut short",
			input:  s().hello(wire.CapDeflateMetadata).deflated(dirtree, zTree[:len(zTree)-2]).update(false, upd).bytes(),
			errHas: "invalid deflate stream"},
		{name: "deflated object: bytes after the stream",
			input:  s().hello(wire.CapDeflateMetadata).deflated(dirtree, append(bytes.Clone(zTree), 0)).update(false, upd).bytes(),
			errHas: "1 bytes after the end of the deflate stream"},
		{name: "deflated object: inflates past MaxMetadataSize",
			input:  s().hello(wire.CapDeflateMetadata).deflated(dirtree, zBomb).update(false, upd).bytes(),
			errHas: "inflates to more than the limit"},
		{name: "deflated object: another object's content",
			input:  s().hello(wire.CapDeflateMetadata).deflated(dirtree, zOther).objects(h.src, withoutName(newObjs, dirtree)).update(false, upd).bytes(),
			errHas: "its content has checksum"},
		{name: "objects and no UPDATE", input: s().hello().objects(h.src, newObjs).bytes()},
		{name: "malformed UPDATE", input: s().hello().objects(h.src, newObjs).frame(wire.FrameUpdate, []byte{0, 0, 0, 0, 0}).bytes()},
		{name: "UPDATE with unknown flags", input: s().hello().objects(h.src, newObjs).frame(wire.FrameUpdate, []byte{0x80, 0, 0, 0, 0}).bytes()},
		{name: "ERROR from the client", input: s().hello().objects(h.src, newObjs).msg(&wire.ErrorMsg{Message: "client gives up"}).bytes(),
			errHas: "client gives up"},
	}
	for i, tt := range tests {
		dst, before := h.destSnapshot(t, "main", h.c1)
		start := time.Now()
		res, err := receiveTimeout(t, bytes.NewReader(tt.input), dst, tt.opts)
		if err == nil {
			t.Errorf("#%d %s: Receive succeeded: %+v", i, tt.name, res)
		} else {
			if tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Errorf("#%d %s: error %v, want %v", i, tt.name, err, tt.errIs)
			}
			if tt.errHas != "" && !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("#%d %s: error %q does not contain %q", i, tt.name, err, tt.errHas)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("#%d %s: Receive took %v", i, tt.name, d)
		}
		if d := dst.diff(before); d != "" {
			t.Errorf("#%d %s: destination changed: %s", i, tt.name, d)
		}
		dst.assertNoTxn(t)
		if st := dst.counts(); st.Commits != 0 {
			t.Errorf("#%d %s: destination stats %+v", i, tt.name, st)
		}
	}
}

func withoutName(names []object.Name, x object.Name) []object.Name {
	return slices.DeleteFunc(slices.Clone(names), func(n object.Name) bool { return n == x })
}

// tripwire is a reader that must not be read.
type tripwire struct{ read bool }

func (w *tripwire) Read(p []byte) (int, error) {
	w.read = true
	return 0, io.EOF
}

// TestReceiveFrameTooLargeNotRead checks that the receiver gives up on a
// frame header announcing too much without reading on.
func TestReceiveFrameTooLargeNotRead(t *testing.T) {
	for i, prefix := range [][]byte{nil, newClientStream(t).hello().bytes()} {
		trip := &tripwire{}
		input := io.MultiReader(bytes.NewReader(append(prefix, frameHeader(wire.FrameObject, wire.MaxPayload+1)...)), trip)
		dst := newMemStore()
		_, err := receiveTimeout(t, input, dst, ReceiveOptions{})
		if !errors.Is(err, wire.ErrFrameTooLarge) {
			t.Errorf("#%d: error %v, want ErrFrameTooLarge", i, err)
		}
		if trip.read {
			t.Errorf("#%d: the receiver read past the oversized frame header", i)
		}
		dst.assertUnchanged(t, memSnapshot{})
	}
}

// handshake is the start of a hand-driven client session: HELLO out,
// HELLO and ADVERTISE in.
func handshake(fr *wire.FrameReader, fw *wire.FrameWriter) (*wire.Advertise, error) {
	if err := fw.WriteMessage(&wire.Hello{Versions: []uint16{wire.Version}}); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil {
		return nil, err
	}
	m, err := fr.ReadMessage()
	if err != nil {
		return nil, err
	}
	if _, ok := m.(*wire.Hello); !ok {
		return nil, fmt.Errorf("got %v, want HELLO", m.FrameType())
	}
	if m, err = fr.ReadMessage(); err != nil {
		return nil, err
	}
	adv, ok := m.(*wire.Advertise)
	if !ok {
		return nil, fmt.Errorf("got %v, want ADVERTISE", m.FrameType())
	}
	return adv, nil
}

// TestReceiveClientDies cuts the connection in the middle of a push.
func TestReceiveClientDies(t *testing.T) {
	h := newHistory(t)
	newObjs := newObjects(t, h.src, h.c2)
	sendObjects := func(fw *wire.FrameWriter, names []object.Name) error {
		for _, n := range names {
			data := h.src.object(n)
			if err := fw.WriteObject(&wire.ObjectHeader{Name: n, Size: uint64(len(data))}, bytes.NewReader(data)); err != nil {
				return err
			}
		}
		return fw.Flush()
	}
	tests := []struct {
		name   string
		resetW bool // close with an error rather than EOF
		script func(fr *wire.FrameReader, fw *wire.FrameWriter) error
	}{
		{"after some objects", false, func(fr *wire.FrameReader, fw *wire.FrameWriter) error {
			return sendObjects(fw, newObjs[:2])
		}},
		{"reset after some objects", true, func(fr *wire.FrameReader, fw *wire.FrameWriter) error {
			return sendObjects(fw, newObjs[:1])
		}},
		{"inside an object", false, func(fr *wire.FrameReader, fw *wire.FrameWriter) error {
			n := newObjs[0]
			data := h.src.object(n)
			if err := fw.WriteMessage(&wire.ObjectHeader{Name: n, Size: uint64(len(data))}); err != nil {
				return err
			}
			if err := fw.WriteFrame(wire.FrameData, data[:len(data)/2]); err != nil {
				return err
			}
			return fw.Flush()
		}},
		{"inside a frame", false, func(fr *wire.FrameReader, fw *wire.FrameWriter) error {
			n := newObjs[0]
			if err := fw.WriteMessage(&wire.ObjectHeader{Name: n, Size: 100}); err != nil {
				return err
			}
			if err := fw.WriteFrame(wire.FrameData, make([]byte, 100)); err != nil {
				return err
			}
			return fw.Flush() // the writer below cuts the stream in the DATA frame
		}},
		{"after a QUERY", false, func(fr *wire.FrameReader, fw *wire.FrameWriter) error {
			if err := fw.WriteMessage(&wire.Query{Objects: newObjs}); err != nil {
				return err
			}
			if err := fw.Flush(); err != nil {
				return err
			}
			m, err := fr.ReadMessage()
			if err != nil {
				return err
			}
			if h, ok := m.(*wire.Have); !ok || len(h.Present) != len(newObjs) || slices.Contains(h.Present, true) {
				return fmt.Errorf("unexpected answer %+v", m)
			}
			return nil
		}},
	}
	for i, tt := range tests {
		dst, before := h.destSnapshot(t, "main", h.c1)
		var scriptErr, recvErr error
		runPair(t, func(r io.Reader, w io.Writer) {
			pw := w.(*io.PipeWriter)
			out := io.Writer(pw)
			if tt.name == "inside a frame" {
				out = &cutWriter{w: pw, left: wire.HeaderSize + 1 + 32 + 8 + wire.HeaderSize + 50} // OBJECT: type, checksum, size
			}
			fr, fw := wire.NewFrameReader(r), wire.NewFrameWriter(out)
			if _, scriptErr = handshake(fr, fw); scriptErr == nil {
				scriptErr = tt.script(fr, fw)
			}
			if tt.resetW {
				pw.CloseWithError(errors.New("connection reset by peer"))
			}
		}, func(r io.Reader, w io.Writer) {
			_, recvErr = Receive(r, w, dst, ReceiveOptions{})
		})
		if scriptErr != nil {
			t.Fatalf("#%d %s: client script: %v", i, tt.name, scriptErr)
		}
		if recvErr == nil {
			t.Errorf("#%d %s: Receive succeeded", i, tt.name)
		}
		dst.assertUnchanged(t, before)
		if st := dst.counts(); st.Commits != 0 || st.Aborts != 1 {
			t.Errorf("#%d %s: destination stats %+v", i, tt.name, st)
		}
	}
}

// cutWriter passes the first left bytes written since the handshake
// through and drops the rest: the connection is cut mid-frame.
type cutWriter struct {
	w    io.Writer
	left int
	hand bool
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if !c.hand { // the handshake's HELLO goes through whole
		c.hand = true
		return c.w.Write(p)
	}
	n := min(len(p), c.left)
	c.left -= n
	if _, err := c.w.Write(p[:n]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// TestReceiveIncompleteCommit sends a commit without one of its objects.
func TestReceiveIncompleteCommit(t *testing.T) {
	h := newHistory(t)
	var content object.Name
	var rest []object.Name
	for _, n := range newObjects(t, h.src, h.c2) {
		if n.Type == object.File {
			content = n
		} else {
			rest = append(rest, n)
		}
	}
	if content.Type == 0 || len(rest) != 2 {
		t.Fatalf("fixture: %v %v", content, rest)
	}
	for i, update := range []wire.RefUpdate{
		{Ref: refName("main"), Old: h.c1, New: h.c2},
		{Ref: refName("other"), New: h.c2}, // a new ref, same commit
	} {
		dst, before := h.destSnapshot(t, "main", h.c1)
		input := newClientStream(t).hello().objects(h.src, rest).update(false, update).bytes()
		_, err := receiveTimeout(t, bytes.NewReader(input), dst, ReceiveOptions{})
		if err == nil || !strings.Contains(err.Error(), h.c2.String()) {
			t.Errorf("#%d: error %v, want one naming commit %s", i, err, h.c2)
		}
		dst.assertUnchanged(t, before)
		if st := dst.counts(); st.Commits != 0 {
			t.Errorf("#%d: destination stats %+v", i, st)
		}
	}
}

// TestReceiveUpdateUnsentCommit asks for a ref to point at a commit that
// is neither in the repository nor sent: refused, but not an error.
func TestReceiveUpdateUnsentCommit(t *testing.T) {
	h := newHistory(t)
	dst, before := h.destSnapshot(t, "main", h.c1)
	input := newClientStream(t).hello().update(false, wire.RefUpdate{Ref: refName("main"), Old: h.c1, New: h.c2}).bytes()
	res, err := receiveTimeout(t, bytes.NewReader(input), dst, ReceiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refs) != 1 || res.Refs[0].Status != wire.StatusRejected {
		t.Errorf("results %+v", res.Refs)
	}
	dst.assertUnchanged(t, before)
}

// TestReceiveLargeResult sends an UPDATE whose RESULT is larger than the
// UPDATE: every ref name is invalid, and the refusal message repeats the
// name (as libostree's "Invalid ref name NAME" does).
func TestReceiveLargeResult(t *testing.T) {
	h := newHistory(t)
	dst := h.dest(t, "main", h.c1)
	var refs []wire.RefUpdate
	for i := 0; i < wire.MaxRefUpdates; i++ {
		refs = append(refs, wire.RefUpdate{Ref: refName(fmt.Sprintf("bad name %021d", i)), New: h.c2})
	}
	if size := len(newClientStream(t).update(false, refs...).bytes()); size > wire.HeaderSize+wire.MaxPayload {
		t.Fatalf("fixture: UPDATE of %d bytes", size)
	}
	input := newClientStream(t).hello().update(false, refs...).bytes()
	res, err := receiveTimeout(t, bytes.NewReader(input), dst, ReceiveOptions{})
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	for _, r := range res.Refs {
		if r.Status != wire.StatusRejected {
			t.Fatalf("%+v", r)
		}
	}
}

// ---- fuzzing ----
