package publish

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/summary"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// The keys of an archive repository's files.
const (
	keyConfig     = "config"
	keySummary    = "summary"
	keySummarySig = "summary.sig"
	refsPrefix    = "refs/heads/"
	objectsPrefix = "objects/"
)

// Bounds on what is read from the bucket, which others may write to.
const (
	maxConfig  = 64 << 10
	maxRef     = 1 << 10
	maxSummary = 256 << 20
	// maxSummarySig bounds a summary.sig read to compare it with the
	// one this publish would write (a larger one is replaced).
	maxSummarySig = 16 << 20
	maxCommit     = transfer.MaxMetadataSize
)

// archiveConfig is the config of a repository this publishes into.
const archiveConfig = "[core]\nrepo_version=1\nmode=archive-z2\n"

func refKey(name string) string { return refsPrefix + name }

// objectKey is where an archive repository keeps object n.
func objectKey(n object.Name) string {
	hex := n.Checksum.String()
	ext := n.Type.String()
	if n.Type == object.File {
		ext = "filez"
	}
	return objectsPrefix + hex[:2] + "/" + hex[2:] + "." + ext
}

var errBadRef = errors.New("not a checksum and a newline")

// parseRef reads a ref file: a checksum and a newline.
func parseRef(data []byte) (object.Checksum, error) {
	s := strings.TrimSuffix(string(data), "\n")
	c, err := object.ParseChecksum(s)
	if err != nil {
		return object.Zero, fmt.Errorf("%w (%d bytes)", errBadRef, len(data))
	}
	return c, nil
}

// getRef reads ref name from the bucket: its commit and ETag; an error
// wrapping bucket.ErrNotFound when there is none, or parseRef's (with the
// ETag) when the file is not a checksum.
func (p *publisher) getRef(ctx context.Context, name string) (object.Checksum, string, error) {
	data, etag, err := p.st.Get(ctx, refKey(name), maxRef)
	if err != nil {
		return object.Zero, "", err
	}
	c, err := parseRef(data)
	return c, etag, err
}

// refsListed returns the refs a summary lists and the commits it lists
// them at; an unreadable summary lists none (and says why).
func refsListed(data []byte) (map[string]object.Checksum, error) {
	refs, err := summary.Refs(data)
	listed := make(map[string]object.Checksum, len(refs))
	for _, r := range refs {
		listed[r.Name] = r.Commit
	}
	return listed, err
}

// readRemote reads the bucket's config (checking it is an archive
// repository's) and the refs the push names: all a publish with nothing
// to do reads.
func (p *publisher) readRemote(ctx context.Context, plan []transfer.ResolvedSpec) error {
	cfg, etag, err := p.st.Get(ctx, keyConfig, maxConfig)
	switch {
	case errors.Is(err, bucket.ErrNotFound):
		p.opts.Logf("the bucket has no config: a new repository")
	case err != nil:
		return err
	default:
		if err := checkConfig(cfg); err != nil {
			return err
		}
		p.config, p.configETag = cfg, etag
	}
	p.remote = map[string]remoteRef{}
	var mu sync.Mutex
	err = forEach(ctx, p.opts.Jobs, plan, func(ctx context.Context, pl transfer.ResolvedSpec) error {
		name := pl.Dst.Name
		c, etag, err := p.getRef(ctx, name)
		r := remoteRef{commit: c, etag: etag}
		switch {
		case errors.Is(err, bucket.ErrNotFound):
		case errors.Is(err, errBadRef):
			// Another writer's: refused, unless forced over (by
			// compare-and-swap on what was read).
			r.broken = err.Error()
		case err != nil:
			return err
		}
		mu.Lock()
		p.remote[name] = r
		mu.Unlock()
		return nil
	})
	return err
}

// readSummary reads the bucket's summary (once), when there is something
// to publish or to repair: the commits it lists are complete in the
// bucket, and the new summary is derived from it.
func (p *publisher) readSummary(ctx context.Context) error {
	if p.summaryRead {
		return nil
	}
	var err error
	p.summary, p.summaryTag, err = p.st.Get(ctx, keySummary, maxSummary)
	if errors.Is(err, bucket.ErrNotFound) {
		p.summary, p.summaryTag, err = nil, "", nil
	}
	if err != nil {
		return err
	}
	p.summaryRead = true
	if p.summary != nil {
		p.summaryRefs, p.summaryErr = refsListed(p.summary)
	}
	return nil
}

