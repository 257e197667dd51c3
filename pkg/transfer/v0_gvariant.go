package transfer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// A minimal GVariant codec for the version-0 protocol's message bodies: an
// a{sv} dictionary whose values are s, b, i, t, (ss) or a{ss}. It follows
// GLib's serialization (gvariant-serialiser.c): values are aligned within
// their container (i to 4, t and v to 8), a container of variable-size
// children ends with the framing offsets of those children, each as wide
// as the container's total size needs (1, 2, 4 or 8 bytes, always little
// endian), and a variant is its child's bytes, a zero byte and the child's
// type string. Numbers are in the message's byte order.
//
// The decoder accepts only what GLib would write (normal form): it
// re-encodes what it decoded and compares, so that framing tricks, padding
// that is not zero, or a value of another type are all refused.

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

// offsetWidth is the width of the framing offsets of a container whose
// children take body bytes and that has n offsets.
func offsetWidth(body, n int) int {
	if body == 0 && n == 0 {
		return 0
	}
	for _, w := range []int{1, 2, 4} {
		if uint64(body+n*w) <= uint64(1)<<(8*w)-1 {
			return w
		}
	}
	return 8
}

// widthOf is the width of the framing offsets of a container of size bytes.
func widthOf(size int) int {
	switch {
	case size == 0:
		return 0
	case size <= math.MaxUint8:
		return 1
	case size <= math.MaxUint16:
		return 2
	case uint64(size) <= math.MaxUint32:
		return 4
	}
	return 8
}

func appendOffsets(b []byte, offs []int, w int) []byte {
	for _, o := range offs {
		for i := 0; i < w; i++ {
			b = append(b, byte(uint64(o)>>(8*i)))
		}
	}
	return b
}

func pad(b []byte, align int) []byte {
	for len(b)%align != 0 {
		b = append(b, 0)
	}
	return b
}

// encode serializes v in byte order bo.
func v0Encode(v any, bo v0Order) ([]byte, error) {
	switch v := v.(type) {
	case string:
		if bytes.IndexByte([]byte(v), 0) >= 0 {
			return nil, errors.New("GVariant: a string holds a NUL byte")
		}
		return append([]byte(v), 0), nil
	case bool:
		if v {
			return []byte{1}, nil
		}
		return []byte{0}, nil
	case int32:
		return bo.AppendUint32(nil, uint32(v)), nil
	case uint64:
		return bo.AppendUint64(nil, v), nil
	case V0Pair:
		if strings.IndexByte(v.A, 0) >= 0 || strings.IndexByte(v.B, 0) >= 0 {
			return nil, errors.New("GVariant: a string holds a NUL byte")
		}
		return v0EncodeStruct2([]byte(v.A), append([]byte(v.B), 0), 1)
	case []V0Pair:
		var body []byte
		var offs []int
		for _, p := range v {
			e, err := v0Encode(p, bo)
			if err != nil {
				return nil, err
			}
			body = append(body, e...)
			offs = append(offs, len(body))
		}
		return appendOffsets(body, offs, offsetWidth(len(body), len(offs))), nil
	case []V0Entry:
		var body []byte
		var offs []int
		for _, e := range v {
			val, err := v0EncodeVariant(e.Value, bo)
			if err != nil {
				return nil, err
			}
			if bytes.IndexByte([]byte(e.Key), 0) >= 0 {
				return nil, errors.New("GVariant: a key holds a NUL byte")
			}
			ent, err := v0EncodeStruct2([]byte(e.Key), val, 8)
			if err != nil {
				return nil, err
			}
			body = pad(body, 8)
			body = append(body, ent...)
			offs = append(offs, len(body))
		}
		return appendOffsets(body, offs, offsetWidth(len(body), len(offs))), nil
	}
	return nil, fmt.Errorf("GVariant: cannot encode %T", v)
}

// v0EncodeStruct2 serializes a two-member struct (or dict entry) whose
// first member is a string (given without its NUL) and whose second,
// already serialized, is aligned to align.
func v0EncodeStruct2(first, second []byte, align int) ([]byte, error) {
	b := append(append([]byte(nil), first...), 0)
	end := len(b)
	b = pad(b, align)
	b = append(b, second...)
	return appendOffsets(b, []int{end}, offsetWidth(len(b), 1)), nil
}

func v0EncodeVariant(v any, bo v0Order) ([]byte, error) {
	ts, err := v0TypeString(v)
	if err != nil {
		return nil, err
	}
	child, err := v0Encode(v, bo)
	if err != nil {
		return nil, err
	}
	return append(append(child, 0), ts...), nil
}

