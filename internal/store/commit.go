package store

// The commit protocol: how the objects and refs of one push become
// visible, every ref of it together, even across a crash. libostree writes
// refs one file at a time, so "together" needs a journal of our own.
//
//  1. stage        the objects are in libostree's transaction (staging)
//  2. complete     the receiver checked every commit a ref will point to
//  3. mark         commits not in objects/ yet are marked partial: a crash
//                  while libostree moves objects in leaves them looking
//                  unfinished (a pull fetches them again), not corrupt
//  4. lock         the caller holds the ref lock (LockRefs); a shared hold
//                  of libostree's repository lock makes `ostree prune` wait
//                  until the refs hold the new commits
//  5. journal      JournalFile lists every ref of the push with its old and
//                  new commit, and the SHA-256 of each detached metadata
//                  the push staged; written whole (a temporary file made
//                  anew and renamed) and synced
//  6. objects      the transaction commits: objects move into objects/
//  7. refs         the refs are written, one by one, and their directories
//                  synced
//  8. done         the partial marks are cleared, the journal removed
//
// A journal left behind (a crash, a failed write) means the refs may be
// half moved. Whoever takes the ref lock next (LockRefs, and Begin before
// it advertises refs) settles it first (recoverJournal), through a handle
// of its own that sees nothing staged: when every new commit is complete
// in objects/ and its detached metadata there byte for byte, each ref
// still at its old commit is moved to its new one (roll forward);
// otherwise the objects never all arrived, so no ref had moved (step 7
// follows step 6), and the journal is dropped. A ref at neither commit was
// moved by someone else since the journal was written, and is left alone.
// A journal that cannot be read or applied stops pushes for at most
// journalRetryFor, then is set aside with a warning.
//
// Syncing: with fsync on, one syncfs before step 6 puts the journal and the
// staged objects on disk, libostree moves the objects in without its fsync
// of each objects/XX directory, and a second syncfs puts the moves on disk
// before any ref is written (each ref file is then synced as libostree
// writes it). With core.auto-update-summary set, the refs are instead
// staged in the transaction, so that libostree regenerates the summary once,
// not once per ref, and the journal is fsynced on its own first. With
// fsync off (core.fsync=false), nothing is synced, as the config asks.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/walk"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// JournalFile is the ref journal, at the top of the repository beside
// RefLockFile: present only while a push's refs are moving, or after a
// crash or a failed write left them half moved.
const JournalFile = "ostree-push-refs.journal"

// journalMagic is the journal's first line; its version changes with the
// format.
const journalMagic = "ostree-push ref journal 1"

// journalRef is one ref of a journal: where it was and where it goes. A
// zero checksum is "no ref" (created or deleted). CollectionID is "" for
// the repository's own refs.
type journalRef struct {
	CollectionID string
	Name         string
	Old, New     object.Checksum
}

// journal is the content of JournalFile.
type journal struct {
	Refs []journalRef
	// Metas are the detached metadata the push staged: each must be in
	// objects/, with these very bytes, before a ref may move.
	Metas []stagedMeta
}

// stagedMeta is the detached metadata staged for a commit: the SHA-256 of
// its bytes (it has no checksum of its own, and an older one may be in
// objects/ already).
type stagedMeta struct {
	Commit object.Checksum
	Sum    [sha256.Size]byte
}

// marshal is the journal as text: the magic line, a line per ref and per
// detached metadata, and "end" (a journal without it is cut short).
func (j *journal) marshal() []byte {
	var b bytes.Buffer
	b.WriteString(journalMagic + "\n")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	sum := func(c object.Checksum) string {
		if c.IsZero() {
			return "-"
		}
		return c.String()
	}
	for _, r := range j.Refs {
		fmt.Fprintf(&b, "ref %s %s %s %s\n", dash(r.CollectionID), r.Name, sum(r.Old), sum(r.New))
	}
	for _, m := range j.Metas {
		fmt.Fprintf(&b, "commitmeta %s %x\n", m.Commit, m.Sum)
	}
	b.WriteString("end\n")
	return b.Bytes()
}

