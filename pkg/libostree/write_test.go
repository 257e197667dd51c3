package libostree_test

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
)

func TestCopyCommit(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	for _, mode := range []libostree.Mode{libostree.ModeArchive, libostree.ModeBareUser} {
		t.Run(string(mode), func(t *testing.T) {
			d := create(t, mode)
			stats := copyCommit(t, s, d, src.commit, func(txn *libostree.Txn) {
				if err := txn.SetRef("test/main", src.commit); err != nil {
					t.Fatal(err)
				}
			})
			if stats.ContentObjectsWritten < 300 || stats.MetadataObjectsWritten < 3 {
				t.Errorf("stats %+v: want >=300 content and >=3 metadata objects written", stats)
			}
			testrepo.Fsck(t, d.Path())
			if got := testrepo.RevParse(t, d.Path(), "test/main"); got != src.commit.String() {
				t.Fatalf("ostree rev-parse on the copy = %q, want %s", got, src.commit)
			}
			// The detached metadata travelled too.
			out := testrepo.Ostree(t, "show", "--repo="+d.Path(), "--print-detached-metadata-key=note", "test/main")
			if !strings.Contains(out, "hello") {
				t.Fatalf("detached metadata on the copy: %q", out)
			}
			// The big file reads back identically (ostree cat is the oracle).
			cat := testrepo.Ostree(t, "cat", "--repo="+d.Path(), "test/main", "/big.bin")
			if len(cat) != 9<<20 {
				t.Fatalf("big.bin on the copy has %d bytes", len(cat))
			}
		})
	}
}

func TestCopyObjectAndImport(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	names, err := reachable(s, src.commit)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mode libostree.Mode
		copy func(*libostree.Txn, object.Name) error
	}{
		{"copy-bare-user", libostree.ModeBareUser, func(txn *libostree.Txn, n object.Name) error { return txn.CopyObject(s, n) }},
		{"import-archive", libostree.ModeArchive, func(txn *libostree.Txn, n object.Name) error {
			if n.Type == object.CommitMeta {
				return txn.CopyObject(s, n)
			}
			return txn.ImportObject(s, n, false)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := create(t, tc.mode)
			txn, _, err := d.PrepareTransaction()
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if err := tc.copy(txn, n); err != nil {
					txn.Abort()
					t.Fatal(err)
				}
			}
			txn.SetRef("test/main", src.commit)
			if _, err := txn.Commit(); err != nil {
				t.Fatal(err)
			}
			testrepo.Fsck(t, d.Path())
			if got := testrepo.RevParse(t, d.Path(), "test/main"); got != src.commit.String() {
				t.Fatalf("rev-parse = %q", got)
			}
		})
	}
}

// contentStream returns the whole content stream of one object.
func contentStream(t *testing.T, r *libostree.Repo, c object.Checksum) []byte {
	t.Helper()
	cr, err := r.OpenContent(c)
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Close()
	data, err := io.ReadAll(cr)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(data)) != cr.Size() {
		t.Fatalf("read %d bytes of a %d-byte stream", len(data), cr.Size())
	}
	return data
}

// pickObjects returns a small regular file's name, the big file's name and
// a dirtree's name from the shared source.
func pickObjects(t *testing.T, s *libostree.Repo, commit object.Checksum) (small, big, tree object.Name) {
	t.Helper()
	names, err := reachable(s, commit)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		switch n.Type {
		case object.File:
			cr, err := s.OpenContent(n.Checksum)
			if err != nil {
				t.Fatal(err)
			}
			size := cr.Size()
			cr.Close()
			if size > 8<<20 {
				big = n
			} else if size > 2000 && small.Type == 0 {
				small = n
			}
		case object.DirTree:
			tree = n
		}
	}
	if small.Type == 0 || big.Type == 0 || tree.Type == 0 {
		t.Fatal("source lacks a small file, the big file or a dirtree")
	}
	return small, big, tree
}

// pickSymlink finds a symlink's content object through ostree ls.
func pickSymlink(t *testing.T, s *libostree.Repo, commit object.Checksum) object.Name {
	t.Helper()
	out := testrepo.Ostree(t, "ls", "--repo="+s.Path(), "-R", "-C", commit.String())
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.HasPrefix(f[0], "l") {
			return object.Name{Checksum: object.MustParseChecksum(f[4]), Type: object.File}
		}
	}
	t.Fatalf("no symlink in ostree ls output:\n%s", out)
	return object.Name{}
}

