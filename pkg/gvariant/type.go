package gvariant

import (
	"fmt"
	"strings"
)

// MaxDepth bounds the nesting of types and values, as GLib's
// G_VARIANT_MAX_RECURSION_DEPTH does: a type string nests at most MaxDepth
// levels, and a variant is read only if its depth in the value plus the
// depth of its child's type stays below MaxDepth (gvs_variant_get_child).
// It keeps the recursion of Validate, CheckNormal and String bounded.
const MaxDepth = 128

// Type is a parsed, definite GVariant type such as "a{sv}" or
// "(uuuusa(ayay))". The zero Type is invalid; make one with ParseType or
// MustParseType. Types are immutable and cheap to copy; compare them with
// String.
type Type struct{ t *typeInfo }

// typeInfo is what GLib keeps in a GVariantTypeInfo: for every type its
// alignment and fixed size, for containers their element or members.
type typeInfo struct {
	s      string
	code   byte        // the first character: 'y', 'a', '(', '{', ...
	align  int         // 1, 2, 4 or 8
	fixed  int         // the fixed size, or 0 for a variable-size type
	depth  int         // 1 for a basic type or v, 1 + the deepest child otherwise
	elem   *typeInfo   // a and m
	fields []*typeInfo // ( and {
	// nOffsets is, for a tuple or dict entry, how many framing offsets its
	// serialization ends with: one per variable-size member but the last.
	nOffsets int
}

// basicInfo holds the fixed-size basic types and the variable-size basic
// types s, o, g, and v (which is not basic, but has no type parameters).
var basicInfo = map[byte]*typeInfo{
	'y': {s: "y", code: 'y', align: 1, fixed: 1, depth: 1},
	'b': {s: "b", code: 'b', align: 1, fixed: 1, depth: 1},
	'n': {s: "n", code: 'n', align: 2, fixed: 2, depth: 1},
	'q': {s: "q", code: 'q', align: 2, fixed: 2, depth: 1},
	'i': {s: "i", code: 'i', align: 4, fixed: 4, depth: 1},
	'u': {s: "u", code: 'u', align: 4, fixed: 4, depth: 1},
	'h': {s: "h", code: 'h', align: 4, fixed: 4, depth: 1},
	'x': {s: "x", code: 'x', align: 8, fixed: 8, depth: 1},
	't': {s: "t", code: 't', align: 8, fixed: 8, depth: 1},
	'd': {s: "d", code: 'd', align: 8, fixed: 8, depth: 1},
	's': {s: "s", code: 's', align: 1, depth: 1},
	'o': {s: "o", code: 'o', align: 1, depth: 1},
	'g': {s: "g", code: 'g', align: 1, depth: 1},
	'v': {s: "v", code: 'v', align: 8, depth: 1},
}

// ParseType parses a GVariant type string. It accepts the definite types
// only (no "*", "?", "r"), with GLib's rules (g_variant_type_string_scan):
// a dict entry has exactly two members, the first a basic type, and
// nesting is at most MaxDepth deep.
func ParseType(s string) (Type, error) {
	t, rest, err := parseType(s, 0)
	if err != nil {
		return Type{}, fmt.Errorf("gvariant: type string %q: %v", s, err)
	}
	if rest != "" {
		return Type{}, fmt.Errorf("gvariant: type string %q: %q after a complete type", s, rest)
	}
	return Type{t}, nil
}

// MustParseType is ParseType for type strings that are constants of the
// program; it panics on an invalid one.
func MustParseType(s string) Type {
	t, err := ParseType(s)
	if err != nil {
		panic(err)
	}
	return t
}

