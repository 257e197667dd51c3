package store

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ostree-push/ostree-push/pkg/libostree"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/ostreefile"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/walk"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// RefLockFile is the file, at the top of a repository, that ostree-receive
// locks while it checks and moves refs. libostree has no ref lock of its
// own, and upgrading its repository lock from the transaction's shared hold
// to exclusive would deadlock two receivers against each other.
const RefLockFile = "ostree-push-refs.lock"

// Repo is a libostree repository seen as a transfer.Source and a
// transfer.Dest.
type Repo struct {
	r   *libostree.Repo
	txn *libostree.Txn // the transaction Begin opened, while open

	// LockTimeout is how long LockRefs waits for another receiver's ref
	// lock; 0: DefaultLockTimeout.
	LockTimeout time.Duration
	// StagingMaxAge is how old a staging directory that no transaction
	// holds may get before Begin removes it; 0: DefaultStagingMaxAge.
	StagingMaxAge time.Duration

	// Fault is the tests' fault injection at the commit protocol's steps
	// (see commit.go); nil in production.
	Fault transfer.FaultFunc
	// Logf, when set, is told when an interrupted push's ref journal was
	// settled (see commit.go).
	Logf func(format string, args ...any)

	// open is the transaction Begin opened and its staging directory,
	// for LeaveStaging, which may run on another goroutine.
	open atomic.Pointer[openStaging]

	comps     idle[*libostree.Compressor] // CompressFilez's, closed with the Repo
	metaComps idle[*libostree.Compressor] // DeflateMetadata's, likewise
	infs      idle[*libostree.Inflater]   // WriteFilez's zlib inflaters, likewise
}

var (
	_ transfer.Source = (*Repo)(nil)
	_ transfer.Dest   = (*Repo)(nil)
)

// Open opens the repository at path.
func Open(path string) (*Repo, error) {
	r, err := libostree.Open(path)
	if err != nil {
		return nil, err
	}
	return &Repo{r: r, comps: compressors(CompressLevel), metaComps: compressors(MetadataLevel),
		infs: idle[*libostree.Inflater]{make: libostree.NewInflater}}, nil
}

// compressors is a pool of libdeflate compressors at level.
func compressors(level int) idle[*libostree.Compressor] {
	return idle[*libostree.Compressor]{make: func() (*libostree.Compressor, error) {
		return libostree.NewCompressor(level)
	}}
}

// Close closes the repository, aborting any open transaction.
func (s *Repo) Close() error {
	s.comps.close()
	s.metaComps.close()
	s.infs.close()
	return s.r.Close()
}

// Path is the repository's path.
func (s *Repo) Path() string { return s.r.Path() }

// Lib is the underlying libostree repository, for what the transfer
// interfaces do not cover (signatures, the summary).
func (s *Repo) Lib() *libostree.Repo { return s.r }

// Txn is the transaction Begin opened, or nil when none is open.
func (s *Repo) Txn() *libostree.Txn {
	if s.txn != nil && s.txn.Done() {
		s.txn = nil
	}
	return s.txn
}

// ResolveRev implements transfer.Source.
func (s *Repo) ResolveRev(rev string) (object.Checksum, bool, error) { return s.r.ResolveRev(rev) }

// Refs lists plain refs, then collection refs of other collections
// (mirrors). It serves both transfer.Source and transfer.Dest.
func (s *Repo) Refs() ([]transfer.Ref, error) {
	plain, err := s.r.ListRefs("")
	if err != nil {
		return nil, err
	}
	out := make([]transfer.Ref, 0, len(plain))
	for _, r := range plain {
		out = append(out, transfer.Ref{Ref: wire.RefName{Name: r.Name}, Commit: r.Commit})
	}
	coll, err := s.r.ListCollectionRefs()
	if err != nil {
		return nil, err
	}
	own := s.r.CollectionID()
	for _, r := range coll {
		if r.CollectionID == own {
			continue // the repo's own refs, listed above as plain refs
		}
		out = append(out, transfer.Ref{Ref: wire.RefName{CollectionID: r.CollectionID, Name: r.Name}, Commit: r.Commit})
	}
	return out, nil
}

// Loader is r as pkg/walk reads it: the objects in objects/, and those
// staged in its open transaction.
func Loader(r *libostree.Repo) walk.Loader { return loader{r} }

