package ostreefile

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

func flateReader(p []byte) io.Reader { return flate.NewReader(bytes.NewReader(p)) }

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// .filez objects `ostree commit` (libostree 2022.7) wrote as root into an
// archive repository, with their names.
var golden = []struct {
	what, name, filez string
	h                 FileHeader
	content           string
}{
	{
		what:    "empty file",
		name:    "cc700d46f407c6c5ab2d5dde474366a928b7398277e61162e7f8ec06f469f07e",
		filez:   "0000001a 00000000 0000000000000000 00000000 00000000 000081a4 00000000 00 19 0300",
		h:       FileHeader{Mode: 0o100644},
		content: "",
	},
	{
		what: "\"hello\\n\" with user.test=x",
		name: "9f6a357efbe0d7cd27be95e41ef3d53b4acf1c7825300c6da0884b12f176e344",
		filez: "00000027 00000000 0000000000000006 00000000 00000000 000081a4 00000000 00" +
			"757365722e7465737400 78 0a 0c 19 cb48cdc9c9e70200",
		h:       FileHeader{Mode: 0o100644, Xattrs: []Xattr{{[]byte("user.test\x00"), []byte("x")}}},
		content: "hello\n",
	},
	{
		what: "symlink to ../some/target",
		name: "b4b1aa17a8b065f0db733b038b5b4a3e534a6e16a905080fb1f3c31900349793",
		filez: "00000028 00000000 0000000000000000 00000000 00000000 0000a1ff 00000000" +
			"2e2e2f736f6d652f74617267657400 27",
		h: FileHeader{Mode: 0o120777, SymlinkTarget: "../some/target"},
	},
}

func TestGolden(t *testing.T) {
	for _, g := range golden {
		filez := unhex(t, g.filez)
		hdr := filez[8 : 8+binary.BigEndian.Uint32(filez)]
		size := uint64(len(g.content))
		if got := g.h.MarshalArchive(size); !bytes.Equal(got, hdr) {
			t.Errorf("%s: MarshalArchive\n%x, want\n%x", g.what, got, hdr)
		}
		h, s, err := ParseArchiveHeader(hdr)
		if err != nil || s != size || !bytes.Equal(h.Marshal(), g.h.Marshal()) {
			t.Errorf("%s: ParseArchiveHeader: %+v %d %v", g.what, h, s, err)
		}
		sum, err := ValidateFilez(bytes.NewReader(filez), uint64(len(filez)))
		if err != nil || sum.String() != g.name {
			t.Errorf("%s: ValidateFilez: %s, %v", g.what, sum, err)
		}
		var content io.Reader = strings.NewReader(g.content)
		if g.h.IsSymlink() {
			content = nil
		}
		if sum, err := Checksum(&g.h, content); err != nil || sum.String() != g.name {
			t.Errorf("%s: Checksum: %s, %v", g.what, sum, err)
		}
		stream := append(g.h.ContentStreamHeader(), g.content...)
		h2, r, err := ParseContentStream(bytes.NewReader(stream), uint64(len(stream)))
		if err != nil {
			t.Fatalf("%s: ParseContentStream: %v", g.what, err)
		}
		if got, _ := io.ReadAll(r); string(got) != g.content || !bytes.Equal(h2.Marshal(), g.h.Marshal()) {
			t.Errorf("%s: ParseContentStream gave %+v %q", g.what, h2, got)
		}
	}
}

// The checksum covers the 8-byte prefix too, not the bare variant.
func TestChecksumIncludesPrefix(t *testing.T) {
	h := &FileHeader{Mode: 0o100644}
	sum, _ := Checksum(h, nil)
	if sum.String() != golden[0].name {
		t.Fatal(sum)
	}
	if !bytes.Equal(h.ContentStreamHeader()[:8], []byte{0, 0, 0, 18, 0, 0, 0, 0}) {
		t.Fatalf("%x", h.ContentStreamHeader())
	}
}

func TestParseFileHeaderRejects(t *testing.T) {
	good := (&FileHeader{Mode: 0o100644, Xattrs: []Xattr{{[]byte("user.a\x00"), []byte("b")}}}).Marshal()
	cases := map[string][]byte{
		"empty":            nil,
		"too short":        good[:17],
		"one byte more":    append(bytes.Clone(good), 0),
		"offset past end":  append(bytes.Clone(good[:len(good)-1]), 0xff),
		"archive as plain": (&FileHeader{Mode: 0o100644}).MarshalArchive(0),
	}
	for what, b := range cases {
		_, err := ParseFileHeader(b)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Rule != RuleHeaderNormalForm {
			t.Errorf("%s: %v", what, err)
		}
	}
	if _, err := ParseFileHeader(good); err != nil {
		t.Fatal(err)
	}
}

