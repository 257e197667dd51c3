package storetest

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/sign"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Repo is a repository as the protocol sees it: a push reads it as a
// Source, a receive writes it as a Dest.
type Repo interface {
	transfer.Source
	transfer.Dest
}

// Options shape a repository New makes.
type Options struct {
	// CollectionID is the repository's collection id ("": none).
	CollectionID string
	// LockTimeout is how long LockRefs waits for a lock held elsewhere
	// before it fails. New must honour it; the suite never passes 0.
	LockTimeout time.Duration
}

// Harness is what the suite needs of an implementation.
type Harness struct {
	// New makes an empty repository for the test, and closes it (if
	// need be) when the test ends.
	New func(t *testing.T, opts Options) Repo
	// Commit writes a commit straight into r (outside any transaction):
	// a root directory holding a regular file per entry of files (name
	// to content), with parent (object.Zero for none). It returns the
	// commit's checksum.
	Commit func(t *testing.T, r Repo, parent object.Checksum, files map[string][]byte) object.Checksum
	// MarkPartial marks commit c of r partial, as an unfinished pull
	// leaves it.
	MarkPartial func(t *testing.T, r Repo, c object.Checksum)
	// Skip, when set, names subtests (by their name in Run) this
	// implementation is known to break, with the reason: they are
	// skipped with it.
	Skip map[string]string
}

// lockTimeout is the LockTimeout of the suite's repositories: short, since
// a test that finds the lock held waits for it in full.
const lockTimeout = 20 * time.Millisecond

// Run runs the contract suite, each case in a parallel subtest of its own.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"Empty", testEmpty},
		{"SourceReads", testSourceReads},
		{"ReachableMissingCommit", testReachableMissing},
		{"ValidateRef", testValidateRef},
		{"RefsPlainAndCollection", testRefs},
		{"RefsOwnCollectionIsPlain", testOwnCollectionRef},
		{"CommitSeesStaged", testCommitSeesStaged},
		{"WriteMetadataWrongChecksum", testWriteMetadataWrongChecksum},
		{"WriteContent", testWriteContent},
		{"HasObjects", testHasObjects},
		{"ConcurrentWrites", testConcurrentWrites},
		{"CheckComplete", testCheckComplete},
		{"CheckCompleteSince", testCheckCompleteSince},
		{"CommitPublishesObjectsAndRefs", testCommitPublishes},
		{"SetRefLastWins", testSetRefLastWins},
		{"SetRefInvalid", testSetRefInvalid},
		{"Abort", testAbort},
		{"AbortAfterCommit", testAbortAfterCommit},
		{"OneTransactionAtATime", testOneTransaction},
		{"DeleteRef", testDeleteRef},
		{"PartialClearedByCommit", testPartial},
		{"LockRefsExclusive", testLockRefsExclusive},
		{"LockRefsWaiter", testLockRefsWaiter},
		{"Resume", testResume},
		{"Discard", testDiscard},
		{"ReachableSince", testReachableSince},
		{"Filez", testFilez},
		{"DetachedMetadata", testDetachedMetadata},
		{"LookupRefs", testLookupRefs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if why, ok := h.Skip[c.name]; ok {
				t.Skip(why)
			}
			t.Parallel() // each case has repositories of its own
			c.fn(t, &suite{h: h})
		})
	}
}

// suite is the harness with the helpers the cases share.
type suite struct{ h Harness }

func (s *suite) repo(t *testing.T) Repo {
	t.Helper()
	return s.h.New(t, Options{LockTimeout: lockTimeout})
}

// ---- a source with a small history ----

// history is a source repository with two commits: c1, and its child c2
// that keeps one of c1's files, changes one and adds one.
type history struct {
	src    Repo
	c1, c2 object.Checksum
}

func (s *suite) history(t *testing.T) *history {
	t.Helper()
	src := s.repo(t)
	c1 := s.h.Commit(t, src, object.Zero, map[string][]byte{
		"kept":    []byte("the same in both commits\n"),
		"changed": []byte("first version\n"),
		"twin":    []byte("first version\n"), // same content: one object
	})
	c2 := s.h.Commit(t, src, c1, map[string][]byte{
		"kept":    []byte("the same in both commits\n"),
		"changed": []byte("second version\n"),
		"added":   bytes.Repeat([]byte("new file\n"), 100),
	})
	return &history{src: src, c1: c1, c2: c2}
}

// reachable is src.Reachable, failing the test on error.
func reachable(t *testing.T, src transfer.Source, commits ...object.Checksum) []object.Name {
	t.Helper()
	names, err := src.Reachable(commits)
	if err != nil {
		t.Fatalf("Reachable(%v): %v", commits, err)
	}
	return names
}

