package gvariant

// Whole-value checks: Validate reads everything, CheckNormal and
// Normalize deal with normal form.

import "bytes"

// Validate reads all of v and returns the first error any accessor would
// return: it checks the framing of every container and the content of
// every basic value. A valid value may still not be in normal form (see
// CheckNormal).
func (v Value) Validate() error {
	switch v.code() {
	case 'y':
		_, err := v.Byte()
		return err
	case 'b':
		_, err := v.Bool()
		return err
	case 'n', 'q':
		_, err := v.u16(v.t.code)
		return err
	case 'i', 'u', 'h':
		_, err := v.u32(v.t.code)
		return err
	case 'x', 't', 'd':
		_, err := v.u64(v.t.code)
		return err
	case 's', 'o', 'g':
		_, err := v.Str()
		return err
	}
	n, err := v.Len()
	if err != nil {
		return err
	}
	if v.t.code == 'a' && v.t.elem.code == 'y' {
		return nil
	}
	for i := 0; i < n; i++ {
		c, err := v.Index(i)
		if err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// CheckNormal returns nil if v is valid and in normal form: its bytes are
// exactly what a Builder writes for its value, as GLib's serializer does
// (g_variant_serialised_is_normal). Normal form has zero padding, the
// narrowest framing offsets for each container's size, no bytes the
// framing does not account for, and booleans of 0 or 1. Each value has
// exactly one normal form, so a caller that requires it accepts one byte
// string per value.
func (v Value) CheckNormal() error {
	if err := v.Validate(); err != nil {
		return err
	}
	norm, err := v.Normalize()
	if err != nil {
		return err
	}
	if !bytes.Equal(norm, v.data) {
		i := 0
		for i < len(norm) && i < len(v.data) && norm[i] == v.data[i] {
			i++
		}
		return v.errorf("not in normal form: its %d bytes differ from the %d-byte normal form from byte %d on", len(v.data), len(norm), i)
	}
	return nil
}

// Normalize returns v's normal form (g_variant_get_normal_form): v
// re-serialized by a Builder, in v's byte order.
func (v Value) Normalize() ([]byte, error) {
	b := NewBuilder(Type{v.t}, nil)
	b.be = v.be
	b.Value(v)
	return b.Finish()
}
