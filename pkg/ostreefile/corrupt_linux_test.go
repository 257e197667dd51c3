package ostreefile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

// Faults injected into real .filez bytes from the fixture. Each must be
// rejected with its rule.

// pick returns the first fixture object ok accepts.
func pick(t *testing.T, what string, ok func(o *fixtureObject) bool) *fixtureObject {
	t.Helper()
	for _, o := range getFixture(t).objects {
		if ok(o) {
			return o
		}
	}
	t.Fatalf("the fixture has no %s", what)
	return nil
}

// storedObject is a regular file whose first deflate block is stored
// (random data), so that a changed content byte still inflates.
func storedObject(t *testing.T) *fixtureObject {
	return pick(t, "regular file with a stored first block", func(o *fixtureObject) bool {
		return o.h.IsRegular() && o.size >= 4000 && len(o.h.Xattrs) == 0 && o.payload()[0]&6 == 0
	})
}

// huffmanObject is a regular file compressed with Huffman codes.
func huffmanObject(t *testing.T) *fixtureObject {
	return pick(t, "regular file with a compressed first block", func(o *fixtureObject) bool {
		return o.h.IsRegular() && o.size >= 4000 && len(o.h.Xattrs) == 0 && o.payload()[0]&6 != 0
	})
}

func emptyObject(t *testing.T) *fixtureObject {
	return pick(t, "empty file", func(o *fixtureObject) bool {
		return o.h.IsRegular() && o.size == 0 && len(o.h.Xattrs) == 0
	})
}

func symlinkObject(t *testing.T) *fixtureObject {
	return pick(t, "symlink", func(o *fixtureObject) bool { return o.h.IsSymlink() && len(o.h.Xattrs) == 0 })
}

// join makes .filez bytes from a header (without prefix) and a payload.
func join(hdr, payload []byte) []byte {
	return append(prefixed(hdr), payload...)
}

func withPadding(o *fixtureObject, i int, v byte) []byte {
	b := bytes.Clone(o.data)
	b[4+i] = v
	return b
}

// withSize rewrites the size field (the t at the start of the header).
func withSize(o *fixtureObject, size uint64) []byte {
	b := bytes.Clone(o.data)
	binary.BigEndian.PutUint64(b[8:], size)
	return b
}

func withHeaderLength(o *fixtureObject, n uint32) []byte {
	b := bytes.Clone(o.data)
	binary.BigEndian.PutUint32(b, n)
	return b
}

// withHeader re-serializes the header, canonically, after change.
func withHeader(o *fixtureObject, change func(h *FileHeader)) []byte {
	h := *o.h
	h.Xattrs = append([]Xattr(nil), o.h.Xattrs...)
	change(&h)
	return join(h.MarshalArchive(o.size), o.payload())
}

func withTarget(o *fixtureObject, target string) []byte {
	return withHeader(o, func(h *FileHeader) { h.SymlinkTarget = target })
}

// wantRule checks that ValidateFilez rejects b (read as length bytes) by rule.
func wantRule(t *testing.T, what string, b []byte, length uint64, rule string) *ValidationError {
	t.Helper()
	return checkRule(t, what, bytes.NewReader(b), length, rule)
}

func checkRule(t *testing.T, what string, r io.Reader, length uint64, rule string) *ValidationError {
	t.Helper()
	sum, err := ValidateFilez(r, length)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("%s: ValidateFilez returned %v, %v; want a %s ValidationError", what, sum, err, rule)
		return nil
	}
	if ve.Rule != rule {
		t.Errorf("%s: rule %s (%v), want %s", what, ve.Rule, ve, rule)
	} else {
		t.Logf("%s: %v", what, ve)
	}
	return ve
}

func want(t *testing.T, what string, b []byte, rule string) *ValidationError {
	t.Helper()
	return wantRule(t, what, b, uint64(len(b)), rule)
}