func TestWriteRejectsCorruption(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	small, big, tree := pickObjects(t, s, src.commit)
	link := pickSymlink(t, s, src.commit)
	linkData := contentStream(t, s, link.Checksum)
	smallData := contentStream(t, s, small.Checksum)
	bigData := contentStream(t, s, big.Checksum)
	treeData, err := s.ReadMetadata(tree)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, at int) []byte {
		c := bytes.Clone(b)
		c[at] ^= 0x40
		return c
	}
	cases := []struct {
		name  string
		write func(*libostree.Txn) error
		want  string
	}{
		{"content byte flipped", func(txn *libostree.Txn) error {
			d := flip(smallData, len(smallData)-10)
			return txn.WriteContent(small.Checksum, bytes.NewReader(d), uint64(len(d)))
		}, "Corrupted file object"},
		{"big content byte flipped (piped)", func(txn *libostree.Txn) error {
			d := flip(bigData, len(bigData)/2)
			return txn.WriteContent(big.Checksum, bytes.NewReader(d), uint64(len(d)))
		}, "Corrupted file object"},
		{"content under another name", func(txn *libostree.Txn) error {
			return txn.WriteContent(big.Checksum, bytes.NewReader(smallData), uint64(len(smallData)))
		}, "Corrupted file object"},
		{"content with trailing bytes", func(txn *libostree.Txn) error {
			d := append(bytes.Clone(smallData), 'x')
			return txn.WriteContent(small.Checksum, bytes.NewReader(d), uint64(len(d)))
		}, "Corrupted file object"},
		{"symlink with data", func(txn *libostree.Txn) error {
			d := append(bytes.Clone(linkData), 'x')
			return txn.WriteContent(link.Checksum, bytes.NewReader(d), uint64(len(d)))
		}, "symlink carries 1 bytes"},
		{"content truncated", func(txn *libostree.Txn) error {
			return txn.WriteContent(small.Checksum, bytes.NewReader(smallData[:len(smallData)-5]), uint64(len(smallData)))
		}, "unexpected EOF"},
		{"content header length too big", func(txn *libostree.Txn) error {
			d := bytes.Clone(smallData)
			d[0], d[1], d[2], d[3] = 0x7f, 0xff, 0xff, 0xff
			return txn.WriteContent(small.Checksum, bytes.NewReader(d), uint64(len(d)))
		}, "does not fit"},
		{"dirtree byte flipped", func(txn *libostree.Txn) error {
			return txn.WriteMetadata(tree, flip(treeData, len(treeData)-3))
		}, "writing"},
		{"dirtree garbage", func(txn *libostree.Txn) error {
			return txn.WriteMetadata(tree, []byte("not a gvariant at all"))
		}, ""},
		{"file sent as metadata", func(txn *libostree.Txn) error {
			return txn.WriteMetadata(small, smallData)
		}, "not a metadata object"},
	}
	for i, tc := range cases {
		d := create(t, libostree.ModeArchive)
		before := testrepo.ObjectFiles(t, d.Path())
		txn, _, err := d.PrepareTransaction()
		if err != nil {
			t.Fatal(err)
		}
		err = tc.write(txn)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("#%d %s: error %v, want one containing %q", i, tc.name, err, tc.want)
		}
		if err := txn.Abort(); err != nil {
			t.Errorf("#%d %s: abort: %v", i, tc.name, err)
		}
		if after := testrepo.ObjectFiles(t, d.Path()); !reflect.DeepEqual(before, after) {
			t.Errorf("#%d %s: objects/ changed: %v -> %v", i, tc.name, before, after)
		}
		testrepo.Fsck(t, d.Path())
	}
}

// TestWriteContentVerifiesWithoutOutCsum is the regression test for the
// libostree 2022.7 behaviour the binding works around: a corrupted stream
// must be refused even though libostree would store it silently when given
// only the expected checksum.
func TestWriteContentVerifiesWithoutOutCsum(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	small, _, _ := pickObjects(t, s, src.commit)
	data := contentStream(t, s, small.Checksum)
	data[len(data)-1] ^= 1
	d := create(t, libostree.ModeBareUser)
	txn, _, err := d.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.WriteContent(small.Checksum, bytes.NewReader(data), uint64(len(data))); err == nil {
		t.Fatal("corrupted content stream accepted")
	}
	if err := txn.SetRef("x", small.Checksum); err != nil {
		t.Fatal(err)
	}
	// Even committing the transaction must not store the bad object.
	if _, err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if have, err := d.HasObject(small); err != nil || have {
		t.Fatalf("corrupted object stored under its claimed name: %v %v", have, err)
	}
}

func TestStagedObjectsInvisibleUntilCommit(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	names, err := reachable(s, src.commit)
	if err != nil {
		t.Fatal(err)
	}
	d := create(t, libostree.ModeArchive)
	txn, resumed, err := d.PrepareTransaction()
	if err != nil || resumed {
		t.Fatalf("prepare: resumed=%v err=%v", resumed, err)
	}
	if _, _, err := d.PrepareTransaction(); err == nil {
		t.Fatal("a second transaction on one repo was allowed")
	}
	for _, n := range names[:50] {
		if err := streamObject(s, txn, n); err != nil {
			t.Fatal(err)
		}
	}
	if files := testrepo.ObjectFiles(t, d.Path()); len(files) != 0 {
		t.Fatalf("objects/ holds %d files before commit: %v", len(files), files[:1])
	}
	have, err := d.HasObjects(names[:50])
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range have {
		if !h && names[i].Type != object.CommitMeta {
			t.Fatalf("staged %s not seen by HasObjects", names[i])
		}
	}
	if _, err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if files := testrepo.ObjectFiles(t, d.Path()); len(files) == 0 {
		t.Fatal("objects/ still empty after commit")
	}
	if _, err := txn.Commit(); err != libostree.ErrTransactionDone {
		t.Fatalf("second Commit: %v", err)
	}
}
