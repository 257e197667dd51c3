package walk

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// Loader is the repository a walk reads. It must be safe for use from
// several goroutines at once.
type Loader interface {
	// Metadata returns a metadata object's bytes; ok is false when the
	// repository lacks it.
	Metadata(n object.Name) (data []byte, ok bool, err error)
	// HasObjects reports for each name whether the repository holds it
	// (for CommitMeta: whether the commit has detached metadata).
	HasObjects(names []object.Name) ([]bool, error)
}

// MissingError is a metadata object the walk needed and the repository
// lacks.
type MissingError struct{ Name object.Name }

func (e *MissingError) Error() string { return fmt.Sprintf("object %s is missing", e.Name) }

// IncompleteError says that a commit lacks an object it needs.
type IncompleteError struct {
	Commit  object.Checksum
	Missing object.Name
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("commit %s is incomplete: object %s is missing", e.Commit, e.Missing)
}

// loaders is how many metadata objects a walk loads at once.
const loaders = 4

var (
	commitType  = gvariant.MustParseType("(a{sv}aya(say)sstayay)")
	dirtreeType = gvariant.MustParseType("(a(say)a(sayay))")
)

// Root returns the root dirtree and dirmeta of a serialized commit.
func Root(commit []byte) (tree, meta object.Checksum, err error) {
	v := gvariant.NewValue(commitType, commit, binary.LittleEndian)
	if tree, err = checksumAt(v, 6); err == nil {
		meta, err = checksumAt(v, 7)
	}
	if err != nil {
		return tree, meta, fmt.Errorf("commit: %w", err)
	}
	return tree, meta, nil
}

// Parent returns the parent of a serialized commit, object.Zero when it
// has none.
func Parent(commit []byte) (object.Checksum, error) {
	v := gvariant.NewValue(commitType, commit, binary.LittleEndian)
	m, err := v.Index(1)
	if err != nil {
		return object.Zero, fmt.Errorf("commit: %w", err)
	}
	if len(m.Data()) == 0 {
		return object.Zero, nil
	}
	c, err := checksumAt(v, 1)
	if err != nil {
		return object.Zero, fmt.Errorf("commit: parent: %w", err)
	}
	return c, nil
}

// checksumAt reads member i of v, an ay that must be a checksum.
func checksumAt(v gvariant.Value, i int) (object.Checksum, error) {
	var c object.Checksum
	m, err := v.Index(i)
	if err != nil {
		return c, err
	}
	if len(m.Data()) != len(c) {
		return c, fmt.Errorf("a checksum of %d bytes", len(m.Data()))
	}
	copy(c[:], m.Data())
	return c, nil
}

// Entry is one entry of a dirtree: a file (Meta zero) or a directory.
type Entry struct {
	Name string
	Sum  object.Checksum // the file's content checksum, or the directory's dirtree
	Meta object.Checksum // the directory's dirmeta
}

// Dirtree is a parsed dirtree: its files and directories, each sorted by
// name as libostree writes them.
type Dirtree struct {
	Files, Dirs []Entry
}

// ParseDirtree reads a serialized dirtree, strictly: bytes not in GVariant
// normal form (the only form libostree writes), or a checksum that is not
// 32 bytes, are an error.
func ParseDirtree(data []byte) (*Dirtree, error) {
	v := gvariant.NewValue(dirtreeType, data, binary.LittleEndian)
	if err := v.CheckNormal(); err != nil {
		return nil, fmt.Errorf("dirtree: %w", err)
	}
	d := &Dirtree{}
	for which, list := range []*[]Entry{&d.Files, &d.Dirs} {
		l, err := v.Index(which)
		if err != nil {
			return nil, fmt.Errorf("dirtree: %w", err)
		}
		n, err := l.Len()
		if err != nil {
			return nil, fmt.Errorf("dirtree: %w", err)
		}
		*list = make([]Entry, n)
		for i := range *list {
			e, err := l.Index(i)
			if err != nil {
				return nil, fmt.Errorf("dirtree: %w", err)
			}
			name, err := e.Index(0)
			var s string
			if err == nil {
				s, err = name.Str()
			}
			ent := Entry{Name: s}
			if err == nil {
				ent.Sum, err = checksumAt(e, 1)
			}
			if err == nil && which == 1 {
				ent.Meta, err = checksumAt(e, 2)
			}
			if err != nil {
				return nil, fmt.Errorf("dirtree: entry %d: %w", i, err)
			}
			(*list)[i] = ent
		}
	}
	return d, nil
}