func TestRejectsPaddingNonZero(t *testing.T) {
	for _, o := range []*fixtureObject{storedObject(t), emptyObject(t), symlinkObject(t)} {
		for i := 0; i < 4; i++ {
			for _, v := range []byte{0x01, 0xff} {
				ve := want(t, fmt.Sprintf("padding byte %d = %#x", i, v), withPadding(o, i, v), RulePadding)
				if i == 2 && v == 1 && ve != nil {
					msg := fmt.Errorf("object %s.filez: %w", o.name, ve).Error()
					if !strings.Contains(msg, ".filez: header padding byte 2 is 0x01, must be 0") {
						t.Errorf("message %q", msg)
					}
				}
			}
		}
	}
}

func TestRejectsSizeFieldMismatch(t *testing.T) {
	o := storedObject(t)
	for _, size := range []uint64{o.size + 1, o.size - 1, 0, 1 << 62, math.MaxUint64} {
		want(t, fmt.Sprintf("size %d for %d bytes", size, o.size), withSize(o, size), RuleSize)
	}
	h := huffmanObject(t)
	for _, size := range []uint64{h.size + 1, h.size - 1} {
		want(t, fmt.Sprintf("size %d for %d compressed bytes", size, h.size), withSize(h, size), RuleSize)
	}
	e := emptyObject(t)
	for _, size := range []uint64{1, 1 << 40} {
		want(t, fmt.Sprintf("size %d for an empty file", size), withSize(e, size), RuleSize)
	}
	want(t, "symlink with size 3", withSize(symlinkObject(t), 3), RuleSize)
}

func TestRejectsRegularFileSymlinkTarget(t *testing.T) {
	for _, o := range []*fixtureObject{storedObject(t), emptyObject(t)} {
		for _, target := range []string{"x", "../../etc/passwd"} {
			want(t, "regular file with target "+target, withTarget(o, target), RuleSymlinkTarget)
		}
	}
	want(t, "symlink with an empty target", withTarget(symlinkObject(t), ""), RuleSymlinkTarget)
}

func TestRejectsTrailingAfterDeflate(t *testing.T) {
	for _, o := range []*fixtureObject{storedObject(t), huffmanObject(t), emptyObject(t)} {
		for _, extra := range [][]byte{{0}, []byte("junk"), {3, 0}, bytes.Repeat([]byte{0}, 4096)} {
			want(t, fmt.Sprintf("%d bytes after %d-byte deflate stream", len(extra), len(o.payload())),
				append(bytes.Clone(o.data), extra...), RuleTrailingData)
		}
	}
	s := symlinkObject(t)
	for _, extra := range [][]byte{{0}, {3, 0}} {
		want(t, fmt.Sprintf("symlink followed by %x", extra), append(bytes.Clone(s.data), extra...), RuleSymlinkContent)
	}
}

func TestRejectsHeaderLength(t *testing.T) {
	o := storedObject(t)
	for _, n := range []uint32{0, 1, 25, MaxHeaderSize + 1, math.MaxUint32, uint32(len(o.data) - 8 + 1)} {
		want(t, fmt.Sprintf("header length %d", n), withHeaderLength(o, n), RuleHeaderLength)
	}
	want(t, "object shorter than prefix and header", o.data[:20], RuleHeaderLength)
	want(t, "empty object", nil, RuleHeaderLength)
}

func TestRejectsTruncated(t *testing.T) {
	o := storedObject(t)
	n := uint64(len(o.data))
	cutHeader := o.data[:8+10]
	want(t, "cut within the header, length of what is left", cutHeader, RuleHeaderLength)
	checkRule(t, "cut within the header, original length", bytes.NewReader(cutHeader), n, RuleTruncated)
	checkRule(t, "cut within the prefix, original length", bytes.NewReader(o.data[:5]), n, RuleTruncated)
	checkRule(t, "cut within the deflate stream, original length", bytes.NewReader(o.data[:n/2]), n, RuleTruncated)
	checkRule(t, "all but the last byte, original length", bytes.NewReader(o.data[:n-1]), n, RuleTruncated)
}

