package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
)

type frame struct {
	t FrameType
	p []byte
}

func TestFrameRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), MaxPayload/16)
	frames := []frame{
		{FrameHello, []byte("hello")},
		{FrameProgress, nil},
		{FrameData, []byte{0}},
		{FrameData, big},
		{FrameError, []byte{0, 0}},
		{FrameData, big[:100000]},
		{FrameUpdate, []byte{}},
	}
	var buf bytes.Buffer
	w := NewFrameWriter(&buf)
	for i, f := range frames {
		if err := w.WriteFrame(f.t, f.p); err != nil {
			t.Fatalf("#%d: WriteFrame: %v", i, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	wantLen := 0
	for _, f := range frames {
		wantLen += HeaderSize + len(f.p)
	}
	if buf.Len() != wantLen {
		t.Fatalf("wrote %d bytes, want %d", buf.Len(), wantLen)
	}
	// One byte at a time, to exercise every short read.
	r := NewFrameReader(iotest.OneByteReader(&buf))
	for i, f := range frames {
		typ, p, err := r.Next()
		if err != nil || typ != f.t || !bytes.Equal(p, f.p) {
			t.Fatalf("#%d: Next() = %v, %d bytes, %v; want %v, %d bytes", i, typ, len(p), err, f.t, len(f.p))
		}
	}
	for i := 0; i < 2; i++ {
		if _, _, err := r.Next(); err != io.EOF {
			t.Fatalf("Next() at the end = %v, want io.EOF", err)
		}
	}
}

func TestFrameHeaderEncoding(t *testing.T) {
	var buf bytes.Buffer
	w := NewFrameWriter(&buf)
	if err := w.WriteFrame(FrameQuery, []byte{0xaa, 0xbb}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes reached the writer before Flush", buf.Len())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := []byte{3, 0, 0, 0, 2, 0xaa, 0xbb}; !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("wrote % x, want % x", buf.Bytes(), want)
	}
}

func TestFrameReaderErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error  // for errors.Is
		msg  string // in the error
	}{
		{"\x01", io.ErrUnexpectedEOF, "stream ends inside a frame header: got 1 of 5 bytes"},
		{"\x01\x00\x00\x00", io.ErrUnexpectedEOF, "got 4 of 5 bytes"},
		{"\x01\x00\x00\x00\x03ab", io.ErrUnexpectedEOF, "stream ends inside a HELLO frame: got 2 of 3 payload bytes"},
		{"\x06\x00\x00\x00\x01", io.ErrUnexpectedEOF, "inside a DATA frame: got 0 of 1"},
		{"\x00\x00\x00\x00\x00", ErrUnknownFrame, "frame header 00 00 00 00 00: type 0: unknown frame type"},
		{"\x10\x00\x00\x00\x00", ErrUnknownFrame, "type 16"},
		{"\xff\xff\xff\xff\xff", ErrUnknownFrame, "type 255"},
		{"Welcome to the server\n", ErrUnknownFrame, "frame header 57 65 6c 63 6f: type 87"},
		{"\x06\x00\x10\x00\x01", ErrFrameTooLarge, "DATA frame announces 1048577 payload bytes, more than the 1048576 allowed"},
		{"\x0a\xff\xff\xff\xff", ErrFrameTooLarge, "ERROR frame announces 4294967295"},
		{"\x06\x00\x00\x00\x00", nil, "protocol error: empty DATA frame"},
	}
	for i, tt := range tests {
		r := NewFrameReader(strings.NewReader(tt.in))
		_, _, err := r.Next()
		if err == nil {
			t.Errorf("#%d: no error", i)
			continue
		}
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("#%d: %v (%T) is not a *ProtocolError", i, err, err)
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("#%d: errors.Is(%v, %v) is false", i, err, tt.want)
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("#%d: error %q does not contain %q", i, err, tt.msg)
		}
		if _, _, err2 := r.Next(); err2 != err {
			t.Errorf("#%d: second Next() = %v, want the same error again", i, err2)
		}
	}
}