type loader struct{ r *libostree.Repo }

func (l loader) Metadata(n object.Name) ([]byte, bool, error) {
	data, err := l.r.ReadMetadata(n)
	if libostree.IsNotFound(err) {
		return nil, false, nil
	}
	return data, err == nil, err
}

func (l loader) HasObjects(names []object.Name) ([]bool, error) { return l.r.HasObjects(names) }

// Commit implements transfer.Source and transfer.Dest.
func (s *Repo) Commit(c object.Checksum) (transfer.CommitInfo, bool, error) {
	commit, err := s.r.LoadCommit(c)
	if libostree.IsNotFound(err) {
		return transfer.CommitInfo{}, false, nil
	}
	if err != nil {
		return transfer.CommitInfo{}, false, err
	}
	return transfer.CommitInfo{Parent: commit.Parent, Partial: commit.Partial}, true, nil
}

// Reachable implements transfer.Source.
func (s *Repo) Reachable(commits []object.Checksum) ([]object.Name, error) {
	return walk.Reachable(loader{s.r}, commits...)
}

// ReachableSince implements transfer.SinceSource.
func (s *Repo) ReachableSince(base object.Checksum, commits []object.Checksum) ([]object.Name, error) {
	return walk.ReachableSince(loader{s.r}, base, commits...)
}

// ReadMetadata implements transfer.Source.
func (s *Repo) ReadMetadata(n object.Name) ([]byte, error) { return s.r.ReadMetadata(n) }

// CommitMeta implements transfer.CommitMetaSource.
func (s *Repo) CommitMeta(c object.Checksum) ([]byte, bool, error) { return s.r.ReadCommitMeta(c) }

// CommittedMetadata implements transfer.MetadataDest. It reads objects/,
// where what an open transaction staged is not, until it commits.
func (s *Repo) CommittedMetadata(c object.Checksum) ([]byte, bool, error) {
	hex := c.String()
	dir := filepath.Join(s.r.Path(), "objects", hex[:2])
	if _, err := os.Stat(filepath.Join(dir, hex[2:]+".commit")); os.IsNotExist(err) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	f, err := os.Open(filepath.Join(dir, hex[2:]+".commitmeta"))
	if os.IsNotExist(err) {
		return nil, true, nil
	} else if err != nil {
		return nil, false, err
	}
	defer f.Close()
	meta, err := io.ReadAll(io.LimitReader(f, transfer.MaxMetadataSize+1))
	if err == nil && len(meta) > transfer.MaxMetadataSize {
		err = fmt.Errorf("the detached metadata of %s is over %d bytes", c, transfer.MaxMetadataSize)
	}
	return meta, true, err
}

// OpenFilez implements transfer.FilezSource: the stored .filez file of an
// archive repository, as it is.
func (s *Repo) OpenFilez(c object.Checksum) (io.ReadCloser, uint64, error) {
	if s.r.Mode() != libostree.ModeArchive {
		return nil, 0, fmt.Errorf("%s is not an archive repository", s.r.Path())
	}
	hex := c.String()
	f, err := os.Open(filepath.Join(s.r.Path(), "objects", hex[:2], hex[2:]+".filez"))
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, uint64(fi.Size()), nil
}

// OpenContent implements transfer.Source.
func (s *Repo) OpenContent(c object.Checksum) (io.ReadCloser, uint64, error) {
	cr, err := s.r.OpenContent(c)
	if err != nil {
		return nil, 0, err
	}
	return cr, cr.Size(), nil
}

// Mode implements transfer.Dest.
func (s *Repo) Mode() string { return string(s.r.Mode()) }

// CollectionID implements transfer.Dest.
func (s *Repo) CollectionID() string { return s.r.CollectionID() }

// ValidateRef implements transfer.Dest.
func (s *Repo) ValidateRef(r wire.RefName) error {
	if r.CollectionID != "" {
		if err := libostree.ValidateCollectionID(r.CollectionID); err != nil {
			return err
		}
	}
	return libostree.ValidateRef(r.Name)
}

