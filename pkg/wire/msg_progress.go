package wire

// Progress is informational text (FrameProgress), such as "received 120 of
// 4000 objects". Either side may send it at any time after its own HELLO,
// and the other may ignore it. Use Printable before showing it.
type Progress struct {
	Message string
}

// FrameType returns FrameProgress.
func (m *Progress) FrameType() FrameType { return FrameProgress }

// MarshalBinary encodes the PROGRESS payload.
func (m *Progress) MarshalBinary() ([]byte, error) {
	return marshalText(FrameProgress, m.Message)
}

// UnmarshalBinary decodes a PROGRESS payload. It returns a *ProtocolError if
// p is not a valid PROGRESS, leaving m unchanged.
func (m *Progress) UnmarshalBinary(p []byte) error {
	return unmarshalText(FrameProgress, p, &m.Message)
}

// ErrorMsg reports a fatal error (FrameError). Either side may send it at
// any time, even before HELLO; the sender then closes the connection. Its
// Err method gives the error to report locally.
type ErrorMsg struct {
	Message string
}

// FrameType returns FrameError.
func (m *ErrorMsg) FrameType() FrameType { return FrameError }

// Err returns the message as a *RemoteError.
func (m *ErrorMsg) Err() error { return &RemoteError{Message: m.Message} }

// MarshalBinary encodes the ERROR payload.
func (m *ErrorMsg) MarshalBinary() ([]byte, error) {
	return marshalText(FrameError, m.Message)
}

// UnmarshalBinary decodes an ERROR payload. It returns a *ProtocolError if
// p is not a valid ERROR, leaving m unchanged.
func (m *ErrorMsg) UnmarshalBinary(p []byte) error {
	return unmarshalText(FrameError, p, &m.Message)
}

// marshalText encodes the payload of PROGRESS and ERROR: one str.
func marshalText(t FrameType, msg string) ([]byte, error) {
	if err := checkStr("message", msg, 0, maxStr); err != nil {
		return nil, encodeError(t, err)
	}
	e, err := newEncoder(t, sizeStr+len(msg))
	if err != nil {
		return nil, err
	}
	e.str(msg)
	return e.b, nil
}

// unmarshalText decodes the payload of PROGRESS and ERROR into *msg.
func unmarshalText(t FrameType, p []byte, msg *string) error {
	d, err := newDecoder(t, p)
	if err != nil {
		return err
	}
	s, err := d.str("message")
	if err != nil {
		return err
	}
	if err := d.finish(); err != nil {
		return err
	}
	*msg = s
	return nil
}