func parseType(s string, depth int) (*typeInfo, string, error) {
	if depth >= MaxDepth {
		return nil, "", fmt.Errorf("nested more than %d deep", MaxDepth)
	}
	if s == "" {
		return nil, "", fmt.Errorf("ends inside a type")
	}
	if b, ok := basicInfo[s[0]]; ok {
		return b, s[1:], nil
	}
	switch c := s[0]; c {
	case 'a', 'm':
		elem, rest, err := parseType(s[1:], depth+1)
		if err != nil {
			return nil, "", err
		}
		t := &typeInfo{code: c, align: elem.align, depth: elem.depth + 1, elem: elem}
		t.s = s[:len(s)-len(rest)]
		return t, rest, nil
	case '(', '{':
		closing := byte(')')
		if c == '{' {
			closing = '}'
		}
		t := &typeInfo{code: c, align: 1, depth: 1}
		rest := s[1:]
		for {
			if rest == "" {
				return nil, "", fmt.Errorf("%q is not closed", c)
			}
			if rest[0] == closing {
				rest = rest[1:]
				break
			}
			f, r, err := parseType(rest, depth+1)
			if err != nil {
				return nil, "", err
			}
			t.fields = append(t.fields, f)
			rest = r
		}
		if c == '{' {
			if len(t.fields) != 2 {
				return nil, "", fmt.Errorf("a dict entry has %d members, not 2", len(t.fields))
			}
			if !t.fields[0].isBasic() {
				return nil, "", fmt.Errorf("a dict entry's key is %s, not a basic type", t.fields[0].s)
			}
		}
		t.s = s[:len(s)-len(rest)]
		t.layoutTuple()
		return t, rest, nil
	default:
		return nil, "", fmt.Errorf("%q is not a definite type", c)
	}
}

func (t *typeInfo) isBasic() bool {
	_, ok := basicInfo[t.code]
	return ok && t.code != 'v'
}

// layoutTuple computes a tuple's alignment, fixed size, depth and number
// of framing offsets (GLib's tuple_generate_table and tuple_set_base_info):
// the alignment is the largest of its members' (1 for "()"); the tuple is
// fixed-size if every member is, and its fixed size is then the members
// laid out at their alignments, padded to the tuple's alignment, and 1 for
// the unit tuple "()".
func (t *typeInfo) layoutTuple() {
	fixed := true
	size := 0
	for i, f := range t.fields {
		t.align = max(t.align, f.align)
		t.depth = max(t.depth, f.depth+1)
		if f.fixed == 0 {
			fixed = false
			if i != len(t.fields)-1 {
				t.nOffsets++
			}
		}
		size = alignUp(size, f.align) + f.fixed
	}
	if fixed {
		t.fixed = max(alignUp(size, t.align), 1)
	}
}

func alignUp(n, align int) int { return (n + align - 1) &^ (align - 1) }

// String returns the type string.
func (t Type) String() string {
	if t.t == nil {
		return "<invalid type>"
	}
	return t.t.s
}

// Code is the type's first character: 'y', 'b', 'n', 'q', 'i', 'u', 'x',
// 't', 'h', 'd', 's', 'o', 'g', 'v', 'a', 'm', '(' or '{'.
func (t Type) Code() byte { return t.t.code }

// Alignment is the type's alignment in bytes: 1, 2, 4 or 8.
func (t Type) Alignment() int { return t.t.align }

// FixedSize is the size of every value of a fixed-size type, and 0 for a
// variable-size type (strings, arrays, maybes, variants and the tuples
// that hold any of them).
func (t Type) FixedSize() int { return t.t.fixed }

// Elem is the element type of an array or maybe type.
func (t Type) Elem() Type {
	if t.t.elem == nil {
		panic("gvariant: Elem of type " + t.t.s)
	}
	return Type{t.t.elem}
}

// NumFields is the number of members of a tuple or dict entry type, and 0
// for any other type.
func (t Type) NumFields() int { return len(t.t.fields) }

// Field is member i of a tuple or dict entry type.
func (t Type) Field(i int) Type { return Type{t.t.fields[i]} }

// validSignature reports whether s is a D-Bus signature: zero or more
// complete types, without maybe types (g_variant_serialiser_is_signature).
func validSignature(s string) bool {
	if strings.ContainsAny(s, "m") {
		return false
	}
	for s != "" {
		_, rest, err := parseType(s, 0)
		if err != nil {
			return false
		}
		s = rest
	}
	return true
}

// validObjectPath reports whether s is a D-Bus object path: "/", or
// "/"-separated non-empty elements of [A-Za-z0-9_]
// (g_variant_serialiser_is_object_path).
func validObjectPath(s string) bool {
	if s == "" || s[0] != '/' {
		return false
	}
	if s == "/" {
		return true
	}
	for _, elem := range strings.Split(s[1:], "/") {
		if elem == "" {
			return false
		}
		for i := 0; i < len(elem); i++ {
			c := elem[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}