// parseJournal reads what marshal wrote, strictly.
func parseJournal(data []byte) (*journal, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	if !sc.Scan() || sc.Text() != journalMagic {
		return nil, errors.New("not a ref journal of this version")
	}
	sum := func(s string) (object.Checksum, error) {
		if s == "-" {
			return object.Zero, nil
		}
		return object.ParseChecksum(s)
	}
	j := &journal{}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == "end":
			if sc.Scan() {
				return nil, errors.New("text after its end line")
			}
			return j, nil
		case len(f) == 5 && f[0] == "ref":
			r := journalRef{Name: f[2]}
			if f[1] != "-" {
				r.CollectionID = f[1]
				if err := libostree.ValidateCollectionID(r.CollectionID); err != nil {
					return nil, err
				}
			}
			if err := libostree.ValidateRef(r.Name); err != nil {
				return nil, err
			}
			var err error
			if r.Old, err = sum(f[3]); err != nil {
				return nil, err
			}
			if r.New, err = sum(f[4]); err != nil {
				return nil, err
			}
			j.Refs = append(j.Refs, r)
		case len(f) == 3 && f[0] == "commitmeta":
			c, err := object.ParseChecksum(f[1])
			if err != nil {
				return nil, err
			}
			sum, err := object.ParseChecksum(f[2]) // the same form: 64 hex digits
			if err != nil {
				return nil, err
			}
			j.Metas = append(j.Metas, stagedMeta{Commit: c, Sum: sum})
		default:
			return nil, fmt.Errorf("bad line %q", wire.Printable(sc.Text()))
		}
	}
	return nil, errors.New("cut short (no end line)")
}

func (s *Repo) journalPath() string { return filepath.Join(s.r.Path(), JournalFile) }

// writeJournal writes j whole: into a temporary file, renamed over
// JournalFile. With sync, the file and the directory are synced too.
func (s *Repo) writeJournal(j *journal, sync bool) error {
	path := s.journalPath()
	// One writer (the ref lock is held): a leftover is removed, and the
	// new file is made anew, never through a link someone put there.
	tmp := path + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("writing the ref journal: %w", err)
	}
	_, err = f.Write(j.marshal())
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil && sync {
		err = syncDir(s.r.Path())
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the ref journal: %w", err)
	}
	return nil
}

// maxJournal bounds the journal read back: an UPDATE's 10,000 refs of at
// most 1,024 + 255 bytes of names each, and as many detached metadata.
const maxJournal = 32 << 20

// readJournal reads JournalFile; nil, nil when there is none. It must be a
// regular file (not followed through a link) of at most maxJournal bytes.
func (s *Repo) readJournal() (*journal, error) {
	f, err := os.OpenFile(s.journalPath(), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the ref journal: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() > maxJournal {
		return nil, fmt.Errorf("the ref journal %s is not a regular file of at most %d bytes", s.journalPath(), maxJournal)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxJournal+1))
	if err != nil {
		return nil, fmt.Errorf("reading the ref journal: %w", err)
	}
	j, err := parseJournal(data)
	if err != nil {
		return nil, fmt.Errorf("the ref journal %s: %w", s.journalPath(), err)
	}
	return j, nil
}

func (s *Repo) removeJournal() error {
	if err := os.Remove(s.journalPath()); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("removing the ref journal: %w", err)
	}
	return nil
}

func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// syncfs syncs the filesystem that holds the repository.
func (s *Repo) syncfs() error {
	d, err := os.Open(s.r.Path())
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", s.r.Path(), err)
	}
	return nil
}

// refPath is where libostree keeps a ref's file: refs/heads for the
// repository's own, refs/mirrors/ID for another collection's.
func (s *Repo) refPath(collectionID, name string) string {
	if collectionID == "" {
		return filepath.Join(s.r.Path(), "refs", "heads", name)
	}
	return filepath.Join(s.r.Path(), "refs", "mirrors", collectionID, name)
}

// readRef is the commit a ref's file names; zero when there is no ref
// (nor a file there: a ref "a/b" cannot exist beside a ref "a", nor "a"
// beside "a/b").
func (s *Repo) readRef(collectionID, name string) (object.Checksum, error) {
	data, err := os.ReadFile(s.refPath(collectionID, name))
	if os.IsNotExist(err) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) {
		return object.Zero, nil
	}
	if err != nil {
		return object.Zero, err
	}
	return object.ParseChecksum(strings.TrimSpace(string(data)))
}

