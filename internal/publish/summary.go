package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ostree-push/ostree-push/internal/bucket"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/summary"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// summaryAttempts bounds the rounds of read, derive and compare-and-swap
// of the summary when other publishers keep writing it.
const summaryAttempts = 8

// updateSummary writes the summary for the refs moved: derived from the
// bucket's summary (pkg/summary: the other refs' entries copied as they
// are), or, when that cannot be done, made from every ref in the bucket;
// written by compare-and-swap on the summary read, read again and
// derived again when another publisher wrote it in between. Then its
// signatures, last: a summary.sig signing the previous summary is
// replaced, or removed when this publish does not sign.
func (p *publisher) updateSummary(ctx context.Context, moves []moved) error {
	old, tag := p.summary, p.summaryTag
	for attempt := 1; ; attempt++ {
		data, regenerated, err := p.makeSummary(ctx, old, moves)
		if err != nil {
			return err
		}
		o := bucket.PutOptions{CacheControl: p.cacheMutable(), IfMatch: tag, IfNoneMatch: tag == ""}
		_, err = p.st.Put(ctx, keySummary, data, o)
		if errors.Is(err, bucket.ErrPrecondition) && attempt < summaryAttempts {
			p.opts.Logf("the summary changed since it was read (another publisher): reading it again")
			old, tag, err = p.st.Get(ctx, keySummary, maxSummary)
			if errors.Is(err, bucket.ErrNotFound) {
				old, tag, err = nil, "", nil
			}
			if err != nil {
				return err
			}
			// Another publisher may have moved one of these refs after
			// this one did, and written its summary: the summary is to
			// say what the refs say now.
			if moves, err = p.refreshMoves(ctx, moves); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("writing the summary: %w", err)
		}
		p.res.SummaryRegenerated = regenerated
		p.changed(keySummary)
		if err := p.fault("summary.sig"); err != nil {
			return err
		}
		return p.signSummary(ctx, data)
	}
}

// unsummarized returns the refs of the publish that were up to date but
// that the bucket's summary does not list where they are (a publish that
// moved them did not live to write the summary), as moves to where they
// are.
func (p *publisher) unsummarized() []moved {
	var out []moved
	for i, o := range p.res.Refs {
		if o.Status == wire.StatusUpToDate && p.summaryRefs[o.Ref.Name] != o.New {
			out = append(out, moved{update: update{name: o.Ref.Name, old: o.Old, new: o.New, outcome: i}})
		}
	}
	return out
}

// refreshMoves reads the refs of moves again and returns them with the
// commits they point at now (zero for a ref gone).
func (p *publisher) refreshMoves(ctx context.Context, moves []moved) ([]moved, error) {
	out := make([]moved, len(moves))
	for i, m := range moves {
		c, _, err := p.getRef(ctx, m.name)
		switch {
		case errors.Is(err, bucket.ErrNotFound):
			m.new = object.Zero
		case errors.Is(err, errBadRef):
			return nil, fmt.Errorf("%s in the bucket: %w", refKey(m.name), err)
		case err != nil:
			return nil, err
		default:
			m.new = c
		}
		out[i] = m
	}
	return out, nil
}

// makeSummary derives the summary from old for moves, or regenerates it.
func (p *publisher) makeSummary(ctx context.Context, old []byte, moves []moved) (data []byte, regenerated bool, err error) {
	now := uint64(p.opts.Now().Unix())
	if old != nil {
		inOld, _ := refsListed(old) // unreadable: Derive says why
		var changes []summary.Change
		for _, m := range moves {
			ch := summary.Change{Name: m.name, From: inOld[m.name]}
			if !m.new.IsZero() {
				e, err := p.entry(ctx, m.name, m.new)
				if err != nil {
					return nil, false, err
				}
				ch.To = &e
			} else if ch.From.IsZero() {
				continue // deleted, and not in the summary either
			}
			changes = append(changes, ch)
		}
		data, err := summary.Derive(old, summary.Repo{Mode: "archive-z2"}, changes, now)
		if err == nil {
			return data, false, nil
		}
		var why *summary.UnderivableError
		if !errors.As(err, &why) {
			return nil, false, err
		}
		p.opts.Logf("regenerating the summary from every ref: %v", err)
	}
	data, err = p.regenerate(ctx, now)
	return data, true, err
}

// entry is the summary entry of ref name at commit c: from the local
// repository, or the bucket when the commit is not here.
func (p *publisher) entry(ctx context.Context, name string, c object.Checksum) (summary.Entry, error) {
	n := object.Name{Checksum: c, Type: object.Commit}
	data, err := p.src.ReadMetadata(n)
	if err != nil {
		data, _, err = p.st.Get(ctx, objectKey(n), maxCommit)
		if err != nil {
			return summary.Entry{}, fmt.Errorf("commit %s of ref %s: %w", c, name, err)
		}
		if object.Checksum(sha256.Sum256(data)) != c {
			return summary.Entry{}, fmt.Errorf("commit %s of ref %s: the bucket's copy does not hash to its name: %w", c, name, errBadCommit)
		}
	}
	e, err := summary.CommitEntry(name, c, data)
	if err != nil {
		return summary.Entry{}, fmt.Errorf("%w: %w", errBadCommit, err)
	}
	return e, nil
}

