package libostree_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/ostreefile"
)

// filez builds a .filez: a regular file's archive header and raw deflate
// of content at the given level.
func filez(tb testing.TB, content []byte, level int) []byte {
	tb.Helper()
	h := &ostreefile.FileHeader{Mode: ostreefile.ModeRegular | 0o644}
	var b bytes.Buffer
	b.Write(prefixed(h.MarshalArchive(uint64(len(content)))))
	w, err := flate.NewWriter(&b, level)
	if err != nil {
		tb.Fatal(err)
	}
	w.Write(content)
	w.Close()
	return b.Bytes()
}

// prefixed puts a .filez's 8-byte prefix before its header: the header's
// length (big-endian) and 4 zero bytes.
func prefixed(header []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(header))), append([]byte{0, 0, 0, 0}, header...)...)
}

func inflateSeeds(tb testing.TB) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 40<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("ostree-push verifies every object\n"), 300)
	var seeds [][]byte
	for _, c := range [][]byte{nil, []byte("x"), text, random[:5000], random} {
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.BestCompression} {
			seeds = append(seeds, filez(tb, c, level))
		}
	}
	symlink := prefixed((&ostreefile.FileHeader{Mode: ostreefile.ModeSymlink | 0o777, SymlinkTarget: "target"}).MarshalArchive(0))
	seeds = append(seeds, symlink)
	// Broken ones: cut short, a byte appended, a byte flipped.
	good := filez(tb, text, flate.BestSpeed)
	seeds = append(seeds, good[:len(good)-3], append(bytes.Clone(good), 0), bytes.Clone(good))
	seeds[len(seeds)-1][len(good)/2] ^= 0x55
	return seeds
}

// validateBoth runs ValidateFilez with compress/flate and with zlib.
func validateBoth(tb testing.TB, inf *libostree.Inflater, data []byte) (goErr, zErr error, same bool) {
	tb.Helper()
	gs, goErr := ostreefile.ValidateFilezWith(bytes.NewReader(data), uint64(len(data)), nil)
	zs, zErr := ostreefile.ValidateFilezWith(bytes.NewReader(data), uint64(len(data)), inf)
	return goErr, zErr, (goErr == nil) == (zErr == nil) && (goErr != nil || gs == zs)
}

func rule(err error) string {
	var ve *ostreefile.ValidationError
	if errors.As(err, &ve) {
		return ve.Rule
	}
	return "not a ValidationError: " + err.Error()
}

// TestInflaterAgrees: the zlib path of ValidateFilezWith accepts and
// rejects what the compress/flate path does, with the same checksum and
// the same rule.
func TestInflaterAgrees(t *testing.T) {
	inf, err := libostree.NewInflater()
	if err != nil {
		t.Fatal(err)
	}
	defer inf.Close()
	seeds := inflateSeeds(t)
	valid := 0
	for i, data := range seeds {
		goErr, zErr, same := validateBoth(t, inf, data)
		if goErr == nil && i < len(seeds)-3 {
			valid++
		}
		if !same || (goErr != nil && rule(goErr) != rule(zErr)) {
			t.Errorf("seed %d: compress/flate: %v; zlib: %v", i, goErr, zErr)
		}
	}
	if valid != len(seeds)-3 {
		t.Errorf("%d of the %d good seeds valid", valid, len(seeds)-3)
	}
	// Chunk boundaries: the object read a few bytes at a time.
	data := inflateSeeds(t)[11]
	if _, err := ostreefile.ValidateFilezWith(&slowReader{data: data}, uint64(len(data)), inf); err != nil {
		t.Errorf("read 7 bytes at a time: %v", err)
	}
}

type slowReader struct{ data []byte }

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, errEOF
	}
	n := copy(p[:min(len(p), 7)], s.data)
	s.data = s.data[n:]
	return n, nil
}

// FuzzInflaterAgrees is TestInflaterAgrees on any input.
func FuzzInflaterAgrees(f *testing.F) {
	for _, s := range inflateSeeds(f) {
		f.Add(s)
	}
	inf, err := libostree.NewInflater()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(inf.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		goErr, zErr, same := validateBoth(t, inf, data)
		if !same || (goErr != nil && rule(goErr) != rule(zErr)) {
			t.Fatalf("compress/flate: %v; zlib: %v", goErr, zErr)
		}
	})
}

var errEOF = io.EOF

// TestCompressorFilez: what the Compressor makes, behind an archive
// header, is a .filez that zlib's strict validation accepts, with the
// checksum of its content.
func TestCompressorFilez(t *testing.T) {
	comp, err := libostree.NewCompressor(6)
	if err != nil {
		t.Fatal(err)
	}
	defer comp.Close()
	inf, err := libostree.NewInflater()
	if err != nil {
		t.Fatal(err)
	}
	defer inf.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("ostree-push deflates a bare-user repository's files\n"), 5000)
	for _, content := range [][]byte{nil, []byte("x"), text, random} {
		h := &ostreefile.FileHeader{Mode: ostreefile.ModeRegular | 0o644}
		out := make([]byte, comp.Bound(len(content)))
		n, err := comp.Compress(content, out)
		if err != nil {
			t.Fatal(err)
		}
		data := append(h.FilezHeader(uint64(len(content))), out[:n]...)
		got, err := ostreefile.ValidateFilezWith(bytes.NewReader(data), uint64(len(data)), inf)
		if err != nil {
			t.Fatalf("%d bytes: %v", len(content), err)
		}
		want, err := ostreefile.Checksum(h, bytes.NewReader(content))
		if err != nil || got != want {
			t.Fatalf("%d bytes: checksum %s, want %s (%v)", len(content), got, want, err)
		}
	}
	if _, err := libostree.NewCompressor(0); err == nil {
		t.Error("level 0 accepted")
	}
}
