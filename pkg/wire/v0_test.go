package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

const (
	v0CommitA = "2cf59ffc9431e3c03d8755080029954b1cbe33784bb22d302797f5213c75df61"
	v0CommitB = "9d41e475f28fe0a8c672301c54d75711dea09ece67207ac114e2281e0bc79eca"
	v0Zeros   = "0000000000000000000000000000000000000000000000000000000000000000"
)

// v0Golden are message bodies as GLib 2.74 serializes them (printed by
// testdata/v0golden.c)
// (g_variant_get_data of the a{sv} built with g_variant_builder_add), the
// reference the Go codec is checked against; "be" is GLib's byteswap.
var v0Golden = []struct {
	name string
	be   bool
	body []V0Entry
	hex  string
}{
	{"info", false, []V0Entry{{"mode", int32(1)}, {"refs", []V0Pair{{"os/main", v0CommitA}, {"os/next", v0CommitB}}}},
		"6d6f646500000000010000000069050072656673000000006f732f6d61696e003263663539666663393433316533633033643837353530383030323939353462316362653333373834626232326433303237393766353231336337356466363100086f732f6e657874003964343165343735663238666530613863363732333031633534643735373131646561303965636536373230376163313134653232383165306263373965636100084a9400617b73737d050fb5"},
	{"info-empty", false, []V0Entry{{"mode", int32(2)}, {"refs", []V0Pair{}}},
		"6d6f6465000000000200000000690500726566730000000000617b73737d050f1f"},
	{"update", false, []V0Entry{{"os/main", V0Pair{v0Zeros, v0CommitA}}},
		"6f732f6d61696e00303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030300032636635396666633934333165336330336438373535303830303239393534623163626533333738346262323264333032373937663532313363373564663631004100287373290891"},
	{"putobject", false, []V0Entry{{"object", v0CommitA + ".commit"}, {"size", uint64(345)}},
		"6f626a6563740000326366353966666339343331653363303364383735353038303032393935346231636265333337383462623232643330323739376635323133633735646636312e636f6d6d697400007307000000000073697a65000000005901000000000000007405536b"},
	{"putobject-be", true, []V0Entry{{"object", v0CommitA + ".commit"}, {"size", uint64(345)}},
		"6f626a6563740000326366353966666339343331653363303364383735353038303032393935346231636265333337383462623232643330323739376635323133633735646636312e636f6d6d697400007307000000000073697a65000000000000000000000159007405536b"},
	{"status", false, []V0Entry{{"result", true}, {"message", ""}},
		"726573756c74000001006207000000006d65737361676500000073080c1c"},
	{"status-false", false, []V0Entry{{"result", false}, {"message", "Branch os/main is at 2cf5, not 0000"}},
		"726573756c74000000006207000000006d657373616765004272616e6368206f732f6d61696e20697320617420326366352c206e6f742030303030000073080c3f"},
	{"done", false, nil, ""},
}

func TestV0GoldenBodies(t *testing.T) {
	for _, g := range v0Golden {
		var bo v0Order = binary.LittleEndian
		if g.be {
			bo = binary.BigEndian
		}
		want, _ := hex.DecodeString(g.hex)
		got, err := v0Encode(g.body, bo)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: encoded\n%x\nGLib:\n%x", g.name, got, want)
		}
		dec, err := v0DecodeVardict(want, bo)
		if err != nil {
			t.Fatalf("%s: decoding GLib's bytes: %v", g.name, err)
		}
		if len(dec) == 0 && len(g.body) == 0 {
			continue
		}
		// An empty a{ss} decodes as an empty (non-nil or nil) list.
		if !reflect.DeepEqual(normalizeV0(dec), normalizeV0(g.body)) {
			t.Errorf("%s: decoded %#v, want %#v", g.name, dec, g.body)
		}
	}
}

func normalizeV0(es []V0Entry) []V0Entry {
	out := append([]V0Entry(nil), es...)
	for i, e := range out {
		if p, ok := e.Value.([]V0Pair); ok && len(p) == 0 {
			out[i].Value = []V0Pair(nil)
		}
	}
	return out
}