// TestFrameTooLargeDoesNotRead checks that a reader gives up on an oversized
// header at once, without waiting for (or draining) the announced payload.
func TestFrameTooLargeDoesNotRead(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	go pw.Write([]byte{byte(FrameData), 0x7f, 0xff, 0xff, 0xff}) // and then nothing, ever
	done := make(chan error, 1)
	go func() {
		_, _, err := NewFrameReader(pr).Next()
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("Next() = %v, want ErrFrameTooLarge", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next() blocked reading the payload of an oversized frame")
	}
}

func TestFrameReaderIOError(t *testing.T) {
	boom := errors.New("boom")
	r := NewFrameReader(io.MultiReader(strings.NewReader("\x09\x00\x00\x00\x02\x00"), iotest.ErrReader(boom)))
	_, _, err := r.Next()
	if !errors.Is(err, boom) || isProtocolError(err) {
		t.Errorf("Next() = %v, want boom, not a protocol error", err)
	}
	r = NewFrameReader(iotest.ErrReader(boom))
	if _, _, err := r.Next(); !errors.Is(err, boom) {
		t.Errorf("Next() = %v, want boom", err)
	}
}

func TestFrameWriterRefuses(t *testing.T) {
	tests := []struct {
		t    FrameType
		p    []byte
		want error
	}{
		{0, nil, ErrUnknownFrame},
		{16, []byte{1}, ErrUnknownFrame},
		{FrameData, make([]byte, MaxPayload+1), ErrFrameTooLarge},
		{FrameHello, make([]byte, MaxPayload+1), ErrFrameTooLarge},
		{FrameData, nil, nil},
	}
	for i, tt := range tests {
		var buf bytes.Buffer
		w := NewFrameWriter(&buf)
		err := w.WriteFrame(tt.t, tt.p)
		if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("#%d: WriteFrame(%v, %d bytes) = %v, want %v", i, tt.t, len(tt.p), err, tt.want)
		}
		w.Flush()
		if buf.Len() != 0 {
			t.Errorf("#%d: a refused frame wrote %d bytes", i, buf.Len())
		}
	}
}

func TestWriteReadMessage(t *testing.T) {
	var buf bytes.Buffer
	w := NewFrameWriter(&buf)
	msgs := validMessages()
	for i, m := range msgs {
		if err := w.WriteMessage(m); err != nil {
			t.Fatalf("#%d: WriteMessage: %v", i, err)
		}
	}
	if err := w.WriteMessage(&Hello{}); err == nil {
		t.Error("WriteMessage of an invalid HELLO succeeded")
	}
	w.WriteFrame(FrameData, []byte("x"))
	w.Flush()
	r := NewFrameReader(&buf)
	for i, want := range msgs {
		m, err := r.ReadMessage()
		if err != nil || !reflect.DeepEqual(m, want) {
			t.Fatalf("#%d: ReadMessage() = %T, %v; want %T", i, m, err, want)
		}
	}
	if m, err := r.ReadMessage(); m != nil || !isProtocolError(err) || !strings.Contains(err.Error(), "unexpected DATA frame") {
		t.Errorf("ReadMessage() of DATA = %v, %v", m, err)
	}
}

