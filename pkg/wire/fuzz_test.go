package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// The seed corpus of each target is in testdata/fuzz/FuzzXxx; the targets
// add the small messages of validMessages too.

// FuzzFrameReader reads frames from arbitrary bytes. It checks that reading
// never panics, fails only with io.EOF or a *ProtocolError, and that the
// frames read re-encode to the bytes they came from.
func FuzzFrameReader(f *testing.F) {
	var buf bytes.Buffer
	w := NewFrameWriter(&buf)
	for _, m := range validMessages() {
		if p, _ := m.MarshalBinary(); len(p) < 256 {
			w.WriteMessage(m)
		}
	}
	w.Flush()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewFrameReader(bytes.NewReader(data))
		var out bytes.Buffer
		w := NewFrameWriter(&out)
		var err error
		for {
			var typ FrameType
			var p []byte
			typ, p, err = r.Next()
			if err != nil {
				break
			}
			if err := w.WriteFrame(typ, p); err != nil {
				t.Fatalf("frame %v of %d bytes was read but cannot be written: %v", typ, len(p), err)
			}
			if typ == FrameData {
				continue
			}
			// Payloads that decode must re-encode identically.
			m, derr := DecodeMessage(typ, p)
			if derr != nil {
				if !isProtocolError(derr) {
					t.Fatalf("DecodeMessage(%v): %v is not a *ProtocolError", typ, derr)
				}
				continue
			}
			p2, merr := m.MarshalBinary()
			if merr != nil || !bytes.Equal(p2, p) {
				t.Fatalf("%v decoded from % x re-encodes to % x, %v", typ, p, p2, merr)
			}
		}
		w.Flush()
		switch {
		case err == io.EOF:
			if !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("frames re-encode to % x, input was % x", out.Bytes(), data)
			}
		case isProtocolError(err):
			if !bytes.HasPrefix(data, out.Bytes()) {
				t.Fatalf("frames re-encode to % x, not a prefix of the input % x", out.Bytes(), data)
			}
		default:
			t.Fatalf("Next() = %v (%T), want io.EOF or a *ProtocolError", err, err)
		}
	})
}

// fuzzMessage checks the UnmarshalBinary of the messages newMsg returns:
// it never panics, fails only with a *ProtocolError leaving the message
// unchanged, and whatever it accepts re-encodes to the same bytes, which
// decode to an equal message.
func fuzzMessage(f *testing.F, newMsg func() Message) {
	t0 := newMsg().FrameType()
	for _, m := range validMessages() {
		if m.FrameType() != t0 {
			continue
		}
		if p, err := m.MarshalBinary(); err == nil && len(p) < 512 {
			f.Add(p)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := newMsg()
		if err := m.UnmarshalBinary(data); err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("UnmarshalBinary: %v (%T) is not a *ProtocolError", err, err)
			}
			if !reflect.DeepEqual(m, newMsg()) {
				t.Fatalf("failed UnmarshalBinary changed the message to %+v", m)
			}
			return
		}
		p, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", m, err)
		}
		if !bytes.Equal(p, data) {
			t.Fatalf("decoded from % x, re-encodes to % x", data, p)
		}
		m2 := newMsg()
		if err := m2.UnmarshalBinary(p); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("decoded %+v, then %+v", m, m2)
		}
	})
}

func FuzzHello(f *testing.F)         { fuzzMessage(f, func() Message { return new(Hello) }) }
func FuzzAdvertise(f *testing.F)     { fuzzMessage(f, func() Message { return new(Advertise) }) }
func FuzzRefs(f *testing.F)          { fuzzMessage(f, func() Message { return new(Refs) }) }
func FuzzQuery(f *testing.F)         { fuzzMessage(f, func() Message { return new(Query) }) }
func FuzzHave(f *testing.F)          { fuzzMessage(f, func() Message { return new(Have) }) }
func FuzzObjectHeader(f *testing.F)  { fuzzMessage(f, func() Message { return new(ObjectHeader) }) }
func FuzzUpdate(f *testing.F)        { fuzzMessage(f, func() Message { return new(Update) }) }
func FuzzResult(f *testing.F)        { fuzzMessage(f, func() Message { return new(Result) }) }
func FuzzResultFlags(f *testing.F)   { fuzzMessage(f, func() Message { return new(ResultFlags) }) }
func FuzzRefFilter(f *testing.F)     { fuzzMessage(f, func() Message { return new(RefFilter) }) }
func FuzzMetadataQuery(f *testing.F) { fuzzMessage(f, func() Message { return new(MetadataQuery) }) }
func FuzzMetadataHave(f *testing.F)  { fuzzMessage(f, func() Message { return new(MetadataHave) }) }
func FuzzProgress(f *testing.F)      { fuzzMessage(f, func() Message { return new(Progress) }) }
func FuzzErrorMsg(f *testing.F)      { fuzzMessage(f, func() Message { return new(ErrorMsg) }) }