// checkConfig refuses a bucket that holds another kind of repository.
func checkConfig(cfg []byte) error {
	section := ""
	for _, line := range strings.Split(string(cfg), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && section == "[core]" && strings.TrimSpace(k) == "mode" {
			switch m := strings.TrimSpace(v); m {
			case "archive-z2", "archive":
				return nil
			default:
				return fmt.Errorf("the bucket's config says core.mode=%s: only an archive repository can be published to an object store", wire.Printable(m))
			}
		}
	}
	return errors.New("the bucket's config has no core.mode: not an OSTree repository")
}

// listed reports whether the bucket's summary, when read, lists ref name.
func (p *publisher) listed(name string) bool {
	_, ok := p.summaryRefs[name]
	return ok
}

// update is a ref to move.
type update struct {
	name     string
	old, new object.Checksum
	etag     string // the old ref's ETag; "" when it did not exist
	force    bool
	outcome  int // its index in res.Refs
}

// judge judges each ref as a push does (git's rules: an update that is not
// a fast-forward needs --force). A rejected ref makes the whole publish a
// dry run: all refs move, or none.
func (p *publisher) judge(plan []transfer.ResolvedSpec) (updates []update, rejected bool, err error) {
	for _, pl := range plan {
		r := p.remote[pl.Dst.Name]
		out := transfer.RefOutcome{Ref: pl.Dst, Old: r.commit, New: pl.New, Status: wire.StatusOK}
		switch {
		case r.broken != "" && !pl.Force:
			out.Status, out.Message = wire.StatusRejected, fmt.Sprintf("%s in the bucket is %s; +REF or --force overwrites it", refKey(pl.Dst.Name), r.broken)
			rejected = true
		case r.broken != "":
			out.Forced = true
		case r.commit.IsZero() && pl.New.IsZero() && p.listed(pl.Dst.Name):
			out.Status, out.Message = wire.StatusUpToDate, "already deleted in the bucket; taken out of the summary"
		case r.commit.IsZero() && pl.New.IsZero():
			out.Status, out.Message = wire.StatusRejected, "remote ref does not exist"
			rejected = true
		case r.commit == pl.New:
			out.Status = wire.StatusUpToDate
		case !r.commit.IsZero() && !pl.New.IsZero():
			ff, err := transfer.IsAncestor(p.src, r.commit, pl.New)
			if err != nil {
				return nil, false, err
			}
			if !ff {
				if !pl.Force {
					out.Status, out.Message = wire.StatusNonFastForward, "the remote commit is not an ancestor of "+pl.Src
					rejected = true
				} else {
					out.Forced = true
				}
			}
		}
		p.res.Refs = append(p.res.Refs, out)
		if out.Status == wire.StatusOK {
			updates = append(updates, update{name: pl.Dst.Name, old: r.commit, new: pl.New, etag: r.etag, force: pl.Force, outcome: len(p.res.Refs) - 1})
		}
	}
	return updates, rejected, nil
}

// pending is an object to upload.
type pending struct {
	name object.Name
}

