package summary

import (
	"bytes"
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"sort"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// Repo is what a summary says of the repository besides its refs, as it
// is now: Derive checks that the previous summary says the same.
type Repo struct {
	Mode         string   // core.mode as the config spells it ("archive-z2", "bare-user", ...)
	Tombstones   bool     // core.tombstone-commits
	CollectionID string   // core.collection-id; "" for none
	Deltas       []string // the static deltas' names (ostree_repo_list_static_delta_names); none with core.no-deltas-in-summary
}

// Change is a ref that moved. A ref of the repository's own (CollectionID
// empty or the repository's collection ID) is in the summary's main list,
// a mirrored collection-ref in its collection map.
type Change struct {
	CollectionID string
	Name         string
	From         object.Checksum // its commit before; zero when it was created
	To           *Entry          // its entry after; nil when it was deleted
}

// UnderivableError says why a summary cannot be derived from the previous
// one: the caller regenerates it in full.
type UnderivableError struct{ Reason string }

func (e *UnderivableError) Error() string { return "summary cannot be derived: " + e.Reason }

func underivable(format string, a ...any) error {
	return &UnderivableError{Reason: fmt.Sprintf(format, a...)}
}

// knownKeys are the metadata keys ostree_repo_regenerate_summary writes
// (without additional metadata).
var knownKeys = map[string]bool{
	KeyLastModified: true, KeyMode: true, KeyTombstones: true, KeyIndexedDeltas: true,
	KeyCollectionID: true, KeyCollectionMap: true, KeyStaticDeltas: true,
}

// Derive returns the summary that libostree would write for the
// repository described by old (the previous summary, which listed its refs
// before changes) and repo, once changes have been applied, with
// lastModified (seconds since 1970) as its modification time. See the
// package documentation for when it returns an *UnderivableError.
func Derive(old []byte, repo Repo, changes []Change, lastModified uint64) ([]byte, error) {
	if len(old) == 0 {
		return nil, underivable("there is no previous summary")
	}
	// Only the framing of the refs is read, and the entries the changes
	// touch: the others are copied as they are (a summary of 100,000 refs
	// is 10 MB). The metadata is read whole.
	sum := gvariant.NewValue(summaryType, old, order)
	refs, err := sum.Index(0)
	if err != nil {
		return nil, underivable("%v", err)
	}
	meta, err := sum.Index(1)
	if err != nil {
		return nil, underivable("%v", err)
	}
	if err := meta.CheckNormal(); err != nil {
		return nil, underivable("the previous summary's metadata is not in normal form: %v", err)
	}
	mainChanges, mapChanges, err := sortChanges(changes, repo.CollectionID)
	if err != nil {
		return nil, err
	}
	if err := checkMeta(meta, repo, len(mapChanges) > 0); err != nil {
		return nil, err
	}
	return rewrite(refs, meta, mainChanges, mapChanges, lastModified)
}

// rewrite writes the summary of refs and meta with the changes applied
// and last-modified set to lastModified.
func rewrite(refs, meta gvariant.Value, mainChanges, mapChanges []Change, lastModified uint64) ([]byte, error) {
	b := gvariant.NewBuilder(summaryType, order)
	b.Open()
	if err := mergeRefs(b, refs, mainChanges, ""); err != nil {
		return nil, err
	}
	entries, err := meta.Entries()
	if err != nil {
		return nil, underivable("metadata: %v", err)
	}
	b.Open()
	for i, en := range entries {
		k, v := en.Key, en.Value
		switch k {
		case KeyLastModified:
			b.Open()
			b.Str(k)
			b.OpenVariant(typeT)
			b.Uint64(bits.ReverseBytes64(lastModified))
			b.Close()
			b.Close()
		case KeyCollectionMap:
			b.Open()
			b.Str(k)
			b.OpenVariant(mapType)
			if err := mergeMap(b, mustIndex(v, 0), mapChanges); err != nil {
				return nil, err
			}
			b.Close()
			b.Close()
		default:
			e, _ := meta.Index(i)
			b.ValueNormal(e)
		}
	}
	b.Close()
	b.Close()
	out, err := b.Finish()
	if err != nil {
		return nil, fmt.Errorf("summary: writing: %w", err)
	}
	return out, nil
}

// sortChanges splits changes into those of the main list and those of
// the collection map, each sorted as the summary lists refs (by collection
// ID, then name, in byte order, as strcmp sorts).
func sortChanges(changes []Change, own string) (main, mapped []Change, err error) {
	for _, c := range changes {
		if c.To != nil && c.To.Name != c.Name {
			return nil, nil, fmt.Errorf("summary: change of %s with an entry for %s", c.Name, c.To.Name)
		}
		if c.CollectionID == "" || c.CollectionID == own {
			c.CollectionID = ""
			main = append(main, c)
		} else {
			mapped = append(mapped, c)
		}
	}
	byRef := func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.CollectionID, b.CollectionID), cmp.Compare(a.Name, b.Name))
	}
	for _, l := range [][]Change{main, mapped} {
		slices.SortFunc(l, byRef)
		for i := 1; i < len(l); i++ {
			if byRef(l[i-1], l[i]) == 0 {
				return nil, nil, fmt.Errorf("summary: ref %s changed twice", l[i].Name)
			}
		}
	}
	return main, mapped, nil
}