// read returns an object's bytes as the protocol sends them: a metadata
// object's, or a file object's content stream.
func read(t *testing.T, src transfer.Source, n object.Name) []byte {
	t.Helper()
	if n.Type.IsMeta() {
		data, err := src.ReadMetadata(n)
		if err != nil {
			t.Fatalf("ReadMetadata(%s): %v", n, err)
		}
		return data
	}
	rc, size, err := src.OpenContent(n.Checksum)
	if err != nil {
		t.Fatalf("OpenContent(%s): %v", n, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", n, err)
	}
	if uint64(len(data)) != size {
		t.Fatalf("OpenContent(%s): size %d, but %d bytes read", n, size, len(data))
	}
	return data
}

// write writes object n with its bytes into txn.
func write(txn transfer.Txn, n object.Name, data []byte) error {
	if n.Type.IsMeta() {
		return txn.WriteMetadata(n, data)
	}
	return txn.WriteContent(n.Checksum, bytes.NewReader(data), uint64(len(data)))
}

// copyObjects writes the named objects of src into txn, except those
// skip says to leave out.
func copyObjects(t *testing.T, src transfer.Source, txn transfer.Txn, names []object.Name, skip func(object.Name) bool) {
	t.Helper()
	for _, n := range names {
		if skip != nil && skip(n) {
			continue
		}
		if err := write(txn, n, read(t, src, n)); err != nil {
			t.Fatalf("writing %s: %v", n, err)
		}
	}
}

func begin(t *testing.T, d transfer.Dest) transfer.Txn {
	t.Helper()
	txn, err := d.Begin()
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return txn
}

func commitTxn(t *testing.T, txn transfer.Txn) {
	t.Helper()
	if err := txn.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func abort(t *testing.T, txn transfer.Txn) {
	t.Helper()
	if err := txn.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
}

// push copies commits (their trees, not their parents) from src into dst
// and points the refs at them, in one transaction.
func push(t *testing.T, src transfer.Source, dst transfer.Dest, refs map[wire.RefName]object.Checksum) {
	t.Helper()
	txn := begin(t, dst)
	var commits []object.Checksum
	for _, c := range refs {
		if !c.IsZero() && !slices.Contains(commits, c) {
			commits = append(commits, c)
		}
	}
	if len(commits) > 0 {
		copyObjects(t, src, txn, reachable(t, src, commits...), nil)
	}
	for r, c := range refs {
		if err := txn.SetRef(r, c); err != nil {
			t.Fatalf("SetRef(%s, %s): %v", r, c, err)
		}
	}
	commitTxn(t, txn)
}

func plain(name string) wire.RefName { return wire.RefName{Name: name} }

// refMap is d.Refs as a map, failing the test on error or on a ref listed
// twice.
func refMap(t *testing.T, d transfer.Dest) map[wire.RefName]object.Checksum {
	t.Helper()
	refs, err := d.Refs()
	if err != nil {
		t.Fatalf("Refs: %v", err)
	}
	m := map[wire.RefName]object.Checksum{}
	for _, r := range refs {
		if _, dup := m[r.Ref]; dup {
			t.Fatalf("Refs lists %s twice: %v", r.Ref, refs)
		}
		m[r.Ref] = r.Commit
	}
	return m
}

func wantRefs(t *testing.T, d transfer.Dest, want map[wire.RefName]object.Checksum) {
	t.Helper()
	if got := refMap(t, d); !maps.Equal(got, want) {
		t.Errorf("Refs = %v, want %v", got, want)
	}
}

// wantCommit checks what Commit says of c.
func wantCommit(t *testing.T, d transfer.Dest, c object.Checksum, want bool) transfer.CommitInfo {
	t.Helper()
	info, ok, err := d.Commit(c)
	if err != nil {
		t.Fatalf("Commit(%s): %v", c.Short(), err)
	}
	if ok != want {
		t.Fatalf("Commit(%s): present %v, want %v", c.Short(), ok, want)
	}
	return info
}

func has(t *testing.T, txn transfer.Txn, names []object.Name) []bool {
	t.Helper()
	got, err := txn.HasObjects(names)
	if err != nil {
		t.Fatalf("HasObjects: %v", err)
	}
	if len(got) != len(names) {
		t.Fatalf("HasObjects: %d answers for %d names", len(got), len(names))
	}
	return got
}

// wantHas checks HasObjects' answer for every name.
func wantHas(t *testing.T, txn transfer.Txn, names []object.Name, want bool) {
	t.Helper()
	for i, h := range has(t, txn, names) {
		if h != want {
			t.Errorf("HasObjects(%s) = %v, want %v", names[i], h, want)
		}
	}
}

// committedView is what a repository holds outside any transaction:
// HasCommittedObjects when the transaction can tell (a store that takes
// up an interrupted transaction's objects counts them in HasObjects),
// else HasObjects.
func committedView(t *testing.T, txn transfer.Txn, names []object.Name) []bool {
	t.Helper()
	if rt, ok := txn.(transfer.ResumeTxn); ok {
		got, err := rt.HasCommittedObjects(names)
		if err != nil {
			t.Fatalf("HasCommittedObjects: %v", err)
		}
		return got
	}
	return has(t, txn, names)
}

// wantCommitted checks, in a transaction of its own, which of names d
// holds committed.
func wantCommitted(t *testing.T, d transfer.Dest, names []object.Name, want bool) {
	t.Helper()
	txn := begin(t, d)
	defer abort(t, txn)
	for i, h := range committedView(t, txn, names) {
		if h != want {
			t.Errorf("committed %s: %v, want %v", names[i], h, want)
		}
	}
}

func ofType(names []object.Name, types ...object.Type) []object.Name {
	var out []object.Name
	for _, n := range names {
		if slices.Contains(types, n.Type) {
			out = append(out, n)
		}
	}
	return out
}

// only returns the names of names that are not in others.
func only(names, others []object.Name) []object.Name {
	var out []object.Name
	for _, n := range names {
		if !slices.Contains(others, n) {
			out = append(out, n)
		}
	}
	return out
}

// corrupt returns data with one byte near the end flipped.
func corrupt(data []byte) []byte {
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 0x20
	return bad
}

// ---- the cases ----

// testEmpty: a new repository has no refs and no commits, and says so
// without errors.
func testEmpty(t *testing.T, s *suite) {
	r := s.h.New(t, Options{CollectionID: "org.example.Contract", LockTimeout: lockTimeout})
	if m := r.Mode(); m == "" {
		t.Errorf("Mode() is empty")
	}
	if id := r.CollectionID(); id != "org.example.Contract" {
		t.Errorf("CollectionID() = %q", id)
	}
	if refs, err := r.Refs(); err != nil || len(refs) != 0 {
		t.Errorf("Refs() = %v, %v; want none", refs, err)
	}
	var missing object.Checksum
	missing[0], missing[31] = 0xab, 0xcd
	if info, ok, err := r.Commit(missing); err != nil || ok {
		t.Errorf("Commit(missing) = %+v, %v, %v; want not found, no error", info, ok, err)
	}
	if c, ok, err := r.ResolveRev("no-such-ref"); err != nil || ok {
		t.Errorf("ResolveRev(no-such-ref) = %s, %v, %v; want not found, no error", c, ok, err)
	}
	// A full checksum resolves to itself without a look in the
	// repository (as libostree's resolve_rev does): Commit tells whether
	// the commit is there.
	if c, ok, err := r.ResolveRev(missing.String()); err != nil || !ok || c != missing {
		t.Errorf("ResolveRev(a missing commit's checksum) = %s, %v, %v; want the checksum itself", c, ok, err)
	}
	if _, err := r.ReadMetadata(object.Name{Checksum: missing, Type: object.DirTree}); err == nil {
		t.Errorf("ReadMetadata(missing dirtree) succeeded")
	}
	if rc, _, err := r.OpenContent(missing); err == nil {
		rc.Close()
		t.Errorf("OpenContent(missing) succeeded")
	}
}

// testSourceReads: what a push reads of a commit: its parent, the objects
// it needs (each once, not its parents'), their bytes.
func testSourceReads(t *testing.T, s *suite) {
	h := s.history(t)
	if info := wantCommit(t, h.src, h.c2, true); info.Parent != h.c1 || info.Partial {
		t.Errorf("Commit(c2) = %+v, want parent c1 %s, not partial", info, h.c1.Short())
	}
	if info := wantCommit(t, h.src, h.c1, true); !info.Parent.IsZero() {
		t.Errorf("Commit(c1) has parent %s", info.Parent.Short())
	}
	if c, ok, err := h.src.ResolveRev(h.c2.String()); err != nil || !ok || c != h.c2 {
		t.Errorf("ResolveRev(c2's checksum) = %s, %v, %v", c, ok, err)
	}

	names := reachable(t, h.src, h.c1)
	seen := map[object.Name]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("Reachable lists %s twice", n)
		}
		seen[n] = true
	}
	if !seen[object.Name{Checksum: h.c1, Type: object.Commit}] {
		t.Errorf("Reachable(c1) lacks the commit itself")
	}
	// c1: the commit, a dirtree, a dirmeta, two distinct file contents.
	for typ, want := range map[object.Type]int{object.Commit: 1, object.DirTree: 1, object.DirMeta: 1, object.File: 2} {
		if got := len(ofType(names, typ)); got != want {
			t.Errorf("Reachable(c1): %d %s objects, want %d (%v)", got, typ, want, names)
		}
	}
	both := reachable(t, h.src, h.c2)
	if slices.Contains(both, object.Name{Checksum: h.c1, Type: object.Commit}) {
		t.Errorf("Reachable(c2) lists its parent")
	}
	for _, n := range both {
		data := read(t, h.src, n)
		if len(data) == 0 && n.Type != object.DirTree {
			t.Errorf("%s: no bytes", n)
		}
		if n.Type == object.File {
			if _, err := h.src.ReadMetadata(n); err == nil {
				t.Errorf("ReadMetadata(%s) of a file object succeeded", n)
			}
		}
	}
}

