package transfer

// Helpers of the protocol tests on the in-memory store: building commits,
// snapshots and comparisons, sources that fail.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

func (s *memStore) counts() memStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// clone returns a copy of the store's objects, refs and partial commits,
// with no transaction and no hook. Object bytes are shared: nothing
// modifies them in place.
func (s *memStore) clone() *memStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := newMemStore()
	c.mode, c.collectionID = s.mode, s.collectionID
	c.objects = maps.Clone(s.objects)
	c.refs = maps.Clone(s.refs)
	c.partial = maps.Clone(s.partial)
	return c
}

func (s *memStore) put(n object.Name, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[n] = data
}

func (s *memStore) has(n object.Name) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objects[n]
	return ok
}

func (s *memStore) object(n object.Name) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objects[n]
}

func (s *memStore) setRef(r string, c object.Checksum) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.IsZero() {
		delete(s.refs, refName(r))
	} else {
		s.refs[refName(r)] = c
	}
}

// ref returns a ref's commit, or object.Zero.
func (s *memStore) refValue(r string) object.Checksum {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refs[refName(r)]
}

func (s *memStore) markPartial(c object.Checksum) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial[c] = true
}

// complete reports whether a committed commit is complete.
func (s *memStore) complete(c object.Checksum) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkComplete(c)
}

// objectSize returns the size of a stored object, as it is sent.
func (s *memStore) objectSize(tb testing.TB, n object.Name) uint64 {
	tb.Helper()
	d := s.object(n)
	if d == nil {
		tb.Fatalf("object %s is missing", n)
	}
	return uint64(len(d))
}

// reachable is Reachable for tests.
func (s *memStore) reachable(tb testing.TB, commits ...object.Checksum) []object.Name {
	tb.Helper()
	names, err := s.Reachable(commits)
	if err != nil {
		tb.Fatal(err)
	}
	return names
}

// memSnapshot is a copy of a memStore's objects and refs.
type memSnapshot struct {
	objects map[object.Name][]byte
	refs    map[wire.RefName]object.Checksum
}

func (s *memStore) snapshot() memSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return memSnapshot{objects: maps.Clone(s.objects), refs: maps.Clone(s.refs)}
}

// diff describes how the store differs from a snapshot, or returns "".
func (s *memStore) diff(before memSnapshot) string {
	now := s.snapshot()
	var d []string
	for n := range now.objects {
		if _, ok := before.objects[n]; !ok {
			d = append(d, "new object "+n.String())
		}
	}
	for n, data := range before.objects {
		if got, ok := now.objects[n]; !ok {
			d = append(d, "lost object "+n.String())
		} else if !bytes.Equal(got, data) {
			d = append(d, "changed object "+n.String())
		}
	}
	for r, c := range now.refs {
		if old, ok := before.refs[r]; !ok || old != c {
			d = append(d, fmt.Sprintf("ref %s: %s -> %s", r, shortOrNone(old), c.Short()))
		}
	}
	for r := range before.refs {
		if _, ok := now.refs[r]; !ok {
			d = append(d, fmt.Sprintf("ref %s deleted", r))
		}
	}
	slices.Sort(d)
	return strings.Join(d, "; ")
}

// assertUnchanged fails the test if the store's objects or refs differ from
// the snapshot, or if a transaction is left open.
func (s *memStore) assertUnchanged(tb testing.TB, before memSnapshot) {
	tb.Helper()
	if d := s.diff(before); d != "" {
		tb.Errorf("destination changed: %s", d)
	}
	s.assertNoTxn(tb)
}

func (s *memStore) assertNoTxn(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	open := s.txn != nil
	s.mu.Unlock()
	if open {
		tb.Errorf("a transaction was left open")
	}
}

// assertRefsComplete fails the test if a ref points at an incomplete commit.
func (s *memStore) assertRefsComplete(tb testing.TB) {
	tb.Helper()
	refs, _ := s.Refs()
	for _, r := range refs {
		if err := s.complete(r.Commit); err != nil {
			tb.Errorf("ref %s points at an incomplete commit: %v", r.Ref, err)
		}
	}
}

// dirMeta is the (only) dirmeta object of the fake trees.
var dirMeta = []byte("dirmeta uid=0 gid=0 mode=040755\n")

