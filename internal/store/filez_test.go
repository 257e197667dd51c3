package store

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/ostreefile"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && libostree.Live() != 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d libostree wrappers left open\n", libostree.Live())
		code = 1
	}
	os.Exit(code)
}

// corrupting is a source whose objects can be altered on the way out.
type corrupting struct {
	*Repo
	filez map[object.Checksum]func([]byte) []byte // by file object
	meta  map[object.Name]func([]byte) []byte     // by metadata object
	as    map[object.Checksum]object.Checksum     // send another object's bytes
}

func (c *corrupting) OpenFilez(sum object.Checksum) (io.ReadCloser, uint64, error) {
	src := sum
	if other, ok := c.as[sum]; ok {
		src = other
	}
	rc, _, err := c.Repo.OpenFilez(src)
	if err != nil {
		return nil, 0, err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, 0, err
	}
	if f, ok := c.filez[sum]; ok {
		data = f(bytes.Clone(data))
	}
	return io.NopCloser(bytes.NewReader(data)), uint64(len(data)), nil
}

func (c *corrupting) ReadMetadata(n object.Name) ([]byte, error) {
	data, err := c.Repo.ReadMetadata(n)
	if f, ok := c.meta[n]; ok && err == nil {
		data = f(bytes.Clone(data))
	}
	return data, err
}

// push runs a push from src into the repository at dest, in process over
// pipes, and returns both sides' errors.
func push(t *testing.T, src transfer.Source, dest string) (pushErr, recvErr error) {
	t.Helper()
	d, err := Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c2s, s2c := newPipe(), newPipe()
	done := make(chan error, 1)
	go func() {
		_, err := transfer.Receive(c2s.r, s2c.w, d, transfer.ReceiveOptions{})
		s2c.w.Close()
		c2s.r.CloseWithError(errors.New("receiver done"))
		done <- err
	}()
	_, pushErr = transfer.Push(s2c.r, c2s.w, src, transfer.PushOptions{Specs: []transfer.PushSpec{{Src: "main", Dst: wire.RefName{Name: "main"}}}})
	c2s.w.Close()
	s2c.r.CloseWithError(errors.New("client done"))
	select {
	case recvErr = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("receiver hung")
	}
	return pushErr, recvErr
}

type pipe struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func newPipe() pipe { r, w := io.Pipe(); return pipe{r, w} }

// objects of a generated commit, classified.
type fixture struct {
	src                  string
	commit               object.Checksum
	regular, empty, link object.Checksum
	other                object.Checksum // another regular file
	tree, meta           object.Name
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	testrepo.RequireTools(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 60, Seed: 3})
	os.WriteFile(filepath.Join(tree, "empty"), nil, 0o644)
	os.WriteFile(filepath.Join(tree, "text"), bytes.Repeat([]byte("compressible text\n"), 500), 0o644)
	os.WriteFile(filepath.Join(tree, "text2"), bytes.Repeat([]byte("other text\n"), 300), 0o644)
	os.Symlink("text", filepath.Join(tree, "link"))
	f := &fixture{src: filepath.Join(dir, "src")}
	testrepo.Init(t, f.src, "archive")
	f.commit = object.MustParseChecksum(testrepo.Commit(t, f.src, "main", tree, "fixture"))
	byPath := map[string]object.Checksum{}
	out := testrepo.Ostree(t, "ls", "--repo="+f.src, "-C", "main", "/")
	for _, line := range strings.Split(out, "\n") {
		fl := strings.Fields(line)
		if len(fl) >= 6 && fl[0][0] != 'd' {
			byPath[fl[len(fl)-1]] = object.MustParseChecksum(fl[4])
			if fl[0][0] == 'l' { // "/link -> text"
				byPath["/link"] = object.MustParseChecksum(fl[4])
			}
		}
	}
	f.regular, f.empty, f.link, f.other = byPath["/text"], byPath["/empty"], byPath["/link"], byPath["/text2"]
	r, err := libostree.Open(f.src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, _ := r.LoadCommit(f.commit)
	f.tree = object.Name{Checksum: c.RootTree, Type: object.DirTree}
	f.meta = object.Name{Checksum: c.RootMeta, Type: object.DirMeta}
	if f.regular.IsZero() || f.empty.IsZero() || f.link.IsZero() || f.other.IsZero() {
		t.Fatalf("fixture lacks an object: %+v\n%s", f, out)
	}
	return f
}

