package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ostree-push/ostree-push/pkg/libostree"
)

// The staging directories of libostree's transactions (tmp/staging-*).
// libostree keeps an aborted or interrupted transaction's staging
// directory and the next transaction on the repository takes it up, so
// that a resumed push does not send again what it staged. What a staging
// directory holds becomes visible in objects/ when a transaction that took
// it up commits. A receiver makes that safe:
//
//   - its staging directory is readable by the repository's owner alone;
//   - a staging directory it takes up keeps only content-addressed objects
//     (file, dirtree, dirmeta), which every write path verified against
//     their names: detached metadata (named by its commit, not by its
//     content), commits (which would land without the checks of a commit
//     received), anything else, and in a bare or bare-split-xattrs
//     repository a setuid or setgid file or one with file capabilities,
//     are removed;
//   - a push that was refused or failed (not interrupted) discards its
//     staging directory (Discard); an interrupted one keeps only what may
//     be taken up (Abort);
//   - before a transaction starts, staging directories that no
//     transaction holds are removed when older than StagingMaxAge (a
//     taken-up directory is touched, so libostree's own expiry never
//     comes for it), filtered as above otherwise (a receiver killed
//     outright could not filter its own);
//   - a receiver that exits without ending its transaction (a watchdog)
//     filters its own first (LeaveStaging).

// DefaultStagingMaxAge is how old a staging directory nobody holds may get
// before a receiver removes it: libostree's own tmp expiry.
const DefaultStagingMaxAge = 24 * time.Hour

// stagedObject matches what may be taken up from a staging directory: a
// content-addressed object in its XX/ directory.
var stagedObject = regexp.MustCompile(`^[0-9a-f]{62}\.(file|filez|dirtree|dirmeta)$`)

// prepareStaging makes the transaction's staging directory private and,
// when libostree took it up from an earlier transaction, keeps only what
// may be taken up.
func prepareStaging(dir string, resumed bool, mode libostree.Mode) error {
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("staging directory: %w", err)
	}
	if !resumed {
		return nil
	}
	return keepOnlyResumable(dir, mode)
}

// keepOnlyResumable removes from a staging directory everything that may
// not be taken up.
func keepOnlyResumable(dir string, mode libostree.Mode) error {
	top, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("staging directory taken up: %w", err)
	}
	for _, e := range top {
		sub := filepath.Join(dir, e.Name())
		if !e.IsDir() || len(e.Name()) != 2 || !isHex(e.Name()) {
			if err := os.RemoveAll(sub); err != nil {
				return fmt.Errorf("staging directory taken up: %w", err)
			}
			continue
		}
		objs, err := os.ReadDir(sub)
		if err != nil {
			return fmt.Errorf("staging directory taken up: %w", err)
		}
		for _, o := range objs {
			if keepStaged(sub, o, mode) {
				continue
			}
			if err := os.RemoveAll(filepath.Join(sub, o.Name())); err != nil {
				return fmt.Errorf("staging directory taken up: %w", err)
			}
		}
	}
	return nil
}

// keepStaged reports whether object o, in staging directory sub, may be
// taken up.
func keepStaged(sub string, o os.DirEntry, mode libostree.Mode) bool {
	m := stagedObject.FindStringSubmatch(o.Name())
	if m == nil || o.IsDir() {
		return false
	}
	switch ext := m[1]; {
	case ext == "filez" && mode != libostree.ModeArchive:
		return false
	case ext == "file" && mode == libostree.ModeArchive:
		return false
	case ext == "file" && (mode == libostree.ModeBare || mode == libostree.ModeBareSplitXattrs):
		// These modes keep a file's real mode bits (and bare its
		// xattrs): no setuid, setgid or file capabilities from a push
		// that did not finish.
		p := filepath.Join(sub, o.Name())
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			return false
		}
		if fi.Mode().IsRegular() {
			if _, err := unix.Lgetxattr(p, "security.capability", nil); !errors.Is(err, unix.ENODATA) {
				return false // has capabilities, or cannot tell
			}
		}
	}
	return true
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// removeStaging removes a transaction's staging directory, which the
// transaction still holds (libostree's lock, tmp/DIR-lock, keeps any other
// from taking it up meanwhile).
func removeStaging(dir string) error {
	if dir == "" {
		return errors.New("the transaction's staging directory is unknown")
	}
	return os.RemoveAll(dir)
}

// sweepStaging goes through the staging directories under tmp that no
// transaction holds, taking each one's lock as libostree does (an open
// file description lock on DIR-lock) so that none is touched while a
// transaction takes it up: one older than maxAge is removed, any other
// keeps only what may be taken up (a receiver killed outright, by SIGKILL
// or the OOM killer, could not filter its own).
func sweepStaging(tmp string, maxAge time.Duration, mode libostree.Mode) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	now := time.Now()
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "staging-") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		lock, err := os.OpenFile(dir+"-lock", os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			continue
		}
		fl := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
		if unix.FcntlFlock(lock.Fd(), unix.F_OFD_SETLK, &fl) == nil {
			if now.Sub(fi.ModTime()) > maxAge {
				os.RemoveAll(dir)
				os.Remove(dir + "-lock")
			} else {
				keepOnlyResumable(dir, mode)
			}
		}
		lock.Close()
	}
}