// newCommit writes a commit with the given files and parent (object.Zero
// for none) straight into s: a content object per distinct file content, a
// dirtree naming the files, the dirmeta and the commit. The same inputs
// give the same commit in any store.
func newCommit(tb testing.TB, s *memStore, parent object.Checksum, files map[string][]byte) object.Checksum {
	tb.Helper()
	var tree strings.Builder
	tree.WriteString("dirtree\n")
	var objs []object.Name
	for _, name := range slices.Sorted(maps.Keys(files)) {
		stream := contentStream(regularFileHeader(), files[name])
		c, err := contentChecksum(stream)
		if err != nil {
			tb.Fatal(err)
		}
		n := object.Name{Checksum: c, Type: object.File}
		s.put(n, stream)
		objs = append(objs, n)
		fmt.Fprintf(&tree, "file %s %s\n", name, c)
	}
	dt := []byte(tree.String())
	dtName := object.Name{Checksum: sha256.Sum256(dt), Type: object.DirTree}
	dmName := object.Name{Checksum: sha256.Sum256(dirMeta), Type: object.DirMeta}
	s.put(dtName, dt)
	s.put(dmName, bytes.Clone(dirMeta))
	objs = append(objs, dtName, dmName)

	fc := fakeCommit{Objects: []string{}}
	if !parent.IsZero() {
		fc.Parent = parent.String()
	}
	seen := map[object.Name]bool{}
	for _, n := range objs {
		if !seen[n] {
			seen[n] = true
			fc.Objects = append(fc.Objects, n.String())
		}
	}
	data, err := json.Marshal(fc)
	if err != nil {
		tb.Fatal(err)
	}
	c := object.Checksum(sha256.Sum256(data))
	s.put(object.Name{Checksum: c, Type: object.Commit}, data)
	return c
}

// addCommitMeta stores detached metadata for a commit.
func addCommitMeta(s *memStore, c object.Checksum, data []byte) {
	s.put(object.Name{Checksum: c, Type: object.CommitMeta}, data)
}

// copyHistory copies into dst every object reachable from tip and from its
// ancestors that src has.
func copyHistory(tb testing.TB, dst, src *memStore, tip object.Checksum) {
	tb.Helper()
	for c := tip; !c.IsZero(); {
		for _, n := range src.reachable(tb, c) {
			dst.put(n, bytes.Clone(src.object(n)))
		}
		info, ok, err := src.Commit(c)
		if err != nil || !ok {
			tb.Fatalf("copyHistory: commit %s: ok %v, err %v", c, ok, err)
		}
		c = info.Parent
		if _, ok, _ := src.Commit(c); !ok {
			break
		}
	}
}

// corruptSource is a Source that flips a byte of one object as it reads it,
// or, with err set, fails to read it.
type corruptSource struct {
	*memStore
	bad object.Name
	err error
}

func (c corruptSource) ReadMetadata(n object.Name) ([]byte, error) {
	data, err := c.memStore.ReadMetadata(n)
	if err != nil || n != c.bad {
		return data, err
	}
	if c.err != nil {
		return nil, c.err
	}
	data[len(data)/2] ^= 0x20
	return data, nil
}

func (c corruptSource) OpenContent(cs object.Checksum) (io.ReadCloser, uint64, error) {
	rc, size, err := c.memStore.OpenContent(cs)
	if err != nil || (object.Name{Checksum: cs, Type: object.File}) != c.bad {
		return rc, size, err
	}
	if c.err != nil {
		rc.Close()
		return nil, 0, c.err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, 0, err
	}
	data[len(data)-1] ^= 0x20 // the last byte of the file's data
	return io.NopCloser(bytes.NewReader(data)), size, nil
}

