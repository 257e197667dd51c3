package transfer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// memStore is an in-memory repository implementing both Source and Dest,
// for the protocol tests. Its objects imitate OSTree's just enough:
//
//   - a metadata object is named by the SHA-256 of its bytes (except a
//     commitmeta, which is named by its commit);
//   - a content object is a content stream (u32 big-endian header length H,
//     4 zero bytes, H header bytes, data) named by the SHA-256 of everything
//     after the first 8 bytes;
//   - a commit is a small JSON document, fakeCommit, that lists its parent
//     and every object its tree needs.
type memStore struct {
	mode         string
	collectionID string
	// beforeLock, when set, is called by LockRefs before it takes the ref
	// lock: a test moves a ref there "between advertisement and update".
	// Set it before the push starts.
	beforeLock func()
	// lockTimeout is how long LockRefs waits for the ref lock before it
	// fails, as internal/store's LockTimeout; 0: for ever.
	lockTimeout time.Duration

	refLock chan struct{} // holds a token while the ref lock is held

	mu      sync.Mutex
	objects map[object.Name][]byte
	refs    map[wire.RefName]object.Checksum
	partial map[object.Checksum]bool
	txn     *memTxn // the open transaction, if any
	stats   memStats
}

// memStats counts what was done to a memStore through its transactions.
type memStats struct {
	Begins  int // transactions started
	Written int // objects written (staged) through transactions
	Commits int // Txn.Commit calls that succeeded
	Aborts  int // Txn.Abort calls that succeeded
	Checks  int // Txn.CheckComplete calls
	Listed  int // Refs calls: listings of every ref
}

var (
	_ Source = (*memStore)(nil)
	_ Dest   = (*memStore)(nil)
)

func newMemStore() *memStore {
	return &memStore{
		mode:    wire.ModeArchive,
		refLock: make(chan struct{}, 1),
		objects: map[object.Name][]byte{},
		refs:    map[wire.RefName]object.Checksum{},
		partial: map[object.Checksum]bool{},
	}
}

// refName is a plain ref name.
func refName(name string) wire.RefName { return wire.RefName{Name: name} }

// ---- object formats ----

// regularFileHeader is a plausible content-stream header for a regular
// file: uid, gid, mode (0o100644), rdev, all big-endian u32.
func regularFileHeader() []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint32(h[8:12], 0o100644)
	return h
}

// contentStream builds a content object's bytes from its header and data.
func contentStream(header, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.BigEndian.PutUint32(b[:4], uint32(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// contentChecksum checks the structure of a content stream and returns its
// checksum: the SHA-256 of everything after the first 8 bytes.
func contentChecksum(stream []byte) (object.Checksum, error) {
	if len(stream) < 8 {
		return object.Zero, fmt.Errorf("content stream of %d bytes is shorter than its 8-byte prefix", len(stream))
	}
	h := binary.BigEndian.Uint32(stream[:4])
	if !bytes.Equal(stream[4:8], []byte{0, 0, 0, 0}) {
		return object.Zero, errors.New("content stream: padding after the header length is not zero")
	}
	if uint64(h) > uint64(len(stream)-8) {
		return object.Zero, fmt.Errorf("content stream: header of %d bytes overruns the %d-byte stream", h, len(stream))
	}
	return sha256.Sum256(stream[8:]), nil
}

// fakeCommit is the content of a fake commit object.
type fakeCommit struct {
	Parent  string   `json:"parent"`
	Objects []string `json:"objects"`
}

type parsedCommit struct {
	parent  object.Checksum
	objects []object.Name
}

func parseObjectName(s string) (object.Name, error) {
	hex, typ, ok := strings.Cut(s, ".")
	if !ok {
		return object.Name{}, fmt.Errorf("object name %q has no type", s)
	}
	c, err := object.ParseChecksum(hex)
	if err != nil {
		return object.Name{}, err
	}
	for _, t := range []object.Type{object.File, object.DirTree, object.DirMeta} {
		if t.String() == typ {
			return object.Name{Checksum: c, Type: t}, nil
		}
	}
	return object.Name{}, fmt.Errorf("object name %q: a tree does not hold %q objects", s, typ)
}

func parseCommit(data []byte) (parsedCommit, error) {
	var fc fakeCommit
	var pc parsedCommit
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return pc, fmt.Errorf("malformed commit: %v", err)
	}
	if dec.More() {
		return pc, errors.New("malformed commit: trailing data")
	}
	if fc.Parent != "" {
		p, err := object.ParseChecksum(fc.Parent)
		if err != nil {
			return pc, fmt.Errorf("malformed commit: parent: %v", err)
		}
		pc.parent = p
	}
	for _, s := range fc.Objects {
		n, err := parseObjectName(s)
		if err != nil {
			return pc, fmt.Errorf("malformed commit: %v", err)
		}
		pc.objects = append(pc.objects, n)
	}
	return pc, nil
}

// ---- locked helpers (s.mu held) ----

// lookup finds an object, committed or staged in the open transaction.
func (s *memStore) lookup(n object.Name) ([]byte, bool) {
	if d, ok := s.objects[n]; ok {
		return d, true
	}
	if s.txn != nil {
		if d, ok := s.txn.staged[n]; ok {
			return d, true
		}
	}
	return nil, false
}

func (s *memStore) loadCommit(c object.Checksum) (parsedCommit, bool, error) {
	data, ok := s.lookup(object.Name{Checksum: c, Type: object.Commit})
	if !ok {
		return parsedCommit{}, false, nil
	}
	pc, err := parseCommit(data)
	if err != nil {
		return parsedCommit{}, false, fmt.Errorf("commit %s: %v", c.Short(), err)
	}
	return pc, true, nil
}

func (s *memStore) checkComplete(c object.Checksum) error {
	pc, ok, err := s.loadCommit(c)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("commit %s is missing", c)
	}
	for _, n := range pc.objects {
		if _, ok := s.lookup(n); !ok {
			return fmt.Errorf("commit %s: object %s is missing", c, n)
		}
	}
	return nil
}

// ---- Source and Dest ----

func (s *memStore) ResolveRev(rev string) (object.Checksum, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.refs[refName(rev)]; ok {
		return c, true, nil
	}
	// A checksum resolves to itself, present or not, as libostree's
	// resolve_rev does: Commit tells whether it is there.
	if c, err := object.ParseChecksum(rev); err == nil {
		return c, true, nil
	}
	return object.Zero, false, nil
}

func (s *memStore) Refs() ([]Ref, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Listed++
	return s.sortedRefs(), nil
}

func (s *memStore) sortedRefs() []Ref {
	var refs []Ref
	for r, c := range s.refs {
		refs = append(refs, Ref{Ref: r, Commit: c})
	}
	slices.SortFunc(refs, func(a, b Ref) int {
		return strings.Compare(a.Ref.CollectionID+"\x00"+a.Ref.Name, b.Ref.CollectionID+"\x00"+b.Ref.Name)
	})
	return refs
}

// LookupRefs goes through every ref: the contract (internal/storetest)
// pins what it returns, not what it reads.
func (s *memStore) LookupRefs(patterns []wire.RefPattern, max int) ([]Ref, error) {
	s.mu.Lock()
	all := s.sortedRefs()
	s.mu.Unlock()
	f := &wire.RefFilter{Patterns: patterns}
	var out []Ref
	for _, r := range all {
		if f.Matches(r.Ref) && s.ValidateRef(r.Ref) == nil {
			out = append(out, r)
			if max > 0 && len(out) == max {
				break
			}
		}
	}
	return out, nil
}

func (s *memStore) CountRefs() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.refs), nil
}