// rebuild replaces a .filez's header, keeping its deflate stream.
func rebuild(t *testing.T, filez []byte, edit func(h *ostreefile.FileHeader, size *uint64)) []byte {
	t.Helper()
	hlen := binary.BigEndian.Uint32(filez[:4])
	h, size, err := ostreefile.ParseArchiveHeader(filez[8 : 8+hlen])
	if err != nil {
		t.Fatal(err)
	}
	edit(h, &size)
	hdr := h.MarshalArchive(size)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(hdr)))
	out = append(out, 0, 0, 0, 0)
	out = append(out, hdr...)
	return append(out, filez[8+hlen:]...)
}

// TestCorruptionSuite: every injected fault in a .filez (or a metadata
// object) is rejected by the receiver, naming the object, and the
// destination's objects/ and refs are unchanged and fsck clean.
func TestCorruptionSuite(t *testing.T) {
	f := newFixture(t)
	src, err := Open(f.src)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	hlenOf := func(b []byte) int { return int(binary.BigEndian.Uint32(b[:4])) }
	flipAt := func(at func(b []byte) int) func([]byte) []byte {
		return func(b []byte) []byte { b[at(b)] ^= 0x20; return b }
	}
	type fault = corruptionFault
	faults := []fault{
		// The four cases libostree's own check lets through.
		{name: "PaddingNonZero", obj: f.regular, edit: func(b []byte) []byte { b[5] = 1; return b }, wants: "padding"},
		{name: "SizeFieldOneMore", obj: f.regular, edit: func(b []byte) []byte {
			return rebuild(t, b, func(h *ostreefile.FileHeader, s *uint64) { *s++ })
		}, wants: "size"},
		{name: "SizeFieldOneLess", obj: f.regular, edit: func(b []byte) []byte {
			return rebuild(t, b, func(h *ostreefile.FileHeader, s *uint64) { *s-- })
		}, wants: "size"},
		{name: "SizeFieldHuge", obj: f.regular, edit: func(b []byte) []byte {
			return rebuild(t, b, func(h *ostreefile.FileHeader, s *uint64) { *s = 1 << 56 })
		}, wants: "size"},
		{name: "RegularFileSymlinkTarget", obj: f.regular, edit: func(b []byte) []byte {
			return rebuild(t, b, func(h *ostreefile.FileHeader, s *uint64) { h.SymlinkTarget = "x" })
		}, wants: "symlink-target"},
		{name: "TrailingAfterDeflate", obj: f.regular, edit: func(b []byte) []byte { return append(b, 0) }, wants: "trailing-data"},
		{name: "TrailingGarbageAfterDeflate", obj: f.regular, edit: func(b []byte) []byte { return append(b, "junk"...) }, wants: "trailing-data"},
		{name: "TrailingAfterEmptyFile", obj: f.empty, edit: func(b []byte) []byte { return append(b, 3, 0) }, wants: "trailing-data"},
		// Header.
		{name: "HeaderLengthZero", obj: f.regular, edit: func(b []byte) []byte { binary.BigEndian.PutUint32(b, 0); return b }, wants: "header-length"},
		{name: "HeaderLengthBeyondObject", obj: f.regular, edit: func(b []byte) []byte { binary.BigEndian.PutUint32(b, uint32(len(b))); return b }, wants: "header-length"},
		{name: "HeaderNotNormalForm", obj: f.regular, edit: func(b []byte) []byte { b[8+hlenOf(b)-1] ^= 0x01; return b }, wants: "header"},
		{name: "Rdev", obj: f.regular, edit: func(b []byte) []byte {
			return rebuild(t, b, func(h *ostreefile.FileHeader, s *uint64) { h.Rdev = 1 })
		}, wants: "rdev"},
		{name: "ModeDirectory", obj: f.regular, edit: func(b []byte) []byte {
			return rebuild(t, b, func(h *ostreefile.FileHeader, s *uint64) { h.Mode = 0o40755 })
		}, wants: "mode"},
		{name: "ModeFifo", obj: f.regular, edit: func(b []byte) []byte {
			return rebuild(t, b, func(h *ostreefile.FileHeader, s *uint64) { h.Mode = 0o10644 })
		}, wants: "mode"},
		{name: "ModeChanged", obj: f.regular, edit: func(b []byte) []byte {
			return rebuild(t, b, func(h *ostreefile.FileHeader, s *uint64) { h.Mode ^= 0o100 })
		}, wants: "hashes to"},
		{name: "UIDChanged", obj: f.regular, edit: func(b []byte) []byte {
			return rebuild(t, b, func(h *ostreefile.FileHeader, s *uint64) { h.UID = 1000 })
		}, wants: "hashes to"},
		// Symlink field.
		{name: "SymlinkTargetChanged", obj: f.link, edit: func(b []byte) []byte {
			return rebuild(t, b, func(h *ostreefile.FileHeader, s *uint64) { h.SymlinkTarget = "elsewhere" })
		}, wants: "hashes to"},
		{name: "SymlinkTargetEmpty", obj: f.link, edit: func(b []byte) []byte {
			return rebuild(t, b, func(h *ostreefile.FileHeader, s *uint64) { h.SymlinkTarget = "" })
		}, wants: "symlink-target"},
		{name: "SymlinkWithContent", obj: f.link, edit: func(b []byte) []byte { return append(b, 3, 0) }, wants: "symlink"},
		// Deflate stream.
		{name: "DeflateByteFlipped", obj: f.regular, edit: flipAt(func(b []byte) int { return 8 + hlenOf(b) + (len(b)-8-hlenOf(b))/2 }), wants: ""},
		{name: "DeflateTruncated", obj: f.regular, edit: func(b []byte) []byte { return b[:len(b)-3] }, wants: "deflate"},
		{name: "DeflateMissing", obj: f.regular, edit: func(b []byte) []byte { return b[:8+hlenOf(b)] }, wants: "deflate"},
		// Checksum name.
		{name: "AnotherObjectsBytes", obj: f.regular, as: f.other, wants: "hashes to"},
		// Metadata objects (full libostree verification).
		{name: "DirTreeFlipped", meta: &f.tree, edit: flipAt(func(b []byte) int { return len(b) - 1 }), wants: ""},
		{name: "DirMetaFlipped", meta: &f.meta, edit: flipAt(func(b []byte) int { return 0 }), wants: ""},
		{name: "CommitFlipped", meta: &object.Name{Checksum: f.commit, Type: object.Commit}, edit: flipAt(func(b []byte) int { return len(b) / 2 }), wants: ""},
	}
	for _, mode := range []string{"archive", "bare-user"} {
		for _, fl := range faults {
			corruptionCase(t, src, mode, fl)
		}
	}
	if len(faults) < 20 {
		t.Fatalf("only %d faults", len(faults))
	}
}