func TestRejectsHeaderNotNormalForm(t *testing.T) {
	// A non-minimal framing offset size: a 255-byte header written with a
	// 2-byte offset (256 bytes), which frames the same fields.
	o := pick(t, "symlink with a 229-byte target", func(o *fixtureObject) bool {
		return o.h.IsSymlink() && len(o.h.SymlinkTarget) == 229 && len(o.h.Xattrs) == 0
	})
	hdr := o.header()
	if len(hdr) != 255 || hdr[254] != 254 {
		t.Fatalf("header of %d bytes ending %x", len(hdr), hdr[len(hdr)-1])
	}
	wide := append(bytes.Clone(hdr[:254]), 254, 0)
	ve := want(t, "2-byte framing offset in a 256-byte header", join(wide, nil), RuleHeaderNormalForm)
	if ve != nil && !strings.Contains(ve.Detail, "255-byte canonical") {
		t.Errorf("detail %q", ve.Detail)
	}

	// The symlink target's framing offset moved: GLib would read the
	// target as "" (not NUL-terminated: default value) and the rest as
	// xattrs.
	s := symlinkObject(t)
	for _, d := range []int{-1, -2, +1} {
		h := bytes.Clone(s.header())
		h[len(h)-1] = byte(int(h[len(h)-1]) + d)
		want(t, fmt.Sprintf("target framing offset %+d", d), join(h, nil), RuleHeaderNormalForm)
	}
	// The header takes a byte more than it should: an extra byte before
	// the framing offset.
	r := storedObject(t)
	h := r.header()
	ext := append(append(bytes.Clone(h[:len(h)-1]), 0), h[len(h)-1])
	want(t, "an extra byte in the header", join(ext, r.payload()), RuleHeaderNormalForm)
	want(t, "header length one more, taking a byte of the deflate stream",
		withHeaderLength(r, uint32(len(h)+1)), RuleHeaderNormalForm)
	want(t, "target not UTF-8", withTarget(s, "../\xff\xfe"), RuleHeaderNormalForm)
	want(t, "NUL inside the target", withTarget(s, "a\x00b"), RuleHeaderNormalForm)

	if !getFixture(t).xattrs {
		t.Log("no xattr objects: skipping the xattr framing cases")
		return
	}
	x := pick(t, "object with several xattrs", func(o *fixtureObject) bool { return len(o.h.Xattrs) > 2 })
	xh := x.header()
	// The last byte of the array before the tuple's framing offset is the
	// array's last framing offset.
	h = bytes.Clone(xh)
	h[len(h)-2]--
	want(t, "xattr array framing offset -1", join(h, x.payload()), RuleHeaderNormalForm)
	// One more happens to frame a well-formed array, but of other
	// xattrs, the first with a name that lost its NUL.
	h = bytes.Clone(xh)
	h[len(h)-2]++
	want(t, "xattr array framing offset +1", join(h, x.payload()), RuleXattrName)
}

// Moving the name/value boundary of an xattr still gives a well-formed
// GVariant, but its name loses its NUL.
func TestRejectsXattrName(t *testing.T) {
	o := storedObject(t)
	for _, name := range []string{"user.test", "", "\x00", "user\x00.test\x00"} {
		want(t, fmt.Sprintf("xattr name %q", name), withHeader(o, func(h *FileHeader) {
			h.Xattrs = []Xattr{{Name: []byte(name), Value: []byte("v")}}
		}), RuleXattrName)
	}
	if !getFixture(t).xattrs {
		return
	}
	x := pick(t, "object with one short xattr", func(o *fixtureObject) bool {
		return len(o.h.Xattrs) == 1 && len(o.h.Xattrs[0].Name)+len(o.h.Xattrs[0].Value) < 200
	})
	h := bytes.Clone(x.header())
	// Layout: ... target NUL | name value nameEnd | arrayEnd | targetEnd.
	h[len(h)-3]--
	want(t, "xattr name/value boundary moved", join(h, x.payload()), RuleXattrName)
}

