package gvariant

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func build(t testing.TB, typ string, order binary.ByteOrder, fill func(b *Builder)) []byte {
	t.Helper()
	b := NewBuilder(MustParseType(typ), order)
	fill(b)
	out, err := b.Finish()
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return out
}

// Vectors worked out by hand from the rules in doc.go; the same shapes are
// checked against GLib itself in pkg/libostree (gvariant_glib_test.go).
var vectors = []struct {
	typ  string
	fill func(b *Builder)
	hex  string
	text string
}{
	{"s", func(b *Builder) { b.Str("hello world") }, "68656c6c6f20776f726c6400", "'hello world'"},
	{"s", func(b *Builder) { b.Str("") }, "00", "''"},
	{"ms", func(b *Builder) { b.Open(); b.Str("hi"); b.Close() }, "68690000", "just 'hi'"},
	{"ms", func(b *Builder) { b.Nothing() }, "", "nothing"},
	{"mu", func(b *Builder) { b.Open(); b.Uint32(7); b.Close() }, "07000000", "just 7"},
	{"as", func(b *Builder) {
		b.Open()
		for _, s := range []string{"i", "can", "has", "strings?"} {
			b.Str(s)
		}
		b.Close()
	}, "6900 63616e00 68617300 737472696e67733f00 02060a13", "['i', 'can', 'has', 'strings?']"},
	{"as", func(b *Builder) { b.Open(); b.Close() }, "", "[]"},
	{"(si)", func(b *Builder) { b.Open(); b.Str("foo"); b.Int32(-1); b.Close() }, "666f6f00 ffffffff 04", "('foo', -1)"},
	{"(is)", func(b *Builder) { b.Open(); b.Int32(1); b.Str("a"); b.Close() }, "01000000 6100", "(1, 'a')"},
	{"(ys)", func(b *Builder) { b.Open(); b.Byte(0xab); b.Str("a"); b.Close() }, "ab 6100", "(0xab, 'a')"},
	{"(sy)", func(b *Builder) { b.Open(); b.Str("a"); b.Byte(1); b.Close() }, "6100 01 02", "('a', 0x01)"},
	{"(uy)", func(b *Builder) { b.Open(); b.Uint32(2); b.Byte(3); b.Close() }, "02000000 03000000", "(2, 0x03)"},
	{"()", func(b *Builder) { b.Open(); b.Close() }, "00", "()"},
	{"(u)", func(b *Builder) { b.Open(); b.Uint32(5); b.Close() }, "05000000", "(5,)"},
	{"ay", func(b *Builder) { b.Bytes([]byte{1, 2, 0}) }, "010200", "[0x01, 0x02, 0x00]"},
	{"aay", func(b *Builder) { b.Open(); b.Bytes(nil); b.Bytes([]byte{9}); b.Close() }, "09 00 01", "[[], [0x09]]"},
	{"an", func(b *Builder) { b.Open(); b.Int16(-2); b.Int16(3); b.Close() }, "feff 0300", "[-2, 3]"},
	{"v", func(b *Builder) { b.OpenVariant(MustParseType("t")); b.Uint64(1); b.Close() }, "0100000000000000 00 74", "<@t 1>"},
	{"v", func(b *Builder) {
		b.OpenVariant(MustParseType("v"))
		b.OpenVariant(MustParseType("s"))
		b.Str("x")
		b.Close()
		b.Close()
	}, "7800 0073 00 76", "<@v <@s 'x'>>"},
	{"a{sv}", func(b *Builder) {
		b.Open()
		b.Open()
		b.Str("a")
		b.OpenVariant(MustParseType("u"))
		b.Uint32(1)
		b.Close()
		b.Close()
		b.Open()
		b.Str("bc")
		b.OpenVariant(MustParseType("b"))
		b.Bool(true)
		b.Close()
		b.Close()
		b.Close()
	},
		// "a\0", pad to 8, u 1, "\0u", offset 2 (entry of 15 bytes); pad
		// to 16; "bc\0", pad to 8, b 1, "\0b", offset 3 (entry of 12
		// bytes, ending at 28); array offsets 15, 28.
		"6100 000000000000 01000000 0075 02 00 626300 0000000000 01 0062 03 0f1c",
		"{'a': <@u 1>, 'bc': <@b true>}"},
	{"{sb}", func(b *Builder) { b.Open(); b.Str("k"); b.Bool(false); b.Close() }, "6b00 00 02", "{'k', false}"},
	{"d", func(b *Builder) { b.Double(1.5) }, "000000000000f83f", "1.5"},
	{"o", func(b *Builder) { b.Str("/a/b_1") }, "2f612f625f3100", "'/a/b_1'"},
	{"g", func(b *Builder) { b.Str("a{sv}") }, "617b73767d00", "'a{sv}'"},
}

