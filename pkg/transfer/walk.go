package transfer

import (
	"sort"
	"strings"
	"sync"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// The walk of offer (send_plan.go: which objects to offer, from the new
// commits and the bases the remote holds) is the one costly step before
// the first QUERY: it reads every directory that changed, or every one of
// a fresh push. It depends only on the local repository and on which
// commits are bases, so it can start before the receiver has said what it
// has, on a guess (speculate), while ssh is still connecting; offer takes
// the result when the guess was right and walks again when it was not.
// The walks of the lanes of a push are shared.

// walks memoizes walk results by their inputs. Results are shared: their
// slices must not be modified.
type walks struct {
	src Source
	mu  sync.Mutex
	m   map[string]*walkResult
	bg  sync.WaitGroup // the speculative walk
}

type walkResult struct {
	done          chan struct{}
	offer, always []object.Name
	want          int // objects reachable, for the log
	err           error
}

func newWalks(src Source) *walks { return &walks{src: src, m: map[string]*walkResult{}} }

func walkKey(history, bases []object.Checksum) string {
	var b strings.Builder
	for _, c := range history {
		b.WriteString(c.String())
	}
	b.WriteByte('/')
	for _, c := range bases {
		b.WriteString(c.String())
	}
	return b.String()
}

// get returns the walk for history (the new commits) and bases (commits
// the remote has complete, and the client too), computing it or waiting
// for the one under way.
func (w *walks) get(history, bases []object.Checksum) *walkResult {
	key := walkKey(history, bases)
	w.mu.Lock()
	r, ok := w.m[key]
	if !ok {
		r = &walkResult{done: make(chan struct{})}
		w.m[key] = r
	}
	w.mu.Unlock()
	if ok {
		<-r.done
		return r
	}
	r.offer, r.always, r.want, r.err = walk(w.src, history, bases)
	close(r.done)
	return r
}

// speculate starts, in the background, the walk offer will most
// likely want for plan: with one ref to push, that the remote has the new
// commit's parent (an incremental publish), or, when the commit has no
// parent here, nothing (a first publish). A wrong guess costs the walk's
// CPU; offer then walks what it needs.
func (w *walks) speculate(plan []planned) {
	if len(plan) != 1 || plan[0].new.IsZero() {
		return
	}
	c, parent := plan[0].new, plan[0].parent // resolve found c complete
	var bases []object.Checksum
	if !parent.IsZero() {
		pinfo, ok, err := w.src.Commit(parent)
		if err != nil || !ok || pinfo.Partial {
			return // the history goes on elsewhere: no good guess
		}
		bases = []object.Checksum{parent}
	}
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		w.get([]object.Checksum{c}, bases)
	}()
}

// wait waits for the speculative walk, which may still be reading the
// repository after a wrong guess: the caller closes it next.
func (w *walks) wait() { w.bg.Wait() }

// walk works out what to offer a remote that has bases complete: the
// objects reachable from history, minus those reachable from the bases.
// The detached metadata of the commits is returned apart (see offer); the
// rest is in the order it is sent (sendsBefore).
func walk(src Source, history, bases []object.Checksum) (offer, always []object.Name, reachable int, err error) {
	var want []object.Name
	since, ok := src.(SinceSource)
	diff := ok && len(bases) > 0
	if diff {
		// Only the directories that changed since a base are read;
		// what is left out the remote has with the base.
		want, err = since.ReachableSince(bases[0], history)
	} else {
		want, err = src.Reachable(history)
	}
	if err != nil {
		return nil, nil, 0, err
	}
	have := map[object.Name]bool{}
	if len(bases) > 0 && !diff {
		names, err := src.Reachable(bases)
		if err != nil {
			return nil, nil, 0, err
		}
		for _, n := range names {
			have[n] = true
		}
	}
	for _, n := range want {
		switch {
		case n.Type == object.CommitMeta:
			always = append(always, n)
		case !have[n]:
			offer = append(offer, n)
		}
	}
	sort.Slice(offer, func(i, j int) bool { return sendsBefore(offer[i], offer[j]) })
	return offer, always, len(want), nil
}
