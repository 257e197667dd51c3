package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxPayload is the largest payload a frame may carry. A header announcing
// more is a fatal protocol error.
const MaxPayload = 1 << 20

// HeaderSize is the size of a frame header: a type byte and a big-endian
// uint32 payload length.
const HeaderSize = 5

// bufferSize is the size of the buffers FrameReader and FrameWriter put
// around the underlying stream.
const bufferSize = 64 << 10

// FrameType is the first byte of a frame header.
type FrameType uint8

// The frame types of protocol version 1. See protocol.md.
const (
	FrameHello       FrameType = 1  // Hello: version negotiation, both ways
	FrameAdvertise   FrameType = 2  // Advertise: the receiver's refs
	FrameQuery       FrameType = 3  // Query: which of these objects do you have?
	FrameHave        FrameType = 4  // Have: the answer to one Query
	FrameObject      FrameType = 5  // ObjectHeader: an object follows in DATA frames
	FrameData        FrameType = 6  // raw object bytes
	FrameUpdate      FrameType = 7  // Update: the ref changes; ends the client's stream
	FrameResult      FrameType = 8  // Result: the answer to Update
	FrameProgress    FrameType = 9  // Progress: informational text
	FrameError       FrameType = 10 // ErrorMsg: fatal error, the sender closes
	FrameRefs        FrameType = 11 // Refs: more of the receiver's refs (CapAdvertiseRefs)
	FrameResultFlags FrameType = 12 // ResultFlags: facts of each ref's result (CapResultFlags)
	FrameRefFilter   FrameType = 13 // RefFilter: the refs the client wants advertised (CapRefFilter)
	// MetadataQuery: is your detached metadata of these commits mine? (CapCommitmetaUpdate)
	FrameMetadataQuery FrameType = 14
	FrameMetadataHave  FrameType = 15 // MetadataHave: the answer to a MetadataQuery
)

var frameNames = [...]string{
	FrameHello:         "HELLO",
	FrameAdvertise:     "ADVERTISE",
	FrameQuery:         "QUERY",
	FrameHave:          "HAVE",
	FrameObject:        "OBJECT",
	FrameData:          "DATA",
	FrameUpdate:        "UPDATE",
	FrameResult:        "RESULT",
	FrameProgress:      "PROGRESS",
	FrameError:         "ERROR",
	FrameRefs:          "REFS",
	FrameResultFlags:   "RESULT_FLAGS",
	FrameRefFilter:     "REF_FILTER",
	FrameMetadataQuery: "METADATA_QUERY",
	FrameMetadataHave:  "METADATA_HAVE",
}

// Valid reports whether t is a frame type of protocol version 1.
func (t FrameType) Valid() bool { return t >= FrameHello && t <= FrameMetadataHave }

// String returns the frame type's name as protocol.md spells it ("HELLO",
// "DATA", ...), or "FrameType(N)" for an unknown type.
func (t FrameType) String() string {
	if t.Valid() {
		return frameNames[t]
	}
	return fmt.Sprintf("FrameType(%d)", uint8(t))
}

var (
	// ErrFrameTooLarge is the cause of the error for a frame header that
	// announces a payload larger than MaxPayload, and is returned (wrapped)
	// by FrameWriter for a payload that large.
	ErrFrameTooLarge = errors.New("frame too large")

	// ErrUnknownFrame is the cause of the error for a frame whose type is
	// not one of the FrameXxx constants.
	ErrUnknownFrame = errors.New("unknown frame type")
)

// FrameReader reads frames from a stream. It checks the header (known type,
// length within MaxPayload, DATA not empty) but not the payload; see
// DecodeMessage for that. It is not safe for concurrent use.
//
// Errors are sticky: after Next returns an error it returns the same error
// again, since the stream position is unknown.
type FrameReader struct {
	r   *bufio.Reader
	hdr [HeaderSize]byte
	buf []byte
	err error
}

// NewFrameReader returns a FrameReader reading from r through a 64 KiB
// buffer.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, bufferSize)}
}

// Next reads the next frame and returns its type and payload. The payload
// is only valid until the next call of Next: the reader reuses its buffer.
//
// At the end of the stream exactly between two frames Next returns io.EOF.
// A stream that ends inside a frame gives a *ProtocolError wrapping
// io.ErrUnexpectedEOF; a bad header gives a *ProtocolError wrapping
// ErrUnknownFrame or ErrFrameTooLarge. Errors of the underlying reader are
// returned wrapped.
func (fr *FrameReader) Next() (FrameType, []byte, error) {
	if fr.err != nil {
		return 0, nil, fr.err
	}
	t, p, err := fr.next()
	if err != nil {
		fr.err = err
		return 0, nil, err
	}
	return t, p, nil
}

