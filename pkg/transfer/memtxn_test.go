package transfer

// The in-memory store's transactions (memstore_test.go has the store).

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

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
