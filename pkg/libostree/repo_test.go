package libostree_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/walk"
)

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
