package object

import (
	"encoding/hex"
	"fmt"
)

// Checksum is the SHA-256 of an object, as libostree computes it.
type Checksum [32]byte

// Zero is the all-zero checksum. On the wire it stands for "no commit"
// (a ref that does not exist, or a ref to delete); no real object has it.
var Zero Checksum

// ParseChecksum parses the 64-character lowercase hex form that libostree
// uses for object names. Upper-case hex is refused, as libostree refuses it.
func ParseChecksum(s string) (Checksum, error) {
	var c Checksum
	if len(s) != 64 {
		return c, fmt.Errorf("invalid checksum %q: want 64 hex characters, got %d", s, len(s))
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
			return c, fmt.Errorf("invalid checksum %q: character %q at %d is not lowercase hex", s, ch, i)
		}
	}
	if _, err := hex.Decode(c[:], []byte(s)); err != nil {
		return c, fmt.Errorf("invalid checksum %q: %v", s, err)
	}
	return c, nil
}

// MustParseChecksum is ParseChecksum for constants in tests; it panics on error.
func MustParseChecksum(s string) Checksum {
	c, err := ParseChecksum(s)
	if err != nil {
		panic(err)
	}
	return c
}

// String returns the 64-character lowercase hex form.
func (c Checksum) String() string { return hex.EncodeToString(c[:]) }

// Short returns the first 10 hex characters, for messages meant for people.
func (c Checksum) Short() string { return c.String()[:10] }

// IsZero reports whether c is the all-zero checksum.
func (c Checksum) IsZero() bool { return c == Zero }

// Type is an OSTree object type. The numeric values are libostree's
// OstreeObjectType values and are used as they are on the wire.
type Type uint8

// The object types a push moves. Values match OstreeObjectType.
const (
	File       Type = 1 // a content object: file header plus data (or a symlink)
	DirTree    Type = 2 // a directory listing: names to file and subdirectory checksums
	DirMeta    Type = 3 // directory ownership, mode and xattrs
	Commit     Type = 4 // a commit: root dirtree and dirmeta, parent, metadata
	CommitMeta Type = 6 // a commit's detached metadata (signatures); named by the commit's checksum
)

// Valid reports whether t is one of the types above.
func (t Type) Valid() bool {
	switch t {
	case File, DirTree, DirMeta, Commit, CommitMeta:
		return true
	}
	return false
}

// IsMeta reports whether t is a metadata object (everything but File).
func (t Type) IsMeta() bool { return t.Valid() && t != File }

// String returns libostree's name for the type ("file", "dirtree", ...).
func (t Type) String() string {
	switch t {
	case File:
		return "file"
	case DirTree:
		return "dirtree"
	case DirMeta:
		return "dirmeta"
	case Commit:
		return "commit"
	case CommitMeta:
		return "commitmeta"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Name identifies one object: its checksum and type.
type Name struct {
	Checksum Checksum
	Type     Type
}

// String returns the name as libostree prints it: "CHECKSUM.TYPE".
func (n Name) String() string { return n.Checksum.String() + "." + n.Type.String() }