// Boundaries of the framing offset sizes round-trip; the sizes themselves
// were checked against GLib's g_variant_new for 26,700 such headers while
// writing this package.
func TestRoundTripOffsetSizes(t *testing.T) {
	for _, tl := range []int{0, 200, 229, 230, 237, 238, 65500, 65510, 65530, 70000} {
		for _, vl := range []int{0, 1, 240, 247, 248, 249, 300, 65520, 65540} {
			h := &FileHeader{UID: 1, GID: 2, Mode: 0o120777, SymlinkTarget: strings.Repeat("t", tl+1)}
			h.Xattrs = []Xattr{{[]byte("user.v\x00"), bytes.Repeat([]byte{7}, vl)}, {[]byte("user.w\x00"), nil}}
			b := h.Marshal()
			h2, err := ParseFileHeader(b)
			if err != nil || !bytes.Equal(h2.Marshal(), b) {
				t.Fatalf("target %d value %d: %v", tl, vl, err)
			}
			a := h.MarshalArchive(uint64(vl))
			if _, s, err := ParseArchiveHeader(a); err != nil || s != uint64(vl) {
				t.Fatalf("archive target %d value %d: %v", tl, vl, err)
			}
		}
	}
}

func FuzzValidateFilez(f *testing.F) {
	for _, g := range golden {
		f.Add(unhex(f, g.filez))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		sum, err := ValidateFilez(bytes.NewReader(data), uint64(len(data)))
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Rule == "" || ve.Detail == "" {
				t.Fatalf("not a ValidationError with a rule: %v", err)
			}
			return
		}
		again, err := ValidateFilez(bytes.NewReader(bytes.Clone(data)), uint64(len(data)))
		if err != nil || again != sum {
			t.Fatalf("accepted once as %s, then %s, %v", sum, again, err)
		}
		hdr := data[8 : 8+binary.BigEndian.Uint32(data)]
		h, size, err := ParseArchiveHeader(hdr)
		if err != nil || !bytes.Equal(h.MarshalArchive(size), hdr) {
			t.Fatalf("accepted header does not round-trip: %v", err)
		}
		// One more byte is never accepted.
		if _, err := ValidateFilez(bytes.NewReader(append(bytes.Clone(data), 0)), uint64(len(data))+1); err == nil {
			t.Fatal("accepted with a byte appended")
		}
		// The checksum is that of the header and the inflated content.
		var content io.Reader
		if h.IsRegular() {
			content = flateReader(data[8+len(hdr):])
		}
		if want, err := Checksum(h, content); err != nil || want != sum {
			t.Fatalf("Checksum %s, %v; ValidateFilez %s", want, err, sum)
		}
	})
}

func FuzzParseArchiveHeader(f *testing.F) {
	for _, g := range golden {
		b := unhex(f, g.filez)
		f.Add(b[8 : 8+binary.BigEndian.Uint32(b)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, size, err := ParseArchiveHeader(b)
		if err != nil {
			return
		}
		if !bytes.Equal(h.MarshalArchive(size), b) {
			t.Fatal("accepted a header that is not its own serialization")
		}
		if _, err := ParseFileHeader(h.Marshal()); err != nil {
			t.Fatalf("Marshal of an accepted header does not parse: %v", err)
		}
	})
}

func TestCheckXattrOrder(t *testing.T) {
	x := func(names ...string) *FileHeader {
		h := &FileHeader{Mode: ModeRegular | 0o644}
		for _, n := range names {
			h.Xattrs = append(h.Xattrs, Xattr{Name: []byte(n + "\x00")})
		}
		return h
	}
	for _, c := range []struct {
		h  *FileHeader
		ok bool
	}{
		{x(), true},
		{x("user.a"), true},
		{x("security.capability", "security.selinux", "user.a"), true},
		{x("user.a", "user.ab"), true}, // as strcmp sorts them
		{x("user.ab", "user.a"), false},
		{x("security.selinux", "security.capability"), false},
		{x("user.a", "user.a"), false},
	} {
		err := CheckXattrOrder(c.h)
		var verr *ValidationError
		if c.ok != (err == nil) || (err != nil && (!errors.As(err, &verr) || verr.Rule != RuleXattrOrder)) {
			t.Errorf("%v: %v", c.h.Xattrs, err)
		}
	}
}
