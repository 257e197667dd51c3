package gvariant

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// fuzzTypes are the types OSTree reads: content-object headers (file and
// archive), dirtree, commit, metadata dictionaries, plus maybes.
var fuzzTypes = []Type{
	MustParseType("(uuuusa(ayay))"),
	MustParseType("(tuuuusa(ayay))"),
	MustParseType("(a(say)a(sayay))"),
	MustParseType("(a{sv}aya(say)sstayay)"),
	MustParseType("a{sv}"),
	MustParseType("(msmuav)"),
	MustParseType("a(s(taya{sv}))"), // a summary's refs
	MustParseType("at"),
}

// fuzzSeeds are one valid value of each fuzz type.
func fuzzSeeds(t testing.TB) [][]byte {
	xattrs := func(b *Builder) {
		b.Open()
		b.Open()
		b.Bytes([]byte("user.a\x00"))
		b.Bytes([]byte("value"))
		b.Close()
		b.Close()
	}
	dict := func(b *Builder) {
		b.Open()
		b.Open()
		b.Str("ostree.ref-binding")
		b.OpenVariant(MustParseType("as"))
		b.Open()
		b.Str("os/main")
		b.Close()
		b.Close()
		b.Close()
		b.Open()
		b.Str("version")
		b.OpenVariant(MustParseType("(ut)"))
		b.Open()
		b.Uint32(1)
		b.Uint64(2)
		b.Close()
		b.Close()
		b.Close()
		b.Close()
	}
	csum := bytes.Repeat([]byte{0xab}, 32)
	return [][]byte{
		build(t, fuzzTypes[0].String(), nil, func(b *Builder) {
			b.Open()
			b.Uint32(0)
			b.Uint32(0)
			b.Uint32(0o120777)
			b.Uint32(0)
			b.Str("target")
			xattrs(b)
			b.Close()
		}),
		build(t, fuzzTypes[1].String(), nil, func(b *Builder) {
			b.Open()
			b.Uint64(12)
			b.Uint32(0)
			b.Uint32(0)
			b.Uint32(0o100644)
			b.Uint32(0)
			b.Str("")
			xattrs(b)
			b.Close()
		}),
		build(t, fuzzTypes[2].String(), nil, func(b *Builder) {
			b.Open()
			b.Open()
			b.Open()
			b.Str("file")
			b.Bytes(csum)
			b.Close()
			b.Close()
			b.Open()
			b.Open()
			b.Str("dir")
			b.Bytes(csum)
			b.Bytes(csum)
			b.Close()
			b.Close()
			b.Close()
		}),
		build(t, fuzzTypes[3].String(), nil, func(b *Builder) {
			b.Open()
			dict(b)
			b.Bytes(nil)
			b.Open()
			b.Close()
			b.Str("subject")
			b.Str("body")
			b.Uint64(1700000000)
			b.Bytes(csum)
			b.Bytes(csum)
			b.Close()
		}),
		build(t, fuzzTypes[4].String(), nil, dict),
		build(t, fuzzTypes[5].String(), nil, func(b *Builder) {
			b.Open()
			b.Open()
			b.Str("x")
			b.Close()
			b.Nothing()
			b.Open()
			b.OpenVariant(MustParseType("mu"))
			b.Open()
			b.Uint32(3)
			b.Close()
			b.Close()
			b.Close()
			b.Close()
		}),
	}
}

// FuzzRead reads arbitrary bytes as each of fuzzTypes, in both byte
// orders: nothing panics, a value that reads without error has a normal
// form that reads as the same value, and a value in normal form is its own
// normal form.
func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range fuzzTypes {
			for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
				checkRead(t, typ, data, order)
			}
		}
	})
}

func checkRead(t *testing.T, typ Type, data []byte, order binary.ByteOrder) {
	v := NewValue(typ, data, order)
	text := v.String()
	err := v.Validate()
	normalErr := v.CheckNormal()
	if err != nil {
		if normalErr == nil {
			t.Fatalf("%s %x: invalid (%v) but normal", typ, data, err)
		}
		return
	}
	norm, nerr := v.Normalize()
	if nerr != nil {
		t.Fatalf("%s %x: valid, but Normalize: %v", typ, data, nerr)
	}
	if normalErr == nil && !bytes.Equal(norm, data) {
		t.Fatalf("%s %x: normal, but its normal form is %x", typ, data, norm)
	}
	nv := NewValue(typ, norm, order)
	if err := nv.CheckNormal(); err != nil {
		t.Fatalf("%s %x: its normal form %x is not normal: %v", typ, data, norm, err)
	}
	if s := nv.String(); s != text {
		t.Fatalf("%s %x: read %s, but its normal form %s", typ, data, text, s)
	}
	// A normal value copied by ValueNormal is what Value writes, at an
	// offset that needs padding too.
	wrap := MustParseType("(y" + typ.String() + ")")
	var outs [2][]byte
	for i, put := range []func(*Builder, Value){(*Builder).Value, (*Builder).ValueNormal} {
		b := NewBuilder(wrap, order)
		b.Open()
		b.Byte(7)
		put(b, nv)
		b.Close()
		out, err := b.Finish()
		if err != nil {
			t.Fatalf("%s %x: writing its normal form: %v", typ, data, err)
		}
		outs[i] = out
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatalf("%s %x: ValueNormal wrote %x, Value %x", typ, data, outs[1], outs[0])
	}
	// An array copied in two blocks by CopyElements is itself, and
	// Elements.Index gives what Index does.
	if typ.Code() != 'a' {
		return
	}
	e, err := nv.Elements()
	if err != nil {
		t.Fatalf("%s %x: Elements of its normal form: %v", typ, data, err)
	}
	for i := 0; i < e.Len(); i++ {
		c1, err1 := e.Index(i)
		c2, err2 := nv.Index(i)
		if (err1 == nil) != (err2 == nil) || (err1 == nil && !bytes.Equal(c1.Data(), c2.Data())) {
			t.Fatalf("%s %x: element %d: Elements.Index %x %v, Index %x %v", typ, data, i, c1.Data(), err1, c2.Data(), err2)
		}
	}
	for _, k := range []int{0, e.Len() / 2, e.Len()} {
		b := NewBuilder(typ, order)
		b.Open()
		b.CopyElements(e, 0, k)
		b.CopyElements(e, k, e.Len())
		b.Close()
		out, err := b.Finish()
		if err != nil || !bytes.Equal(out, norm) {
			t.Fatalf("%s %x: copied in blocks at %d: %x, %v; want %x", typ, data, k, out, err, norm)
		}
	}
}