// Serialize writes d as libostree writes a dirtree: the inverse of
// ParseDirtree (the entries must be sorted by name, and the checksums
// are taken as they are).
func (d *Dirtree) Serialize() ([]byte, error) {
	b := gvariant.NewBuilder(dirtreeType, binary.LittleEndian)
	b.Open()
	for which, list := range [][]Entry{d.Files, d.Dirs} {
		b.Open()
		for _, e := range list {
			b.Open()
			b.Str(e.Name)
			b.Bytes(e.Sum[:])
			if which == 1 {
				b.Bytes(e.Meta[:])
			}
			b.Close()
		}
		b.Close()
	}
	b.Close()
	return b.Finish()
}

// find returns the entry named name of a list sorted by name, or nil.
func find(list []Entry, name string) *Entry {
	lo, hi := 0, len(list)
	for lo < hi {
		mid := lo + (hi-lo)/2
		switch c := list[mid].Name; {
		case c == name:
			return &list[mid]
		case name < c:
			hi = mid
		default:
			lo = mid + 1
		}
	}
	return nil
}

// set is an ordered set of object names.
type set struct {
	names []object.Name
	has   map[object.Name]bool
}

func (s *set) add(n object.Name) bool {
	if s.has == nil {
		s.has = map[object.Name]bool{}
	}
	if s.has[n] {
		return false
	}
	s.has[n] = true
	s.names = append(s.names, n)
	return true
}