// fault calls the tests' fault injection at point, if any.
func (s *Repo) fault(point string, n uint64) {
	if s.Fault != nil {
		s.Fault(point, n)
	}
}

// stagedRef is a ref update the transaction will apply.
type stagedRef struct {
	ref wire.RefName // CollectionID "" for the repository's own
	c   object.Checksum
}

// Commit commits the transaction by the commit protocol above. The caller
// holds the ref lock.
func (t *txn) Commit() error {
	defer t.closePlain()
	s := t.repo
	marked, err := t.markPartial()
	if err != nil {
		t.t.Abort()
		return err
	}
	if t.flushing != nil {
		<-t.flushing
	}
	t.mu.Lock()
	refs, metas := t.refs, t.metas
	t.mu.Unlock()
	if len(refs) == 0 {
		if _, err := t.t.Commit(); err != nil {
			return err // the marks stay: the objects may be partly in
		}
		t.clearMarks(marked)
		return nil
	}
	j := &journal{Metas: metas}
	for _, r := range refs {
		old, err := s.readRef(r.ref.CollectionID, r.ref.Name)
		if err != nil {
			t.unmark(marked)
			t.t.Abort()
			return fmt.Errorf("reading ref %s: %w", r.ref, err)
		}
		j.Refs = append(j.Refs, journalRef{CollectionID: r.ref.CollectionID, Name: r.ref.Name, Old: old, New: r.c})
	}
	if err := s.r.LockShared(); err != nil {
		t.unmark(marked)
		t.t.Abort()
		return err
	}
	defer s.r.UnlockShared()
	if s.r.FsyncDisabled() || s.autoUpdatesSummary() {
		err = t.commitRefsInTxn(j)
	} else {
		err = t.commitRefsAfter(j)
	}
	if err != nil {
		return err
	}
	paths := make([]string, len(j.Refs))
	for i, r := range j.Refs {
		paths[i] = s.refPath(r.CollectionID, r.Name)
	}
	if err := s.syncRefDirs(s.r, paths); err != nil {
		return err // the journal stays: the next holder of the ref lock finishes
	}
	s.fault("commit:refs", 0)
	t.clearMarks(marked)
	return s.removeJournal() // the refs have all moved; a stale journal only repeats them
}

// commitRefsAfter is steps 5 to 7 with fsync on: the refs are written
// after the objects are on disk.
func (t *txn) commitRefsAfter(j *journal) error {
	s := t.repo
	if err := s.writeJournal(j, false); err != nil {
		t.t.Abort()
		return err
	}
	s.fault("commit:journal", 0)
	nothingMoved := func(err error) error {
		t.t.Abort()
		if rerr := s.removeJournal(); rerr != nil {
			return fmt.Errorf("%w; no ref was moved, but %v", err, rerr)
		}
		return fmt.Errorf("%w; no ref was moved", err)
	}
	if err := s.syncfs(); err != nil {
		return nothingMoved(err)
	}
	if err := s.r.SetFsyncDisabled(true); err != nil {
		return nothingMoved(err)
	}
	_, err := t.t.Commit()
	s.r.SetFsyncDisabled(false)
	if err == nil {
		err = s.syncfs()
	}
	if err != nil {
		// No ref was written: the journal goes, the partial marks stay on
		// whatever objects did get in.
		return nothingMoved(err)
	}
	s.fault("commit:objects", 0)
	for i, r := range j.Refs {
		if err := s.r.SetRefImmediate(r.CollectionID, r.Name, r.New); err != nil {
			return s.settle(j, err)
		}
		s.fault("commit:ref", uint64(i+1))
	}
	return nil
}

// commitRefsInTxn is steps 5 to 7 with the refs staged in the transaction
// (fsync off, or the summary updated on each ref written outside one).
func (t *txn) commitRefsInTxn(j *journal) error {
	s := t.repo
	if err := s.writeJournal(j, !s.r.FsyncDisabled()); err != nil {
		t.t.Abort()
		return err
	}
	s.fault("commit:journal", 0)
	for _, r := range j.Refs {
		var err error
		if r.CollectionID != "" {
			err = t.t.SetCollectionRef(r.CollectionID, r.Name, r.New)
		} else {
			err = t.t.SetRef(r.Name, r.New)
		}
		if err != nil {
			t.t.Abort()
			s.removeJournal()
			return err
		}
	}
	if _, err := t.t.Commit(); err != nil {
		// libostree may have failed before, between or after the refs.
		return s.settle(j, err)
	}
	return nil
}