// missing works out the objects the updates need that the bucket lacks:
// the new commits' history down to a commit the bucket's refs (or summary)
// hold, walked in the local repository as a push walks it, then the
// bucket asked which of those it has. The detached metadata of the new
// commits is always uploaded (it is not named by its content, and
// signatures may have been added).
func (p *publisher) missing(ctx context.Context, updates []update) ([]pending, error) {
	remoteComplete := map[object.Checksum]bool{}
	for _, r := range p.remote {
		if !r.commit.IsZero() {
			remoteComplete[r.commit] = true
		}
	}
	// The summary's commits are complete in the bucket only if they are
	// there at all: a ref deleted in the bucket, its objects removed
	// since, may still be listed.
	if p.summaryErr != nil {
		p.opts.Logf("the bucket's summary cannot be read: %v", p.summaryErr)
	}
	listed := map[object.Checksum]bool{}
	for _, c := range p.summaryRefs {
		if !remoteComplete[c] {
			listed[c] = true
		}
	}
	complete := func(c object.Checksum) (bool, error) {
		if remoteComplete[c] {
			return true, nil
		}
		if !listed[c] {
			return false, nil
		}
		delete(listed, c)
		ok, err := p.st.Head(ctx, objectKey(object.Name{Checksum: c, Type: object.Commit}))
		if err == nil && !ok {
			p.opts.Logf("the bucket's summary lists commit %s, which is not in the bucket", c)
		}
		remoteComplete[c] = ok
		return ok, err
	}
	var history, bases []object.Checksum
	seen := map[object.Checksum]bool{}
	addBase := func(c object.Checksum) {
		if !seen[c] {
			if info, ok, err := p.src.Commit(c); err == nil && ok && !info.Partial {
				bases = append(bases, c)
			}
			seen[c] = true
		}
	}
	for _, u := range updates {
		for c := u.new; !c.IsZero(); {
			ok, err := complete(c)
			if err != nil {
				return nil, err
			}
			if ok {
				addBase(c)
				break
			}
			if seen[c] {
				break
			}
			info, ok, err := p.src.Commit(c)
			if err != nil {
				return nil, err
			}
			if !ok || info.Partial {
				break
			}
			seen[c] = true
			history = append(history, c)
			c = info.Parent
		}
		if !u.old.IsZero() {
			addBase(u.old)
		}
	}
	if len(history) == 0 {
		return nil, nil
	}
	want, reachable, err := transfer.Walk(p.src, history, bases)
	if err != nil {
		return nil, err
	}
	var ask []object.Name
	var out []pending
	for _, n := range want {
		if n.Type == object.CommitMeta {
			out = append(out, pending{name: n})
		} else {
			ask = append(ask, n)
		}
	}
	have, err := p.present(ctx, ask)
	if err != nil {
		return nil, err
	}
	for _, n := range ask {
		if !have[n] {
			out = append(out, pending{name: n})
		}
	}
	p.opts.Logf("%d objects reachable from %d new commits, %d beyond what the bucket's refs reach, %d of them in the bucket already; uploading %d",
		reachable, len(history), len(ask), len(ask)-len(out)+countMeta(out), len(out))
	return out, nil
}

func countMeta(ps []pending) int {
	n := 0
	for _, p := range ps {
		if p.name.Type == object.CommitMeta {
			n++
		}
	}
	return n
}

// listPrefixes is how the objects/ listing is split to run in parallel:
// by the first hex digit of the checksums.
const listPrefixes = 16

// present asks the bucket which of names it holds, in the fewest
// requests it can foresee: one listing page of objects/ first (up to
// 1000 keys, which settles a new or small repository at once); from how
// far into the key space that page reached, the number of pages the
// rest of the listing would take; then HEAD for each name not settled,
// when there are fewer of them than that, else the listing, 16 ranges
// of the key space at once.
func (p *publisher) present(ctx context.Context, names []object.Name) (map[object.Name]bool, error) {
	have := map[object.Name]bool{}
	if len(names) == 0 {
		return have, nil
	}
	p.res.Checked = len(names)
	keys := make(map[string]object.Name, len(names))
	for _, n := range names {
		keys[objectKey(n)] = n
	}
	var last string
	var full bool
	errFirstPage := errors.New("first page")
	err := p.st.List(ctx, objectsPrefix, "", func(page []string) error {
		for _, k := range page {
			if n, ok := keys[k]; ok {
				have[n] = true
			}
		}
		if len(page) > 0 {
			last = page[len(page)-1]
		}
		full = len(page) >= 1000
		return errFirstPage
	})
	if err != nil && !errors.Is(err, errFirstPage) {
		return nil, err
	}
	if !full {
		p.res.Presence = "LIST"
		return have, nil
	}
	var rest []object.Name
	for k, n := range keys {
		if k > last {
			rest = append(rest, n)
		}
	}
	// The keys are checksums, spread evenly: a page that reached
	// fraction f of the key space says the listing takes about 1/f pages.
	f := keyFraction(last)
	pages := math.Max(1/f-1, 0)
	ranges := listRanges(last)
	listCost := 0
	for range ranges {
		listCost += max(1, int(math.Ceil(pages/listPrefixes)))
	}
	p.opts.Logf("presence of %d objects: the first page of the listing reached %.4f of the key space; the rest would take about %d LIST requests, HEAD %d",
		len(names), f, listCost, len(rest))
	if len(rest) <= listCost {
		p.res.Presence = "HEAD"
		var mu sync.Mutex
		err := forEach(ctx, p.opts.Jobs, rest, func(ctx context.Context, n object.Name) error {
			ok, err := p.st.Head(ctx, objectKey(n))
			if ok {
				mu.Lock()
				have[n] = true
				mu.Unlock()
			}
			return err
		})
		return have, err
	}
	p.res.Presence = "LIST"
	var mu sync.Mutex
	err = forEach(ctx, p.opts.Jobs, ranges, func(ctx context.Context, r listRange) error {
		return p.st.List(ctx, r.prefix, r.after, func(page []string) error {
			mu.Lock()
			defer mu.Unlock()
			for _, k := range page {
				if n, ok := keys[k]; ok {
					have[n] = true
				}
			}
			return nil
		})
	})
	return have, err
}