// Begin implements transfer.Dest. Stale staging directories are removed
// first, and the one the transaction takes is made safe (see staging.go).
func (s *Repo) Begin() (transfer.Txn, error) {
	// An interrupted push's refs are settled before this one sees them.
	if _, err := os.Stat(s.journalPath()); err == nil {
		unlock, err := s.LockRefs()
		if err != nil {
			return nil, err
		}
		unlock()
	}
	age := s.StagingMaxAge
	if age <= 0 {
		age = DefaultStagingMaxAge
	}
	sweepStaging(filepath.Join(s.r.Path(), "tmp"), age, s.r.Mode())
	t, resumed, err := s.r.PrepareTransaction()
	if err != nil {
		return nil, err
	}
	dir := t.StagingDir()
	if dir == "" {
		err = fmt.Errorf("%s: cannot tell which staging directory libostree took", s.r.Path())
	} else {
		err = prepareStaging(dir, resumed, s.r.Mode())
	}
	if err != nil {
		t.Abort()
		return nil, err
	}
	s.txn = t
	s.open.Store(&openStaging{t: t, dir: dir, mode: s.r.Mode()})
	return &txn{repo: s, t: t, resumed: resumed, stage: &stager{dir: dir}}, nil
}

// openStaging is an open transaction's staging directory.
type openStaging struct {
	t    *libostree.Txn
	dir  string
	mode libostree.Mode
}

// LeaveStaging leaves the open transaction's staging directory as an
// interrupted push's (only what may be taken up), for a receiver about to
// exit without ending its transaction (a watchdog): any transaction, not
// only a receiver's, may take the directory up once the process is gone.
// It may run on any goroutine; writes still running may add to the
// directory meanwhile, which the next receiver's Begin filters.
func (s *Repo) LeaveStaging() error {
	o := s.open.Load()
	if o == nil || o.t.Done() {
		return nil
	}
	return keepOnlyResumable(o.dir, o.mode)
}

// DefaultLockTimeout is how long LockRefs waits for the ref lock unless
// told otherwise.
const DefaultLockTimeout = 5 * time.Minute

// LockRefs implements transfer.Dest with an exclusive flock on RefLockFile,
// waited for at most LockTimeout. Once it holds the lock, it settles the
// ref journal an interrupted push may have left (see commit.go).
func (s *Repo) LockRefs() (func(), error) {
	path := filepath.Join(s.r.Path(), RefLockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening ref lock: %w", err)
	}
	timeout := s.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			note, err := s.recoverJournal()
			if err != nil {
				f.Close()
				return nil, err
			}
			if note != "" && s.Logf != nil {
				s.Logf("%s", note)
			}
			return func() { f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			return nil, fmt.Errorf("locking refs: %w", err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another push has held the repository's ref lock for longer than the server waits (lock_timeout %s); nothing was changed, try again", timeout)
		}
		time.Sleep(wait)
	}
}

type txn struct {
	repo    *Repo
	t       *libostree.Txn
	resumed bool // libostree took up an interrupted transaction's staging

	plainOnce sync.Once // a second handle, outside the transaction
	plain     *libostree.Repo
	plainErr  error

	mu       sync.Mutex
	commits  []object.Checksum // commit objects written
	metas    []stagedMeta      // the detached metadata written, by commit
	refs     []stagedRef       // the refs Commit moves, in the order first set
	refIndex map[wire.RefName]int

	flushing chan struct{} // closed when StartFlush's syncfs returned; nil if none

	stage *stager // .filez written into the staging directory (filez.go)
}

var (
	_ transfer.SinceTxn   = (*txn)(nil)
	_ transfer.ResumeTxn  = (*txn)(nil)
	_ transfer.DiscardTxn = (*txn)(nil)
)

// Resumed implements transfer.ResumeTxn.
func (t *txn) Resumed() bool { return t.resumed }

// HasCommittedObjects implements transfer.ResumeTxn: a second handle on the
// repository, outside any transaction, sees only committed objects (and
// those of a parent repository), as libostree's has_object does.
func (t *txn) HasCommittedObjects(names []object.Name) ([]bool, error) {
	t.plainOnce.Do(func() { t.plain, t.plainErr = libostree.Open(t.repo.r.Path()) })
	if t.plainErr != nil {
		return nil, t.plainErr
	}
	return t.plain.HasObjects(names)
}

func (t *txn) closePlain() {
	if t.plain != nil {
		t.plain.Close()
		t.plain = nil
	}
}