// settle ends a commit that failed once the journal was written: the
// journal is applied or dropped at once, as the next receiver would, and
// the error says which.
func (s *Repo) settle(j *journal, cause error) error {
	out, err := s.applyJournal(s.r, j)
	switch {
	case err != nil:
		moved := 0
		for _, r := range j.Refs {
			if cur, err := s.readRef(r.CollectionID, r.Name); err == nil && cur == r.New && cur != r.Old {
				moved++
			}
		}
		return fmt.Errorf("%w; %d of the push's %d refs moved, the others could not be written (%v): the server's ref journal moves them when the next push takes the ref lock", cause, moved, len(j.Refs), err)
	case out == journalRolledForward:
		return nil // every ref moved after all
	}
	return fmt.Errorf("%w; no ref was moved", cause)
}

// journalOutcome is what applyJournal did.
type journalOutcome int

const (
	journalDropped       journalOutcome = iota // the objects were not all in: no ref moved
	journalRolledForward                       // every ref is at its new commit
)

// journalRetryFor is how long a journal that cannot be read or applied
// stops every push: after that it is set aside (JournalFile + ".failed")
// with a warning, so that one bad journal cannot stop the repository for
// good. (A transient failure, a full disk say, is retried meanwhile.)
const journalRetryFor = 10 * time.Minute

// recoverJournal settles a journal a crash or a failed write left behind,
// if any (the ref lock held); the returned note says what was done. It
// works through a handle of its own, outside any transaction the caller
// has open: what it checks must be in objects/, not staged.
func (s *Repo) recoverJournal() (note string, err error) {
	fi, err := os.Lstat(s.journalPath())
	if os.IsNotExist(err) {
		return "", nil
	}
	j, err := s.readJournal()
	var out journalOutcome
	if err == nil {
		var h *libostree.Repo
		if h, err = libostree.Open(s.r.Path()); err == nil {
			out, err = s.applyJournal(h, j)
			h.Close()
		}
	}
	if err != nil {
		if s.r.FsyncDisabled() && j == nil {
			// Without fsync a crash may leave the journal cut short:
			// what it said cannot be known, nor done.
			s.removeJournal()
			return fmt.Sprintf("dropped a ref journal that cannot be read (%v): the repository does not fsync (core.fsync=false), so a crash may have cut it short; check its refs", err), nil
		}
		if fi != nil && time.Since(fi.ModTime()) < journalRetryFor {
			return "", fmt.Errorf("completing an interrupted push's refs from the ref journal: %w (it is retried by each push for %s, then set aside)", err, journalRetryFor)
		}
		aside := s.journalPath() + ".failed"
		if rerr := os.Rename(s.journalPath(), aside); rerr != nil {
			return "", fmt.Errorf("completing an interrupted push's refs from the ref journal: %w; and setting it aside: %v", err, rerr)
		}
		return fmt.Sprintf("WARNING: set aside the ref journal of an interrupted push as %s, after %s of failures (%v): its refs may be partly moved; check them", aside, journalRetryFor, err), nil
	}
	names := make([]string, len(j.Refs))
	for i, r := range j.Refs {
		names[i] = wire.RefName{CollectionID: r.CollectionID, Name: r.Name}.String()
	}
	if out == journalRolledForward {
		return fmt.Sprintf("completed an interrupted push: %s moved to their new commits", strings.Join(names, ", ")), nil
	}
	return fmt.Sprintf("an interrupted push had not finished writing its objects: %s left as they were", strings.Join(names, ", ")), nil
}