func readOffsetLE(b []byte) int {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if v > math.MaxInt32 {
		return -1
	}
	return int(v)
}

// v0DecodeVardict parses an a{sv} body in byte order bo. Values of other
// types than V0Entry allows are refused.
func v0DecodeVardict(b []byte, bo v0Order) ([]V0Entry, error) {
	elems, err := splitArray(b, 8)
	if err != nil {
		return nil, err
	}
	out := make([]V0Entry, 0, len(elems))
	for _, e := range elems {
		key, val, err := splitStruct2(e, 8)
		if err != nil {
			return nil, err
		}
		k, err := decodeString(key)
		if err != nil {
			return nil, err
		}
		v, err := v0DecodeVariant(val, bo)
		if err != nil {
			return nil, fmt.Errorf("value of %q: %w", k, err)
		}
		out = append(out, V0Entry{Key: k, Value: v})
	}
	// Normal form only: what GLib would have written, byte for byte.
	again, err := v0Encode(out, bo)
	if err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: not in normal form", errGVariant)
	}
	return out, nil
}

// splitArray splits an array of variable-size elements aligned to align.
func splitArray(b []byte, align int) ([][]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	w := widthOf(len(b))
	if len(b) < w {
		return nil, errGVariant
	}
	last := readOffsetLE(b[len(b)-w:])
	if last < 0 || last > len(b)-w || (len(b)-last)%w != 0 {
		return nil, fmt.Errorf("%w: array framing", errGVariant)
	}
	n := (len(b) - last) / w
	var out [][]byte
	start := 0
	for i := 0; i < n; i++ {
		end := readOffsetLE(b[last+i*w : last+(i+1)*w])
		if i > 0 {
			start = (start + align - 1) / align * align
		}
		if end < start || end > last {
			return nil, fmt.Errorf("%w: array element bounds", errGVariant)
		}
		out = append(out, b[start:end])
		start = end
	}
	return out, nil
}

// splitStruct2 splits a two-member struct whose first member is variable
// size and whose second is aligned to align.
func splitStruct2(b []byte, align int) ([]byte, []byte, error) {
	w := widthOf(len(b))
	if len(b) < w || w == 0 {
		return nil, nil, fmt.Errorf("%w: struct framing", errGVariant)
	}
	end := readOffsetLE(b[len(b)-w:])
	if end < 0 || end > len(b)-w {
		return nil, nil, fmt.Errorf("%w: struct member bounds", errGVariant)
	}
	second := (end + align - 1) / align * align
	if second > len(b)-w {
		return nil, nil, fmt.Errorf("%w: struct member bounds", errGVariant)
	}
	return b[:end], b[second : len(b)-w], nil
}

func decodeString(b []byte) (string, error) {
	if len(b) == 0 || b[len(b)-1] != 0 || bytes.IndexByte(b[:len(b)-1], 0) >= 0 {
		return "", fmt.Errorf("%w: string not NUL-terminated", errGVariant)
	}
	return string(b[:len(b)-1]), nil
}

func v0DecodeVariant(b []byte, bo v0Order) (any, error) {
	i := bytes.LastIndexByte(b, 0)
	if i < 0 {
		return nil, fmt.Errorf("%w: variant without a type", errGVariant)
	}
	child, ts := b[:i], string(b[i+1:])
	switch ts {
	case "s":
		return decodeString(child)
	case "b":
		if len(child) != 1 || child[0] > 1 {
			return nil, fmt.Errorf("%w: boolean", errGVariant)
		}
		return child[0] == 1, nil
	case "i":
		if len(child) != 4 {
			return nil, fmt.Errorf("%w: int32", errGVariant)
		}
		return int32(bo.Uint32(child)), nil
	case "t":
		if len(child) != 8 {
			return nil, fmt.Errorf("%w: uint64", errGVariant)
		}
		return bo.Uint64(child), nil
	case "(ss)":
		return decodePair(child)
	case "a{ss}":
		elems, err := splitArray(child, 1)
		if err != nil {
			return nil, err
		}
		pairs := make([]V0Pair, 0, len(elems))
		for _, e := range elems {
			p, err := decodePair(e)
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, p)
		}
		return pairs, nil
	}
	return nil, fmt.Errorf("%w: unexpected value type %q", errGVariant, ts)
}

func decodePair(b []byte) (V0Pair, error) {
	a, c, err := splitStruct2(b, 1)
	if err != nil {
		return V0Pair{}, err
	}
	s1, err := decodeString(a)
	if err != nil {
		return V0Pair{}, err
	}
	s2, err := decodeString(c)
	if err != nil {
		return V0Pair{}, err
	}
	return V0Pair{s1, s2}, nil
}
