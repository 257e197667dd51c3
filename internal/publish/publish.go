package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Source is the local repository a publish reads.
type Source interface {
	transfer.Source
	// ValidateRef checks a ref name as libostree does.
	ValidateRef(r wire.RefName) error
	// ReadArchived returns object n as an archive repository holds it,
	// checked (see internal/store): whole when at most max bytes, else
	// as a stream whose last Read fails when the object is not what its
	// name says.
	ReadArchived(n object.Name, max uint64) (data []byte, large io.ReadCloser, err error)
}

// DefaultJobs is Options.Jobs when it is zero.
const DefaultJobs = 16

// Default Cache-Control headers: objects never change under their name;
// the files that do (refs, summary, its signatures, config, detached
// metadata) are revalidated at every read.
const (
	DefaultCacheObjects = "public, max-age=31536000, immutable"
	DefaultCacheMutable = "no-cache"
)

// Options configure Publish.
type Options struct {
	Specs  []transfer.PushSpec // what to publish; none: every local ref
	DryRun bool                // work out and report; write nothing
	Jobs   int                 // requests at once; 0 is DefaultJobs
	// CacheObjects and CacheMutable are the Cache-Control of what is
	// written: of objects, and of refs, summary and the like. Empty
	// means the defaults above; "-" means no header.
	CacheObjects, CacheMutable string
	// Unconditional publishes to a store that ignores conditional writes
	// (detected at every publish): refs and summary are then written
	// without compare-and-swap, and a concurrent publisher's update can
	// be lost.
	Unconditional bool
	// SignSummary, when set, returns summary.sig for a summary: its
	// signatures, as an a{sv} (the previous summary.sig signs another
	// summary, and is replaced).
	SignSummary func(summary []byte) ([]byte, error)
	Logf        func(format string, args ...any) // diagnostics; may be nil
	Progress    func(transfer.PushProgress)      // as objects are uploaded; may be nil
	// Fault, when set, is called at each step ("objects", "dirtrees",
	// "commits", "refs", "ref NAME" after each ref, "summary",
	// "summary.sig"), and a publish it returns an error for fails there
	// (the tests' crash points).
	Fault func(step string) error
	// Now gives the summary's modification time; nil is time.Now.
	Now func() time.Time
}

// Result is what a publish did (in a dry run, would do).
type Result struct {
	transfer.PushResult
	// Checked counts the objects whose presence was asked of the store,
	// and Presence says how ("HEAD", "LIST" or "" for none).
	Checked  int
	Presence string
	// Changed lists the keys of mutable files written (refs, summary,
	// summary.sig, config): what a CDN in front must purge.
	Changed  []string
	Requests bucket.Counts
	// SummaryRegenerated is set when the summary could not be derived
	// from the bucket's previous one and was made from every ref.
	SummaryRegenerated bool
}

// Publish publishes opts.Specs from src into st.
func Publish(ctx context.Context, src Source, st bucket.Store, opts Options) (*Result, error) {
	p := &publisher{src: src, st: st, opts: opts, res: &Result{}, didMove: map[int]bool{}}
	if p.opts.Jobs <= 0 {
		p.opts.Jobs = DefaultJobs
	}
	if p.opts.Logf == nil {
		p.opts.Logf = func(string, ...any) {}
	}
	if p.opts.Now == nil {
		p.opts.Now = time.Now
	}
	p.res.RemoteMode = "archive-z2"
	err := p.run(ctx)
	if err != nil {
		// Refs judged to move that the publish never moved say so.
		for i := range p.res.Refs {
			if o := &p.res.Refs[i]; o.Status == wire.StatusOK && !p.didMove[i] {
				o.Status, o.Message = wire.StatusRejected, "not moved: the publish failed first"
			}
		}
	}
	p.res.Requests = st.Requests()
	return p.res, err
}

type publisher struct {
	src  Source
	st   bucket.Store
	opts Options
	res  *Result

	config     []byte // the bucket's config as read; nil when it has none
	configETag string
	remote     map[string]remoteRef // by ref name: the bucket's refs the push names
	summary    []byte               // the bucket's summary; nil when none
	summaryTag string
	// summaryRead: readSummary has read it; summaryRefs: the refs it
	// lists (none when it is unreadable, summaryErr saying why).
	summaryRead bool
	summaryRefs map[string]object.Checksum
	summaryErr  error

	changedMu              sync.Mutex   // for res.Changed, which uploads add to at once
	didMove                map[int]bool // res.Refs moved in the bucket, by index
	sentObjects, sentBytes atomic.Uint64
	total                  uint64
}