func TestVectors(t *testing.T) {
	for i, tc := range vectors {
		got := build(t, tc.typ, nil, tc.fill)
		want := unhex(t, tc.hex)
		if !bytes.Equal(got, want) {
			t.Errorf("#%d %s: wrote %x, want %x", i, tc.typ, got, want)
		}
		v := NewValue(MustParseType(tc.typ), want, nil)
		if err := v.CheckNormal(); err != nil {
			t.Errorf("#%d %s: CheckNormal: %v", i, tc.typ, err)
		}
		if s := v.String(); s != tc.text {
			t.Errorf("#%d %s: read %s, want %s", i, tc.typ, s, tc.text)
		}
	}
}

func TestBigEndian(t *testing.T) {
	got := build(t, "(qut)", binary.BigEndian, func(b *Builder) {
		b.Open()
		b.Uint16(1)
		b.Uint32(2)
		b.Uint64(3)
		b.Close()
	})
	want := unhex(t, "0001 0000 00000002 0000000000000003")
	if !bytes.Equal(got, want) {
		t.Fatalf("wrote %x, want %x", got, want)
	}
	v := NewValue(MustParseType("(qut)"), want, binary.BigEndian)
	if s := v.String(); s != "(1, 2, 3)" {
		t.Errorf("read %s", s)
	}
	if err := v.CheckNormal(); err != nil {
		t.Error(err)
	}
}

// TestOffsetWidths: containers of 255 bytes have 1-byte framing offsets,
// of 256 bytes 2-byte ones, and so on, and a wider offset than needed is
// readable but not normal.
func TestOffsetWidths(t *testing.T) {
	for _, n := range []int{0, 1, 252, 253, 254, 255, 256, 65530, 65533, 65534, 65535, 70000} {
		s := strings.Repeat("x", n)
		for _, typ := range []string{"as", "(ss)", "(sy)", "a{sv}"} {
			b := build(t, typ, nil, func(b *Builder) {
				switch typ {
				case "as":
					b.Open()
					b.Str(s)
					b.Close()
				case "(ss)":
					b.Open()
					b.Str(s)
					b.Str("")
					b.Close()
				case "(sy)":
					b.Open()
					b.Str(s)
					b.Byte(1)
					b.Close()
				case "a{sv}":
					b.Open()
					b.Open()
					b.Str(s)
					b.OpenVariant(MustParseType("s"))
					b.Str("v")
					b.Close()
					b.Close()
					b.Close()
				}
			})
			v := NewValue(MustParseType(typ), b, nil)
			if err := v.CheckNormal(); err != nil {
				t.Errorf("%s of %d: %v", typ, n, err)
			}
			// The offset size is the one the total size needs.
			w := offsetSize(len(b))
			last := readOffset(b[len(b)-w:])
			if typ == "as" && int(last) != n+1 {
				t.Errorf("as of a %d-byte string: %d bytes, last offset %d", n+1, len(b), last)
			}
		}
	}
	// A 255-byte array with a 1-byte offset, and the same framed with a
	// 2-byte offset (256 bytes): readable, not normal.
	s := strings.Repeat("x", 253)
	b := build(t, "as", nil, func(b *Builder) { b.Open(); b.Str(s); b.Close() })
	if len(b) != 255 || b[254] != 254 {
		t.Fatalf("%d bytes ending %x", len(b), b[len(b)-1])
	}
	wide := append(bytes.Clone(b[:254]), 254, 0)
	v := NewValue(MustParseType("as"), wide, nil)
	if err := v.Validate(); err != nil {
		t.Errorf("wide offsets: %v", err)
	}
	if err := v.CheckNormal(); err == nil || !strings.Contains(err.Error(), "255-byte normal form") {
		t.Errorf("wide offsets: CheckNormal %v", err)
	}
}

