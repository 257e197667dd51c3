package benchgen

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// Write creates t under root, which must not exist or be empty: its
// directories (0755), regular files and symlinks. Files are written by
// several goroutines.
func (t *Tree) Write(root string) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	for _, d := range t.Dirs {
		if err := os.Mkdir(filepath.Join(root, filepath.FromSlash(d)), 0o755); err != nil {
			return err
		}
	}
	return writeEntries(root, t.Entries)
}

// Update turns the tree from, written under root, into to: it removes the
// entries to lacks, and writes the entries that are new or differ. The
// directories must be the same (Version2 keeps them).
func Update(root string, from, to *Tree) error {
	if len(from.Dirs) != len(to.Dirs) {
		return errors.New("benchgen: Update: the versions have different directories")
	}
	old := make(map[string]Entry, len(from.Entries))
	for _, e := range from.Entries {
		old[e.Path] = e
	}
	var write []Entry
	for _, e := range to.Entries {
		o, ok := old[e.Path]
		delete(old, e.Path)
		if ok && o == e {
			continue
		}
		if ok {
			if err := os.Remove(filepath.Join(root, filepath.FromSlash(e.Path))); err != nil {
				return err
			}
		}
		write = append(write, e)
	}
	for p := range old {
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(p))); err != nil {
			return err
		}
	}
	return writeEntries(root, write)
}

func writeEntries(root string, entries []Entry) error {
	workers := min(runtime.GOMAXPROCS(0), 8)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	work := make(chan int, 256)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := range work {
				var err error
				buf, err = writeEntry(root, &entries[i], buf)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range entries {
		work <- i
	}
	close(work)
	wg.Wait()
	return first
}

func writeEntry(root string, e *Entry, buf []byte) ([]byte, error) {
	p := filepath.Join(root, filepath.FromSlash(e.Path))
	if e.Kind == Symlink {
		return buf, os.Symlink(e.Target, p)
	}
	buf = e.Content.Bytes(buf)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(e.Mode))
	if err != nil {
		return buf, err
	}
	_, err = f.Write(buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The umask may have cleared bits of the mode.
		err = os.Chmod(p, os.FileMode(e.Mode))
	}
	if err != nil {
		return buf, fmt.Errorf("benchgen: %s: %w", e.Path, err)
	}
	return buf, nil
}
