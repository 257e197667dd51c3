package publish

import (
	"context"
	"errors"
	"fmt"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// moved is a ref this publish moved, and its ETag now.
type moved struct {
	update
	etag string
}

// moveRefs moves the refs, one compare-and-swap each: a ref that another
// publisher moved since it was read is not overwritten (the publish fails
// with a stale ref, as git's push with a lease does). Refs cannot move
// together in an object store: when one is stale, those this publish
// moved already are put back (each by compare-and-swap again), so that
// the refs of a publish move all or none unless a third writer came in
// between.
func (p *publisher) moveRefs(ctx context.Context, updates []update) ([]moved, error) {
	var done []moved
	for i, u := range updates {
		key := refKey(u.name)
		var etag string
		var err error
		if u.new.IsZero() {
			err = p.st.Delete(ctx, key, u.etag)
		} else {
			o := bucket.PutOptions{CacheControl: p.cacheMutable(), IfMatch: u.etag, IfNoneMatch: u.etag == "", ContentType: "text/plain"}
			etag, err = p.st.Put(ctx, key, []byte(u.new.String()+"\n"), o)
		}
		if err != nil {
			// The write may have happened all the same: a retry whose
			// first try landed (its answer lost) meets its own write as a
			// failed condition; a cancelled request may have been sent.
			if tag, landed := p.landed(ctx, u); landed {
				etag, err = tag, nil
			}
		}
		if errors.Is(err, bucket.ErrPrecondition) {
			out := &p.res.Refs[u.outcome]
			out.Status, out.Message = wire.StatusRejected, "stale: the ref in the bucket moved since it was read (another publisher?); publish again"
			p.notMoved(updates[i+1:], "not moved: "+u.name+" was stale")
			p.rollback(ctx, done)
			return nil, nil
		}
		if err != nil {
			p.notMoved(updates[i:], fmt.Sprintf("not moved: %v", err))
			p.rollback(ctx, done)
			return nil, err
		}
		done = append(done, moved{update: u, etag: etag})
		p.didMove[u.outcome] = true
		p.changed(key)
		if err := p.fault("ref " + u.name); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// landed reports whether the ref of u is, in the bucket, what u moves it
// to (its ETag then): read again after its write failed.
func (p *publisher) landed(ctx context.Context, u update) (etag string, ok bool) {
	ctx, cancel := bucket.Cleanup(ctx)
	defer cancel()
	c, etag, err := p.getRef(ctx, u.name)
	if u.new.IsZero() {
		return "", errors.Is(err, bucket.ErrNotFound)
	}
	return etag, err == nil && c == u.new
}

// notMoved marks the outcomes of updates not made.
func (p *publisher) notMoved(updates []update, why string) {
	for _, u := range updates {
		out := &p.res.Refs[u.outcome]
		out.Status, out.Message = wire.StatusRejected, why
	}
}

// rollback puts back the refs of done after a failure, newest first, and
// marks them not moved.
func (p *publisher) rollback(ctx context.Context, done []moved) {
	ctx, cancel := bucket.Cleanup(ctx)
	defer cancel()
	for i := len(done) - 1; i >= 0; i-- {
		m := done[i]
		key := refKey(m.name)
		var err error
		if m.old.IsZero() {
			err = p.st.Delete(ctx, key, m.etag)
		} else {
			_, err = p.st.Put(ctx, key, []byte(m.old.String()+"\n"),
				bucket.PutOptions{CacheControl: p.cacheMutable(), IfMatch: m.etag, IfNoneMatch: m.etag == "", ContentType: "text/plain"})
		}
		out := &p.res.Refs[m.outcome]
		if err != nil {
			out.Status, out.Message = wire.StatusRejected, fmt.Sprintf("moved, then could not be put back when another ref was stale: %v", err)
			continue
		}
		out.Status, out.Message = wire.StatusRejected, "put back: another ref of the publish was stale"
	}
}
