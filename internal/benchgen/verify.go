package benchgen

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/ostreefile"
)

// VerifyStats is what Verify did.
type VerifyStats struct {
	Objects  int   // objects verified
	Skipped  int   // objects not named by their content (.commitmeta, .sig, ...), not read
	Bytes    int64 // bytes read from the verified objects
	Inflated int64 // content bytes the .filez objects inflated to
}

// Verify checks objects of the archive repository repo as ostree-push's
// receiver checks what it is sent, for ci/bench's verify floor: each
// .filez is read whole and validated by ostreefile.ValidateFilezWith with
// a zlib Inflater (every strict rule, inflating, SHA-256 of the content
// stream), and its checksum must be its name; a .dirtree, .dirmeta or
// .commit must hash (SHA-256 of its bytes) to its name. Objects not named
// by their content (.commitmeta and the like) are skipped, a .file (not
// in an archive repository) is an error.
//
// paths are the objects to check, relative to repo/objects ("ab/cdef….filez",
// with or without a leading "./"); nil means every object of the
// repository. workers goroutines share them. The first mismatch or read
// error is returned (with what was done until then).
func Verify(repo string, paths []string, workers int) (VerifyStats, error) {
	objects := filepath.Join(repo, "objects")
	if paths == nil {
		var err error
		if paths, err = listObjects(objects); err != nil {
			return VerifyStats{}, err
		}
	}
	workers = max(workers, 1)
	var (
		next     atomic.Int64
		failed   atomic.Bool
		mu       sync.Mutex
		total    VerifyStats
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st VerifyStats
			err := func() error {
				inf, err := libostree.NewInflater()
				if err != nil {
					return err
				}
				defer inf.Close()
				var buf []byte
				for !failed.Load() {
					i := int(next.Add(1) - 1)
					if i >= len(paths) {
						return nil
					}
					if buf, err = verifyObject(objects, paths[i], buf, inf, &st); err != nil {
						return err
					}
				}
				return nil
			}()
			mu.Lock()
			defer mu.Unlock()
			total.Objects += st.Objects
			total.Skipped += st.Skipped
			total.Bytes += st.Bytes
			total.Inflated += st.Inflated
			if err != nil {
				failed.Store(true)
				if firstErr == nil {
					firstErr = err
				}
			}
		}()
	}
	wg.Wait()
	return total, firstErr
}

// ReadObjectList reads a list of object paths, one a line, as ci/bench's
// objects2 file has them ("./ab/cdef….filez"); empty lines are ignored.
func ReadObjectList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	paths := []string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			paths = append(paths, l)
		}
	}
	return paths, sc.Err()
}

// listObjects lists every objects/XX/REST file, relative to objects.
func listObjects(objects string) ([]string, error) {
	dirs, err := os.ReadDir(objects)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, d := range dirs {
		if !d.IsDir() || len(d.Name()) != 2 {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(objects, d.Name()))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				paths = append(paths, d.Name()+"/"+e.Name())
			}
		}
	}
	return paths, nil
}

// verifyObject checks the object at rel (under objects), reading it into
// buf (grown as needed, and returned for the next object).
func verifyObject(objects, rel string, buf []byte, inf *libostree.Inflater, st *VerifyStats) ([]byte, error) {
	rel = strings.TrimPrefix(rel, "./")
	dir, file, ok := strings.Cut(rel, "/")
	base, ext, ok2 := strings.Cut(file, ".")
	if !ok || !ok2 || len(dir) != 2 {
		return buf, fmt.Errorf("%s: not an object path (XX/REST.TYPE)", rel)
	}
	want, err := object.ParseChecksum(dir + base)
	if err != nil {
		return buf, fmt.Errorf("%s: not an object path: %v", rel, err)
	}
	switch ext {
	case "filez", "dirtree", "dirmeta", "commit":
	case "file":
		return buf, fmt.Errorf("%s: a .file object: not an archive repository", rel)
	default: // .commitmeta, .sig, .tombstone-commit, ...: not named by their bytes
		st.Skipped++
		return buf, nil
	}
	path := filepath.Join(objects, rel)
	buf, err = readWhole(path, buf)
	if err != nil {
		return buf, err
	}
	st.Objects++
	st.Bytes += int64(len(buf))
	var got object.Checksum
	if ext == "filez" {
		sum, err := ostreefile.ValidateFilezWith(bytes.NewReader(buf), uint64(len(buf)), inf)
		if err != nil {
			return buf, fmt.Errorf("%s: %w", path, err)
		}
		got = sum
		// Valid: its archive header starts with the content size (t, big-endian).
		st.Inflated += int64(binary.BigEndian.Uint64(buf[8:16]))
	} else {
		got = object.Checksum(sha256.Sum256(buf))
	}
	if got != want {
		return buf, fmt.Errorf("%s: its content hashes to %s", path, got)
	}
	return buf, nil
}

// readWhole reads the file at path into buf[:0] (grown as needed) with
// open, fstat, read and close: no os.File, as the receiver writes.
func readWhole(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return buf, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var fi unix.Stat_t
	if err := unix.Fstat(fd, &fi); err != nil {
		return buf, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if fi.Mode&unix.S_IFMT != unix.S_IFREG {
		return buf, &os.PathError{Op: "read", Path: path, Err: errors.New("not a regular file")}
	}
	n := int(fi.Size)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	for got := 0; got < n; {
		m, err := unix.Read(fd, buf[got:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf[:0], &os.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			return buf[:0], &os.PathError{Op: "read", Path: path, Err: errors.New("file shrank while read")}
		}
		got += m
	}
	return buf, nil
}