// corruptionFault is one fault of TestCorruptionSuite: an edit of a file
// object's .filez or of a metadata object, or another object's bytes sent
// under a file object's name, and what the error must mention.
type corruptionFault struct {
	name  string
	obj   object.Checksum
	edit  func([]byte) []byte
	meta  *object.Name
	as    object.Checksum
	wants string
}

// corruptionCase pushes with one fault into a fresh repository of the mode
// (archive stores .filez as they are; bare-user writes their content).
func corruptionCase(t *testing.T, src *Repo, mode string, fl corruptionFault) {
	t.Run(mode+"/"+fl.name, func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "dest")
		testrepo.Init(t, dest, mode)
		before := testrepo.ObjectFiles(t, dest)
		c := &corrupting{Repo: src, filez: map[object.Checksum]func([]byte) []byte{},
			meta: map[object.Name]func([]byte) []byte{}, as: map[object.Checksum]object.Checksum{}}
		switch {
		case fl.meta != nil:
			c.meta[*fl.meta] = fl.edit
		case !fl.as.IsZero():
			c.as[fl.obj] = fl.as
		default:
			c.filez[fl.obj] = fl.edit
		}
		pushErr, recvErr := push(t, c, dest)
		if recvErr == nil || pushErr == nil {
			t.Fatalf("accepted: push %v, receive %v", pushErr, recvErr)
		}
		if fl.meta == nil && !strings.Contains(recvErr.Error(), fl.obj.String()) {
			t.Errorf("error does not name the object: %v", recvErr)
		}
		if !strings.Contains(recvErr.Error(), fl.wants) {
			t.Errorf("error %v, want it to mention %q", recvErr, fl.wants)
		}
		var remote *wire.RemoteError
		if !errors.As(pushErr, &remote) {
			t.Errorf("the client got %v, not the receiver's ERROR", pushErr)
		}
		if after := testrepo.ObjectFiles(t, dest); !reflect.DeepEqual(before, after) {
			t.Fatalf("objects/ changed: %v", after)
		}
		if refs := testrepo.Ostree(t, "refs", "--repo="+dest); refs != "" {
			t.Fatalf("refs: %q", refs)
		}
		testrepo.Fsck(t, dest)
		if leftover, _ := filepath.Glob(filepath.Join(dest, "tmp", "staging-*", stagedTempPrefix+"*")); len(leftover) != 0 {
			t.Fatalf("temporary files left behind: %v", leftover)
		}
	})
}