// errBadCommit is a commit that cannot be read into a summary entry.
var errBadCommit = errors.New("not a commit")

// unlistable reports whether err says a ref others wrote cannot be
// listed in the summary (as opposed to the store failing).
func unlistable(err error) bool {
	return errors.Is(err, bucket.ErrNotFound) || errors.Is(err, bucket.ErrTooLarge) || errors.Is(err, errBadCommit)
}

// regenerate makes the summary from every ref in the bucket.
func (p *publisher) regenerate(ctx context.Context, now uint64) ([]byte, error) {
	var names []string
	err := p.st.List(ctx, refsPrefix, "", func(keys []string) error {
		for _, k := range keys {
			names = append(names, strings.TrimPrefix(k, refsPrefix))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	entries := make([]summary.Entry, 0, len(names))
	var mu sync.Mutex
	err = forEach(ctx, p.opts.Jobs, names, func(ctx context.Context, name string) error {
		if p.src.ValidateRef(wire.RefName{Name: name}) != nil {
			p.opts.Logf("not in the summary: %q, not a valid ref name", name)
			return nil
		}
		c, _, err := p.getRef(ctx, name)
		if errors.Is(err, bucket.ErrNotFound) {
			return nil // deleted since the listing
		}
		var e summary.Entry
		if err == nil {
			e, err = p.entry(ctx, name, c)
		}
		if err != nil {
			// Another writer's ref, broken: this publish, whose refs
			// have moved, leaves it out rather than failing.
			if !unlistable(err) && !errors.Is(err, errBadRef) {
				return err
			}
			p.opts.Logf("not in the summary: %s in the bucket: %v", refKey(name), err)
			return nil
		}
		mu.Lock()
		entries = append(entries, e)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return summary.Regenerate(entries, summary.Repo{Mode: "archive-z2"}, now)
}

// resign signs the bucket's summary when this publish changes neither it
// nor the refs but summary.sig does not sign it: a publish killed between
// the summary and its signatures left none, or the previous summary's.
// A signer whose signatures differ each time (GPG's carry the time) signs
// again at every publish.
func (p *publisher) resign(ctx context.Context) error {
	if p.opts.SignSummary == nil || p.summary == nil {
		return nil
	}
	old, _, err := p.st.Get(ctx, keySummarySig, maxSummarySig)
	if errors.Is(err, bucket.ErrNotFound) || errors.Is(err, bucket.ErrTooLarge) {
		old, err = nil, nil
	}
	if err != nil {
		return err
	}
	sig, err := p.opts.SignSummary(p.summary)
	if err != nil {
		return fmt.Errorf("signing the summary: %w", err)
	}
	if bytes.Equal(sig, old) {
		return nil
	}
	p.opts.Logf("summary.sig does not sign the summary (a publish killed before signing it?): signing it")
	return p.writeSig(ctx, p.summary, sig)
}

// signSummary writes summary.sig for data, or removes a summary.sig that
// signs another summary.
func (p *publisher) signSummary(ctx context.Context, data []byte) error {
	if p.opts.SignSummary == nil {
		exists, err := p.st.Head(ctx, keySummarySig)
		if err != nil || !exists {
			return err
		}
		p.opts.Logf("removing summary.sig: it signs the previous summary and this publish does not sign")
		if err := p.st.Delete(ctx, keySummarySig, ""); err != nil {
			return err
		}
		p.changed(keySummarySig)
		return nil
	}
	sig, err := p.opts.SignSummary(data)
	if err != nil {
		return fmt.Errorf("signing the summary: %w", err)
	}
	return p.writeSig(ctx, data, sig)
}

// writeSig writes sig, the signatures of summary data, then reads the
// summary again: when another publisher wrote its summary meanwhile (and
// perhaps its summary.sig before this one's landed), it signs that one
// too, until the summary.sig written is the summary's. Of publishers that
// sign, the last to write summary.sig reads the summary after, so the
// last summary is signed.
func (p *publisher) writeSig(ctx context.Context, data, sig []byte) error {
	for attempt := 1; ; attempt++ {
		if _, err := p.st.Put(ctx, keySummarySig, sig, bucket.PutOptions{CacheControl: p.cacheMutable()}); err != nil {
			return err
		}
		if attempt == 1 {
			p.changed(keySummarySig)
		}
		now, _, err := p.st.Get(ctx, keySummary, maxSummary)
		if errors.Is(err, bucket.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.Equal(now, data) {
			return nil
		}
		if attempt == summaryAttempts {
			return fmt.Errorf("the summary keeps changing while it is signed (other publishers)")
		}
		p.opts.Logf("the summary changed while it was signed (another publisher): signing it again")
		data = now
		if sig, err = p.opts.SignSummary(data); err != nil {
			return fmt.Errorf("signing the summary: %w", err)
		}
	}
}