func TestV0Messages(t *testing.T) {
	var buf bytes.Buffer
	msgs := []*V0Message{
		{Type: V0Info, Body: []V0Entry{{"mode", int32(1)}, {"refs", []V0Pair{{"a", v0CommitA}}}}},
		{Type: V0Update, Body: []V0Entry{{"a", V0Pair{v0CommitA, v0CommitB}}}},
		{Type: V0Status, Body: []V0Entry{{"result", true}, {"message", ""}}},
		{Type: V0Done},
	}
	for _, m := range msgs {
		if err := WriteV0(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	if buf.Bytes()[0] != 'l' || buf.Bytes()[1] != 0 || buf.Bytes()[2] != 0 {
		t.Fatalf("header %x", buf.Bytes()[:5])
	}
	for _, want := range msgs {
		got, err := ReadV0(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != want.Type || !reflect.DeepEqual(normalizeV0(got.Body), normalizeV0(want.Body)) {
			t.Errorf("read %+v, want %+v", got, want)
		}
	}
	if _, err := ReadV0(&buf); err != io.EOF {
		t.Errorf("after the last message: %v, want io.EOF", err)
	}
	// A big-endian client's message (GLib's byteswapped PUTOBJECT).
	body, _ := hex.DecodeString(v0Golden[4].hex)
	h := []byte{'B', 0, byte(V0PutObject), 0, 0}
	binary.BigEndian.PutUint16(h[3:], uint16(len(body)))
	m, err := ReadV0(bytes.NewReader(append(h, body...)))
	if err != nil || m.Get("size") != uint64(345) {
		t.Fatalf("big-endian PUTOBJECT: %+v, %v", m, err)
	}
}

func TestV0Rejects(t *testing.T) {
	good, _ := hex.DecodeString(v0Golden[5].hex) // status
	msg := func(order byte, version byte, typ byte, body []byte) []byte {
		h := []byte{order, version, typ, 0, 0}
		binary.LittleEndian.PutUint16(h[3:], uint16(len(body)))
		if order == 'B' {
			binary.BigEndian.PutUint16(h[3:], uint16(len(body)))
		}
		return append(h, body...)
	}
	flip := func(i int, b byte) []byte {
		c := append([]byte(nil), good...)
		c[i] = b
		return c
	}
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"bad order mark", "byte-order mark", msg('x', 0, 3, good)},
		{"version 1", "protocol version 1", msg('l', 1, 3, good)},
		{"unknown type", "unknown message type 9", msg('l', 0, 9, good)},
		{"short header", "inside a message header", []byte{'l', 0}},
		{"short body", "inside a STATUS body", msg('l', 0, 3, good)[:10]},
		{"padding not zero", "normal form", msg('l', 0, 3, flip(7, 1))},
		{"bool not 0 or 1", "boolean", msg('l', 0, 3, flip(8, 2))},
		{"unknown value type", "unexpected value type", msg('l', 0, 3, flip(10, 'x'))},
		{"offset out of range", "GVariant", msg('l', 0, 3, flip(len(good)-1, 0xff))},
		{"string without NUL", "NUL", msg('l', 0, 3, flip(6, 'x'))},
		{"garbage body", "GVariant", msg('l', 0, 3, []byte("garbage"))},
	} {
		_, err := ReadV0(bytes.NewReader(tc.data))
		var pe *ProtocolError
		if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a protocol error saying %q", tc.name, err, tc.want)
		}
	}
	if err := WriteV0(io.Discard, &V0Message{Type: V0Status, Body: []V0Entry{{"message", strings.Repeat("x", 70000)}}}); err == nil {
		t.Error("a body over 64 KiB was written")
	}
	if err := WriteV0(io.Discard, &V0Message{Type: V0Status, Body: []V0Entry{{"message", "a\x00b"}}}); err == nil {
		t.Error("a string with a NUL was written")
	}
}

// FuzzV0Read reads version-0 messages from arbitrary bytes: it never
// panics, fails only with io.EOF or a *ProtocolError, and what it reads
// re-encodes to the bytes it came from (little-endian input).
func FuzzV0Read(f *testing.F) {
	for _, g := range v0Golden {
		if g.be {
			continue
		}
		body, _ := hex.DecodeString(g.hex)
		h := []byte{'l', 0, 3, 0, 0}
		binary.LittleEndian.PutUint16(h[3:], uint16(len(body)))
		f.Add(append(h, body...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			start := len(data) - r.Len()
			m, err := ReadV0(r)
			if err != nil {
				var pe *ProtocolError
				if err != io.EOF && !errors.As(err, &pe) {
					t.Fatalf("error %T: %v", err, err)
				}
				return
			}
			if data[start] != 'l' {
				continue
			}
			var out bytes.Buffer
			if err := WriteV0(&out, m); err != nil {
				t.Fatalf("read %+v but cannot write it: %v", m, err)
			}
			if end := len(data) - r.Len(); !bytes.Equal(out.Bytes(), data[start:end]) {
				t.Fatalf("re-encoded %x, read from %x", out.Bytes(), data[start:end])
			}
		}
	})
}