// testReachableMissing: walking from a commit the repository does not
// have is an error, not an empty set of objects (a push must not offer
// nothing for a commit it cannot read).
func testReachableMissing(t *testing.T, s *suite) {
	h := s.history(t)
	var missing object.Checksum
	missing[0], missing[31] = 0xab, 0xcd
	for _, commits := range [][]object.Checksum{{missing}, {h.c1, missing}} {
		if names, err := h.src.Reachable(commits); err == nil {
			t.Errorf("Reachable(%v) with a missing commit = %v, no error", commits, names)
		}
	}
}

// testValidateRef: ref names and collection ids as libostree takes them.
func testValidateRef(t *testing.T, s *suite) {
	r := s.repo(t)
	for _, good := range []wire.RefName{
		plain("main"), plain("os/x86_64/stable"), plain("a.b-c_d"), plain("app/org.example.App/x86_64/stable"),
		plain("a..b"), plain("_a"), plain("a."), plain("a-"), plain("A/B9"), plain("é"),
		{CollectionID: "org.example.Os", Name: "os/stable"}, {CollectionID: "_org.Example_x", Name: "main"},
	} {
		if err := r.ValidateRef(good); err != nil {
			t.Errorf("ValidateRef(%s): %v", good, err)
		}
	}
	for _, bad := range []wire.RefName{
		plain(""), plain("a b"), plain("/a"), plain("a//b"), plain("a/"), plain("os/stable\n"), plain("a\x00b"),
		plain("a/../b"), plain(".."), plain("-a"), plain(".a"), plain("a/.b"), plain("a+b"), plain("a@b"),
		plain("a:b"), plain("a~b"), plain("a,b"), plain("a%b"), plain("a\xffb"),
		{CollectionID: "not a collection", Name: "main"}, {CollectionID: "org.example.Os", Name: "a b"},
		{CollectionID: "org..example", Name: "main"}, {CollectionID: "org", Name: "main"},
		{CollectionID: "1org.example", Name: "main"}, {CollectionID: "org.ex-ample", Name: "main"},
		{CollectionID: "org.example.", Name: "main"}, {CollectionID: "org/example", Name: "main"},
	} {
		if r.ValidateRef(bad) == nil {
			t.Errorf("ValidateRef(%q) accepted", bad)
		}
	}
}

// testRefs: plain refs and collection refs of other collections (a
// mirror's) are listed together, each once, with its commit.
func testRefs(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.h.New(t, Options{CollectionID: "org.example.Own", LockTimeout: lockTimeout})
	want := map[wire.RefName]object.Checksum{
		plain("main"):            h.c2,
		plain("os/x86_64/older"): h.c1,
		{CollectionID: "org.example.Mirror", Name: "main"}:  h.c1,
		{CollectionID: "org.example.Mirror", Name: "other"}: h.c2,
		{CollectionID: "org.example.Another", Name: "main"}: h.c2,
	}
	push(t, h.src, dst, want)
	wantRefs(t, dst, want)
	refs, err := dst.Refs()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		if r.Ref.CollectionID == dst.CollectionID() {
			t.Errorf("Refs lists %s under the repository's own collection id: own refs are plain", r.Ref)
		}
	}
	if c, ok, err := dst.ResolveRev("main"); err != nil || !ok || c != h.c2 {
		t.Errorf("ResolveRev(main) = %s, %v, %v; want %s", c, ok, err, h.c2.Short())
	}
	if c, ok, err := dst.ResolveRev("os/x86_64/older"); err != nil || !ok || c != h.c1 {
		t.Errorf("ResolveRev(os/x86_64/older) = %s, %v, %v; want %s", c, ok, err, h.c1.Short())
	}
}

// testOwnCollectionRef: a ref set under the repository's own collection id
// is one of its plain refs.
func testOwnCollectionRef(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.h.New(t, Options{CollectionID: "org.example.Own", LockTimeout: lockTimeout})
	push(t, h.src, dst, map[wire.RefName]object.Checksum{{CollectionID: "org.example.Own", Name: "main"}: h.c1})
	wantRefs(t, dst, map[wire.RefName]object.Checksum{plain("main"): h.c1})
}

// testCommitSeesStaged: Dest.Commit sees a commit staged in the open
// transaction (the receiver judges refs before it commits), and no longer
// once the transaction is aborted.
func testCommitSeesStaged(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	txn := begin(t, dst)
	copyObjects(t, h.src, txn, reachable(t, h.src, h.c2), nil)
	if info := wantCommit(t, dst, h.c2, true); info.Parent != h.c1 {
		t.Errorf("Commit(staged c2).Parent = %s, want %s", info.Parent.Short(), h.c1.Short())
	}
	wantCommit(t, dst, h.c1, false) // the parent was not sent
	abort(t, txn)
	wantCommit(t, dst, h.c2, false)
}