func TestRejectsRdev(t *testing.T) {
	for _, o := range []*fixtureObject{storedObject(t), symlinkObject(t)} {
		for _, rdev := range []uint32{1, 0x0801} {
			want(t, fmt.Sprintf("rdev %#x", rdev), withHeader(o, func(h *FileHeader) { h.Rdev = rdev }), RuleRdev)
		}
	}
}

func TestRejectsMode(t *testing.T) {
	o := emptyObject(t)
	for _, mode := range []uint32{0o40755, 0o10644, 0o20644, 0o60644, 0o140755, 0o644, 0o170644,
		0o200000 | 0o100644, 0x80000000 | 0o100644} {
		want(t, fmt.Sprintf("mode 0%o", mode), withHeader(o, func(h *FileHeader) { h.Mode = mode }), RuleMode)
	}
}

func TestRejectsSymlinkContent(t *testing.T) {
	s := symlinkObject(t)
	want(t, "symlink with an empty deflate stream", append(bytes.Clone(s.data), 3, 0), RuleSymlinkContent)
	want(t, "symlink with a byte of content", append(bytes.Clone(s.data), 'x'), RuleSymlinkContent)
	// A symlink header on a regular file's deflate stream.
	r := storedObject(t)
	want(t, "symlink header with a deflate stream", join(s.header(), r.payload()), RuleSymlinkContent)
}

func TestRejectsMissingDeflate(t *testing.T) {
	e := emptyObject(t)
	want(t, "empty file without its deflate stream", join(e.header(), nil), RuleDeflate)
}

func TestRejectsCorruptDeflate(t *testing.T) {
	for _, o := range []*fixtureObject{storedObject(t), huffmanObject(t)} {
		b := bytes.Clone(o.data)
		b[8+len(o.header())] |= 6 // BTYPE 11: reserved
		want(t, "reserved deflate block type", b, RuleDeflate)
	}
	s := storedObject(t)
	b := bytes.Clone(s.data)
	b[8+len(s.header())+3] ^= 0xff // NLEN no longer the complement of LEN
	want(t, "stored block length check", b, RuleDeflate)

	// Flipping any byte of a compressed stream never yields the original
	// name unless the content is the same (deflate ignores some bits: the
	// 5 bits after a stored block's header, the bits after the final
	// block); count what catches it.
	rules := map[string]int{}
	for _, o := range []*fixtureObject{huffmanObject(t), storedObject(t), emptyObject(t)} {
		content, err := io.ReadAll(flateReader(o.payload()))
		if err != nil {
			t.Fatal(err)
		}
		start := 8 + len(o.header())
		step := max(1, (len(o.data)-start)/400)
		for i := start; i < len(o.data); i += step {
			b := bytes.Clone(o.data)
			b[i] ^= 0x10
			sum, err := ValidateFilez(bytes.NewReader(b), uint64(len(b)))
			var ve *ValidationError
			switch {
			case err == nil && sum.String() == o.name:
				if got, _ := io.ReadAll(flateReader(b[start:])); !bytes.Equal(got, content) {
					t.Fatalf("%s: flipping byte %d changes the content but not the name", o.name, i)
				}
				rules["same content, same name"]++
			case err == nil:
				rules["different checksum"]++
			case errors.As(err, &ve):
				rules[ve.Rule]++
			default:
				t.Fatalf("%s: flipping byte %d: %v", o.name, i, err)
			}
		}
	}
	t.Logf("single flipped bytes caught by: %v", rules)
}