// loadDirtrees loads and parses trees, several at once.
func loadDirtrees(l Loader, trees []object.Checksum) ([]*Dirtree, error) {
	out := make([]*Dirtree, len(trees))
	errs := make([]error, len(trees))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(loaders, len(trees)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				n := object.Name{Checksum: trees[i], Type: object.DirTree}
				data, ok, err := l.Metadata(n)
				switch {
				case err != nil:
					errs[i] = err
				case !ok:
					errs[i] = &MissingError{Name: n}
				default:
					if out[i], err = ParseDirtree(data); err != nil {
						errs[i] = fmt.Errorf("%s: %w", n, err)
					}
				}
			}
		}()
	}
	for i := range trees {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadRoot loads commit c and returns its root.
func loadRoot(l Loader, c object.Checksum) (tree, meta object.Checksum, err error) {
	n := object.Name{Checksum: c, Type: object.Commit}
	data, ok, err := l.Metadata(n)
	if err != nil {
		return tree, meta, err
	}
	if !ok {
		return tree, meta, &MissingError{Name: n}
	}
	tree, meta, err = Root(data)
	if err != nil {
		err = fmt.Errorf("%s: %w", n, err)
	}
	return tree, meta, err
}

// pair is a dirtree to walk and the base's dirtree at the same path (zero:
// none).
type pair struct{ tree, base object.Checksum }

// walkTrees adds to s the dirtrees of pairs and what they need, except
// what is provably reachable from the bases: a subdirectory whose dirtree
// is the base's is skipped whole, as are a file and a dirmeta the base
// directory has under the same name. A dirtree seen already (at another
// path) is not walked again: what that walk left out is reachable from a
// base too. Without bases, that is everything.
func walkTrees(l Loader, s *set, pairs []pair) error {
	for len(pairs) > 0 {
		var todo []pair
		var load []object.Checksum
		for _, p := range pairs {
			if p.tree == p.base || !s.add(object.Name{Checksum: p.tree, Type: object.DirTree}) {
				continue
			}
			todo = append(todo, p)
			load = append(load, p.tree)
			if !p.base.IsZero() {
				load = append(load, p.base)
			}
		}
		trees, err := loadDirtrees(l, load)
		if err != nil {
			return err
		}
		pairs = nil
		k := 0
		for _, p := range todo {
			d := trees[k]
			k++
			base := &Dirtree{}
			if !p.base.IsZero() {
				base = trees[k]
				k++
			}
			for _, f := range d.Files {
				if b := find(base.Files, f.Name); b == nil || b.Sum != f.Sum {
					s.add(object.Name{Checksum: f.Sum, Type: object.File})
				}
			}
			for _, e := range d.Dirs {
				b := find(base.Dirs, e.Name)
				if b == nil || b.Meta != e.Meta {
					s.add(object.Name{Checksum: e.Meta, Type: object.DirMeta})
				}
				next := pair{tree: e.Sum}
				if b != nil {
					next.base = b.Sum
				}
				pairs = append(pairs, next)
			}
		}
	}
	return nil
}

// reachable is the set of objects the commits need, less what base (zero:
// none) provably holds; without detached metadata.
func reachable(l Loader, base object.Checksum, commits []object.Checksum) (*set, error) {
	var baseTree, baseMeta object.Checksum
	if !base.IsZero() {
		var err error
		if baseTree, baseMeta, err = loadRoot(l, base); err != nil {
			return nil, fmt.Errorf("base commit: %w", err) // not the walked commits' fault
		}
	}
	s := &set{}
	var pairs []pair
	for _, c := range commits {
		tree, meta, err := loadRoot(l, c)
		if err != nil {
			return nil, err
		}
		s.add(object.Name{Checksum: c, Type: object.Commit})
		if base.IsZero() || meta != baseMeta {
			s.add(object.Name{Checksum: meta, Type: object.DirMeta})
		}
		pairs = append(pairs, pair{tree: tree, base: baseTree})
	}
	return s, walkTrees(l, s, pairs)
}

// withCommitMeta adds, after each commit of names, its detached metadata
// when it has some.
func withCommitMeta(l Loader, names []object.Name) ([]object.Name, error) {
	var metas []object.Name
	for _, n := range names {
		if n.Type == object.Commit {
			metas = append(metas, object.Name{Checksum: n.Checksum, Type: object.CommitMeta})
		}
	}
	if len(metas) == 0 {
		return names, nil
	}
	have, err := l.HasObjects(metas)
	if err != nil {
		return nil, err
	}
	out := make([]object.Name, 0, len(names)+len(metas))
	k := 0
	for _, n := range names {
		out = append(out, n)
		if n.Type == object.Commit {
			if have[k] {
				out = append(out, metas[k])
			}
			k++
		}
	}
	return out, nil
}

// Reachable returns every object the commits need, as one set: each
// commit, its detached metadata if any, and its whole tree. A metadata
// object the walk needs and lacks is a *MissingError.
func Reachable(l Loader, commits ...object.Checksum) ([]object.Name, error) {
	s, err := reachable(l, object.Zero, commits)
	if err != nil {
		return nil, err
	}
	return withCommitMeta(l, s.names)
}

// ReachableSince returns what Reachable returns, less what is provably
// reachable from base: subtrees identical to base's at the same path, and
// the files and dirmetas base's directory at the same path lists. The
// result holds every object the commits need that base does not, and
// perhaps a few that base has (a file moved to another directory, say), so
// it is what to offer a repository that has base whole. It reads only the
// directories that changed.
func ReachableSince(l Loader, base object.Checksum, commits ...object.Checksum) ([]object.Name, error) {
	s, err := reachable(l, base, commits)
	if err != nil {
		return nil, err
	}
	return withCommitMeta(l, s.names)
}

// CheckComplete checks that commit c and every object its tree needs are
// present, and returns an *IncompleteError naming one that is not. With a
// base (a commit the repository holds whole; zero: none), only what
// changed since it is looked for. A commit marked partial is checked like
// any other.
func CheckComplete(l Loader, c, base object.Checksum) error {
	commit := object.Name{Checksum: c, Type: object.Commit}
	have, err := l.HasObjects([]object.Name{commit})
	if err != nil {
		return err
	}
	if !have[0] {
		return &IncompleteError{Commit: c, Missing: commit}
	}
	s, err := reachable(l, base, []object.Checksum{c})
	if m, ok := err.(*MissingError); ok {
		return &IncompleteError{Commit: c, Missing: m.Name}
	}
	if err != nil {
		return err
	}
	// The commit and the dirtrees were loaded: the rest is looked for.
	var look []object.Name
	for _, n := range s.names {
		if n.Type == object.File || n.Type == object.DirMeta {
			look = append(look, n)
		}
	}
	for len(look) > 0 {
		batch := look[:min(len(look), 4096)]
		look = look[len(batch):]
		have, err := l.HasObjects(batch)
		if err != nil {
			return err
		}
		for i, h := range have {
			if !h {
				return &IncompleteError{Commit: c, Missing: batch[i]}
			}
		}
	}
	return nil
}
