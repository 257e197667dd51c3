package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Version 0: the protocol of the original ostree-push (0.x), which
// ostree-receive also speaks so that its clients keep working (protocol.md,
// "Version 0"). A client of it starts the receiver as
// `ostree-receive --repo=PATH`; the receiver speaks first:
//
//	receiver: INFO {mode: i, refs: a{ss}}
//	client:   UPDATE {REF: (ss) (old, new), ...}   or DONE
//	receiver: STATUS {result: b, message: s}
//	client:   PUTOBJECT {object: s, size: t} + size bytes   (repeated)
//	receiver: STATUS                                     (after each)
//	client:   DONE
//
// Each message is a 5-byte header (byte order 'l' or 'B', version 0, type,
// body length as a uint16 in that byte order) and an a{sv} body. The
// receiver keeps version 1's guarantees: every object is verified as it is
// staged in one transaction, and after DONE the refs move together or not
// at all, each a compare-and-swap on the old value the client gave.

// V0Type is a version-0 message type.
type V0Type byte

// The version-0 message types.
const (
	V0Info      V0Type = 0
	V0Update    V0Type = 1
	V0PutObject V0Type = 2
	V0Status    V0Type = 3
	V0Done      V0Type = 4
)

func (t V0Type) String() string {
	switch t {
	case V0Info:
		return "INFO"
	case V0Update:
		return "UPDATE"
	case V0PutObject:
		return "PUTOBJECT"
	case V0Status:
		return "STATUS"
	case V0Done:
		return "DONE"
	}
	return fmt.Sprintf("type %d", byte(t))
}

// V0HeaderSize is the size of a version-0 message header; V0MaxBody the
// largest body its 16-bit length can announce.
const (
	V0HeaderSize = 5
	V0MaxBody    = 1<<16 - 1
)

// V0Message is one version-0 message.
type V0Message struct {
	Type V0Type
	Body []V0Entry
}

// Get returns the value of key, or nil.
func (m *V0Message) Get(key string) any {
	for _, e := range m.Body {
		if e.Key == key {
			return e.Value
		}
	}
	return nil
}

// WriteV0 writes one version-0 message in little-endian byte order.
func WriteV0(w io.Writer, m *V0Message) error {
	if m.Type > V0Done {
		return fmt.Errorf("version 0: unknown message type %d", m.Type)
	}
	body, err := v0Encode(m.Body, binary.LittleEndian)
	if err != nil {
		return err
	}
	if len(body) > V0MaxBody {
		return fmt.Errorf("version 0: %v body of %d bytes, over the protocol's %d", m.Type, len(body), V0MaxBody)
	}
	h := []byte{'l', 0, byte(m.Type), 0, 0}
	binary.LittleEndian.PutUint16(h[3:], uint16(len(body)))
	_, err = w.Write(append(h, body...))
	return err
}

// ReadV0 reads one version-0 message. It returns io.EOF when r ends before
// a header, and an error that says what was wrong with anything else.
func ReadV0(r io.Reader) (*V0Message, error) {
	var h [V0HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, ProtocolErrorf("version 0: connection closed inside a message header")
		}
		return nil, err
	}
	var bo v0Order
	switch h[0] {
	case 'l':
		bo = binary.LittleEndian
	case 'B':
		bo = binary.BigEndian
	default:
		return nil, ProtocolErrorf("version 0: bad byte-order mark %#x (want 'l' or 'B')", h[0])
	}
	if h[1] != 0 {
		return nil, ProtocolErrorf("version 0: message of protocol version %d", h[1])
	}
	t := V0Type(h[2])
	if t > V0Done {
		return nil, ProtocolErrorf("version 0: unknown message type %d", h[2])
	}
	body := make([]byte, bo.Uint16(h[3:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, ProtocolErrorf("version 0: connection closed inside a %v body", t)
	}
	entries, err := v0DecodeVardict(body, bo)
	if err != nil {
		return nil, ProtocolErrorf("version 0: %v body: %v", t, err)
	}
	return &V0Message{Type: t, Body: entries}, nil
}

// EncodeV0Body is the serialization of a version-0 message body, as
// WriteV0 would write it (little-endian): what a receiver measures against
// V0MaxBody before it sends.
func EncodeV0Body(body []V0Entry) ([]byte, error) { return v0Encode(body, binary.LittleEndian) }