// testWriteMetadataWrongChecksum: metadata whose bytes do not hash to
// its name is refused, and nothing of it becomes visible, in the
// transaction or after it commits.
func testWriteMetadataWrongChecksum(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	names := reachable(t, h.src, h.c1)
	var refused []object.Name
	txn := begin(t, dst)
	for _, n := range ofType(names, object.Commit, object.DirTree, object.DirMeta) {
		data := read(t, h.src, n)
		if err := txn.WriteMetadata(n, corrupt(data)); err == nil {
			t.Errorf("WriteMetadata(%s) accepted flipped bytes", n)
		}
		refused = append(refused, n)
	}
	// Another object's good bytes under this name.
	dirtree := ofType(names, object.DirTree)[0]
	dirmeta := ofType(names, object.DirMeta)[0]
	if err := txn.WriteMetadata(dirtree, read(t, h.src, dirmeta)); err == nil {
		t.Errorf("WriteMetadata(%s) accepted the bytes of %s", dirtree, dirmeta)
	}
	if err := txn.WriteMetadata(object.Name{Checksum: dirtree.Checksum, Type: object.File}, read(t, h.src, dirtree)); err == nil {
		t.Errorf("WriteMetadata accepted a file object")
	}
	wantHas(t, txn, refused, false)
	wantCommit(t, dst, h.c1, false)
	if err := txn.SetRef(plain("main"), h.c1); err != nil {
		t.Fatal(err)
	}
	if err := txn.CheckComplete(h.c1); err == nil {
		t.Errorf("CheckComplete(c1) succeeded with none of its metadata written")
	}
	// The receiver never commits such a transaction; the store must not
	// publish anything refused even so.
	if err := txn.Commit(); err == nil {
		if _, err := dst.ReadMetadata(object.Name{Checksum: h.c1, Type: object.Commit}); err == nil {
			t.Errorf("a commit refused for its checksum is readable")
		}
		wantCommit(t, dst, h.c1, false)
		wantCommitted(t, dst, refused, false)
	}
}

// testWriteContent: a file object's content stream is checked against
// its name: flipped bytes and a short stream are refused.
func testWriteContent(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	files := ofType(reachable(t, h.src, h.c2), object.File)
	txn := begin(t, dst)
	defer txn.Abort()
	for _, n := range files {
		data := read(t, h.src, n)
		if err := txn.WriteContent(n.Checksum, bytes.NewReader(corrupt(data)), uint64(len(data))); err == nil {
			t.Errorf("WriteContent(%s) accepted flipped bytes", n)
		}
		if err := txn.WriteContent(n.Checksum, bytes.NewReader(data[:len(data)-1]), uint64(len(data))); err == nil {
			t.Errorf("WriteContent(%s) accepted a stream one byte short", n)
		}
		wantHas(t, txn, []object.Name{n}, false)
		if err := txn.WriteContent(n.Checksum, bytes.NewReader(data), uint64(len(data))); err != nil {
			t.Errorf("WriteContent(%s): %v", n, err)
		}
		// Written twice (a push that resent it): still fine.
		if err := txn.WriteContent(n.Checksum, bytes.NewReader(data), uint64(len(data))); err != nil {
			t.Errorf("WriteContent(%s) again: %v", n, err)
		}
	}
	wantHas(t, txn, files, true)
	// The bytes of one file under the name of another.
	if len(files) >= 2 {
		data := read(t, h.src, files[0])
		other := object.Name{Checksum: files[1].Checksum, Type: object.File}
		if err := txn.WriteContent(other.Checksum, bytes.NewReader(data), uint64(len(data))); err == nil {
			t.Errorf("WriteContent(%s) accepted the content of %s", other, files[0])
		}
	}
}

// testHasObjects: HasObjects answers in the order asked, for committed and
// staged objects alike, and no for what is neither.
func testHasObjects(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	push(t, h.src, dst, map[wire.RefName]object.Checksum{plain("main"): h.c1})
	old := reachable(t, h.src, h.c1)
	fresh := only(reachable(t, h.src, h.c2), old)
	txn := begin(t, dst)
	defer txn.Abort()
	staged, unsent := fresh[:len(fresh)/2], fresh[len(fresh)/2:]
	copyObjects(t, h.src, txn, staged, nil)
	var ask []object.Name
	var want []bool
	for i := 0; i < max(len(old), len(staged), len(unsent)); i++ {
		if i < len(unsent) {
			ask, want = append(ask, unsent[i]), append(want, false)
		}
		if i < len(old) {
			ask, want = append(ask, old[i]), append(want, true)
		}
		if i < len(staged) {
			ask, want = append(ask, staged[i]), append(want, true)
		}
	}
	if got := has(t, txn, ask); !slices.Equal(got, want) {
		t.Errorf("HasObjects(%v) = %v, want %v", ask, got, want)
	}
	if got := has(t, txn, nil); len(got) != 0 {
		t.Errorf("HasObjects(nil) = %v", got)
	}
	if rt, ok := txn.(transfer.ResumeTxn); ok {
		got, err := rt.HasCommittedObjects(ask)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range ask {
			if got[i] != slices.Contains(old, n) {
				t.Errorf("HasCommittedObjects(%s) = %v, want %v", n, got[i], !got[i])
			}
		}
	}
}