// checkMeta checks that the previous summary's metadata is libostree's
// for repo, with keys that will not change.
func checkMeta(meta gvariant.Value, repo Repo, mapChanges bool) error {
	entries, err := meta.Entries()
	if err != nil {
		return underivable("metadata: %v", err)
	}
	seen := map[string]gvariant.Value{}
	for _, en := range entries {
		k, v := en.Key, en.Value
		if !knownKeys[k] {
			return underivable("the previous summary has metadata %q, which libostree does not write", k)
		}
		if _, dup := seen[k]; dup {
			return underivable("the previous summary has metadata %q twice", k)
		}
		seen[k] = v
	}
	str := func(k string) (string, bool) {
		v, ok := seen[k]
		if !ok {
			return "", false
		}
		if t, err := v.VariantType(); err != nil || t.String() != "s" {
			return "", false
		}
		s, err := mustIndex(v, 0).Str()
		return s, err == nil
	}
	boolean := func(k string) (bool, bool) {
		v, ok := seen[k]
		if !ok {
			return false, false
		}
		if t, err := v.VariantType(); err != nil || t.String() != "b" {
			return false, false
		}
		x, err := mustIndex(v, 0).Bool()
		return x, err == nil
	}
	if m, ok := str(KeyMode); !ok || m != repo.Mode {
		return underivable("the previous summary's mode is not %q", repo.Mode)
	}
	if x, ok := boolean(KeyTombstones); !ok || x != repo.Tombstones {
		return underivable("the previous summary's tombstone-commits is not %v", repo.Tombstones)
	}
	if x, ok := boolean(KeyIndexedDeltas); !ok || !x {
		return underivable("the previous summary's indexed-deltas is not true")
	}
	if v, ok := seen[KeyLastModified]; !ok {
		return underivable("the previous summary has no last-modified")
	} else if t, err := v.VariantType(); err != nil || t.String() != "t" {
		return underivable("the previous summary's last-modified is not a t")
	}
	if id, ok := str(KeyCollectionID); ok != (repo.CollectionID != "") || id != repo.CollectionID {
		return underivable("the previous summary's collection ID is not %q", repo.CollectionID)
	}
	if v, ok := seen[KeyCollectionMap]; ok {
		if t, err := v.VariantType(); err != nil || t.String() != mapType.String() {
			return underivable("the previous summary's collection map is not an %s", mapType)
		}
	} else if mapChanges {
		return underivable("a collection-ref moved and the previous summary has no collection map")
	}
	var deltas []string
	if v, ok := seen[KeyStaticDeltas]; ok {
		t, err := v.VariantType()
		if err != nil || t.String() != "a{sv}" {
			return underivable("the previous summary's static deltas are not an a{sv}")
		}
		d, err := mustIndex(v, 0).Entries()
		if err != nil || len(d) == 0 {
			return underivable("the previous summary's static deltas: none, or %v", err)
		}
		for _, en := range d {
			deltas = append(deltas, en.Key)
		}
	}
	want := slices.Clone(repo.Deltas)
	slices.Sort(deltas)
	slices.Sort(want)
	if !slices.Equal(deltas, want) {
		return underivable("the static deltas are not those of the previous summary")
	}
	return nil
}

