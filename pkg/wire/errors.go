package wire

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ProtocolError reports that the peer violated the protocol: a malformed
// frame or message, a frame that is not allowed where it arrived, a limit
// exceeded. The connection cannot be used after one.
//
// Err, when set, is the underlying cause and is what errors.Is and
// errors.As see through Unwrap: io.ErrUnexpectedEOF for a stream cut inside
// a frame, ErrFrameTooLarge, ErrUnknownFrame.
type ProtocolError struct {
	Msg string
	Err error
}

func (e *ProtocolError) Error() string {
	if e.Err != nil {
		return "protocol error: " + e.Msg + ": " + e.Err.Error()
	}
	return "protocol error: " + e.Msg
}

// Unwrap returns the underlying cause, if any.
func (e *ProtocolError) Unwrap() error { return e.Err }

// ProtocolErrorf builds a *ProtocolError without an underlying cause.
func ProtocolErrorf(format string, args ...any) *ProtocolError {
	return &ProtocolError{Msg: fmt.Sprintf(format, args...)}
}

// RemoteError reports that the peer sent an ERROR frame. Message is the
// peer's text exactly as received; Error() escapes unprintable characters so
// that a hostile peer cannot send terminal control sequences to the user.
type RemoteError struct {
	Message string
}

func (e *RemoteError) Error() string { return "remote: " + Printable(e.Message) }

// Printable returns s with every character that is not printable (control
// characters including newline and tab, Unicode format characters such as
// bidirectional overrides, invalid UTF-8) replaced by a Go-style escape.
// Text that came from the peer (PROGRESS, ERROR and RESULT messages, ref
// names, agent strings) must go through it, or an equivalent, before it is
// shown on a terminal.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		// RuneError also stands for invalid bytes; the slow path tells
		// them apart from a genuine U+FFFD.
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1, r < 0x20, r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRuneToASCII(r) // e.g. '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}