// TestMemStore checks the in-memory store itself.
func TestMemStore(t *testing.T) {
	s := newMemStore()
	files := map[string][]byte{"a": []byte("alpha"), "b": []byte("beta"), "same-as-a": []byte("alpha")}
	c1 := newCommit(t, s, object.Zero, files)
	if again := newCommit(t, s, object.Zero, files); again != c1 {
		t.Fatalf("newCommit is not deterministic")
	}
	names := s.reachable(t, c1)
	// commit, 2 distinct contents, dirtree, dirmeta
	if len(names) != 5 {
		t.Fatalf("Reachable: got %d objects %v, want 5", len(names), names)
	}
	for _, n := range names {
		data := s.object(n)
		var got object.Checksum
		if n.Type == object.File {
			var err error
			if got, err = contentChecksum(data); err != nil {
				t.Fatal(err)
			}
			if mode := binary.BigEndian.Uint32(data[8+8 : 8+12]); mode != 0o100644 {
				t.Errorf("%s: mode %o", n, mode)
			}
		} else {
			got = sha256.Sum256(data)
		}
		if got != n.Checksum {
			t.Errorf("%s: checksum of its bytes is %s", n, got)
		}
	}
	if err := s.complete(c1); err != nil {
		t.Fatal(err)
	}
	s.setRef("main", c1)
	if c, ok, _ := s.ResolveRev("main"); !ok || c != c1 {
		t.Errorf("ResolveRev(main) = %s, %v", c, ok)
	}
	if c, ok, _ := s.ResolveRev(c1.String()); !ok || c != c1 {
		t.Errorf("ResolveRev(checksum) = %s, %v", c, ok)
	}
	if _, ok, _ := s.ResolveRev("nope"); ok {
		t.Errorf("ResolveRev(nope) ok")
	}

	for _, bad := range []string{"", "a b", "a/../b", "/a", "a//b", "a/"} {
		if s.ValidateRef(refName(bad)) == nil {
			t.Errorf("ValidateRef(%q) accepted", bad)
		}
	}
	for _, good := range []string{"main", "os/x86_64/stable", "a.b-c_d"} {
		if err := s.ValidateRef(refName(good)); err != nil {
			t.Errorf("ValidateRef(%q): %v", good, err)
		}
	}

	// A transaction: writes are checked, staged, visible to HasObjects and
	// Commit while open, and land only on Commit.
	other := newMemStore()
	c2 := newCommit(t, other, c1, map[string][]byte{"a": []byte("alpha"), "c": []byte("gamma")})
	txn, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(); err == nil {
		t.Errorf("second Begin succeeded")
	}
	before := s.snapshot()
	for _, n := range other.reachable(t, c2) {
		data := other.object(n)
		if n.Type == object.File {
			bad := bytes.Clone(data)
			bad[len(bad)-1] ^= 1
			if err := txn.WriteContent(n.Checksum, bytes.NewReader(bad), uint64(len(bad))); err == nil {
				t.Errorf("WriteContent accepted a corrupted %s", n)
			}
			if err := txn.WriteContent(n.Checksum, bytes.NewReader(data[:len(data)-1]), uint64(len(data))); err == nil {
				t.Errorf("WriteContent accepted a short %s", n)
			}
			if err := txn.WriteContent(n.Checksum, bytes.NewReader(data), uint64(len(data))); err != nil {
				t.Error(err)
			}
		} else {
			if err := txn.WriteMetadata(n, append(bytes.Clone(data), ' ')); err == nil {
				t.Errorf("WriteMetadata accepted a corrupted %s", n)
			}
			if err := txn.WriteMetadata(n, data); err != nil {
				t.Error(err)
			}
		}
	}
	if err := txn.CheckComplete(c2); err != nil {
		t.Errorf("CheckComplete of the staged commit: %v", err)
	}
	if info, ok, err := s.Commit(c2); err != nil || !ok || info.Parent != c1 {
		t.Errorf("Commit(staged) = %+v, %v, %v", info, ok, err)
	}
	if have, _ := txn.HasObjects([]object.Name{{Checksum: c2, Type: object.Commit}}); !have[0] {
		t.Errorf("HasObjects does not see the staged commit")
	}
	if d := s.diff(before); d != "" {
		t.Errorf("staged objects are visible: %s", d)
	}
	if err := txn.SetRef(refName("next"), c2); err != nil {
		t.Fatal(err)
	}
	if err := txn.Abort(); err != nil {
		t.Fatal(err)
	}
	s.assertUnchanged(t, before)
	if _, ok, _ := s.Commit(c2); ok {
		t.Errorf("aborted commit still visible")
	}

	txn, _ = s.Begin()
	for _, n := range other.reachable(t, c2) {
		if n.Type.IsMeta() {
			txn.WriteMetadata(n, other.object(n))
		}
	}
	if err := txn.CheckComplete(c2); err == nil {
		t.Errorf("CheckComplete without the new content succeeded")
	}
	txn.SetRef(refName("main"), object.Zero)
	txn.SetRef(refName("next"), c2)
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := txn.Abort(); err == nil {
		t.Errorf("Abort after Commit succeeded")
	}
	if s.refValue("main") != object.Zero || s.refValue("next") != c2 {
		t.Errorf("refs after commit: %v", s.snapshot().refs)
	}
	if st := s.counts(); st.Begins != 2 || st.Commits != 1 || st.Aborts != 1 {
		t.Errorf("stats %+v", st)
	}
}
