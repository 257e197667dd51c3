package gvariant

import (
	"strconv"
	"strings"
)

// String returns v in GVariant text format, as g_variant_parse reads it
// for v's type: numbers in decimal (a byte as 0x..), strings in single
// quotes, arrays in [], dictionaries (arrays of dict entries) in {k: v},
// a lone dict entry as {k, v}, a one-member tuple as (x,), maybes as
// nothing and just x, and variants as <@TYPE value>, with their type, so
// that the text says the same as the bytes. A part that cannot be read is
// shown as !(the error), so String never fails; use Validate to know.
func (v Value) String() string {
	if v.t == nil {
		return "!(zero Value)"
	}
	var sb strings.Builder
	v.format(&sb)
	return sb.String()
}

func (v Value) format(sb *strings.Builder) {
	bad := func(err error) { sb.WriteString("!(" + err.Error() + ")") }
	switch c := v.t.code; c {
	case 'y':
		if x, err := v.Byte(); err != nil {
			bad(err)
		} else {
			sb.WriteString("0x" + strconv.FormatUint(uint64(x)|0x100, 16)[1:])
		}
	case 'b':
		if x, err := v.Bool(); err != nil {
			bad(err)
		} else {
			sb.WriteString(strconv.FormatBool(x))
		}
	case 'n', 'q':
		if x, err := v.u16(c); err != nil {
			bad(err)
		} else if c == 'n' {
			sb.WriteString(strconv.Itoa(int(int16(x))))
		} else {
			sb.WriteString(strconv.Itoa(int(x)))
		}
	case 'i', 'u', 'h':
		if x, err := v.u32(c); err != nil {
			bad(err)
		} else if c == 'u' {
			sb.WriteString(strconv.FormatUint(uint64(x), 10))
		} else {
			sb.WriteString(strconv.Itoa(int(int32(x))))
		}
	case 'x', 't':
		if x, err := v.u64(c); err != nil {
			bad(err)
		} else if c == 't' {
			sb.WriteString(strconv.FormatUint(x, 10))
		} else {
			sb.WriteString(strconv.FormatInt(int64(x), 10))
		}
	case 'd':
		if x, err := v.Double(); err != nil {
			bad(err)
		} else {
			s := strconv.FormatFloat(x, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eEIN") { // NaN, Inf
				s += ".0"
			}
			sb.WriteString(s)
		}
	case 's', 'o', 'g':
		if x, err := v.Str(); err != nil {
			bad(err)
		} else {
			quote(sb, x)
		}
	case 'v':
		c, err := v.Index(0)
		if err != nil {
			bad(err)
			return
		}
		sb.WriteString("<@" + c.t.s + " ")
		c.format(sb)
		sb.WriteString(">")
	case 'm':
		n, err := v.Len()
		if err != nil {
			bad(err)
			return
		}
		if n == 0 {
			sb.WriteString("nothing")
			return
		}
		c, err := v.Index(0)
		if err != nil {
			bad(err)
			return
		}
		sb.WriteString("just ")
		c.format(sb)
	default: // a, (, {
		n, err := v.Len()
		if err != nil {
			bad(err)
			return
		}
		open, sep, closing := "(", ", ", ")"
		dict := c == 'a' && v.t.elem.code == '{'
		switch {
		case dict:
			open, closing = "{", "}"
		case c == 'a':
			open, closing = "[", "]"
		case c == '{':
			open, closing = "{", "}"
		}
		sb.WriteString(open)
		for i := 0; i < n; i++ {
			if i > 0 {
				sb.WriteString(sep)
			}
			e, err := v.Index(i)
			if err != nil {
				bad(err)
				break
			}
			if dict {
				e.formatEntry(sb)
			} else {
				e.format(sb)
			}
		}
		if c == '(' && n == 1 {
			sb.WriteString(",")
		}
		sb.WriteString(closing)
	}
}

// formatEntry writes a dict entry inside a dictionary: k: v.
func (v Value) formatEntry(sb *strings.Builder) {
	for i, sep := range []string{"", ": "} {
		sb.WriteString(sep)
		m, err := v.Index(i)
		if err != nil {
			sb.WriteString("!(" + err.Error() + ")")
			return
		}
		m.format(sb)
	}
}

// quote writes s in single quotes, escaping what GLib's parser would not
// read back as itself.
func quote(sb *strings.Builder, s string) {
	sb.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			sb.WriteString(`\u00` + strconv.FormatUint(uint64(r)|0x100, 16)[1:])
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('\'')
}
