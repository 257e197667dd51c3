package libostree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
)

// glibCase is one value written twice: as GVariant text, which GLib parses
// and serializes, and by fill with a gvariant.Builder. The text is also
// what gvariant.Value.String prints for the value.
type glibCase struct {
	typ  string
	text string
	fill func(b *gvariant.Builder)
}

func strOf(n int) string { return strings.Repeat("x", n) }

// bytesText is an ay in text format.
func bytesText(p []byte) string {
	parts := make([]string, len(p))
	for i, c := range p {
		parts[i] = fmt.Sprintf("0x%02x", c)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func glibCases() []glibCase {
	T := gvariant.MustParseType
	str := func(s string) func(b *gvariant.Builder) { return func(b *gvariant.Builder) { b.Str(s) } }
	strs := func(ss ...string) func(b *gvariant.Builder) {
		return func(b *gvariant.Builder) {
			b.Open()
			for _, s := range ss {
				b.Str(s)
			}
			b.Close()
		}
	}
	// variant writes <@typ value>, the value by fill.
	variant := func(b *gvariant.Builder, typ string, fill func(b *gvariant.Builder)) {
		b.OpenVariant(T(typ))
		fill(b)
		b.Close()
	}
	entry := func(b *gvariant.Builder, key, typ string, fill func(b *gvariant.Builder)) {
		b.Open()
		b.Str(key)
		variant(b, typ, fill)
		b.Close()
	}
	u32 := func(x uint32) func(b *gvariant.Builder) { return func(b *gvariant.Builder) { b.Uint32(x) } }
	csum := bytes.Repeat([]byte{0xab}, 32)

	cases := []glibCase{
		{"y", "0xff", func(b *gvariant.Builder) { b.Byte(0xff) }},
		{"b", "true", func(b *gvariant.Builder) { b.Bool(true) }},
		{"n", "-32768", func(b *gvariant.Builder) { b.Int16(-32768) }},
		{"q", "65535", func(b *gvariant.Builder) { b.Uint16(65535) }},
		{"i", "-5", func(b *gvariant.Builder) { b.Int32(-5) }},
		{"u", "4294967295", u32(4294967295)},
		{"x", "-9223372036854775808", func(b *gvariant.Builder) { b.Int64(-1 << 63) }},
		{"t", "18446744073709551615", func(b *gvariant.Builder) { b.Uint64(1<<64 - 1) }},
		{"h", "3", func(b *gvariant.Builder) { b.Handle(3) }},
		{"d", "-0.25", func(b *gvariant.Builder) { b.Double(-0.25) }},
		{"s", "''", str("")},
		{"s", "'caf\u00e9 \\'q\\' \\\\'", str("café 'q' \\")},
		{"o", "'/org/ostree_push/x1'", str("/org/ostree_push/x1")},
		{"g", "'a{sv}(ii)'", str("a{sv}(ii)")},
		{"as", "[]", strs()},
		{"as", "['', '']", strs("", "")},
		{"ay", "[]", func(b *gvariant.Builder) { b.Bytes(nil) }},
		{"aay", "[[], [0x00], []]", func(b *gvariant.Builder) {
			b.Open()
			b.Bytes(nil)
			b.Bytes([]byte{0})
			b.Bytes(nil)
			b.Close()
		}},
		{"a{sv}", "{}", strs()},
		{"()", "()", func(b *gvariant.Builder) { b.Open(); b.Close() }},
		{"(yu)", "(0x01, 2)", func(b *gvariant.Builder) { b.Open(); b.Byte(1); b.Uint32(2); b.Close() }},
		{"(ty)", "(1, 0x02)", func(b *gvariant.Builder) { b.Open(); b.Uint64(1); b.Byte(2); b.Close() }},
		{"(sy)", "('a', 0x02)", func(b *gvariant.Builder) { b.Open(); b.Str("a"); b.Byte(2); b.Close() }},
		{"(ysus)", "(0x01, 'ab', 3, 'c')", func(b *gvariant.Builder) {
			b.Open()
			b.Byte(1)
			b.Str("ab")
			b.Uint32(3)
			b.Str("c")
			b.Close()
		}},
		{"(()y)", "((), 0x07)", func(b *gvariant.Builder) { b.Open(); b.Open(); b.Close(); b.Byte(7); b.Close() }},
		{"{sb}", "{'k', false}", func(b *gvariant.Builder) { b.Open(); b.Str("k"); b.Bool(false); b.Close() }},
		{"a{us}", "{1: 'one', 2: ''}", func(b *gvariant.Builder) {
			b.Open()
			b.Open()
			b.Uint32(1)
			b.Str("one")
			b.Close()
			b.Open()
			b.Uint32(2)
			b.Str("")
			b.Close()
			b.Close()
		}},
		{"mu", "nothing", func(b *gvariant.Builder) { b.Nothing() }},
		{"mu", "just 7", func(b *gvariant.Builder) { b.Open(); b.Uint32(7); b.Close() }},
		{"ms", "just ''", func(b *gvariant.Builder) { b.Open(); b.Str(""); b.Close() }},
		{"mmu", "just nothing", func(b *gvariant.Builder) { b.Open(); b.Nothing(); b.Close() }},
		{"amas", "[just [], nothing, just ['a']]", func(b *gvariant.Builder) {
			b.Open()
			b.Open()
			strs()(b)
			b.Close()
			b.Nothing()
			b.Open()
			strs("a")(b)
			b.Close()
			b.Close()
		}},
		{"v", "<@s ''>", func(b *gvariant.Builder) { variant(b, "s", str("")) }},
		{"v", "<@v <@v <@(us) (1, 'x')>>>", func(b *gvariant.Builder) {
			variant(b, "v", func(b *gvariant.Builder) {
				variant(b, "v", func(b *gvariant.Builder) {
					variant(b, "(us)", func(b *gvariant.Builder) { b.Open(); b.Uint32(1); b.Str("x"); b.Close() })
				})
			})
		}},
		{"av", "[<@y 0x01>, <@ay []>, <@t 2>]", func(b *gvariant.Builder) {
			b.Open()
			variant(b, "y", func(b *gvariant.Builder) { b.Byte(1) })
			variant(b, "ay", func(b *gvariant.Builder) { b.Bytes(nil) })
			variant(b, "t", func(b *gvariant.Builder) { b.Uint64(2) })
			b.Close()
		}},
		{"a{sv}", "{'a': <@u 1>, 'bc': <@b true>, 'ostree.ref-binding': <@as ['os/main', 'os/next']>, " +
			"'t': <@t 1700000000>, 'd': <@a{sv} {'n': <@n -1>, 'q': <@q 2>}>, 'e': <@s ''>, " +
			"'m': <@mu nothing>, 'o': <@o '/'>, 'g': <@g ''>, 'x': <@x -3>, 'f': <@d 2.5>, 'ay': <@ay [0x00, 0xff]>}",
			func(b *gvariant.Builder) {
				b.Open()
				entry(b, "a", "u", u32(1))
				entry(b, "bc", "b", func(b *gvariant.Builder) { b.Bool(true) })
				entry(b, "ostree.ref-binding", "as", strs("os/main", "os/next"))
				entry(b, "t", "t", func(b *gvariant.Builder) { b.Uint64(1700000000) })
				entry(b, "d", "a{sv}", func(b *gvariant.Builder) {
					b.Open()
					entry(b, "n", "n", func(b *gvariant.Builder) { b.Int16(-1) })
					entry(b, "q", "q", func(b *gvariant.Builder) { b.Uint16(2) })
					b.Close()
				})
				entry(b, "e", "s", str(""))
				entry(b, "m", "mu", func(b *gvariant.Builder) { b.Nothing() })
				entry(b, "o", "o", str("/"))
				entry(b, "g", "g", str(""))
				entry(b, "x", "x", func(b *gvariant.Builder) { b.Int64(-3) })
				entry(b, "f", "d", func(b *gvariant.Builder) { b.Double(2.5) })
				entry(b, "ay", "ay", func(b *gvariant.Builder) { b.Bytes([]byte{0, 0xff}) })
				b.Close()
			}},
		// OSTree's own types.
		{"(uuuusa(ayay))", "(0, 0, 33188, 0, '', [])", func(b *gvariant.Builder) {
			b.Open()
			for _, x := range []uint32{0, 0, 33188, 0} {
				b.Uint32(x)
			}
			b.Str("")
			strs()(b)
			b.Close()
		}},
		{"(tuuuusa(ayay))", "(5, 1, 2, 41471, 0, '../t', [(" + bytesText([]byte("user.a\x00")) + ", [0x76]), (" +
			bytesText([]byte("user.b\x00")) + ", [])])", func(b *gvariant.Builder) {
			b.Open()
			b.Uint64(5)
			for _, x := range []uint32{1, 2, 41471, 0} {
				b.Uint32(x)
			}
			b.Str("../t")
			b.Open()
			for _, x := range [][2]string{{"user.a\x00", "v"}, {"user.b\x00", ""}} {
				b.Open()
				b.Bytes([]byte(x[0]))
				b.Bytes([]byte(x[1]))
				b.Close()
			}
			b.Close()
			b.Close()
		}},
		{"(a(say)a(sayay))", "([('a', " + bytesText(csum) + "), ('b', " + bytesText(csum) + ")], [('d', " +
			bytesText(csum) + ", " + bytesText(csum) + ")])", func(b *gvariant.Builder) {
			b.Open()
			b.Open()
			for _, n := range []string{"a", "b"} {
				b.Open()
				b.Str(n)
				b.Bytes(csum)
				b.Close()
			}
			b.Close()
			b.Open()
			b.Open()
			b.Str("d")
			b.Bytes(csum)
			b.Bytes(csum)
			b.Close()
			b.Close()
			b.Close()
		}},
		{"(a{sv}aya(say)sstayay)", "({'version': <@s '1'>}, [], [], 'subject', '', 1700000000, " +
			bytesText(csum) + ", " + bytesText(csum) + ")", func(b *gvariant.Builder) {
			b.Open()
			b.Open()
			entry(b, "version", "s", str("1"))
			b.Close()
			b.Bytes(nil)
			strs()(b)
			b.Str("subject")
			b.Str("")
			b.Uint64(1700000000)
			b.Bytes(csum)
			b.Bytes(csum)
			b.Close()
		}},
	}

	// Around the sizes where framing offsets widen: a container of 255
	// bytes has 1-byte offsets, of 256 bytes 2-byte ones; 65535 and 65536
	// likewise for 2 and 4 bytes.
	for _, n := range []int{250, 251, 252, 253, 254, 255, 256, 65529, 65530, 65531, 65532, 65533, 65534} {
		s := strOf(n)
		q := "'" + s + "'"
		cases = append(cases,
			glibCase{"as", "[" + q + "]", strs(s)},
			glibCase{"as", "['', " + q + "]", strs("", s)},
			glibCase{"(ss)", "(" + q + ", '')", func(b *gvariant.Builder) { b.Open(); b.Str(s); b.Str(""); b.Close() }},
			glibCase{"(sy)", "(" + q + ", 0x01)", func(b *gvariant.Builder) { b.Open(); b.Str(s); b.Byte(1); b.Close() }},
			glibCase{"a{sv}", "{" + q + ": <@u 1>}", func(b *gvariant.Builder) {
				b.Open()
				entry(b, s, "u", u32(1))
				b.Close()
			}},
			glibCase{"v", "<@s " + q + ">", func(b *gvariant.Builder) { variant(b, "s", str(s)) }},
			glibCase{"a(ayay)", "[([0x61, 0x00], " + bytesText(bytes.Repeat([]byte{7}, n%300)) + ")]",
				func(b *gvariant.Builder) {
					b.Open()
					b.Open()
					b.Bytes([]byte("a\x00"))
					b.Bytes(bytes.Repeat([]byte{7}, n%300))
					b.Close()
					b.Close()
				}},
		)
	}
	return cases
}

// TestGVariantMatchesGLib: pkg/gvariant writes what GLib writes, byte for
// byte, and reads GLib's bytes back as the same values, in normal form.
func TestGVariantMatchesGLib(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("GLib serializes in the machine's byte order; the table is little-endian")
	}
	for i, tc := range glibCases() {
		name := fmt.Sprintf("#%d %s %.60s", i, tc.typ, tc.text)
		want, err := glibSerialize(tc.typ, tc.text)
		if err != nil {
			t.Errorf("%s: GLib: %v", name, err)
			continue
		}
		b := gvariant.NewBuilder(gvariant.MustParseType(tc.typ), binary.LittleEndian)
		tc.fill(b)
		got, err := b.Finish()
		if err != nil {
			t.Errorf("%s: Builder: %v", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: pkg/gvariant wrote %d bytes\n%.400x\nGLib %d bytes\n%.400x", name, len(got), got, len(want), want)
		}
		v := gvariant.NewValue(gvariant.MustParseType(tc.typ), want, binary.LittleEndian)
		if err := v.CheckNormal(); err != nil {
			t.Errorf("%s: GLib's bytes: %v", name, err)
		}
		if s := v.String(); s != tc.text {
			t.Errorf("%s: read GLib's bytes as\n%.300s\nwant\n%.300s", name, s, tc.text)
		}
	}
}

func TestGLibSerializeErrors(t *testing.T) {
	if _, err := glibSerialize("(", "()"); err == nil {
		t.Error("an invalid type string was accepted")
	}
	_, err := glibSerialize("u", "'text'")
	var e *Error
	if err == nil || !strings.Contains(err.Error(), "g_variant_parse u") || !errors.As(err, &e) || e.Domain == "" {
		t.Errorf("a parse error: %v", err)
	}
}