func (t *txn) HasObjects(names []object.Name) ([]bool, error) { return t.repo.r.HasObjects(names) }

func (t *txn) WriteMetadata(n object.Name, data []byte) error {
	if err := t.t.WriteMetadata(n, data); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch n.Type {
	case object.Commit:
		t.commits = append(t.commits, n.Checksum)
	case object.CommitMeta:
		m := stagedMeta{Commit: n.Checksum, Sum: sha256.Sum256(data)}
		for i := range t.metas {
			if t.metas[i].Commit == n.Checksum {
				t.metas[i] = m // written again: the last one stays
				return nil
			}
		}
		t.metas = append(t.metas, m)
	}
	return nil
}

// WriteContent implements transfer.Txn: a content stream, checked against
// the repository's header rule (headerRule) first when it has one.
func (t *txn) WriteContent(c object.Checksum, r io.Reader, size uint64) error {
	if rule := t.headerRule(); rule != nil {
		h, rest, err := ostreefile.ParseContentStream(r, size)
		if err == nil {
			err = rule(h)
		}
		if err != nil {
			return fmt.Errorf("content object %s: %w", c, err)
		}
		// The header passed the normal-form rule: its canonical bytes
		// are the ones that came.
		r = io.MultiReader(bytes.NewReader(h.ContentStreamHeader()), rest)
	}
	return t.t.WriteContent(c, r, size)
}

func (t *txn) CheckComplete(c object.Checksum) error {
	return walk.CheckComplete(loader{t.repo.r}, c, object.Zero)
}

// CheckCompleteSince implements transfer.SinceTxn.
func (t *txn) CheckCompleteSince(c, base object.Checksum) error {
	return walk.CheckComplete(loader{t.repo.r}, c, base)
}

// SetRef implements transfer.Txn: the update is kept for Commit. A later
// update of the same ref replaces an earlier one.
func (t *txn) SetRef(r wire.RefName, c object.Checksum) error {
	if r.CollectionID == t.repo.r.CollectionID() {
		r.CollectionID = "" // the repository's own: a plain ref
	}
	if err := t.repo.ValidateRef(r); err != nil {
		return err
	}
	if t.t.Done() {
		return libostree.ErrTransactionDone
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := t.refIndex[r]; ok {
		t.refs[i].c = c
		return nil
	}
	if t.refIndex == nil {
		t.refIndex = map[wire.RefName]int{}
	}
	t.refIndex[r] = len(t.refs)
	t.refs = append(t.refs, stagedRef{ref: r, c: c})
	return nil
}

// StartFlush implements transfer.FlushTxn: a syncfs of the repository's
// filesystem in the background, which Commit waits for (libostree's own
// syncfs then has little left to write). Nothing depends on it for
// correctness: the commit syncs all the same.
func (t *txn) StartFlush() {
	if t.flushing != nil {
		return
	}
	f, err := os.Open(filepath.Join(t.repo.r.Path(), "tmp"))
	if err != nil {
		return
	}
	done := make(chan struct{})
	t.flushing = done
	go func() {
		defer close(done)
		defer f.Close()
		unix.Syncfs(int(f.Fd()))
	}()
}

// committedPath is where a metadata object lives once committed.
func (s *Repo) committedPath(n object.Name) string {
	hex := n.Checksum.String()
	return filepath.Join(s.r.Path(), "objects", hex[:2], hex[2:]+"."+n.Type.String())
}

// Abort keeps, of what the transaction staged, only what a later one may
// take up (see staging.go).
func (t *txn) Abort() error {
	if dir := t.t.StagingDir(); dir != "" && !t.t.Done() {
		keepOnlyResumable(dir, t.repo.r.Mode())
	}
	err := t.t.Abort()
	t.closePlain()
	return err
}

// Discard implements transfer.DiscardTxn: the staging directory is removed
// while the transaction still holds it, then the transaction is aborted.
func (t *txn) Discard() error {
	dir := t.t.StagingDir()
	rerr := removeStaging(dir)
	err := t.Abort()
	if dir != "" {
		os.Remove(dir + "-lock") // libostree's; an orphan once the directory is gone
	}
	if err == nil && rerr != nil {
		err = fmt.Errorf("removing the staging directory: %w", rerr)
	}
	return err
}
