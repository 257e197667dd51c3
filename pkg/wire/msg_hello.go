package wire

import (
	"bytes"
	"fmt"
	"slices"
)

// Magic opens every HELLO payload. Its first byte is not ASCII, so a HELLO
// cannot be mistaken for text (such as a login shell's greeting on stdout)
// or for the legacy version-0 protocol, whose messages start with 'l' or 'B'.
var Magic = [8]byte{0x89, 'O', 'S', 'T', 'P', 'S', 'H', '\n'}

// Version is the protocol version this package implements.
const Version = 1

// Limits of HELLO fields.
const (
	MaxVersions      = 64  // entries in Hello.Versions
	MaxCapabilities  = 64  // entries in Hello.Capabilities
	MaxCapabilityLen = 64  // bytes in one capability name
	MaxAgentLen      = 256 // bytes in Hello.Agent
)

// Hello is the first message of each side (FrameHello). The client lists
// every version it speaks; the receiver answers with exactly one, the
// highest version both speak (see HighestCommonVersion), or with ERROR if
// there is none. Capabilities are what the sender supports; the effective
// set is the intersection of both sides' lists (see Intersect). Agent is
// free text for logs, such as "ostree-push/1.0.0".
//
// The HELLO layout is the same in every protocol version, so that peers of
// different versions can always negotiate.
type Hello struct {
	Versions     []uint16
	Capabilities []string
	Agent        string
}

// FrameType returns FrameHello.
func (m *Hello) FrameType() FrameType { return FrameHello }

func (m *Hello) validate() error {
	if err := checkCount("versions", len(m.Versions), 1, MaxVersions); err != nil {
		return err
	}
	for i, v := range m.Versions {
		if v == 0 {
			return fmt.Errorf("%s: version 0 is not a valid version", item("versions", i))
		}
		if slices.Contains(m.Versions[:i], v) {
			return fmt.Errorf("%s: version %d listed twice", item("versions", i), v)
		}
	}
	if err := checkCount("capabilities", len(m.Capabilities), 0, MaxCapabilities); err != nil {
		return err
	}
	for i, c := range m.Capabilities {
		if err := checkCapability(item("capabilities", i), c); err != nil {
			return err
		}
		if slices.Contains(m.Capabilities[:i], c) {
			return fmt.Errorf("%s: capability %q listed twice", item("capabilities", i), c)
		}
	}
	return checkStr("agent", m.Agent, 0, MaxAgentLen)
}

// checkCapability checks the syntax of a capability name: 1 to
// MaxCapabilityLen bytes of lowercase ASCII letters, digits and '-'.
func checkCapability(field, c string) error {
	if err := checkStr(field, c, 1, MaxCapabilityLen); err != nil {
		return err
	}
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return fmt.Errorf("%s: %s has %q at offset %d; capability names are made of a-z, 0-9 and '-'", field, quote(c), ch, i)
		}
	}
	return nil
}

// MarshalBinary encodes the HELLO payload.
func (m *Hello) MarshalBinary() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, encodeError(FrameHello, err)
	}
	size := len(Magic) + sizeU32 + sizeU16*len(m.Versions) + sizeU32 + sizeStr + len(m.Agent)
	for _, c := range m.Capabilities {
		size += sizeStr + len(c)
	}
	e, err := newEncoder(FrameHello, size)
	if err != nil {
		return nil, err
	}
	e.b = append(e.b, Magic[:]...)
	e.count(len(m.Versions))
	for _, v := range m.Versions {
		e.u16(v)
	}
	e.count(len(m.Capabilities))
	for _, c := range m.Capabilities {
		e.str(c)
	}
	e.str(m.Agent)
	return e.b, nil
}

// UnmarshalBinary decodes a HELLO payload. It returns a *ProtocolError if p
// is not a valid HELLO, leaving m unchanged.
func (m *Hello) UnmarshalBinary(p []byte) error {
	d, err := newDecoder(FrameHello, p)
	if err != nil {
		return err
	}
	magic, err := d.take("magic", "magic", len(Magic))
	if err != nil {
		return err
	}
	if !bytes.Equal(magic, Magic[:]) {
		return d.errorf("magic", "want % x, got % x", Magic[:], magic)
	}
	var v Hello
	n, err := d.count("versions", sizeU16, MaxVersions)
	if err != nil {
		return err
	}
	if n > 0 {
		v.Versions = make([]uint16, n)
	}
	for i := range v.Versions {
		d.item("versions", i)
		if v.Versions[i], err = d.u16(""); err != nil {
			return err
		}
	}
	d.endList()
	n, err = d.count("capabilities", sizeStr+1, MaxCapabilities)
	if err != nil {
		return err
	}
	if n > 0 {
		v.Capabilities = make([]string, n)
	}
	for i := range v.Capabilities {
		d.item("capabilities", i)
		if v.Capabilities[i], err = d.str(""); err != nil {
			return err
		}
	}
	d.endList()
	if v.Agent, err = d.str("agent"); err != nil {
		return err
	}
	if err := d.finish(); err != nil {
		return err
	}
	if err := v.validate(); err != nil {
		return d.invalid(err)
	}
	*m = v
	return nil
}

// HighestCommonVersion returns the highest version listed in both a and b,
// and false if there is none. The receiver uses it to choose the version
// of the session from the client's HELLO and the versions it speaks.
func HighestCommonVersion(a, b []uint16) (uint16, bool) {
	var best uint16
	for _, v := range a {
		if v > best && slices.Contains(b, v) {
			best = v
		}
	}
	return best, best != 0
}

// Capabilities is a set of capability names. The zero value is the empty
// set.
type Capabilities []string

// Has reports whether name is in c.
func (c Capabilities) Has(name string) bool { return slices.Contains(c, name) }

// Intersect returns the capabilities listed in both a and b, in the order of
// a, each once. This is the effective set of a session: a capability is in
// use only if both HELLOs list it.
func Intersect(a, b []string) Capabilities {
	var c Capabilities
	for _, name := range a {
		if slices.Contains(b, name) && !c.Has(name) {
			c = append(c, name)
		}
	}
	return c
}