func (fr *FrameReader) next() (FrameType, []byte, error) {
	n, err := io.ReadFull(fr.r, fr.hdr[:])
	switch {
	case err == io.EOF:
		return 0, nil, io.EOF
	case err == io.ErrUnexpectedEOF:
		return 0, nil, &ProtocolError{
			Msg: fmt.Sprintf("stream ends inside a frame header: got %d of %d bytes", n, HeaderSize),
			Err: io.ErrUnexpectedEOF,
		}
	case err != nil:
		return 0, nil, fmt.Errorf("transfer: reading frame header: %w", err)
	}
	t := FrameType(fr.hdr[0])
	length := binary.BigEndian.Uint32(fr.hdr[1:])
	if !t.Valid() {
		return 0, nil, &ProtocolError{
			Msg: fmt.Sprintf("frame header % x: type %d", fr.hdr[:], fr.hdr[0]),
			Err: ErrUnknownFrame,
		}
	}
	if length > MaxPayload {
		// The length is the peer's word and the stream is untrusted:
		// do not try to skip the payload, just give up.
		return 0, nil, &ProtocolError{
			Msg: fmt.Sprintf("%v frame announces %d payload bytes, more than the %d allowed", t, length, MaxPayload),
			Err: ErrFrameTooLarge,
		}
	}
	if t == FrameData && length == 0 {
		return 0, nil, ProtocolErrorf("empty DATA frame")
	}
	if uint32(cap(fr.buf)) < length {
		fr.buf = make([]byte, length)
	}
	p := fr.buf[:length]
	n, err = io.ReadFull(fr.r, p)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return 0, nil, &ProtocolError{
			Msg: fmt.Sprintf("stream ends inside a %v frame: got %d of %d payload bytes", t, n, length),
			Err: io.ErrUnexpectedEOF,
		}
	case err != nil:
		return 0, nil, fmt.Errorf("transfer: reading %v frame payload: %w", t, err)
	}
	return t, p, nil
}

// ReadMessage reads the next frame and decodes it with DecodeMessage. A DATA
// frame is a protocol error here: DATA only follows OBJECT (see
// ObjectReader). io.EOF at a frame boundary is returned as is. An ERROR frame
// is returned as a *ErrorMsg like any other message; its Err method turns it
// into a *RemoteError.
func (fr *FrameReader) ReadMessage() (Message, error) {
	t, p, err := fr.Next()
	if err != nil {
		return nil, err
	}
	return DecodeMessage(t, p)
}

// ObjectReader returns a reader of the content of an object whose OBJECT
// frame has just been read: it reads DATA frames until exactly size bytes
// have arrived and then returns io.EOF. Any other frame before that, or a
// DATA frame reaching past size, is a *ProtocolError, except an ERROR frame,
// which gives a *RemoteError. The FrameReader must not be used otherwise
// until the returned reader has returned io.EOF or an error.
func (fr *FrameReader) ObjectReader(size uint64) io.Reader {
	return &objectReader{fr: fr, left: size}
}

type objectReader struct {
	fr   *FrameReader
	left uint64 // bytes of the object not yet returned, buffered or not
	p    []byte // rest of the current DATA payload
	err  error
}

func (o *objectReader) Read(b []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	if len(o.p) == 0 {
		if o.left == 0 {
			o.err = io.EOF
			return 0, io.EOF
		}
		if err := o.fill(); err != nil {
			o.err = err
			return 0, err
		}
	}
	n := copy(b, o.p)
	o.p = o.p[n:]
	o.left -= uint64(n)
	return n, nil
}

// fill reads the next DATA frame of the object.
func (o *objectReader) fill() error {
	t, p, err := o.fr.Next()
	if err == io.EOF {
		return &ProtocolError{
			Msg: fmt.Sprintf("stream ends with %d bytes of an object still to come", o.left),
			Err: io.ErrUnexpectedEOF,
		}
	}
	if err != nil {
		return err
	}
	switch t {
	case FrameData:
	case FrameError:
		var m ErrorMsg
		if err := m.UnmarshalBinary(p); err != nil {
			return err
		}
		return m.Err()
	default:
		return ProtocolErrorf("want DATA frame with %d more bytes of the object, got %v frame", o.left, t)
	}
	if uint64(len(p)) > o.left {
		return ProtocolErrorf("DATA frame of %d bytes overruns the object: only %d bytes remain", len(p), o.left)
	}
	o.p = p
	return nil
}

// FrameWriter writes frames to a stream through a 64 KiB buffer. Nothing
// reaches the stream before the buffer fills or Flush is called: flush
// whenever the peer is expected to answer. It is not safe for concurrent
// use. Errors of the underlying writer are sticky.
type FrameWriter struct {
	w   *bufio.Writer
	hdr [HeaderSize]byte
}