func TestRejectsTruncatedDeflate(t *testing.T) {
	for _, o := range []*fixtureObject{storedObject(t), huffmanObject(t), emptyObject(t)} {
		for _, cut := range []int{1, 2} {
			want(t, fmt.Sprintf("deflate stream of %d bytes without its last %d", len(o.payload()), cut),
				o.data[:len(o.data)-cut], RuleDeflate)
		}
		want(t, "half a deflate stream", o.data[:8+len(o.header())+len(o.payload())/2], RuleDeflate)
	}
}

// A changed byte of a stored block still inflates: ValidateFilez returns
// the checksum of what it holds, which the caller finds differs from the
// name it was sent under.
func TestFlippedContentByteChangesChecksum(t *testing.T) {
	o := storedObject(t)
	b := bytes.Clone(o.data)
	start := 8 + len(o.header())
	b[start+5+100] ^= 0x55 // after the 5-byte stored block header
	sum, err := ValidateFilez(bytes.NewReader(b), uint64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if sum.String() == o.name {
		t.Fatal("a changed content byte gives the original name")
	}
	// It is the name of the changed content.
	orig, err := io.ReadAll(flateReader(o.payload()))
	if err != nil {
		t.Fatal(err)
	}
	orig[100] ^= 0x55
	if want, _ := Checksum(o.h, bytes.NewReader(orig)); sum != want {
		t.Errorf("checksum %s, want %s", sum, want)
	}
}

func TestOtherObjectReturnsItsName(t *testing.T) {
	a, b := storedObject(t), huffmanObject(t)
	sum, err := ValidateFilez(bytes.NewReader(b.data), uint64(len(b.data)))
	if err != nil || sum.String() != b.name || sum.String() == a.name {
		t.Fatalf("got %s, %v; want %s", sum, err, b.name)
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// An error of the reader is passed on as it is, not as a rule.
func TestReaderError(t *testing.T) {
	o := huffmanObject(t)
	boom := errors.New("connection reset")
	for _, n := range []int{0, 4, 8 + len(o.header()), len(o.data) / 2} {
		_, err := ValidateFilez(&failingReader{o.data[:n], boom}, uint64(len(o.data)))
		var ve *ValidationError
		if !errors.Is(err, boom) || errors.As(err, &ve) {
			t.Errorf("error after %d bytes: %v", n, err)
		}
	}
}

func TestParseContentStreamRejects(t *testing.T) {
	o := storedObject(t)
	content, err := io.ReadAll(flateReader(o.payload()))
	if err != nil {
		t.Fatal(err)
	}
	stream := append(o.h.ContentStreamHeader(), content...)
	parse := func(what string, b []byte, length uint64, rule string) {
		t.Helper()
		_, _, err := ParseContentStream(bytes.NewReader(b), length)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Rule != rule {
			t.Errorf("%s: %v, want rule %s", what, err, rule)
		}
	}
	b := bytes.Clone(stream)
	b[7] = 1
	parse("padding", b, uint64(len(b)), RulePadding)
	parse("short", stream[:10], 10, RuleHeaderLength)
	parse("truncated header", stream[:12], uint64(len(stream)), RuleTruncated)
	h := *o.h
	h.SymlinkTarget = "x"
	b = append(h.ContentStreamHeader(), content...)
	parse("regular file with a target", b, uint64(len(b)), RuleSymlinkTarget)
	h = *symlinkObject(t).h
	b = append(h.ContentStreamHeader(), 'x')
	parse("symlink with content", b, uint64(len(b)), RuleSymlinkContent)
	b = o.h.Marshal()
	b[len(b)-1]++ // the target's framing offset
	parse("framing offset", append(prefixed(b), content...), uint64(len(stream)), RuleHeaderNormalForm)

	// Content shorter than the length given.
	_, r, err := ParseContentStream(bytes.NewReader(stream[:len(stream)-1]), uint64(len(stream)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); err != io.ErrUnexpectedEOF {
		t.Errorf("short content: %v", err)
	}
}