// mergeRefs writes the a(s(taya{sv})) refs with changes (sorted, of one
// collection) applied; coll names the collection in errors. It finds each
// change's place by binary search and copies the entries between in
// blocks, reading no other entry.
func mergeRefs(b *gvariant.Builder, refs gvariant.Value, changes []Change, coll string) error {
	els, err := refs.Elements()
	if err != nil {
		return underivable("refs%s: %v", coll, err)
	}
	n := els.Len()
	var readErr error
	name := func(i int) string {
		e, err := els.Index(i)
		var s string
		if err == nil {
			s, err = entryName(e)
		}
		if err != nil && readErr == nil {
			readErr = err
		}
		return s
	}
	b.Open()
	pos := 0
	for _, c := range changes {
		k := pos + sort.Search(n-pos, func(x int) bool { return name(pos+x) >= c.Name })
		if readErr != nil {
			return underivable("refs%s: %v", coll, readErr)
		}
		if k > 0 && name(k-1) >= c.Name || readErr != nil {
			return underivable("refs%s: not sorted by name around %q", coll, c.Name)
		}
		b.CopyElements(els, pos, k)
		pos = k
		if k < n && name(k) == c.Name {
			e, _ := els.Index(k)
			was, err := entryCommit(e)
			if err != nil {
				return underivable("refs%s: %s: %v", coll, c.Name, err)
			}
			if was != c.From {
				return underivable("ref %s%s moved from %s, but the previous summary lists it at %s", coll, c.Name, c.From.Short(), was.Short())
			}
			pos = k + 1
		} else if !c.From.IsZero() {
			return underivable("ref %s%s moved from %s, but the previous summary does not list it", coll, c.Name, c.From.Short())
		}
		if c.To != nil {
			c.To.encode(b)
		}
	}
	b.CopyElements(els, pos, n)
	b.Close()
	return nil
}

// mergeMap writes the a{sa(s(taya{sv}))} collection map with changes
// (sorted by collection ID, then name) applied: a collection that loses
// its last ref goes, a new one is added in its place. The map must not
// end up empty (libostree would leave the key out).
func mergeMap(b *gvariant.Builder, m gvariant.Value, changes []Change) error {
	colls, err := m.Entries()
	if err != nil {
		return underivable("collection map: %v", err)
	}
	n := len(colls)
	// Group the changes by collection.
	var groups [][]Change
	for i := 0; i < len(changes); {
		j := i + 1
		for j < len(changes) && changes[j].CollectionID == changes[i].CollectionID {
			j++
		}
		groups = append(groups, changes[i:j])
		i = j
	}
	written := 0
	writeColl := func(id string, refs gvariant.Value, ch []Change) error {
		// Write into a builder of its own first: a collection left with no
		// refs is not written at all.
		cb := gvariant.NewBuilder(gvariant.MustParseType("{sa(s(taya{sv}))}"), order)
		cb.Open()
		cb.Str(id)
		if err := mergeRefs(cb, refs, ch, " ("+id+")"); err != nil {
			return err
		}
		cb.Close()
		data, err := cb.Finish()
		if err != nil {
			return fmt.Errorf("summary: writing: %w", err)
		}
		entry := gvariant.NewValue(gvariant.MustParseType("{sa(s(taya{sv}))}"), data, order)
		if arr := mustIndex(entry, 1); len(arr.Data()) == 0 {
			return nil // an empty array is zero bytes
		}
		b.ValueNormal(entry)
		written++
		return nil
	}
	empty := gvariant.NewValue(refsType, nil, order)
	b.Open()
	g := 0
	prev := ""
	for i := 0; i <= n; i++ {
		var id string
		var refs gvariant.Value
		if i < n {
			id, refs = colls[i].Key, colls[i].Value
			if i > 0 && id <= prev {
				return underivable("collection map: %q listed after %q", id, prev)
			}
			prev = id
			if len(refs.Data()) == 0 {
				return underivable("collection map: %q has no refs", id)
			}
		}
		for ; g < len(groups) && (i == n || groups[g][0].CollectionID < id); g++ {
			if err := writeColl(groups[g][0].CollectionID, empty, groups[g]); err != nil {
				return err
			}
		}
		if i == n {
			break
		}
		var ch []Change
		if g < len(groups) && groups[g][0].CollectionID == id {
			ch = groups[g]
			g++
		}
		if ch == nil {
			e, _ := m.Index(i)
			b.ValueNormal(e)
			written++
			continue
		}
		if err := writeColl(id, refs, ch); err != nil {
			return err
		}
	}
	b.Close()
	if written == 0 {
		return underivable("the last collection-ref is gone: libostree leaves the collection map out")
	}
	return nil
}

// Equal reports whether two summaries are the same but for their
// last-modified times (what `ostree summary -u` run twice differs in).
func Equal(a, b []byte) (bool, error) {
	na, err := withLastModified(a, 0)
	if err != nil {
		return false, err
	}
	nb, err := withLastModified(b, 0)
	if err != nil {
		return false, err
	}
	return bytes.Equal(na, nb), nil
}

// withLastModified returns summary data with its last-modified set to t.
func withLastModified(data []byte, t uint64) ([]byte, error) {
	sum := gvariant.NewValue(summaryType, data, order)
	if err := sum.CheckNormal(); err != nil {
		return nil, err
	}
	refs, err := sum.Index(0)
	if err != nil {
		return nil, err
	}
	meta, err := sum.Index(1)
	if err != nil {
		return nil, err
	}
	return rewrite(refs, meta, nil, nil, t)
}