// TestArchiveFilezPath: a push between archive repositories moves the
// .filez bytes as they are, and fsck and the ostree CLI agree.
func TestArchiveFilezPath(t *testing.T) {
	f := newFixture(t)
	src, err := Open(f.src)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dest := filepath.Join(t.TempDir(), "dest")
	testrepo.Init(t, dest, "archive")
	if pushErr, recvErr := push(t, src, dest); pushErr != nil || recvErr != nil {
		t.Fatalf("push %v, receive %v", pushErr, recvErr)
	}
	testrepo.Fsck(t, dest)
	if got := testrepo.RevParse(t, dest, "main"); got != f.commit.String() {
		t.Fatalf("rev-parse %q", got)
	}
	for _, c := range []object.Checksum{f.regular, f.empty, f.link} {
		rel := filepath.Join("objects", c.String()[:2], c.String()[2:]+".filez")
		a, _ := os.ReadFile(filepath.Join(f.src, rel))
		b, err := os.ReadFile(filepath.Join(dest, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s differs from the source's (%v)", rel, err)
		}
	}
	if leftover, _ := filepath.Glob(filepath.Join(dest, "tmp", "staging-*", stagedTempPrefix+"*")); len(leftover) != 0 {
		t.Fatalf("temporary files left behind: %v", leftover)
	}
}

// TestCompressFilez: a bare-user repository's file objects, deflated into
// .filez, validate strictly and hash to their names; a symlink's has no
// deflate stream; over the limit, none is made.
func TestCompressFilez(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 60, Seed: 5})
	if err := os.Symlink("target", filepath.Join(tree, "a-link")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "repo")
	testrepo.Init(t, path, "bare-user")
	c := testrepo.Commit(t, path, "main", tree, "x")
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	commit, err := object.ParseChecksum(c)
	if err != nil {
		t.Fatal(err)
	}
	names, err := r.Reachable([]object.Checksum{commit})
	if err != nil {
		t.Fatal(err)
	}
	files, made := 0, 0
	for _, n := range names {
		if n.Type != object.File {
			continue
		}
		files++
		data, ok, err := r.CompressFilez(n.Checksum, 1<<30)
		if err != nil || !ok {
			t.Fatalf("%s: %v, ok %v", n, err, ok)
		}
		sum, err := ostreefile.ValidateFilez(bytes.NewReader(data), uint64(len(data)))
		if err != nil || sum != n.Checksum {
			t.Fatalf("%s: validates as %s, %v", n, sum, err)
		}
		// With no room, only what has no content (a symlink, an empty
		// file) is made.
		if _, ok, err := r.CompressFilez(n.Checksum, 0); err != nil {
			t.Fatal(err)
		} else if ok {
			made++
		}
	}
	if made == 0 || made > files/4 {
		t.Errorf("with a limit of 0 bytes, %d of %d made", made, files)
	}
	if files < 50 {
		t.Fatalf("only %d file objects", files)
	}
}

