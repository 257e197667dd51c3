package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
)

// The version-0 protocol's message bodies, written and read with
// pkg/gvariant: an a{sv} dictionary whose values are s, b, i, t, (ss) or
// a{ss}, with numbers in the message's byte order (framing offsets are
// little-endian in both).
//
// The decoder accepts only what GLib would write: values of those types,
// in normal form, so that framing tricks, padding that is not zero, or a
// value of another type are all refused.

// V0Pair is a (ss) value, or one entry of an a{ss}.
type V0Pair struct{ A, B string }

// V0Entry is one entry of an a{sv}: Value is a string, bool, int32,
// uint64, V0Pair or []V0Pair.
type V0Entry struct {
	Key   string
	Value any
}

var errGVariant = errors.New("malformed GVariant")

// v0Order is a byte order: binary.LittleEndian ('l') or binary.BigEndian
// ('B').
type v0Order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

var (
	v0BodyType  = gvariant.MustParseType("a{sv}")
	v0PairType  = gvariant.MustParseType("(ss)")
	v0PairsType = gvariant.MustParseType("a{ss}")
	// v0ValueTypes are the types a V0Entry's value may have.
	v0ValueTypes = map[string]gvariant.Type{
		"s":     gvariant.MustParseType("s"),
		"b":     gvariant.MustParseType("b"),
		"i":     gvariant.MustParseType("i"),
		"t":     gvariant.MustParseType("t"),
		"(ss)":  v0PairType,
		"a{ss}": v0PairsType,
	}
)

func v0TypeString(v any) (string, error) {
	switch v.(type) {
	case string:
		return "s", nil
	case bool:
		return "b", nil
	case int32:
		return "i", nil
	case uint64:
		return "t", nil
	case V0Pair:
		return "(ss)", nil
	case []V0Pair:
		return "a{ss}", nil
	}
	return "", fmt.Errorf("GVariant: no type for %T", v)
}

// v0Encode serializes a message body in byte order bo.
func v0Encode(body []V0Entry, bo v0Order) ([]byte, error) {
	b := gvariant.NewBuilder(v0BodyType, bo)
	b.Open()
	for _, e := range body {
		ts, err := v0TypeString(e.Value)
		if err != nil {
			return nil, err
		}
		b.Open()
		b.Str(e.Key)
		b.OpenVariant(v0ValueTypes[ts])
		switch v := e.Value.(type) {
		case string:
			b.Str(v)
		case bool:
			b.Bool(v)
		case int32:
			b.Int32(v)
		case uint64:
			b.Uint64(v)
		case V0Pair:
			v0EncodePair(b, v)
		case []V0Pair:
			b.Open()
			for _, p := range v {
				v0EncodePair(b, p)
			}
			b.Close()
		}
		b.Close()
		b.Close()
	}
	b.Close()
	return b.Finish()
}

// v0EncodePair writes a (ss) or a {ss}: the Builder knows which.
func v0EncodePair(b *gvariant.Builder, p V0Pair) {
	b.Open()
	b.Str(p.A)
	b.Str(p.B)
	b.Close()
}

// v0DecodeVardict parses an a{sv} body in byte order bo. Values of other
// types than V0Entry allows are refused, and so is a body not in normal
// form.
func v0DecodeVardict(b []byte, bo v0Order) ([]V0Entry, error) {
	body := gvariant.NewValue(v0BodyType, b, bo)
	n, err := body.Len()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errGVariant, err)
	}
	out := make([]V0Entry, 0, n)
	for i := 0; i < n; i++ {
		k, val, err := v0Members(body, i)
		if err != nil {
			return nil, err
		}
		key, err := k.Str()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errGVariant, err)
		}
		v, err := v0DecodeVariant(val)
		if err != nil {
			return nil, fmt.Errorf("value of %q: %w", key, err)
		}
		out = append(out, V0Entry{Key: key, Value: v})
	}
	// Normal form only: what GLib would have written, byte for byte.
	if err := body.CheckNormal(); err != nil {
		return nil, fmt.Errorf("%w: not in normal form", errGVariant)
	}
	return out, nil
}

// v0Members returns the two members of element i of an array of dict
// entries.
func v0Members(array gvariant.Value, i int) (gvariant.Value, gvariant.Value, error) {
	e, err := array.Index(i)
	if err != nil {
		return gvariant.Value{}, gvariant.Value{}, fmt.Errorf("%w: %v", errGVariant, err)
	}
	a, err := e.Index(0)
	if err != nil {
		return gvariant.Value{}, gvariant.Value{}, fmt.Errorf("%w: %v", errGVariant, err)
	}
	b, err := e.Index(1)
	if err != nil {
		return gvariant.Value{}, gvariant.Value{}, fmt.Errorf("%w: %v", errGVariant, err)
	}
	return a, b, nil
}

// v0DecodeVariant decodes a variant holding one of the types of V0Entry.
func v0DecodeVariant(v gvariant.Value) (any, error) {
	t, err := v.VariantType()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errGVariant, err)
	}
	if _, ok := v0ValueTypes[t.String()]; !ok {
		return nil, fmt.Errorf("%w: unexpected value type %q", errGVariant, t)
	}
	child, err := v.Index(0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errGVariant, err)
	}
	var x any
	switch t.String() {
	case "s":
		x, err = child.Str()
	case "b":
		x, err = child.Bool()
	case "i":
		x, err = child.Int32()
	case "t":
		x, err = child.Uint64()
	case "(ss)":
		x, err = v0DecodePair(child)
	case "a{ss}":
		var n int
		if n, err = child.Len(); err != nil {
			break
		}
		pairs := make([]V0Pair, 0, n)
		for i := 0; i < n && err == nil; i++ {
			var e gvariant.Value
			if e, err = child.Index(i); err == nil {
				var p V0Pair
				p, err = v0DecodePair(e)
				pairs = append(pairs, p)
			}
		}
		x = pairs
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errGVariant, err)
	}
	return x, nil
}

// v0DecodePair decodes a (ss) or {ss}.
func v0DecodePair(v gvariant.Value) (V0Pair, error) {
	var p V0Pair
	for i, s := range []*string{&p.A, &p.B} {
		m, err := v.Index(i)
		if err != nil {
			return V0Pair{}, err
		}
		if *s, err = m.Str(); err != nil {
			return V0Pair{}, err
		}
	}
	return p, nil
}
