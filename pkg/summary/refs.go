package summary

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// Ref is a ref of a summary's main list and the commit it names.
type Ref struct {
	Name   string
	Commit object.Checksum
}

// Refs returns the refs of a summary's main list, in its order (sorted by
// name, as libostree writes it). The collection map is not read.
func Refs(data []byte) ([]Ref, error) {
	sum := gvariant.NewValue(summaryType, data, order)
	list, err := sum.Index(0)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	n, err := list.Len()
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	refs := make([]Ref, 0, n)
	for i := 0; i < n; i++ {
		e, err := list.Index(i)
		if err != nil {
			return nil, fmt.Errorf("summary: ref %d: %w", i, err)
		}
		name, err := entryName(e)
		if err != nil {
			return nil, fmt.Errorf("summary: ref %d: %w", i, err)
		}
		c, err := entryCommit(e)
		if err != nil {
			return nil, fmt.Errorf("summary: ref %q: %w", name, err)
		}
		refs = append(refs, Ref{Name: name, Commit: c})
	}
	return refs, nil
}

// startSummary opens a summary's builder and writes its refs: entries
// sorted by name, as libostree sorts them; a name twice is an error. The
// metadata is the caller's to write.
func startSummary(entries []Entry) (*gvariant.Builder, error) {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Name == sorted[i-1].Name {
			return nil, fmt.Errorf("summary: ref %q twice", sorted[i].Name)
		}
	}
	b := gvariant.NewBuilder(summaryType, order)
	b.Open()
	b.Open()
	for _, e := range sorted {
		e.encode(b)
	}
	b.Close()
	return b, nil
}

// Write returns a summary listing entries (in any order; they are sorted
// as libostree sorts them) with the metadata a puller reads: the
// repository's mode and the modification time. It is for a repository
// served for one pull, not a replacement for the one libostree writes.
func Write(entries []Entry, mode string, lastModified uint64) ([]byte, error) {
	b, err := startSummary(entries)
	if err != nil {
		return nil, err
	}
	b.Open()
	b.Open()
	b.Str(KeyLastModified)
	b.OpenVariant(typeT)
	b.Uint64(bits.ReverseBytes64(lastModified))
	b.Close()
	b.Close()
	b.Open()
	b.Str(KeyMode)
	b.OpenVariant(typeS)
	b.Str(mode)
	b.Close()
	b.Close()
	b.Close()
	b.Close()
	return b.Finish()
}

// Regenerate returns the summary libostree's ostree_repo_regenerate_summary
// writes for a repository described by repo whose refs have entries (in any
// order), without additional metadata, with lastModified as its
// modification time: for a repository whose files are not on this machine
// (one in an object store), so that Derive takes it as the previous
// summary later. Static deltas and collection IDs are not written (it
// refuses a repo with either).
func Regenerate(entries []Entry, repo Repo, lastModified uint64) ([]byte, error) {
	if len(repo.Deltas) > 0 || repo.CollectionID != "" {
		return nil, errors.New("summary: regenerating with static deltas or a collection ID is libostree's job")
	}
	b, err := startSummary(entries)
	if err != nil {
		return nil, err
	}
	// The keys in the order libostree 2022.7's dictionary gives them.
	b.Open()
	entry := func(key string, t gvariant.Type, value func()) {
		b.Open()
		b.Str(key)
		b.OpenVariant(t)
		value()
		b.Close()
		b.Close()
	}
	entry(KeyMode, typeS, func() { b.Str(repo.Mode) })
	entry(KeyLastModified, typeT, func() { b.Uint64(bits.ReverseBytes64(lastModified)) })
	entry(KeyTombstones, typeB, func() { b.Bool(repo.Tombstones) })
	entry(KeyIndexedDeltas, typeB, func() { b.Bool(true) })
	b.Close()
	b.Close()
	return b.Finish()
}