// failingReader yields n bytes of r, then fails.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection lost")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// TestStagedFilez: a .filez is written into the transaction's staging
// directory under its name only when it is whole and valid. A write cut
// short, or of bytes that break a rule or hash to another name, leaves no
// object under that name and no temporary file, for a large object
// (validated as it is written) and a small one (validated first), in
// archive and bare-user repositories; what is written is there for the
// completeness check (HasObjects) and lands in objects/ at the commit.
func TestStagedFilez(t *testing.T) {
	testrepo.RequireTools(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(tree, 0o755)
	big := make([]byte, 3<<20) // incompressible: a .filez over inlineObjectMax
	for i := range big {
		big[i] = byte(i*7919 + i>>9*31)
	}
	for i := 0; i < len(big); i += 8 {
		binary.LittleEndian.PutUint64(big[i:], uint64(i)*0x9e3779b97f4a7c15)
	}
	os.WriteFile(filepath.Join(tree, "big"), big, 0o644)
	os.WriteFile(filepath.Join(tree, "small"), bytes.Repeat([]byte("small file\n"), 40), 0o644)
	src := filepath.Join(dir, "src")
	testrepo.Init(t, src, "archive")
	testrepo.Commit(t, src, "main", tree, "x")
	sums := map[string]object.Checksum{}
	for _, line := range strings.Split(testrepo.Ostree(t, "ls", "--repo="+src, "-C", "main", "/"), "\n") {
		if fl := strings.Fields(line); len(fl) >= 6 && fl[0][0] == '-' {
			sums[fl[len(fl)-1]] = object.MustParseChecksum(fl[4])
		}
	}
	filez := map[string][]byte{}
	for _, name := range []string{"/big", "/small"} {
		hex := sums[name].String()
		b, err := os.ReadFile(filepath.Join(src, "objects", hex[:2], hex[2:]+".filez"))
		if err != nil {
			t.Fatal(err)
		}
		filez[name] = b
	}
	if len(filez["/big"]) <= 1<<20 {
		t.Fatalf("big .filez is %d bytes", len(filez["/big"]))
	}
	for _, mode := range []string{"archive", "bare-user"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dest")
			testrepo.Init(t, path, mode)
			r, txn := beginAt(t, path)
			staging := txn.t.StagingDir()
			has := func(c object.Checksum) bool {
				t.Helper()
				got, err := txn.HasObjects([]object.Name{{Checksum: c, Type: object.File}})
				if err != nil {
					t.Fatal(err)
				}
				return got[0]
			}
			flipped := func(b []byte) []byte {
				b = bytes.Clone(b)
				b[len(b)-3] ^= 0x55
				return b
			}
			bigSum, smallSum := sums["/big"], sums["/small"]
			bigLen := uint64(len(filez["/big"]))
			// Each write fails, and leaves nothing under the name it was
			// sent as (libostree's streamed write into a bare-user
			// repository may stage what it read under its true name, so
			// the small object's cases come first).
			for _, fail := range []struct {
				name  string
				as    object.Checksum
				write func() error
			}{
				{"small corrupt", smallSum, func() error { return txn.WriteFilezBytes(smallSum, flipped(filez["/small"])) }},
				{"small under another name", bigSum, func() error { return txn.WriteFilezBytes(bigSum, filez["/small"]) }},
				{"big cut short", bigSum, func() error {
					return txn.WriteFilez(bigSum, &failingReader{r: bytes.NewReader(filez["/big"]), n: 2 << 20}, bigLen)
				}},
				{"big corrupt", bigSum, func() error {
					return txn.WriteFilez(bigSum, bytes.NewReader(flipped(filez["/big"])), bigLen)
				}},
				{"big under another name", smallSum, func() error {
					return txn.WriteFilez(smallSum, bytes.NewReader(filez["/big"]), bigLen)
				}},
			} {
				if err := fail.write(); err == nil {
					t.Errorf("%s: accepted", fail.name)
				}
				if has(fail.as) {
					t.Errorf("%s: object %s is there", fail.name, fail.as)
				}
				if tmp, _ := filepath.Glob(filepath.Join(staging, stagedTempPrefix+"*")); len(tmp) != 0 {
					t.Errorf("%s: temporary files left: %v", fail.name, tmp)
				}
			}
			if err := txn.WriteFilez(bigSum, bytes.NewReader(filez["/big"]), uint64(len(filez["/big"]))); err != nil {
				t.Fatal(err)
			}
			if err := txn.WriteFilezBytes(smallSum, filez["/small"]); err != nil {
				t.Fatal(err)
			}
			for _, c := range sums {
				if !has(c) {
					t.Errorf("object %s staged but not seen", c)
				}
			}
			if mode == "archive" {
				hex := bigSum.String()
				fi, err := os.Stat(filepath.Join(staging, hex[:2], hex[2:]+".filez"))
				if err != nil || fi.Mode().Perm() != 0o644 {
					t.Fatalf("staged .filez: %v, %v", fi, err)
				}
			}
			if tmp, _ := filepath.Glob(filepath.Join(staging, stagedTempPrefix+"*")); len(tmp) != 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
			if err := txn.Commit(); err != nil {
				t.Fatal(err)
			}
			for name, c := range sums {
				hex := c.String()
				ext := ".file"
				if mode == "archive" {
					ext = ".filez"
				}
				if _, err := os.Stat(filepath.Join(path, "objects", hex[:2], hex[2:]+ext)); err != nil {
					t.Errorf("%s not in objects/: %v", name, err)
				}
				// What landed hashes to its name (read back as a
				// .filez: the stored one, or one made from the
				// bare-user file and its metadata).
				var (
					filez []byte
					err   error
				)
				if mode == "archive" {
					filez, err = os.ReadFile(filepath.Join(path, "objects", hex[:2], hex[2:]+ext))
				} else {
					filez, _, err = r.CompressFilez(c, 1<<30)
				}
				if err != nil {
					t.Fatal(err)
				}
				if sum, err := ostreefile.ValidateFilez(bytes.NewReader(filez), uint64(len(filez))); err != nil || sum != c {
					t.Errorf("%s reads back as %s (%v)", name, sum, err)
				}
			}
		})
	}
}