// remoteRef is a ref as the bucket has it.
type remoteRef struct {
	commit object.Checksum // zero: no such ref, or a broken one
	etag   string
	broken string // why the ref file is not a checksum; "" when it is
}

// changed records that key, a file readers may have cached, was written.
func (p *publisher) changed(key string) {
	p.changedMu.Lock()
	p.res.Changed = append(p.res.Changed, key)
	p.changedMu.Unlock()
}

func (p *publisher) fault(step string) error {
	if p.opts.Fault == nil {
		return nil
	}
	return p.opts.Fault(step)
}

func (p *publisher) run(ctx context.Context) error {
	plan, err := transfer.ResolveSpecs(p.src, p.opts.Specs)
	if err != nil {
		return err
	}
	for _, pl := range plan {
		if pl.Dst.CollectionID != "" {
			return fmt.Errorf("%s: collection refs cannot be published to an object store", pl.Dst)
		}
		if err := p.src.ValidateRef(pl.Dst); err != nil {
			return err
		}
	}
	if err := p.readRemote(ctx, plan); err != nil {
		return err
	}
	// A deletion of a ref the bucket no longer has: a publish killed
	// before its summary may have left the ref listed there.
	for _, pl := range plan {
		if pl.New.IsZero() && p.remote[pl.Dst.Name].commit.IsZero() && p.remote[pl.Dst.Name].broken == "" {
			if err := p.readSummary(ctx); err != nil {
				return err
			}
			break
		}
	}
	updates, rejected, err := p.judge(plan)
	if err != nil {
		return err
	}
	dry := p.opts.DryRun || rejected
	p.res.DryRun = p.opts.DryRun
	if len(updates) == 0 {
		// Every ref up to date (or refused). A publish killed between
		// the refs and the summary, or the summary and summary.sig, left
		// the summary saying where the refs were: one GET of it tells.
		if dry || !p.res.OK() {
			return nil
		}
		return p.repairSummary(ctx)
	}
	if err := p.readSummary(ctx); err != nil {
		return err
	}
	objects, err := p.missing(ctx, updates)
	if err != nil {
		return err
	}
	p.res.ObjectsSent = uint64(len(objects))
	if dry {
		return nil // BytesSent: not known without reading the objects
	}
	if err := p.checkConditions(ctx); err != nil {
		return err
	}
	if err := p.fault("objects"); err != nil {
		return err
	}
	if err := p.upload(ctx, objects); err != nil {
		return err
	}
	p.res.BytesSent = p.sentBytes.Load()
	if err := p.fault("refs"); err != nil {
		return err
	}
	moved, err := p.moveRefs(ctx, updates)
	if err != nil || !p.res.OK() {
		return err // a stale ref: the others were put back
	}
	// Refs a publish killed before its summary moved are up to date now,
	// and the summary still says where they were.
	moved = append(moved, p.unsummarized()...)
	if len(moved) == 0 {
		return p.resign(ctx)
	}
	if err := p.fault("summary"); err != nil {
		return err
	}
	return p.updateSummary(ctx, moved)
}

// repairSummary writes the summary when it does not list the refs of the
// publish, all up to date, where they are, or signs it again when
// summary.sig does not sign it.
func (p *publisher) repairSummary(ctx context.Context) error {
	if err := p.readSummary(ctx); err != nil {
		return err
	}
	moved := p.unsummarized()
	if len(moved) == 0 {
		return p.resign(ctx)
	}
	if err := p.checkConditions(ctx); err != nil {
		return err
	}
	if err := p.fault("summary"); err != nil {
		return err
	}
	return p.updateSummary(ctx, moved)
}

// forEach runs fn on every item with at most jobs at once; the first error
// cancels the others and is returned.
func forEach[T any](ctx context.Context, jobs int, items []T, fn func(ctx context.Context, item T) error) error {
	if len(items) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(jobs, len(items)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				if err := fn(ctx, items[i]); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