// NewFrameWriter returns a FrameWriter writing to w.
func NewFrameWriter(w io.Writer) *FrameWriter {
	return &FrameWriter{w: bufio.NewWriterSize(w, bufferSize)}
}

// WriteFrame writes one frame. It refuses, writing nothing, an unknown
// type, a payload longer than MaxPayload and an empty DATA payload.
func (fw *FrameWriter) WriteFrame(t FrameType, payload []byte) error {
	if !t.Valid() {
		return fmt.Errorf("transfer: cannot write frame of type %d: %w", uint8(t), ErrUnknownFrame)
	}
	if len(payload) > MaxPayload {
		return fmt.Errorf("transfer: cannot write %v frame of %d bytes (limit %d): %w", t, len(payload), MaxPayload, ErrFrameTooLarge)
	}
	if t == FrameData && len(payload) == 0 {
		return errors.New("transfer: cannot write an empty DATA frame")
	}
	fw.hdr[0] = byte(t)
	binary.BigEndian.PutUint32(fw.hdr[1:], uint32(len(payload)))
	if _, err := fw.w.Write(fw.hdr[:]); err != nil {
		return err
	}
	_, err := fw.w.Write(payload)
	return err
}

// WriteMessage encodes m and writes it as one frame of type m.FrameType().
func (fw *FrameWriter) WriteMessage(m Message) error {
	p, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	return fw.WriteFrame(m.FrameType(), p)
}

// WriteObject writes an OBJECT frame for h followed by DATA frames carrying
// exactly h.Size bytes read from r. If r ends early it returns an error
// wrapping io.ErrUnexpectedEOF; the stream is then unusable (the peer
// expects more DATA), so the caller should give up on the connection.
// Extra bytes in r are not read.
func (fw *FrameWriter) WriteObject(h *ObjectHeader, r io.Reader) error {
	if err := fw.WriteMessage(h); err != nil {
		return err
	}
	var scratch []byte // at most MaxPayload, allocated once
	left := h.Size
	for left > 0 {
		n := uint64(MaxPayload)
		if left < n {
			n = left
		}
		if scratch == nil {
			scratch = make([]byte, n)
		}
		chunk := scratch[:n]
		if _, err := io.ReadFull(r, chunk); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("transfer: reading %v (%d of %d bytes left): %w", h.Name, left, h.Size, err)
		}
		if err := fw.WriteFrame(FrameData, chunk); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// Flush writes any buffered frames to the underlying writer.
func (fw *FrameWriter) Flush() error { return fw.w.Flush() }

// Message is a protocol message: the payload of every frame type but DATA.
// Every message type of this package implements it with pointer receivers
// (*Hello, *Advertise, ...). MarshalBinary validates the message and refuses
// one the peer's decoder would refuse; UnmarshalBinary is strict and returns
// a *ProtocolError for anything but a valid payload.
type Message interface {
	FrameType() FrameType
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// NewMessage returns a new, empty message of the type carried by frames of
// type t, or nil for FrameData and unknown types.
func NewMessage(t FrameType) Message {
	switch t {
	case FrameHello:
		return new(Hello)
	case FrameAdvertise:
		return new(Advertise)
	case FrameQuery:
		return new(Query)
	case FrameHave:
		return new(Have)
	case FrameObject:
		return new(ObjectHeader)
	case FrameUpdate:
		return new(Update)
	case FrameResult:
		return new(Result)
	case FrameProgress:
		return new(Progress)
	case FrameError:
		return new(ErrorMsg)
	case FrameRefs:
		return new(Refs)
	case FrameResultFlags:
		return new(ResultFlags)
	case FrameRefFilter:
		return new(RefFilter)
	case FrameMetadataQuery:
		return new(MetadataQuery)
	case FrameMetadataHave:
		return new(MetadataHave)
	}
	return nil
}

// DecodeMessage decodes the payload of one frame of type t, any type but
// DATA, into the message type for t. A DATA frame or an unknown type is a
// *ProtocolError (wrapping ErrUnknownFrame for an unknown type).
func DecodeMessage(t FrameType, payload []byte) (Message, error) {
	m := NewMessage(t)
	if m == nil {
		if t == FrameData {
			return nil, ProtocolErrorf("unexpected DATA frame (%d bytes) outside an object", len(payload))
		}
		return nil, &ProtocolError{Msg: fmt.Sprintf("frame type %d", uint8(t)), Err: ErrUnknownFrame}
	}
	if err := m.UnmarshalBinary(payload); err != nil {
		return nil, err
	}
	return m, nil
}