func TestObjectStreaming(t *testing.T) {
	content := make([]byte, 2*MaxPayload+12345)
	for i := range content {
		content[i] = byte(i * 7)
	}
	name := object.Name{Checksum: csumA, Type: object.File}
	var buf bytes.Buffer
	w := NewFrameWriter(&buf)
	if err := w.WriteObject(&ObjectHeader{Name: name, Size: uint64(len(content))}, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteObject(&ObjectHeader{Name: name}, iotest.ErrReader(errors.New("must not be read"))); err != nil {
		t.Fatal(err)
	}
	w.WriteMessage(&Progress{Message: "done"})
	w.Flush()

	// The frames themselves: OBJECT, three DATA frames, OBJECT, PROGRESS.
	var types []FrameType
	var sizes []int
	fr := NewFrameReader(bytes.NewReader(buf.Bytes()))
	for {
		typ, p, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, typ)
		sizes = append(sizes, len(p))
	}
	wantTypes := []FrameType{FrameObject, FrameData, FrameData, FrameData, FrameObject, FrameProgress}
	wantSizes := []int{objectHeaderSize, MaxPayload, MaxPayload, 12345, objectHeaderSize, 6}
	if !reflect.DeepEqual(types, wantTypes) || !reflect.DeepEqual(sizes, wantSizes) {
		t.Errorf("frames %v of sizes %v, want %v of %v", types, sizes, wantTypes, wantSizes)
	}

	// Read them back through ObjectReader.
	fr = NewFrameReader(&buf)
	for _, want := range [][]byte{content, nil} {
		m, err := fr.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		h := m.(*ObjectHeader)
		got, err := io.ReadAll(iotest.OneByteReader(fr.ObjectReader(h.Size)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("object content: %d bytes, %v; want %d bytes", len(got), err, len(want))
		}
	}
	if m, err := fr.ReadMessage(); err != nil || m.(*Progress).Message != "done" {
		t.Errorf("after the objects: %v, %v", m, err)
	}
}

func TestWriteObjectShortReader(t *testing.T) {
	w := NewFrameWriter(io.Discard)
	h := &ObjectHeader{Name: object.Name{Checksum: csumA, Type: object.DirTree}, Size: 10}
	err := w.WriteObject(h, strings.NewReader("12345"))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("WriteObject with a short reader = %v, want io.ErrUnexpectedEOF", err)
	}
	err = w.WriteObject(h, strings.NewReader(""))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("WriteObject with an empty reader = %v, want io.ErrUnexpectedEOF", err)
	}
	if err := w.WriteObject(&ObjectHeader{}, strings.NewReader("")); err == nil {
		t.Error("WriteObject of an invalid header succeeded")
	}
}

func TestObjectReaderErrors(t *testing.T) {
	data := func(s string) frame { return frame{FrameData, []byte(s)} }
	errMsg, _ := (&ErrorMsg{Message: "disk full"}).MarshalBinary()
	tests := []struct {
		size   uint64
		frames []frame
		eof    bool   // the stream ends after the frames
		want   string // in the error
		is     error
	}{
		{5, []frame{data("abc"), data("def")}, false, "DATA frame of 3 bytes overruns the object: only 2 bytes remain", nil},
		{5, []frame{data("abc"), {FrameQuery, nil}}, false, "want DATA frame with 2 more bytes of the object, got QUERY frame", nil},
		{5, []frame{data("abc")}, true, "stream ends with 2 bytes of an object still to come", io.ErrUnexpectedEOF},
		{5, []frame{{FrameError, errMsg}}, false, "remote: disk full", nil},
		{5, []frame{{FrameError, []byte{0}}}, false, "ERROR: message length", nil},
		{5, []frame{{FrameType(16), nil}}, false, "unknown frame type", ErrUnknownFrame},
	}
	for i, tt := range tests {
		var buf bytes.Buffer
		w := NewFrameWriter(&buf)
		for _, f := range tt.frames {
			if err := w.WriteFrame(f.t, f.p); err != nil {
				// An unknown type cannot be written: forge it.
				w.Flush()
				buf.Write([]byte{byte(f.t), 0, 0, 0, 0})
			}
		}
		w.Flush()
		got, err := io.ReadAll(NewFrameReader(&buf).ObjectReader(tt.size))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("#%d: read %q, %v; want error containing %q", i, got, err, tt.want)
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("#%d: errors.Is(%v, %v) is false", i, err, tt.is)
		}
	}
	// A remote ERROR becomes a *RemoteError.
	var buf bytes.Buffer
	w := NewFrameWriter(&buf)
	w.WriteFrame(FrameError, errMsg)
	w.Flush()
	_, err := io.ReadAll(NewFrameReader(&buf).ObjectReader(1))
	var re *RemoteError
	if !errors.As(err, &re) || re.Message != "disk full" {
		t.Errorf("ERROR inside an object gave %v, want *RemoteError", err)
	}
}