func TestRejects(t *testing.T) {
	for i, tc := range []struct {
		typ, hex, want string
	}{
		{"u", "010000", "3 bytes, not 4"},
		{"b", "02", "neither 0 nor 1"},
		{"s", "", "not NUL-terminated"},
		{"s", "6100 6200", "NUL byte at 1"},
		{"s", "ff00", "not UTF-8"},
		{"o", "6100", "not an object path"},
		{"o", "2f612f00", "not an object path"},
		{"g", "6d7500", "not a signature"},
		{"as", "6100 05", "beyond"},
		{"as", "6100 6200 05 04", "element 0 is framed as bytes 0 to 5"},
		{"as", strings.Repeat("00", 298) + "2901", "not a whole number of 2-byte offsets"},
		{"au", "010000000200", "not a whole number of 4-byte"},
		{"(si)", "666f6f00 ffffffff 09", "in or beyond"},
		{"(si)", "666f6f00 ffffff 04", "outside"},
		{"(uu)", "01000000", "4 bytes, not the type's 8"},
		{"(sy)", "6100 01 00 02", "members end at 3"},
		{"()", "", "0 bytes, not the type's 1"},
		{"v", "0102", "no zero byte"},
		{"v", "01 00 7a", "not a definite type"},
		{"v", "01 00 7373", "after a complete type"},
		{"v", "0100 00 75", "a u of 2 bytes"},
		{"mu", "0100", "Just of 2 bytes"},
		{"a{sv}", "6100", "outside"},
	} {
		v := NewValue(MustParseType(tc.typ), unhex(t, tc.hex), nil)
		err := v.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("#%d %s %s: %v, want an error saying %q", i, tc.typ, tc.hex, err, tc.want)
		}
		if _, ok := err.(*Error); err != nil && !ok {
			t.Errorf("#%d: %T is not an *Error", i, err)
		}
		if err := v.CheckNormal(); err == nil {
			t.Errorf("#%d %s %s: CheckNormal accepted it", i, tc.typ, tc.hex)
		}
	}
}

// TestNotNormal: readable, but not the one serialization GLib writes.
func TestNotNormal(t *testing.T) {
	for i, tc := range []struct{ typ, hex, normal string }{
		{"(yu)", "01 000100 02000000", "01 000000 02000000"},                       // padding
		{"ms", "686900 01", "686900 00"},                                           // a Just's zero byte
		{"(uy)", "02000000 03 000001", "02000000 03 000000"},                       // a fixed-size tuple's padding
		{"av", "010079 0000000001 020079 03 0b", "010079 0000000000 020079 03 0b"}, // between elements
		{"a{sv}", "6100 000000000001 01000000 0075 02 0f", "6100 000000000000 01000000 0075 02 0f"},
	} {
		v := NewValue(MustParseType(tc.typ), unhex(t, tc.hex), nil)
		if err := v.Validate(); err != nil {
			t.Errorf("#%d %s %s: %v", i, tc.typ, tc.hex, err)
		}
		if err := v.CheckNormal(); err == nil || !strings.Contains(err.Error(), "not in normal form") {
			t.Errorf("#%d %s %s: CheckNormal %v", i, tc.typ, tc.hex, err)
		}
		if n, err := v.Normalize(); err != nil || !bytes.Equal(n, unhex(t, tc.normal)) {
			t.Errorf("#%d %s: normal form %x, %v; want %s", i, tc.typ, n, err, tc.normal)
		}
	}
}

func TestBuilderErrors(t *testing.T) {
	for i, tc := range []struct {
		typ  string
		fill func(b *Builder)
		want string
	}{
		{"u", func(b *Builder) { b.Int32(1) }, "where a u is expected"},
		{"u", func(b *Builder) { b.Uint32(1); b.Uint32(2) }, "after the complete u"},
		{"(uu)", func(b *Builder) { b.Open(); b.Uint32(1); b.Close() }, "after 1 of the 2 members"},
		{"(u)", func(b *Builder) { b.Open(); b.Uint32(1); b.Uint32(1) }, "after the last member"},
		{"s", func(b *Builder) { b.Str("a\x00") }, "NUL"},
		{"s", func(b *Builder) { b.Str("\xff") }, "UTF-8"},
		{"o", func(b *Builder) { b.Str("a") }, "object path"},
		{"g", func(b *Builder) { b.Str("(") }, "signature"},
		{"as", func(b *Builder) { b.Open() }, "before the as is complete"},
		{"au", func(b *Builder) { b.Bytes(nil) }, "bytes where a au"},
		{"v", func(b *Builder) { b.Open() }, "Open where a v"},
		{"v", func(b *Builder) { b.OpenVariant(MustParseType("u")); b.Close() }, "empty variant"},
		{"u", func(b *Builder) { b.Close() }, "Close without Open"},
		{"mu", func(b *Builder) { b.Open(); b.Uint32(1); b.Uint32(2) }, "after the last member"},
		{"u", func(b *Builder) { b.Value(NewValue(MustParseType("i"), []byte{0, 0, 0, 0}, nil)) }, "type i where a u"},
		{"u", func(b *Builder) { b.Value(NewValue(MustParseType("u"), []byte{0, 0}, nil)) }, "2 bytes, not 4"},
	} {
		b := NewBuilder(MustParseType(tc.typ), nil)
		tc.fill(b)
		_, err := b.Finish()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("#%d %s: %v, want an error saying %q", i, tc.typ, err, tc.want)
		}
	}
}