// testConcurrentWrites: the write methods may be called from several
// goroutines at once (the receiver writes objects in parallel).
func testConcurrentWrites(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	names := reachable(t, h.src, h.c1, h.c2)
	data := make([][]byte, len(names))
	for i, n := range names {
		data[i] = read(t, h.src, n)
	}
	txn := begin(t, dst)
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = write(txn, n, data[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, c := range []object.Checksum{h.c1, h.c2} {
		if err := txn.CheckComplete(c); err != nil {
			t.Errorf("CheckComplete(%s): %v", c.Short(), err)
		}
	}
	commitTxn(t, txn)
	wantCommitted(t, dst, names, true)
}

// testCheckComplete: a commit is complete when it and every object its
// tree needs are present, committed or staged; its parent need not be.
func testCheckComplete(t *testing.T, s *suite) {
	h := s.history(t)
	names := reachable(t, h.src, h.c2)
	for _, tc := range []struct {
		name    string
		leave   func(object.Name) bool
		wantErr bool
	}{
		{"everything staged", nil, false},
		{"commit missing", func(n object.Name) bool { return n.Type == object.Commit }, true},
		{"tree missing", func(n object.Name) bool { return n.Type == object.DirTree }, true},
		{"dirmeta missing", func(n object.Name) bool { return n.Type == object.DirMeta }, true},
		{"a file missing", func(n object.Name) bool { return n == ofType(names, object.File)[0] }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := s.repo(t)
			txn := begin(t, dst)
			defer abort(t, txn)
			copyObjects(t, h.src, txn, names, tc.leave)
			err := txn.CheckComplete(h.c2)
			if (err != nil) != tc.wantErr {
				t.Errorf("CheckComplete(c2) = %v, want error %v", err, tc.wantErr)
			}
		})
	}
	t.Run("committed", func(t *testing.T) {
		dst := s.repo(t)
		push(t, h.src, dst, map[wire.RefName]object.Checksum{plain("main"): h.c2})
		txn := begin(t, dst)
		defer abort(t, txn)
		if err := txn.CheckComplete(h.c2); err != nil {
			t.Errorf("CheckComplete(committed c2): %v", err)
		}
		if err := txn.CheckComplete(h.c1); err == nil {
			t.Errorf("CheckComplete(c1, never sent) succeeded")
		}
	})
}

// testCheckCompleteSince: with a committed, complete base, only what the
// commit adds is looked for; a missing tree or file is still an error.
func testCheckCompleteSince(t *testing.T, s *suite) {
	h := s.history(t)
	probe := s.repo(t)
	probeTxn := begin(t, probe)
	_, ok := probeTxn.(transfer.SinceTxn)
	abort(t, probeTxn)
	if !ok {
		t.Skip("the store's transactions do not implement transfer.SinceTxn")
	}
	old := reachable(t, h.src, h.c1)
	fresh := only(reachable(t, h.src, h.c2), old)
	for _, tc := range []struct {
		name    string
		leave   func(object.Name) bool
		wantErr bool
	}{
		{"everything new staged", nil, false},
		{"tree missing", func(n object.Name) bool { return n.Type == object.DirTree }, true},
		{"a new file missing", func(n object.Name) bool { return n == ofType(fresh, object.File)[0] }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := s.repo(t)
			push(t, h.src, dst, map[wire.RefName]object.Checksum{plain("main"): h.c1})
			txn := begin(t, dst)
			defer abort(t, txn)
			copyObjects(t, h.src, txn, fresh, tc.leave)
			err := txn.(transfer.SinceTxn).CheckCompleteSince(h.c2, h.c1)
			if (err != nil) != tc.wantErr {
				t.Errorf("CheckCompleteSince(c2, c1) = %v, want error %v", err, tc.wantErr)
			}
			if full := txn.CheckComplete(h.c2); (full != nil) != tc.wantErr {
				t.Errorf("CheckComplete(c2) = %v, want error %v", full, tc.wantErr)
			}
		})
	}
}

// testCommitPublishes: until Commit, staged objects and refs are not
// visible outside the transaction; after it, objects and refs are there
// together, with the bytes that were sent.
func testCommitPublishes(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	names := reachable(t, h.src, h.c2)
	txn := begin(t, dst)
	copyObjects(t, h.src, txn, names, nil)
	if err := txn.SetRef(plain("main"), h.c2); err != nil {
		t.Fatal(err)
	}
	wantRefs(t, dst, map[wire.RefName]object.Checksum{})
	if _, ok, err := dst.ResolveRev("main"); err != nil || ok {
		t.Errorf("ResolveRev(main) before Commit: ok %v, %v", ok, err)
	}
	commitTxn(t, txn)
	wantRefs(t, dst, map[wire.RefName]object.Checksum{plain("main"): h.c2})
	if info := wantCommit(t, dst, h.c2, true); info.Partial || info.Parent != h.c1 {
		t.Errorf("Commit(c2) after Commit = %+v", info)
	}
	for _, n := range names {
		if got, want := read(t, dst, n), read(t, h.src, n); n.Type.IsMeta() && !bytes.Equal(got, want) {
			t.Errorf("%s: the bytes read back differ from those written", n)
		}
	}
	if got := reachable(t, dst, h.c2); len(got) != len(names) {
		t.Errorf("Reachable(c2) in the destination: %d objects, in the source %d", len(got), len(names))
	}
	wantCommitted(t, dst, names, true)
	// The transaction is over.
	if err := txn.SetRef(plain("late"), h.c2); err == nil {
		if err := txn.Commit(); err == nil {
			t.Errorf("a second Commit of the same transaction succeeded")
		}
	}
	wantRefs(t, dst, map[wire.RefName]object.Checksum{plain("main"): h.c2})
}

// testSetRefLastWins: of two SetRef calls for one ref in a transaction,
// the later one counts.
func testSetRefLastWins(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	txn := begin(t, dst)
	copyObjects(t, h.src, txn, reachable(t, h.src, h.c1, h.c2), nil)
	for _, step := range []struct {
		ref string
		c   object.Checksum
	}{{"a", h.c1}, {"b", h.c1}, {"a", h.c2}, {"b", object.Zero}} {
		if err := txn.SetRef(plain(step.ref), step.c); err != nil {
			t.Fatal(err)
		}
	}
	commitTxn(t, txn)
	wantRefs(t, dst, map[wire.RefName]object.Checksum{plain("a"): h.c2})
}

// testAbort: an aborted transaction changes no ref, and none of its
// objects becomes committed.
func testAbort(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	push(t, h.src, dst, map[wire.RefName]object.Checksum{plain("main"): h.c1, plain("gone"): h.c1})
	before := refMap(t, dst)
	fresh := only(reachable(t, h.src, h.c2), reachable(t, h.src, h.c1))
	txn := begin(t, dst)
	copyObjects(t, h.src, txn, fresh, nil)
	for r, c := range map[string]object.Checksum{"main": h.c2, "gone": object.Zero, "new": h.c2} {
		if err := txn.SetRef(plain(r), c); err != nil {
			t.Fatal(err)
		}
	}
	abort(t, txn)
	wantRefs(t, dst, before)
	wantCommit(t, dst, h.c2, false)
	if _, err := dst.ReadMetadata(object.Name{Checksum: h.c2, Type: object.Commit}); err == nil {
		t.Errorf("the aborted transaction's commit is readable")
	}
	wantCommitted(t, dst, fresh, false)
	wantCommitted(t, dst, reachable(t, h.src, h.c1), true)
}

// testAbortAfterCommit: aborting a committed transaction (an error path
// that aborts whatever it holds) undoes nothing.
func testAbortAfterCommit(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	names := reachable(t, h.src, h.c1)
	txn := begin(t, dst)
	copyObjects(t, h.src, txn, names, nil)
	if err := txn.SetRef(plain("main"), h.c1); err != nil {
		t.Fatal(err)
	}
	commitTxn(t, txn)
	txn.Abort() // an error or not: it must change nothing
	wantRefs(t, dst, map[wire.RefName]object.Checksum{plain("main"): h.c1})
	wantCommitted(t, dst, names, true)
}