// keyFraction is how far into the key space of objects/ key lies, in (0, 1].
func keyFraction(key string) float64 {
	hex := strings.ReplaceAll(strings.TrimPrefix(key, objectsPrefix), "/", "")
	if len(hex) > 6 {
		hex = hex[:6]
	}
	v, err := strconv.ParseUint(hex+strings.Repeat("0", 6-len(hex)), 16, 32)
	if err != nil {
		return 1
	}
	return math.Max(float64(v+1)/float64(1<<24), 1e-7)
}

type listRange struct{ prefix, after string }

// listRanges splits what is after key in objects/ into ranges by first
// hex digit.
func listRanges(key string) []listRange {
	var out []listRange
	for i := range listPrefixes {
		prefix := objectsPrefix + strconv.FormatInt(int64(i), 16)
		switch {
		case strings.HasPrefix(key, prefix):
			out = append(out, listRange{prefix, key})
		case prefix > key:
			out = append(out, listRange{prefix, ""})
		}
	}
	return out
}

// checkConditions makes sure the store honours conditional writes, which
// the refs and the summary rely on, by asking it to write the config on
// conditions that do not hold: a store that honours them refuses; one that
// does not writes the same bytes again (or, in a new repository, writes
// the config, which a first publish writes anyway).
func (p *publisher) checkConditions(ctx context.Context) error {
	body := []byte(archiveConfig)
	if p.configETag == "" {
		etag, err := p.st.Put(ctx, keyConfig, body, bucket.PutOptions{IfNoneMatch: true, CacheControl: p.cacheMutable()})
		switch {
		case errors.Is(err, bucket.ErrPrecondition):
			// Another publisher's first publish came first.
			cfg, tag, err := p.st.Get(ctx, keyConfig, maxConfig)
			if err != nil {
				return err
			}
			if err := checkConfig(cfg); err != nil {
				return err
			}
			p.configETag, body = tag, cfg
		case err != nil:
			return err
		default:
			p.configETag = etag
			p.changed(keyConfig)
		}
	} else {
		body = p.config
	}
	var ignored []string
	if _, err := p.st.Put(ctx, keyConfig, body, bucket.PutOptions{IfNoneMatch: true, CacheControl: p.cacheMutable()}); err == nil {
		ignored = append(ignored, "If-None-Match")
	} else if !errors.Is(err, bucket.ErrPrecondition) {
		return err
	}
	if _, err := p.st.Put(ctx, keyConfig, body, bucket.PutOptions{IfMatch: `"00000000000000000000000000000000"`, CacheControl: p.cacheMutable()}); err == nil {
		ignored = append(ignored, "If-Match")
	} else if !errors.Is(err, bucket.ErrPrecondition) {
		return err
	}
	if len(ignored) == 0 {
		return nil
	}
	if !p.opts.Unconditional {
		return fmt.Errorf("the store ignores conditional writes (%s): refs cannot be moved by compare-and-swap, and a concurrent publisher's update could be lost; --s3-unconditional publishes anyway",
			strings.Join(ignored, ", "))
	}
	p.opts.Logf("the store ignores %s: publishing without compare-and-swap (--s3-unconditional)", strings.Join(ignored, ", "))
	return nil
}

func (p *publisher) cacheObjects() string {
	return cacheHeader(p.opts.CacheObjects, DefaultCacheObjects)
}
func (p *publisher) cacheMutable() string {
	return cacheHeader(p.opts.CacheMutable, DefaultCacheMutable)
}

func cacheHeader(v, def string) string {
	switch v {
	case "":
		return def
	case "-":
		return ""
	}
	return v
}