// deflated is a .filez of a regular file of content, deflated by
// compress/flate at level.
func deflated(t *testing.T, content []byte, level int) ([]byte, object.Checksum) {
	return deflatedWith(t, &ostreefile.FileHeader{Mode: 0o100644}, content, level)
}

// deflatedWith is deflated with the header h.
func deflatedWith(t *testing.T, h *ostreefile.FileHeader, content []byte, level int) ([]byte, object.Checksum) {
	t.Helper()
	sum, err := ostreefile.Checksum(h, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, level)
	w.Write(content)
	w.Close()
	return append(h.FilezHeader(uint64(len(content))), b.Bytes()...), sum
}

// TestFilezNotRestaged: an object the repository has is not written
// again, whatever bytes a client sends for it: valid bytes deflated
// another way (stored, 300 times larger) do not replace the committed
// .filez, which readers may be serving.
func TestFilezNotRestaged(t *testing.T) {
	testrepo.RequireTools(t)
	path := filepath.Join(t.TempDir(), "dest")
	testrepo.Init(t, path, "archive")
	content := bytes.Repeat([]byte("abcdefgh"), 4000)
	small, sum := deflated(t, content, 9)
	stored, _ := deflated(t, content, 0)
	hex := sum.String()
	obj := filepath.Join(path, "objects", hex[:2], hex[2:]+".filez")
	for _, filez := range [][]byte{small, stored} {
		r, tx := beginAt(t, path)
		if err := tx.WriteFilezBytes(sum, filez); err != nil {
			t.Fatal(err)
		}
		// And once more in the same transaction, streamed.
		if err := tx.WriteFilez(sum, bytes.NewReader(filez), uint64(len(filez))); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if got, err := os.ReadFile(obj); err != nil || !bytes.Equal(got, small) {
			t.Fatalf("objects/ holds %d bytes (%v), want the first push's %d", len(got), err, len(small))
		}
	}
}