// testOneTransaction: a repository has one transaction open at a time;
// once it ends, the next may begin.
func testOneTransaction(t *testing.T, s *suite) {
	dst := s.repo(t)
	txn := begin(t, dst)
	if second, err := dst.Begin(); err == nil {
		second.Abort()
		t.Errorf("a second Begin while a transaction is open succeeded")
	}
	abort(t, txn)
	commitTxn(t, begin(t, dst))
	abort(t, begin(t, dst))
}

// testDeleteRef: SetRef with a zero checksum deletes the ref (a plain or a
// collection ref) and leaves the commit's objects; deleting a ref that
// does not exist changes nothing.
func testDeleteRef(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	mirror := wire.RefName{CollectionID: "org.example.Mirror", Name: "main"}
	push(t, h.src, dst, map[wire.RefName]object.Checksum{plain("main"): h.c1, plain("keep"): h.c1, mirror: h.c1})
	txn := begin(t, dst)
	for _, r := range []wire.RefName{plain("main"), mirror, plain("never-was")} {
		if err := txn.SetRef(r, object.Zero); err != nil {
			t.Fatalf("SetRef(%s, zero): %v", r, err)
		}
	}
	commitTxn(t, txn)
	wantRefs(t, dst, map[wire.RefName]object.Checksum{plain("keep"): h.c1})
	if _, ok, err := dst.ResolveRev("main"); err != nil || ok {
		t.Errorf("ResolveRev(deleted ref): ok %v, %v", ok, err)
	}
	wantCommit(t, dst, h.c1, true)
}

// testPartial: Commit reports a commit the repository marks partial; a
// transaction that commits with a ref set to it (the receiver checked it
// complete first) clears the mark.
func testPartial(t *testing.T, s *suite) {
	if s.h.MarkPartial == nil {
		t.Skip("the harness cannot mark a commit partial")
	}
	h := s.history(t)
	dst := s.repo(t)
	push(t, h.src, dst, map[wire.RefName]object.Checksum{plain("main"): h.c1})
	s.h.MarkPartial(t, dst, h.c1)
	if info := wantCommit(t, dst, h.c1, true); !info.Partial {
		t.Fatalf("Commit(c1) after MarkPartial: not partial")
	}
	// A transaction that does not set a ref to it keeps the mark.
	txn := begin(t, dst)
	if err := txn.SetRef(plain("other"), object.Zero); err != nil {
		t.Fatal(err)
	}
	commitTxn(t, txn)
	if info := wantCommit(t, dst, h.c1, true); !info.Partial {
		t.Errorf("an unrelated transaction cleared c1's partial mark")
	}
	txn = begin(t, dst)
	if err := txn.CheckComplete(h.c1); err != nil {
		t.Fatalf("CheckComplete(c1): %v", err)
	}
	if err := txn.SetRef(plain("also"), h.c1); err != nil {
		t.Fatal(err)
	}
	commitTxn(t, txn)
	if info := wantCommit(t, dst, h.c1, true); info.Partial {
		t.Errorf("a commit a ref was set to is still partial after the transaction committed")
	}
	// A commit sent again (the receiver checks every commit sent
	// complete) loses its mark too.
	s.h.MarkPartial(t, dst, h.c1)
	txn = begin(t, dst)
	c1 := object.Name{Checksum: h.c1, Type: object.Commit}
	copyObjects(t, h.src, txn, []object.Name{c1}, nil)
	if err := txn.CheckComplete(h.c1); err != nil {
		t.Fatalf("CheckComplete(c1): %v", err)
	}
	commitTxn(t, txn)
	if info := wantCommit(t, dst, h.c1, true); info.Partial {
		t.Errorf("a commit written again is still partial after the transaction committed")
	}
}

// testSetRefInvalid: a ref name libostree refuses is refused, by SetRef or
// at the latest by Commit, and no ref moves.
func testSetRefInvalid(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	push(t, h.src, dst, map[wire.RefName]object.Checksum{plain("main"): h.c1})
	for _, bad := range []wire.RefName{plain("a b"), plain("-a"), {CollectionID: "org", Name: "main"}} {
		txn := begin(t, dst)
		errSet := txn.SetRef(plain("main"), object.Zero)
		if errSet == nil {
			errSet = txn.SetRef(bad, h.c1)
		}
		if errSet == nil {
			if err := txn.Commit(); err == nil {
				t.Errorf("SetRef(%q) and Commit succeeded", bad)
			}
		}
		txn.Abort()
		wantRefs(t, dst, map[wire.RefName]object.Checksum{plain("main"): h.c1})
	}
}

