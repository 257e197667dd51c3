package summary

import (
	"fmt"

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