// applyJournal rolls j forward or drops it (see the top of this file),
// through h, a handle with no transaction open, under a shared hold of the
// repository lock (`ostree prune` waits until the refs hold the commits).
func (s *Repo) applyJournal(h *libostree.Repo, j *journal) (journalOutcome, error) {
	if err := h.LockShared(); err != nil {
		return journalDropped, err
	}
	defer h.UnlockShared()
	if !s.journalComplete(h, j) {
		return journalDropped, s.removeJournal()
	}
	var written []string
	for i, r := range j.Refs {
		cur, err := s.readRef(r.CollectionID, r.Name)
		if err != nil || cur == r.New || cur != r.Old {
			continue // moved already, or by someone else since: left alone
		}
		if err := h.SetRefImmediate(r.CollectionID, r.Name, r.New); err != nil {
			return journalDropped, err
		}
		written = append(written, s.refPath(r.CollectionID, r.Name))
		s.fault("recover:ref", uint64(i+1))
	}
	if err := s.syncRefDirs(h, written); err != nil {
		return journalDropped, err
	}
	for _, r := range j.Refs {
		if !r.New.IsZero() {
			h.MarkCommitPartial(r.New, false)
		}
	}
	return journalRolledForward, s.removeJournal()
}

// syncRefDirs syncs the directories of the ref files written, with fsync
// on: libostree syncs each ref file's data, not the entry that names it,
// and the journal must not go before the refs are on disk.
func (s *Repo) syncRefDirs(h *libostree.Repo, refs []string) error {
	if h.FsyncDisabled() {
		return nil
	}
	done := map[string]bool{}
	for _, r := range refs {
		dir := filepath.Dir(r)
		if done[dir] {
			continue
		}
		done[dir] = true
		if err := syncDir(dir); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("syncing %s: %w", dir, err)
		}
	}
	return nil
}

// journalComplete reports whether every commit j moves a ref to is
// complete in objects/ (through h, which sees nothing staged), with the
// detached metadata the push staged, byte for byte.
func (s *Repo) journalComplete(h *libostree.Repo, j *journal) bool {
	for _, m := range j.Metas {
		data, err := os.ReadFile(s.committedPath(object.Name{Checksum: m.Commit, Type: object.CommitMeta}))
		if err != nil || sha256.Sum256(data) != m.Sum {
			return false
		}
	}
	for _, r := range j.Refs {
		if r.New.IsZero() {
			continue
		}
		if _, err := os.Stat(s.committedPath(object.Name{Checksum: r.New, Type: object.Commit})); err != nil {
			return false
		}
		if walk.CheckComplete(loader{h}, r.New, object.Zero) != nil {
			return false
		}
	}
	return true
}

// autoUpdatesSummary reports whether libostree regenerates the summary on
// each ref written outside a transaction (core.auto-update-summary, or its
// older name core.commit-update-summary).
func (s *Repo) autoUpdatesSummary() bool {
	for _, key := range []string{"auto-update-summary", "commit-update-summary"} {
		if on, _ := s.r.ConfigBool("core", key); on {
			return true
		}
	}
	return false
}

// markPartial marks partial the commits the transaction wrote that are
// not in objects/ yet (step 3), and returns them.
func (t *txn) markPartial() ([]object.Checksum, error) {
	t.mu.Lock()
	commits := t.commits
	t.mu.Unlock()
	var marked []object.Checksum
	for _, c := range commits {
		if _, err := os.Stat(t.repo.committedPath(object.Name{Checksum: c, Type: object.Commit})); !os.IsNotExist(err) {
			continue // visible already (or unknown): nothing to protect
		}
		if err := t.repo.r.MarkCommitPartial(c, true); err != nil {
			t.unmark(marked)
			return nil, err
		}
		marked = append(marked, c)
	}
	return marked, nil
}

// unmark takes back marks of a commit that did not happen.
func (t *txn) unmark(marked []object.Checksum) {
	for _, c := range marked {
		t.repo.r.MarkCommitPartial(c, false)
	}
}

// clearMarks clears, once the push has landed, the marks of every commit
// the transaction wrote (markPartial's, and a mark a commit sent again had
// from before: the receiver checks every commit sent complete) and of the
// commits the refs now point to (checked complete too). A mark that cannot
// be cleared (unlikely: it is an unlink) only makes the commit look
// unfinished to the next push, which then sends more than it needs to.
func (t *txn) clearMarks(marked []object.Checksum) {
	t.unmark(marked)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.commits {
		t.repo.r.MarkCommitPartial(c, false)
	}
	for _, r := range t.refs {
		if !r.c.IsZero() {
			t.repo.r.MarkCommitPartial(r.c, false)
		}
	}
}
