package transfer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
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

// CommitMeta implements CommitMetaSource.
func (s *memStore) CommitMeta(c object.Checksum) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.objects[object.Name{Checksum: c, Type: object.CommitMeta}]
	return bytes.Clone(d), ok, nil
}

// CommittedMetadata implements MetadataDest: committed objects only.
func (s *memStore) CommittedMetadata(c object.Checksum) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[object.Name{Checksum: c, Type: object.Commit}]; !ok {
		return nil, false, nil
	}
	return bytes.Clone(s.objects[object.Name{Checksum: c, Type: object.CommitMeta}]), true, nil
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