func TestRawStr(t *testing.T) {
	b := build(t, "(su)", nil, func(b *Builder) { b.Open(); b.RawStr("a\x00b"); b.Uint32(1); b.Close() })
	v := NewValue(MustParseType("(su)"), b, nil)
	if err := v.Validate(); err == nil || !strings.Contains(err.Error(), "NUL byte at 1") {
		t.Errorf("RawStr with a NUL read back: %v", err)
	}
}

func TestParseType(t *testing.T) {
	for _, tc := range []struct {
		s            string
		align, fixed int
	}{
		{"y", 1, 1}, {"(yy)", 1, 2}, {"(yu)", 4, 8}, {"(uy)", 4, 8}, {"(ty)", 8, 16},
		{"()", 1, 1}, {"(())", 1, 1}, {"{yy}", 1, 2}, {"a{sv}", 8, 0}, {"(uuuusa(ayay))", 4, 0},
		{"(tuuuusa(ayay))", 8, 0}, {"(a(say)a(sayay))", 1, 0}, {"(a{sv}aya(say)sstayay)", 8, 0},
		{"mv", 8, 0}, {"ad", 8, 0}, {"(yqd)", 8, 16}, {"g", 1, 0}, {"h", 4, 4},
	} {
		typ, err := ParseType(tc.s)
		if err != nil {
			t.Errorf("%s: %v", tc.s, err)
			continue
		}
		if typ.String() != tc.s || typ.Alignment() != tc.align || typ.FixedSize() != tc.fixed {
			t.Errorf("%s: %s, alignment %d, fixed size %d; want %d, %d", tc.s, typ, typ.Alignment(), typ.FixedSize(), tc.align, tc.fixed)
		}
	}
	for _, s := range []string{"", "a", "(", "(u", "{s}", "{vs}", "{sss}", "r", "*", "?", "uu", "z", "a{sv", strings.Repeat("a", 200) + "y"} {
		if _, err := ParseType(s); err == nil {
			t.Errorf("%q: parsed", s)
		}
	}
}

// TestDepthLimit: variants nested deeper than MaxDepth are refused, not
// followed until the stack runs out.
func TestDepthLimit(t *testing.T) {
	data := []byte{1}
	typ := "y"
	for i := 0; i < MaxDepth+5; i++ {
		data = append(append(data, 0), typ...)
		typ = "v"
	}
	v := NewValue(MustParseType("v"), data, nil)
	if err := v.Validate(); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Errorf("Validate: %v", err)
	}
}

// TestZeroCopy: children are sub-slices of the data.
func TestZeroCopy(t *testing.T) {
	b := build(t, "(uuuusa(ayay))", nil, func(b *Builder) {
		b.Open()
		for i := 0; i < 4; i++ {
			b.Uint32(uint32(i))
		}
		b.Str("t")
		b.Open()
		b.Open()
		b.Bytes([]byte("user.a\x00"))
		b.Bytes([]byte("v"))
		b.Close()
		b.Close()
		b.Close()
	})
	v := NewValue(MustParseType("(uuuusa(ayay))"), b, nil)
	xs, _ := v.Index(5)
	x, _ := xs.Index(0)
	val, err := x.Index(1)
	if err != nil || string(val.Data()) != "v" {
		t.Fatalf("%q, %v", val.Data(), err)
	}
	if &val.Data()[0] != &b[len(b)-4] {
		t.Error("the value's bytes are a copy")
	}
	if got := v.String(); got != "(0, 1, 2, 3, 't', [([0x75, 0x73, 0x65, 0x72, 0x2e, 0x61, 0x00], [0x76])])" {
		t.Errorf("String: %s", got)
	}
}

// TestZeroValue: the zero Value is refused, not a nil dereference.
func TestZeroValue(t *testing.T) {
	var v Value
	if _, err := v.Index(0); err == nil {
		t.Error("Index")
	}
	if _, err := v.Uint32(); err == nil {
		t.Error("Uint32")
	}
	if _, err := v.Str(); err == nil {
		t.Error("Str")
	}
	if err := v.CheckNormal(); err == nil {
		t.Error("CheckNormal")
	}
	if _, err := v.VariantType(); err == nil {
		t.Error("VariantType")
	}
	b := NewBuilder(MustParseType("u"), nil)
	b.Value(v)
	if _, err := b.Finish(); err == nil {
		t.Error("Builder.Value")
	}
}