// TestFilezDeclaredSizeCostsNothing: what a .filez declares its content to
// be does not decide what the receiver allocates before inflating: a
// 36-byte object declaring 4 MiB, refused, costs kilobytes, not 4 MiB.
func TestFilezDeclaredSizeCostsNothing(t *testing.T) {
	testrepo.RequireTools(t)
	path := filepath.Join(t.TempDir(), "dest")
	testrepo.Init(t, path, "bare-user")
	_, tx := beginAt(t, path)
	defer tx.Abort()
	h := &ostreefile.FileHeader{Mode: 0o100644}
	filez := append(h.FilezHeader(4<<20-100), 3, 0) // an empty deflate stream
	var c object.Checksum
	c[0] = 1
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	const n = 20
	for i := 0; i < n; i++ {
		if err := tx.WriteFilezBytes(c, filez); err == nil {
			t.Fatal("accepted")
		}
	}
	runtime.ReadMemStats(&m1)
	if per := (m1.TotalAlloc - m0.TotalAlloc) / n; per > 256<<10 {
		t.Fatalf("a %d-byte .filez cost %d bytes of allocation", len(filez), per)
	}
}

// TestXattrOrderIntoBare: a bare repository stores xattrs as the
// filesystem's, which lists them in its own order, so a file object whose
// header has them out of libostree's canonical (sorted, unique) order
// would be stored under a name it no longer hashes to. Into bare such an
// object is refused (rule xattr-order), as .filez (held whole or streamed)
// and as a content stream; archive and bare-user repositories keep the
// header as it is and take it.
func TestXattrOrderIntoBare(t *testing.T) {
	testrepo.RequireTools(t)
	x := func(name, value string) ostreefile.Xattr {
		return ostreefile.Xattr{Name: []byte(name + "\x00"), Value: []byte(value)}
	}
	for _, bad := range [][]ostreefile.Xattr{
		{x("user.b", "1"), x("user.a", "2")},
		{x("user.a", "1"), x("user.a", "2")},
	} {
		h := &ostreefile.FileHeader{Mode: 0o100644, Xattrs: bad}
		content := bytes.Repeat([]byte("x"), 3000)
		filez, sum := deflatedWith(t, h, content, 6)
		stream := append(h.ContentStreamHeader(), content...)
		for _, mode := range []string{"bare", "archive", "bare-user"} {
			path := filepath.Join(t.TempDir(), "dest")
			testrepo.Init(t, path, mode)
			r, txn := beginAt(t, path)
			for _, w := range []struct {
				how   string
				write func() error
			}{
				{"held", func() error { return txn.WriteFilezBytes(sum, filez) }},
				{"streamed", func() error { return txn.WriteFilez(sum, bytes.NewReader(filez), uint64(len(filez))) }},
				{"content stream", func() error { return txn.WriteContent(sum, bytes.NewReader(stream), uint64(len(stream))) }},
			} {
				err := w.write()
				var verr *ostreefile.ValidationError
				switch {
				case mode != "bare" && err != nil:
					t.Errorf("%s, %s, %q: %v", mode, w.how, bad[0].Name, err)
				case mode == "bare" && (!errors.As(err, &verr) || verr.Rule != ostreefile.RuleXattrOrder):
					t.Errorf("%s, %s, %q: got %v, want rule %s", mode, w.how, bad[0].Name, err, ostreefile.RuleXattrOrder)
				}
			}
			txn.Abort()
			r.Close()
		}
	}
}

// beginAt opens the repository at path and begins a transaction in it;
// the repository is closed when the test ends, if not before.
func beginAt(t *testing.T, path string) (*Repo, *txn) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	tx, err := r.Begin()
	if err != nil {
		t.Fatal(err)
	}
	return r, tx.(*txn)
}