func (s *memStore) Commit(c object.Checksum) (CommitInfo, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pc, ok, err := s.loadCommit(c)
	if err != nil || !ok {
		return CommitInfo{}, ok, err
	}
	return CommitInfo{Parent: pc.parent, Partial: s.partial[c]}, true, nil
}

// Reachable returns, without duplicates, each commit, its detached metadata
// if there is any and the objects its tree needs (not its parents).
func (s *memStore) Reachable(commits []object.Checksum) ([]object.Name, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[object.Name]bool{}
	var out []object.Name
	add := func(n object.Name) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, c := range commits {
		pc, ok, err := s.loadCommit(c)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("reachable: commit %s is missing", c)
		}
		add(object.Name{Checksum: c, Type: object.Commit})
		if _, ok := s.lookup(object.Name{Checksum: c, Type: object.CommitMeta}); ok {
			add(object.Name{Checksum: c, Type: object.CommitMeta})
		}
		for _, n := range pc.objects {
			add(n)
		}
	}
	return out, nil
}

func (s *memStore) ReadMetadata(n object.Name) ([]byte, error) {
	if !n.Type.IsMeta() {
		return nil, fmt.Errorf("%s is not a metadata object", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.objects[n]
	if !ok {
		return nil, fmt.Errorf("object %s is missing", n)
	}
	return bytes.Clone(d), nil
}

func (s *memStore) OpenContent(c object.Checksum) (io.ReadCloser, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := object.Name{Checksum: c, Type: object.File}
	d, ok := s.objects[n]
	if !ok {
		return nil, 0, fmt.Errorf("object %s is missing", n)
	}
	return io.NopCloser(bytes.NewReader(d)), uint64(len(d)), nil
}

func (s *memStore) Mode() string         { return s.mode }
func (s *memStore) CollectionID() string { return s.collectionID }

// ValidateRef imitates libostree's rules roughly.
// ValidateRef imitates libostree's rules (internal/storetest pins them).
func (s *memStore) ValidateRef(r wire.RefName) error {
	if !validRefName(r.Name) {
		return fmt.Errorf("invalid ref name %q", r.Name)
	}
	if id := r.CollectionID; id != "" && !validCollectionID(id) {
		return fmt.Errorf("invalid collection id %q", id)
	}
	return nil
}

// validRefName: one or more parts separated by '/', each a letter, digit
// or '_' followed by letters, digits, '_', '-' and '.'.
func validRefName(name string) bool {
	if !utf8.ValidString(name) {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" {
			return false
		}
		for i, c := range part {
			word := unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_'
			if !word && (i == 0 || (c != '-' && c != '.')) {
				return false
			}
		}
	}
	return true
}

// validCollectionID: two or more elements separated by '.', each an ASCII
// letter or '_' followed by ASCII letters, digits and '_'.
func validCollectionID(id string) bool {
	parts := strings.Split(id, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for i, c := range p {
			letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
			if !letter && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

func (s *memStore) Begin() (Txn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.txn != nil {
		return nil, errors.New("a transaction is already open")
	}
	s.txn = &memTxn{s: s, staged: map[object.Name][]byte{}, refs: map[wire.RefName]object.Checksum{}}
	s.stats.Begins++
	return s.txn, nil
}

func (s *memStore) LockRefs() (func(), error) {
	if s.beforeLock != nil {
		s.beforeLock()
	}
	var timeout <-chan time.Time
	if s.lockTimeout > 0 {
		t := time.NewTimer(s.lockTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case s.refLock <- struct{}{}:
	case <-timeout:
		return nil, fmt.Errorf("another push has held the ref lock for longer than %s", s.lockTimeout)
	}
	var once sync.Once
	return func() { once.Do(func() { <-s.refLock }) }, nil
}

// ---- transactions ----

// memTxn stages objects and refs; its fields are guarded by s.mu.
type memTxn struct {
	s      *memStore
	staged map[object.Name][]byte
	refs   map[wire.RefName]object.Checksum
	done   bool
}

var _ Txn = (*memTxn)(nil)

func (t *memTxn) HasObjects(names []object.Name) ([]bool, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.done {
		return nil, errors.New("transaction is finished")
	}
	out := make([]bool, len(names))
	for i, n := range names {
		_, out[i] = t.s.lookup(n)
	}
	return out, nil
}

func (t *memTxn) stage(n object.Name, data []byte) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.done {
		return errors.New("transaction is finished")
	}
	t.staged[n] = data
	t.s.stats.Written++
	return nil
}

func (t *memTxn) WriteMetadata(n object.Name, data []byte) error {
	if !n.Type.IsMeta() {
		return fmt.Errorf("%s is not a metadata object", n)
	}
	// A commitmeta is named by its commit; the others by their bytes.
	if n.Type != object.CommitMeta {
		if got := object.Checksum(sha256.Sum256(data)); got != n.Checksum {
			return fmt.Errorf("corrupted object %s: checksum is %s", n, got)
		}
	}
	if n.Type == object.Commit {
		if _, err := parseCommit(data); err != nil {
			return fmt.Errorf("%s: %v", n, err)
		}
	}
	return t.stage(n, bytes.Clone(data))
}

func (t *memTxn) WriteContent(c object.Checksum, r io.Reader, size uint64) error {
	n := object.Name{Checksum: c, Type: object.File}
	if size > 1<<40 {
		return fmt.Errorf("%s: size %d is too large for a test", n, size)
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(size)))
	if err != nil {
		return fmt.Errorf("reading %s: %w", n, err)
	}
	if uint64(len(data)) != size {
		return fmt.Errorf("reading %s: got %d of %d bytes", n, len(data), size)
	}
	got, err := contentChecksum(data)
	if err != nil {
		return fmt.Errorf("%s: %v", n, err)
	}
	if got != c {
		return fmt.Errorf("corrupted object %s: checksum is %s", n, got)
	}
	return t.stage(n, data)
}

func (t *memTxn) CheckComplete(c object.Checksum) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.s.stats.Checks++
	return t.s.checkComplete(c)
}

func (t *memTxn) SetRef(r wire.RefName, c object.Checksum) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.done {
		return errors.New("transaction is finished")
	}
	if err := t.s.ValidateRef(r); err != nil {
		return err
	}
	// The repository's own collection id names its plain refs.
	if r.CollectionID == t.s.collectionID {
		r.CollectionID = ""
	}
	t.refs[r] = c
	return nil
}

func (t *memTxn) Commit() error { return t.end(true) }
func (t *memTxn) Abort() error  { return t.end(false) }

// end ends the transaction, committing it or not; an error if it had
// ended.
func (t *memTxn) end(commit bool) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.done {
		return errors.New("transaction is finished")
	}
	t.done = true
	t.s.txn = nil
	if !commit {
		t.staged, t.refs = nil, nil
		t.s.stats.Aborts++
		return nil
	}
	maps.Copy(t.s.objects, t.staged)
	// As internal/store does, the commits written and those refs now
	// point at (checked complete) lose their partial marks.
	for n := range t.staged {
		if n.Type == object.Commit {
			delete(t.s.partial, n.Checksum)
		}
	}
	for r, c := range t.refs {
		if c.IsZero() {
			delete(t.s.refs, r)
		} else {
			t.s.refs[r] = c
			delete(t.s.partial, c)
		}
	}
	t.s.stats.Commits++
	return nil
}

// ---- test helpers ----

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
