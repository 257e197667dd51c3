package libostree_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/walk"
)

// TestMain fails the run when a wrapper is left open: the leak check.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if n := libostree.Live(); n != 0 {
			fmt.Fprintf(os.Stderr, "FAIL: %d libostree wrappers left open\n", n)
			code = 1
		}
	}
	os.Exit(code)
}

// source is an archive repo with one generated commit, shared by the tests
// that only read it.
type source struct {
	path   string
	commit object.Checksum
}

var (
	sourceOnce sync.Once
	sourceRepo source
	sourceErr  error
)

func sharedSource(t *testing.T) source {
	t.Helper()
	testrepo.RequireTools(t)
	sourceOnce.Do(func() {
		dir, err := os.MkdirTemp("", "libostree-test-src-")
		if err != nil {
			sourceErr = err
			return
		}
		sourceRepo.path = filepath.Join(dir, "repo")
		tree := filepath.Join(dir, "tree")
		// Hundreds of files, nested dirs, symlinks, executables, empty
		// files, and one file over 8 MiB.
		testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 400, Seed: 1, BigFile: 9 << 20})
		testrepo.Init(t, sourceRepo.path, "archive")
		c := testrepo.Commit(t, sourceRepo.path, "test/main", tree, "first")
		testrepo.Ostree(t, "commit", "--repo="+sourceRepo.path, "--branch=test/main", "--subject=second",
			"--tree=dir="+tree, "--add-detached-metadata-string=note=hello", "--timestamp=2024-01-02T00:00:00Z")
		_ = c
		sourceRepo.commit, sourceErr = object.ParseChecksum(testrepo.RevParse(t, sourceRepo.path, "test/main"))
	})
	if sourceErr != nil {
		t.Fatal(sourceErr)
	}
	return sourceRepo
}

