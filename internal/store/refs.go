package store

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/summary"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Reading some refs without listing them all: the ref files are read
// directly, as libostree lays them out (refs/heads/NAME for the
// repository's own refs, refs/mirrors/COLLECTION/NAME for mirrored
// collection refs), so that a push that touches a few refs of a repository
// of many costs what it touches.

// errEnough stops a walk of the ref directories early.
var errEnough = errors.New("enough refs")

// LookupRefs implements transfer.Dest.
func (s *Repo) LookupRefs(patterns []wire.RefPattern, max int) ([]transfer.Ref, error) {
	own := s.r.CollectionID()
	seen := map[wire.RefName]bool{}
	var out []transfer.Ref
	add := func(r wire.RefName, c object.Checksum) error {
		if !seen[r] {
			seen[r] = true
			out = append(out, transfer.Ref{Ref: r, Commit: c})
		}
		if max > 0 && len(out) >= max {
			return errEnough
		}
		return nil
	}
	for _, p := range disjoint(patterns) {
		cid := p.Ref.CollectionID
		if cid != "" && (cid == own || libostree.ValidateCollectionID(cid) != nil) {
			continue // the own collection's refs are listed as plain refs
		}
		var err error
		if p.Prefix {
			dir := strings.TrimSuffix(p.Ref.Name, "/")
			if dir != "" && libostree.ValidateRef(dir) != nil {
				continue
			}
			err = s.walkRefs(cid, dir, true, func(name string, c object.Checksum) error {
				return add(wire.RefName{CollectionID: cid, Name: name}, c)
			})
		} else {
			if libostree.ValidateRef(p.Ref.Name) != nil {
				continue
			}
			var c object.Checksum
			if c, err = s.readRef(cid, p.Ref.Name); err == nil && !c.IsZero() {
				err = add(p.Ref, c)
			}
		}
		if err == errEnough {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// disjoint returns patterns without those another covers: repeated ones,
// names and prefixes under a prefix of the same collection. What is left
// reads each ref file at most once, however a client wrote its REF_FILTER.
func disjoint(patterns []wire.RefPattern) []wire.RefPattern {
	var prefixes []wire.RefPattern
	for _, p := range patterns {
		if p.Prefix {
			prefixes = append(prefixes, p)
		}
	}
	// Sorted by collection, then name: a prefix comes right after the
	// shortest prefix that covers it, or after others it covers too.
	slices.SortFunc(prefixes, func(a, b wire.RefPattern) int {
		return cmp.Or(strings.Compare(a.Ref.CollectionID, b.Ref.CollectionID), strings.Compare(a.Ref.Name, b.Ref.Name))
	})
	var kept []wire.RefPattern
	for _, p := range prefixes {
		if n := len(kept); n > 0 && kept[n-1].Matches(p.Ref) {
			continue
		}
		kept = append(kept, p)
	}
	out := slices.Clone(kept)
	seen := map[wire.RefName]bool{}
	for _, p := range patterns {
		if p.Prefix || seen[p.Ref] {
			continue
		}
		seen[p.Ref] = true
		i, _ := slices.BinarySearchFunc(kept, p.Ref, func(q wire.RefPattern, r wire.RefName) int {
			return cmp.Or(strings.Compare(q.Ref.CollectionID, r.CollectionID), strings.Compare(q.Ref.Name, r.Name))
		})
		// The prefix that covers p, if any, sorts just before it.
		if i > 0 && kept[i-1].Matches(p.Ref) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// CountRefs implements transfer.Dest. When the summary lists every ref
// (SummaryCurrent), it counts the summary's; else it counts the ref files
// without reading them, which at 100,000 refs in directories of their own
// (app/ID/ARCH/BRANCH) takes a few hundred milliseconds.
func (s *Repo) CountRefs() (int, error) {
	if s.SummaryCurrent() {
		if data, err := s.r.ReadSummary(); err == nil {
			if n, err := summary.RefCount(data); err == nil {
				return n, nil
			}
		}
	}
	n := 0
	count := func(string, object.Checksum) error { n++; return nil }
	if err := s.walkRefs("", "", false, count); err != nil {
		return 0, err
	}
	own := s.r.CollectionID()
	mirrors, err := os.ReadDir(filepath.Join(s.r.Path(), "refs", "mirrors"))
	if err != nil && !os.IsNotExist(err) {
		return 0, err
	}
	for _, m := range mirrors {
		if !m.IsDir() || m.Name() == own || libostree.ValidateCollectionID(m.Name()) != nil {
			continue
		}
		if err := s.walkRefs(m.Name(), "", false, count); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// walkRefs calls fn for each ref of collection cid ("": the repository's
// own) under directory dir ("": all of them), with its commit when read is
// set. As libostree does, it skips names that are not valid ref fragments
// and takes regular files and symbolic links (aliases) for refs.
func (s *Repo) walkRefs(cid, dir string, read bool, fn func(name string, c object.Checksum) error) error {
	var walk func(path, name string) error
	walk = func(path, name string) error {
		entries, err := os.ReadDir(path)
		if err != nil {
			if name == dir && (os.IsNotExist(err) || errors.Is(err, syscall.ENOTDIR)) {
				return nil // no such directory (or a ref of that name): no refs under it
			}
			return err
		}
		for _, e := range entries {
			if libostree.ValidateRef(e.Name()) != nil {
				continue
			}
			full := e.Name()
			if name != "" {
				full = name + "/" + e.Name()
			}
			switch t := e.Type(); {
			case t.IsDir():
				if err := walk(filepath.Join(path, e.Name()), full); err != nil {
					return err
				}
			case t.IsRegular() || t&os.ModeSymlink != 0:
				var c object.Checksum
				if read {
					if c, err = s.readRef(cid, full); err != nil {
						return fmt.Errorf("ref %s: %w", wire.RefName{CollectionID: cid, Name: full}, err)
					}
					if c.IsZero() {
						continue // a symbolic link to a directory, or gone since
					}
				}
				if err := fn(full, c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(s.refPath(cid, dir), dir)
}