// testLockRefsExclusive: while the ref lock is held, LockRefs fails once
// LockTimeout has passed (it does not wait for ever); once unlocked, it
// succeeds again. Unlocking twice is harmless.
func testLockRefsExclusive(t *testing.T, s *suite) {
	dst := s.repo(t)
	unlock, err := dst.LockRefs()
	if err != nil {
		t.Fatalf("LockRefs: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		u, err := dst.LockRefs()
		if err == nil {
			u()
			err = errors.New("a second LockRefs took the lock while it was held")
		} else {
			err = nil
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("a second LockRefs did not give up after its LockTimeout of %s", lockTimeout)
	}
	unlock()
	unlock()
	again, err := dst.LockRefs()
	if err != nil {
		t.Fatalf("LockRefs after unlock: %v", err)
	}
	again()
	// A transaction and the ref lock are independent: a receiver holds
	// both.
	txn := begin(t, dst)
	u, err := dst.LockRefs()
	if err != nil {
		t.Fatalf("LockRefs with a transaction open: %v", err)
	}
	u()
	abort(t, txn)
}

// testLockRefsWaiter: a LockRefs that finds the lock held waits for it
// (within its LockTimeout) rather than failing at once.
func testLockRefsWaiter(t *testing.T, s *suite) {
	dst := s.h.New(t, Options{LockTimeout: time.Minute})
	unlock, err := dst.LockRefs()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := dst.LockRefs()
		if err == nil {
			u()
		}
		got <- err
	}()
	// Whether the waiter asks before or after this unlock, it must get
	// the lock.
	unlock()
	if err := <-got; err != nil {
		t.Errorf("LockRefs waiting for a lock released meanwhile: %v", err)
	}
}

// testResume: a store that takes up an aborted transaction's objects (a
// transfer.ResumeTxn) says so, counts only content-addressed ones
// (dirtree, dirmeta, file; never a commit) as present, and never as
// committed; a transaction that follows a discarded one takes up nothing.
func testResume(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	probe := begin(t, dst)
	rt, ok := probe.(transfer.ResumeTxn)
	if !ok {
		abort(t, probe)
		t.Skip("the store's transactions do not implement transfer.ResumeTxn")
	}
	if rt.Resumed() {
		t.Errorf("the first transaction of a new repository says it resumed one")
	}
	names := reachable(t, h.src, h.c2)
	copyObjects(t, h.src, probe, names, nil)
	abort(t, probe)

	txn := begin(t, dst)
	defer abort(t, txn)
	if !txn.(transfer.ResumeTxn).Resumed() {
		t.Fatalf("the transaction after an aborted one did not take up its objects")
	}
	got := has(t, txn, names)
	for i, n := range names {
		if want := n.Type != object.Commit; got[i] != want {
			t.Errorf("HasObjects(%s) after resuming = %v, want %v", n, got[i], want)
		}
	}
	for i, c := range committedView(t, txn, names) {
		if c {
			t.Errorf("HasCommittedObjects(%s) = true for an object only staged", names[i])
		}
	}
	wantCommit(t, dst, h.c2, false)
	wantRefs(t, dst, map[wire.RefName]object.Checksum{})
}

// testDiscard: a discarded transaction (a refused push) leaves nothing a
// later transaction takes up.
func testDiscard(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	txn := begin(t, dst)
	d, ok := txn.(transfer.DiscardTxn)
	if !ok {
		abort(t, txn)
		t.Skip("the store's transactions do not implement transfer.DiscardTxn")
	}
	names := reachable(t, h.src, h.c2)
	copyObjects(t, h.src, txn, names, nil)
	if err := txn.SetRef(plain("main"), h.c2); err != nil {
		t.Fatal(err)
	}
	if err := d.Discard(); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	wantRefs(t, dst, map[wire.RefName]object.Checksum{})
	next := begin(t, dst)
	defer abort(t, next)
	if rt, ok := next.(transfer.ResumeTxn); ok && rt.Resumed() {
		t.Errorf("the transaction after a discarded one took up its staging")
	}
	wantHas(t, next, names, false)
}

// testReachableSince: what a source offers a remote that has c1 holds
// every object of c2 that c1 lacks, and nothing c2 does not reach.
func testReachableSince(t *testing.T, s *suite) {
	h := s.history(t)
	ss, ok := h.src.(transfer.SinceSource)
	if !ok {
		t.Skip("the store does not implement transfer.SinceSource")
	}
	got, err := ss.ReachableSince(h.c1, []object.Checksum{h.c2})
	if err != nil {
		t.Fatalf("ReachableSince(c1, c2): %v", err)
	}
	all := reachable(t, h.src, h.c2)
	for _, n := range got {
		if !slices.Contains(all, n) {
			t.Errorf("ReachableSince lists %s, which c2 does not reach", n)
		}
	}
	for _, n := range only(all, reachable(t, h.src, h.c1)) {
		if !slices.Contains(got, n) {
			t.Errorf("ReachableSince lacks %s, new in c2", n)
		}
	}
}

// testFilez: a file object taken from the source as .filez bytes (stored,
// or deflated for the occasion) is written from them with the same
// content; one changed byte of them is refused and writes nothing.
func testFilez(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	probe := begin(t, dst)
	_, ok := probe.(transfer.FilezTxn)
	abort(t, probe)
	if !ok {
		t.Skip("the store's transactions do not implement transfer.FilezTxn")
	}
	filez := func(c object.Checksum) []byte {
		t.Helper()
		if src, ok := h.src.(transfer.FilezSource); ok && h.src.Mode() == "archive" {
			rc, size, err := src.OpenFilez(c)
			if err != nil {
				t.Fatalf("OpenFilez(%s): %v", c, err)
			}
			defer rc.Close()
			data, err := io.ReadAll(rc)
			if err != nil || uint64(len(data)) != size {
				t.Fatalf("OpenFilez(%s): %d bytes of %d, %v", c, len(data), size, err)
			}
			return data
		}
		if src, ok := h.src.(transfer.CompressSource); ok {
			data, ok, err := src.CompressFilez(c, 1<<20)
			if err != nil || !ok {
				t.Fatalf("CompressFilez(%s) = %v, %v", c, ok, err)
			}
			return data
		}
		t.Skip("the store hands out no .filez bytes (neither FilezSource nor CompressSource)")
		return nil
	}
	names := reachable(t, h.src, h.c2)
	files := ofType(names, object.File)
	txn := begin(t, dst)
	defer abort(t, txn)
	// A byte in the middle: the last may be the deflate stream's final
	// byte, whose unused high bits inflate ignores.
	bad := bytes.Clone(filez(files[0].Checksum))
	bad[len(bad)/2] ^= 0x20
	if err := txn.(transfer.FilezTxn).WriteFilez(files[0].Checksum, bytes.NewReader(bad), uint64(len(bad))); err == nil {
		t.Errorf("WriteFilez took .filez bytes with one byte changed")
	}
	wantHas(t, txn, files[:1], false)
	for _, n := range files {
		data := filez(n.Checksum)
		if err := txn.(transfer.FilezTxn).WriteFilez(n.Checksum, bytes.NewReader(data), uint64(len(data))); err != nil {
			t.Fatalf("WriteFilez(%s): %v", n, err)
		}
	}
	copyObjects(t, h.src, txn, only(names, files), nil)
	if err := txn.SetRef(plain("main"), h.c2); err != nil {
		t.Fatal(err)
	}
	commitTxn(t, txn)
	for _, n := range files {
		if got, want := read(t, dst, n), read(t, h.src, n); !bytes.Equal(got, want) {
			t.Errorf("%s: the content stream differs after a .filez write", n)
		}
	}
}

// testDetachedMetadata: a commit's detached metadata travels as a
// metadata object of its own; Reachable lists it, ReadMetadata and
// CommitMeta give it back as written, and a later transaction replaces it.
// CommittedMetadata sees it only once its transaction commits.
func testDetachedMetadata(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.repo(t)
	cm := object.Name{Checksum: h.c1, Type: object.CommitMeta}
	committed := func(want []byte, wantHas bool) {
		t.Helper()
		got, has, err := dst.(transfer.MetadataDest).CommittedMetadata(h.c1)
		if err != nil || has != wantHas || !bytes.Equal(got, want) {
			t.Errorf("CommittedMetadata(c1) = %x, %v, %v; want %x, %v", got, has, err, want, wantHas)
		}
	}
	committed(nil, false)
	var last []byte
	for i, sig := range []string{"first signature", "second signature"} {
		meta, err := sign.AppendDetachedSignature(nil, "ostree.sign.test", []byte(sig))
		if err != nil {
			t.Fatal(err)
		}
		txn := begin(t, dst)
		if i == 0 {
			copyObjects(t, h.src, txn, reachable(t, h.src, h.c1), nil)
			if err := txn.SetRef(plain("main"), h.c1); err != nil {
				t.Fatal(err)
			}
		}
		if err := txn.WriteMetadata(cm, meta); err != nil {
			t.Fatalf("#%d: WriteMetadata(%s): %v", i, cm, err)
		}
		committed(last, i > 0) // staged: not seen yet
		commitTxn(t, txn)
		last = meta
		committed(meta, true)
		if got := read(t, dst, cm); !bytes.Equal(got, meta) {
			t.Errorf("#%d: ReadMetadata(%s) = %x, want %x", i, cm, got, meta)
		}
		if got, ok, err := dst.(transfer.CommitMetaSource).CommitMeta(h.c1); err != nil || !ok || !bytes.Equal(got, meta) {
			t.Errorf("#%d: CommitMeta(c1) = %x, %v, %v; want %x", i, got, ok, err, meta)
		}
		if !slices.Contains(reachable(t, dst, h.c1), cm) {
			t.Errorf("#%d: Reachable(c1) lacks its detached metadata", i)
		}
	}
	if slices.Contains(reachable(t, h.src, h.c1), cm) {
		t.Errorf("Reachable lists detached metadata for a commit that has none")
	}
	if got, ok, err := h.src.(transfer.CommitMetaSource).CommitMeta(h.c1); err != nil || ok || got != nil {
		t.Errorf("CommitMeta(a commit without detached metadata) = %x, %v, %v", got, ok, err)
	}
	if got, has, err := h.src.(transfer.MetadataDest).CommittedMetadata(h.c1); err != nil || !has || got != nil {
		t.Errorf("CommittedMetadata(a commit without detached metadata) = %x, %v, %v", got, has, err)
	}
}

// testLookupRefs: LookupRefs and CountRefs agree with Refs: a name finds
// its ref and nothing else (not the refs under a directory of that name),
// a prefix the refs under it, each ref once; invalid names and the
// repository's own collection id find nothing.
func testLookupRefs(t *testing.T, s *suite) {
	h := s.history(t)
	dst := s.h.New(t, Options{CollectionID: "org.example.Own", LockTimeout: lockTimeout})
	mirror := func(name string) wire.RefName { return wire.RefName{CollectionID: "org.example.Mirror", Name: name} }
	all := map[wire.RefName]object.Checksum{
		plain("main"):                h.c2,
		plain("apps"):                h.c1,
		plain("app/a/x86_64/stable"): h.c1,
		plain("app/b/x86_64/stable"): h.c2,
		plain("app/b/aarch64/beta"):  h.c2,
		mirror("main"):               h.c1,
		mirror("os/x"):               h.c2,
	}
	push(t, h.src, dst, all)
	pattern := func(r wire.RefName) wire.RefPattern {
		if r.Name == "" || strings.HasSuffix(r.Name, "/") {
			return wire.RefPattern{Ref: r, Prefix: true}
		}
		return wire.RefPattern{Ref: r}
	}
	for i, tc := range []struct {
		patterns []wire.RefName
		max      int
		want     []wire.RefName
	}{
		{[]wire.RefName{plain("main")}, 0, []wire.RefName{plain("main")}},
		{[]wire.RefName{plain("app")}, 0, nil},   // a directory, not a ref
		{[]wire.RefName{plain("main/")}, 0, nil}, // a ref, not a directory
		{[]wire.RefName{plain("main/x/")}, 0, nil},
		{[]wire.RefName{plain("nope")}, 0, nil}, // no such ref
		{[]wire.RefName{plain("app/")}, 0, []wire.RefName{plain("app/a/x86_64/stable"), plain("app/b/x86_64/stable"), plain("app/b/aarch64/beta")}},
		{[]wire.RefName{plain("app/b/")}, 0, []wire.RefName{plain("app/b/x86_64/stable"), plain("app/b/aarch64/beta")}},
		{[]wire.RefName{plain("")}, 0, []wire.RefName{plain("main"), plain("apps"), plain("app/a/x86_64/stable"), plain("app/b/x86_64/stable"), plain("app/b/aarch64/beta")}},
		{[]wire.RefName{plain("main"), plain("main"), plain("app/a/"), plain("app/a/x86_64/stable")}, 0, []wire.RefName{plain("main"), plain("app/a/x86_64/stable")}},
		{[]wire.RefName{mirror("main"), mirror("")}, 0, []wire.RefName{mirror("main"), mirror("os/x")}},
		{[]wire.RefName{{CollectionID: "org.example.Own", Name: "main"}, {CollectionID: "org.example.Own", Name: ""}}, 0, nil},
		{[]wire.RefName{plain("../main"), plain("app//a"), plain("-main"), {CollectionID: "bad collection", Name: "main"}}, 0, nil},
	} {
		var patterns []wire.RefPattern
		for _, p := range tc.patterns {
			patterns = append(patterns, pattern(p))
		}
		got, err := dst.LookupRefs(patterns, tc.max)
		if err != nil {
			t.Errorf("#%d: LookupRefs(%v): %v", i, patterns, err)
			continue
		}
		gotMap := map[wire.RefName]object.Checksum{}
		for _, r := range got {
			if _, dup := gotMap[r.Ref]; dup {
				t.Errorf("#%d: LookupRefs(%v) lists %s twice", i, patterns, r.Ref)
			}
			gotMap[r.Ref] = r.Commit
		}
		want := map[wire.RefName]object.Checksum{}
		for _, r := range tc.want {
			want[r] = all[r]
		}
		if !maps.Equal(gotMap, want) {
			t.Errorf("#%d: LookupRefs(%v) = %v, want %v", i, patterns, gotMap, want)
		}
	}
	if got, err := dst.LookupRefs([]wire.RefPattern{pattern(plain("app/"))}, 1); err != nil || len(got) != 1 || !strings.HasPrefix(got[0].Ref.Name, "app/") {
		t.Errorf("LookupRefs(app/, max 1) = %v, %v; want one ref under app/", got, err)
	}
	if n, err := dst.CountRefs(); err != nil || n != len(all) {
		t.Errorf("CountRefs() = %d, %v; want %d", n, err, len(all))
	}
}