func open(t *testing.T, path string) *libostree.Repo {
	t.Helper()
	r, err := libostree.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func create(t *testing.T, mode libostree.Mode) *libostree.Repo {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dest")
	r, err := libostree.Create(path, mode, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestOpenMissing(t *testing.T) {
	_, err := libostree.Open(filepath.Join(t.TempDir(), "nothing"))
	if err == nil {
		t.Fatal("opening a missing repository succeeded")
	}
	var e *libostree.Error
	if !strings.Contains(err.Error(), "opening repository") || !asError(err, &e) || e.Domain == "" {
		t.Fatalf("error %v: want a wrapped *libostree.Error with a domain", err)
	}
}

func asError(err error, target **libostree.Error) bool {
	for err != nil {
		if e, ok := err.(*libostree.Error); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestCreateModes(t *testing.T) {
	testrepo.RequireTools(t)
	for _, mode := range []libostree.Mode{libostree.ModeArchive, libostree.ModeBare, libostree.ModeBareUser, libostree.ModeBareUserOnly} {
		r := create(t, mode)
		if got := r.Mode(); got != mode {
			t.Errorf("created %s, Mode() = %s", mode, got)
		}
		out := testrepo.Ostree(t, "config", "--repo="+r.Path(), "get", "core.mode")
		if strings.TrimSpace(out) != string(mode) && !(mode == libostree.ModeArchive && strings.TrimSpace(out) == "archive-z2") {
			t.Errorf("ostree config says mode %q for %s", out, mode)
		}
	}
	if _, err := libostree.Create(t.TempDir(), "nonsense", nil); err == nil {
		t.Error("created a repository with mode nonsense")
	}
}

func TestCollectionRefs(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	path := filepath.Join(t.TempDir(), "dest")
	r, err := libostree.Create(path, libostree.ModeArchive, &libostree.CreateOptions{CollectionID: "org.example.Os"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.CollectionID(); got != "org.example.Os" {
		t.Fatalf("CollectionID() = %q", got)
	}
	copyCommit(t, s, r, src.commit, func(txn *libostree.Txn) {
		if err := txn.SetCollectionRef("org.example.Os", "os/stable", src.commit); err != nil {
			t.Fatal(err)
		}
		if err := txn.SetCollectionRef("org.example.Mirror", "other", src.commit); err != nil {
			t.Fatal(err)
		}
	})
	refs, err := r.ListCollectionRefs()
	if err != nil {
		t.Fatal(err)
	}
	want := []libostree.Ref{
		{CollectionID: "org.example.Mirror", Name: "other", Commit: src.commit},
		{CollectionID: "org.example.Os", Name: "os/stable", Commit: src.commit},
	}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("ListCollectionRefs() = %+v, want %+v", refs, want)
	}
	plain, err := r.ListRefs("")
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != 1 || plain[0].Name != "os/stable" {
		t.Fatalf("ListRefs() = %+v, want only os/stable (mirrors excluded)", plain)
	}
	if err := (&libostree.Txn{}).SetCollectionRef("not a collection", "x", src.commit); err == nil {
		t.Error("invalid collection id accepted")
	}
}

func TestRefsAndCommit(t *testing.T) {
	src := sharedSource(t)
	r := open(t, src.path)
	c, ok, err := r.ResolveRev("test/main")
	if err != nil || !ok || c != src.commit {
		t.Fatalf("ResolveRev(test/main) = %s, %v, %v; want %s", c, ok, err, src.commit)
	}
	if _, ok, err := r.ResolveRev("no/such/ref"); err != nil || ok {
		t.Fatalf("ResolveRev(no/such/ref) = %v, %v; want not found, no error", ok, err)
	}
	parent, ok, err := r.ResolveRev("test/main^")
	if err != nil || !ok {
		t.Fatalf("ResolveRev(test/main^): %v %v", ok, err)
	}
	refs, err := r.ListRefs("")
	if err != nil || len(refs) != 1 || refs[0].Name != "test/main" || refs[0].Commit != src.commit {
		t.Fatalf("ListRefs() = %+v, %v", refs, err)
	}
	if refs, err := r.ListRefs("test"); err != nil || len(refs) != 1 {
		t.Fatalf("ListRefs(test) = %+v, %v", refs, err)
	}
	if refs, err := r.ListRefs("other"); err != nil || len(refs) != 0 {
		t.Fatalf("ListRefs(other) = %+v, %v", refs, err)
	}

	commit, err := r.LoadCommit(src.commit)
	if err != nil {
		t.Fatal(err)
	}
	if commit.Parent != parent || commit.Subject != "second" || commit.Partial ||
		commit.Timestamp.Format("2006-01-02") != "2024-01-02" {
		t.Fatalf("LoadCommit = %+v; want parent %s, subject second, 2024-01-02", commit, parent)
	}
	// The oracle: ostree ls shows the root's dirtree and dirmeta checksums.
	out := testrepo.Ostree(t, "ls", "--repo="+src.path, "-C", "-d", src.commit.String(), "/")
	if !strings.Contains(out, commit.RootTree.String()) || !strings.Contains(out, commit.RootMeta.String()) {
		t.Fatalf("ostree ls -C -d / = %q; want root tree %s and meta %s", out, commit.RootTree, commit.RootMeta)
	}
	first, err := r.LoadCommit(parent)
	if err != nil || !first.Parent.IsZero() {
		t.Fatalf("first commit: %+v, %v; want no parent", first, err)
	}
	_, err = r.LoadCommit(object.Checksum{1})
	if !libostree.IsNotFound(err) {
		t.Fatalf("LoadCommit(missing) error %v: want not found", err)
	}

	meta, ok, err := r.ReadCommitMeta(src.commit)
	if err != nil || !ok || !bytes.Contains(meta, []byte("hello")) {
		t.Fatalf("ReadCommitMeta = %q, %v, %v", meta, ok, err)
	}
	if _, ok, err := r.ReadCommitMeta(parent); err != nil || ok {
		t.Fatalf("ReadCommitMeta(first) = %v, %v; want none", ok, err)
	}
}

func TestReachable(t *testing.T) {
	src := sharedSource(t)
	r := open(t, src.path)
	names, err := reachable(r, src.commit)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[object.Type]int{}
	seen := map[object.Name]bool{}
	for _, n := range names {
		counts[n.Type]++
		if seen[n] {
			t.Fatalf("%s listed twice", n)
		}
		seen[n] = true
	}
	if counts[object.Commit] != 1 || counts[object.File] < 300 || counts[object.DirTree] < 2 || counts[object.DirMeta] < 1 {
		t.Fatalf("reachable counts %v: want 1 commit, >=300 files, dirtrees, dirmeta", counts)
	}
	// The oracle: every file object is one ostree ls lists.
	out := testrepo.Ostree(t, "ls", "--repo="+src.path, "-R", "-C", src.commit.String())
	for n := range seen {
		if n.Type == object.File && !strings.Contains(out, n.Checksum.String()) {
			t.Fatalf("%s is not in ostree ls -R -C", n)
		}
	}
	parent, _, _ := r.ResolveRev("test/main^")
	both, err := reachable(r, src.commit, parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(both) != len(names)+1 { // same tree: only the parent commit is new
		t.Fatalf("Reachable(both) = %d objects, want %d", len(both), len(names)+1)
	}
}

// copyCommit copies every object reachable from commit from src to dst in
// one transaction through the streaming read and verified write API (what
// the receiver uses), with two writers, lets setRefs stage refs, commits.
func copyCommit(t *testing.T, src, dst *libostree.Repo, commit object.Checksum, setRefs func(*libostree.Txn)) libostree.Stats {
	t.Helper()
	names, err := reachable(src, commit)
	if err != nil {
		t.Fatal(err)
	}
	txn, _, err := dst.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	work := make(chan object.Name)
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if err := streamObject(src, txn, n); err != nil {
					errs <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		txn.Abort()
		t.Fatal(err)
	}
	if err := checkComplete(dst, commit); err != nil {
		t.Fatalf("CheckComplete before commit: %v", err)
	}
	setRefs(txn)
	stats, err := txn.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

func streamObject(src *libostree.Repo, txn *libostree.Txn, n object.Name) error {
	if n.Type == object.File {
		cr, err := src.OpenContent(n.Checksum)
		if err != nil {
			return err
		}
		defer cr.Close()
		return txn.WriteContent(n.Checksum, cr, cr.Size())
	}
	data, err := src.ReadMetadata(n)
	if err != nil {
		return err
	}
	return txn.WriteMetadata(n, data)
}

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

func TestCheckCompleteFindsMissing(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	names, err := reachable(s, src.commit)
	if err != nil {
		t.Fatal(err)
	}
	d := create(t, libostree.ModeArchive)
	txn, _, err := d.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Abort()
	var skippedFile, skippedTree bool
	for _, n := range names {
		if n.Type == object.File && !skippedFile {
			skippedFile = true
			continue
		}
		if err := streamObject(s, txn, n); err != nil {
			t.Fatal(err)
		}
	}
	var inc *walk.IncompleteError
	err = checkComplete(d, src.commit)
	if e, ok := err.(*walk.IncompleteError); !ok || e.Missing.Type != object.File {
		t.Fatalf("CheckComplete with a file missing: %v", err)
	}
	_ = inc
	// Without the root dirtree the walk stops early.
	d2 := create(t, libostree.ModeArchive)
	txn2, _, _ := d2.PrepareTransaction()
	defer txn2.Abort()
	commit, _ := s.LoadCommit(src.commit)
	for _, n := range names {
		if n.Type == object.DirTree && n.Checksum == commit.RootTree {
			skippedTree = true
			continue
		}
		if err := streamObject(s, txn2, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := checkComplete(d2, src.commit).(*walk.IncompleteError); !ok || !skippedTree {
		t.Fatalf("CheckComplete without the root dirtree: %v", checkComplete(d2, src.commit))
	}
	if _, ok := checkComplete(d2, object.Checksum{7}).(*walk.IncompleteError); !ok {
		t.Fatal("CheckComplete of a missing commit did not say incomplete")
	}
}

// TestCheckCompletePartial: a commit marked partial is checked strictly
// (libostree's traverse would skip its missing directories), and the mark
// comes and goes with MarkCommitPartial.
func TestCheckCompletePartial(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	names, err := reachable(s, src.commit)
	if err != nil {
		t.Fatal(err)
	}
	commit, _ := s.LoadCommit(src.commit)
	for _, skip := range []object.Type{object.DirTree, object.DirMeta, object.File, 0} {
		d := create(t, libostree.ModeArchive) // fresh: an aborted transaction's objects stay staged
		txn, _, err := d.PrepareTransaction()
		if err != nil {
			t.Fatal(err)
		}
		skipped := false
		for _, n := range names {
			if !skipped && n.Type == skip && (skip != object.DirTree || n.Checksum != commit.RootTree) {
				skipped = true // a dirtree below the root, any dirmeta, any file
				continue
			}
			if err := streamObject(s, txn, n); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.MarkCommitPartial(src.commit, true); err != nil {
			t.Fatal(err)
		}
		if c, _ := d.LoadCommit(src.commit); !c.Partial {
			t.Fatalf("MarkCommitPartial(true): the commit is not partial")
		}
		err = checkComplete(d, src.commit)
		switch e, ok := err.(*walk.IncompleteError); {
		case skip == 0 && err != nil:
			t.Errorf("a complete commit marked partial: CheckComplete = %v", err)
		case skip != 0 && skipped && (!ok || e.Missing.Type != skip):
			t.Errorf("a partial commit without a %v: CheckComplete = %v", skip, err)
		}
		if err := d.MarkCommitPartial(src.commit, false); err != nil {
			t.Fatal(err)
		}
		if c, _ := d.LoadCommit(src.commit); c.Partial {
			t.Fatalf("MarkCommitPartial(false): the commit is still partial")
		}
		txn.Abort()
	}
}

func TestValidateRef(t *testing.T) {
	for _, good := range []string{"main", "os/x86_64/stable", "a.b-c_d"} {
		if err := libostree.ValidateRef(good); err != nil {
			t.Errorf("ValidateRef(%q) = %v", good, err)
		}
	}
	for _, bad := range []string{"", "../x", "a b", "/abs", "x/"} {
		if err := libostree.ValidateRef(bad); err == nil {
			t.Errorf("ValidateRef(%q) accepted", bad)
		}
	}
}

// TestValidateNamesControlBytes puts every control byte (0x00-0x1f, 0x7f)
// at every position of a valid ref name and collection ID: each must be
// refused. libostree's GRegex '$' matches before a final newline, so
// "os/stable\n" passed it, and C sees a name cut at its first NUL.
func TestValidateNamesControlBytes(t *testing.T) {
	check := func(what, valid string, validate func(string) error) {
		if err := validate(valid); err != nil {
			t.Fatalf("%s(%q) = %v", what, valid, err)
		}
		for b := 0; b <= 0x7f; b++ {
			if b >= 0x20 && b != 0x7f {
				continue
			}
			for i := 0; i <= len(valid); i++ {
				name := valid[:i] + string(rune(b)) + valid[i:]
				if err := validate(name); err == nil {
					t.Errorf("%s(%q) accepted", what, name)
				} else if !strings.Contains(err.Error(), fmt.Sprintf("\\x%02x", b)) {
					t.Errorf("%s(%q): %v: the error does not show the byte escaped", what, name, err)
				}
			}
		}
	}
	check("ValidateRef", "os/x86_64/stable", libostree.ValidateRef)
	check("ValidateCollectionID", "org.example.Os", libostree.ValidateCollectionID)
}

// TestMemoryBounded copies thousands of objects in a loop and checks that
// the process's resident memory stays bounded: no per-object leak in the
// binding.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	src := sharedSource(t)
	s := open(t, src.path)
	names, err := reachable(s, src.commit)
	if err != nil {
		t.Fatal(err)
	}
	var small []object.Name
	for _, n := range names {
		if n.Type != object.File {
			continue
		}
		cr, _ := s.OpenContent(n.Checksum)
		if cr.Size() < 1<<20 {
			small = append(small, n)
		}
		cr.Close()
	}
	round := func() {
		d := create(t, libostree.ModeBareUser)
		txn, _, err := d.PrepareTransaction()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range small {
			if err := streamObject(s, txn, n); err != nil {
				t.Fatal(err)
			}
			if _, err := d.HasObject(n); err != nil {
				t.Fatal(err)
			}
		}
		txn.Abort()
		d.Close()
	}
	for i := 0; i < 2; i++ {
		round()
	}
	base := rssKiB(t)
	const rounds = 8
	for i := 0; i < rounds; i++ {
		round()
	}
	grew := rssKiB(t) - base
	t.Logf("RSS after warm-up %d KiB; after %d more rounds of %d objects: +%d KiB", base, rounds, len(small), grew)
	if grew > 16<<10 {
		t.Fatalf("RSS grew by %d KiB over %d objects", grew, rounds*len(small))
	}
}

func rssKiB(t *testing.T) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestTransactionResume: objects staged by a transaction that did not
// commit are found again by the next one (libostree's resume), without
// being visible in between.
func TestTransactionResume(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	names, err := reachable(s, src.commit)
	if err != nil {
		t.Fatal(err)
	}
	var files []object.Name
	for _, n := range names {
		if n.Type == object.File && len(files) < 40 {
			files = append(files, n)
		}
	}
	d := create(t, libostree.ModeArchive)
	txn, _, err := d.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range files {
		if err := streamObject(s, txn, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := txn.Abort(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if got := testrepo.ObjectFiles(t, d.Path()); len(got) != 0 {
		t.Fatalf("aborted objects visible: %v", got)
	}
	d2 := open(t, d.Path())
	txn2, resumed, err := d2.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	defer txn2.Abort()
	if !resumed {
		t.Fatal("second transaction did not resume the first one's staging")
	}
	have, err := d2.HasObjects(files)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range have {
		if !h {
			t.Fatalf("staged %s not found after resume", files[i])
		}
	}
}

// TestReachableSince checks that ReachableSince(c1, c2) lists every object
// c2 needs that c1 does not, nothing c2 does not need, and far fewer
// objects than Reachable(c2) when little changed.
func TestReachableSince(t *testing.T) {
	testrepo.RequireTools(t)
	dir := t.TempDir()
	tree, path := filepath.Join(dir, "tree"), filepath.Join(dir, "repo")
	testrepo.GenerateTree(t, tree, testrepo.TreeOptions{Files: 600, Seed: 7})
	testrepo.Init(t, path, "archive")
	c1 := object.MustParseChecksum(testrepo.Commit(t, path, "test/main", tree, "first"))
	testrepo.ChangeTree(t, tree, 8, 2)
	// A new nested directory, a directory whose mode changed, and a
	// subtree copied to a second path.
	if err := os.MkdirAll(filepath.Join(tree, "added/deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "added/deeper/f"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(tree, "added"), 0o700); err != nil {
		t.Fatal(err)
	}
	testrepo.Ostree(t, "commit", "--repo="+path, "--branch=test/main", "--subject=second",
		"--tree=dir="+tree, "--add-detached-metadata-string=note=x")
	c2 := object.MustParseChecksum(testrepo.RevParse(t, path, "test/main"))
	r := open(t, path)

	set := func(names []object.Name, err error) map[object.Name]bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		m := map[object.Name]bool{}
		for _, n := range names {
			if m[n] {
				t.Fatalf("%s listed twice", n)
			}
			m[n] = true
		}
		return m
	}
	full1, full2 := set(reachable(r, c1)), set(reachable(r, c2))
	since := set(reachableSince(r, c1, c2))
	for n := range since {
		if !full2[n] {
			t.Errorf("%s listed, but the commit does not need it", n)
		}
	}
	need := 0
	for n := range full2 {
		if !full1[n] {
			need++
			if !since[n] {
				t.Errorf("%s is needed, not in the base, and not listed", n)
			}
		}
	}
	if !since[object.Name{Checksum: c2, Type: object.CommitMeta}] {
		t.Error("the commit's detached metadata is not listed")
	}
	if len(since) > len(full2)/2 || len(since) < need {
		t.Errorf("ReachableSince listed %d objects; %d are needed, the commit has %d", len(since), need, len(full2))
	}
	// Against itself: only the commit.
	if same := set(reachableSince(r, c2, c2)); len(same) != 2 {
		t.Errorf("ReachableSince(c2, c2) = %v, want the commit and its detached metadata", same)
	}
	t.Logf("ReachableSince: %d objects; needed %d; Reachable: %d", len(since), need, len(full2))

	// CheckCompleteSince: a repository with c1 gets what ReachableSince
	// lists, one file left out, then that file.
	d := create(t, libostree.ModeArchive)
	copyCommit(t, r, d, c1, func(*libostree.Txn) {})
	txn, _, err := d.PrepareTransaction()
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Abort()
	var skipped object.Name
	for n := range since {
		if n.Type == object.File && !full1[n] && skipped.Checksum.IsZero() {
			skipped = n
			continue
		}
		if err := streamObject(r, txn, n); err != nil {
			t.Fatal(err)
		}
	}
	if e, ok := checkCompleteSince(d, c2, c1).(*walk.IncompleteError); !ok || e.Missing != skipped {
		t.Fatalf("CheckCompleteSince with %s left out: %v", skipped, checkCompleteSince(d, c2, c1))
	}
	if err := checkComplete(d, c2); err == nil {
		t.Fatal("CheckComplete with a file left out: no error")
	}
	if err := streamObject(r, txn, skipped); err != nil {
		t.Fatal(err)
	}
	if err := checkCompleteSince(d, c2, c1); err != nil {
		t.Fatalf("CheckCompleteSince with everything: %v", err)
	}
	if err := checkComplete(d, c2); err != nil {
		t.Fatalf("CheckComplete with everything: %v", err)
	}
	// A base that is not in the repository is an error.
	if _, err := reachableSince(r, object.MustParseChecksum(strings.Repeat("ab", 32)), c2); err == nil {
		t.Error("a missing base gave no error")
	}
}

// TestCommitWritesRefs commits the same copy with refs staged in the
// transaction into a plain repository and into one that updates its
// summary on every ref (libostree then writes it once). Either way the refs
// land, a later update of a ref in the
// same transaction wins, a deleted ref is gone, and the repository lock is
// released: `ostree prune` runs at once.
func TestCommitWritesRefs(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	for _, autoSummary := range []bool{false, true} {
		t.Run(fmt.Sprintf("auto-update-summary=%v", autoSummary), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dest")
			testrepo.Init(t, path, "archive")
			testrepo.Ostree(t, "config", "--repo="+path, "set", "core.lock-timeout-secs", "2")
			if autoSummary {
				testrepo.Ostree(t, "config", "--repo="+path, "set", "core.auto-update-summary", "true")
			}
			d := open(t, path)
			copyCommit(t, s, d, src.commit, func(txn *libostree.Txn) {
				for _, r := range []struct {
					name string
					c    object.Checksum
				}{
					{"test/main", object.Zero},
					{"test/main", src.commit}, // the later update wins
					{"test/gone", src.commit},
					{"test/gone", object.Zero},
					{"test/never", object.Zero},
				} {
					if err := txn.SetRef(r.name, r.c); err != nil {
						t.Fatal(err)
					}
				}
				if err := txn.SetCollectionRef("org.example.Os", "os/stable", src.commit); err != nil {
					t.Fatal(err)
				}
			})
			if got := testrepo.RevParse(t, path, "test/main"); got != src.commit.String() {
				t.Fatalf("test/main = %q, want %s", got, src.commit)
			}
			refs := testrepo.Ostree(t, "refs", "--repo="+path, "--collections")
			if !strings.Contains(refs, "(org.example.Os, os/stable)") || strings.Contains(refs, "test/gone") || strings.Contains(refs, "test/never") {
				t.Fatalf("refs after the commit:\n%s", refs)
			}
			_, err := os.Stat(filepath.Join(path, "summary"))
			if autoSummary != (err == nil) {
				t.Fatalf("summary file: %v, with auto-update-summary %v", err, autoSummary)
			}
			testrepo.Ostree(t, "prune", "--repo="+path, "--refs-only")
			testrepo.Fsck(t, path)
		})
	}
}

// TestDirtreeReader checks pkg/walk's reader of dirtrees against GLib's:
// on every dirtree of a generated repository, and on corrupted copies (a
// byte changed, cut short, a byte appended), both accept the bytes (GLib:
// in normal form, a valid structure) or both refuse them, and what walk
// reads serializes back to the very bytes (so it read every entry as it
// is).
func TestDirtreeReader(t *testing.T) {
	src := sharedSource(t)
	s := open(t, src.path)
	names, err := reachable(s, src.commit)
	if err != nil {
		t.Fatal(err)
	}
	// An empty directory and one with only subdirectories or files.
	trees := [][]byte{{0}}
	for _, n := range names {
		if n.Type != object.DirTree {
			continue
		}
		data, err := s.ReadMetadata(n)
		if err != nil {
			t.Fatal(err)
		}
		trees = append(trees, data)
	}
	if len(trees) < 10 {
		t.Fatalf("only %d dirtrees", len(trees))
	}
	check := func(b []byte) bool {
		t.Helper()
		gok, _ := libostree.GLibDirtree(b)
		d, err := walk.ParseDirtree(b)
		if gok != (err == nil) {
			t.Fatalf("dirtree %x: GLib accepts it: %v; walk: %v", b, gok, err)
		}
		if err == nil {
			if again, err := d.Serialize(); err != nil || !bytes.Equal(again, b) {
				t.Fatalf("dirtree %x read as %+v, which serializes to %x", b, d, again)
			}
		}
		return gok
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	refused := 0
	for i, tree := range trees {
		if !check(tree) {
			t.Fatalf("dirtree #%d (%d bytes) refused", i, len(tree))
		}
		var bad [][]byte
		for k := 0; k < 40 && len(tree) > 0; k++ {
			b := bytes.Clone(tree)
			b[rnd.IntN(len(b))] ^= byte(1 + rnd.IntN(255))
			bad = append(bad, b)
		}
		for k := 1; k <= 3 && k < len(tree); k++ {
			bad = append(bad, tree[:len(tree)-k], append(bytes.Clone(tree), byte(k)))
		}
		for _, b := range bad {
			if !check(b) {
				refused++
			}
		}
	}
	if refused == 0 {
		t.Error("no corrupted dirtree was refused")
	}
	t.Logf("%d dirtrees; %d corrupted copies refused by both readers", len(trees), refused)
}
