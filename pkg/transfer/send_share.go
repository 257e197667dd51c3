package transfer

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// The shared reader of a push with several sending lanes: it goes once
// through the union of what they lack, in the order a lone lane sends
// them, loads each object once (two loaders reading ahead, send_load.go)
// and queues it for every lane that lacks it. Each lane has its own
// bounded queue; once waiting on one lane's full queue has held the others
// back (one of them had nothing left to send) for SlowAfter in all, that
// lane is left behind and reads the rest of its objects itself.

// Bounds of the shared reader: pieces queued per lane, and the chunk
// size in which an object too large to hold whole is read and shared.
const (
	laneQueue  = 64
	fanOutRead = 256 << 10
)

// piece is one queued unit: an object's header (with its whole data, or
// none for one streamed in chunks), or a chunk of a streamed object.
type piece struct {
	h     *wire.ObjectHeader
	data  []byte
	count uint64 // with h: the object's bytes as counted (loadedObject.counted)
}

// job is one read of the shared reader: an object, in one encoding, and
// the lanes that take it.
type job struct {
	name    object.Name
	filez   bool // a file object as .filez
	deflate bool // a metadata object deflated
	lanes   []*lane
}

// jobs merges what the sending lanes lack into one list, in the order a
// lone lane sends them (sendsBefore).
func (e *engine) jobs(sending []*lane) []*job {
	type key struct {
		name          object.Name
		filez, deflat bool
	}
	byKey := map[key]*job{}
	var list []*job
	for _, l := range sending {
		filez, deflat := l.filez(), l.deflateMeta()
		for _, n := range l.missing {
			k := key{n, filez && n.Type == object.File, deflat && n.Type.IsMeta()}
			j := byKey[k]
			if j == nil {
				j = &job{name: n, filez: k.filez, deflate: k.deflat}
				byKey[k] = j
				list = append(list, j)
			}
			j.lanes = append(j.lanes, l)
		}
	}
	sort.Slice(list, func(i, k int) bool {
		a, b := list[i], list[k]
		if a.name != b.name {
			return sendsBefore(a.name, b.name)
		}
		if a.filez != b.filez {
			return !a.filez
		}
		return !a.deflate && b.deflate
	})
	return list
}

// share is the shared reader: it reads each job once, two loaders reading
// ahead, and queues it for each lane that takes it. It closes every
// sending lane's queue when done.
func (e *engine) share(sending []*lane) {
	defer func() {
		for _, l := range sending {
			if !l.gone.Load() || l.rest == nil {
				close(l.queue)
			}
		}
	}()
	e.sending = sending
	jobs := e.jobs(sending)
	if len(jobs) == 0 {
		return
	}
	e.opts.Logf("fan-out: %d objects to read for %d mirrors", len(jobs), len(sending))
	// A local read error fails the lanes taking that object (as a
	// single push would fail); the others go on, so it is kept apart
	// instead of stopping readAhead.
	readErrs := make([]error, len(jobs))
	var done uint64
	readAhead(len(jobs), func(i int) (loadedObject, error) {
		j := jobs[i]
		if len(j.live()) == 0 {
			return loadedObject{}, nil
		}
		o, err := loadObject(e.src, j.name, j.filez, j.deflate)
		readErrs[i] = err
		return o, nil
	}, func(i int, o loadedObject) error {
		j := jobs[i]
		err := readErrs[i]
		data, size := o.data, o.size
		if live := j.live(); len(live) > 0 && err == nil {
			h := &wire.ObjectHeader{Name: j.name, Size: size, Filez: o.filez, Deflated: o.deflated}
			if data != nil {
				for _, ln := range live {
					e.put(ln, piece{h: h, data: data, count: o.counted()}, jobs, i)
				}
			} else {
				err = e.stream(j, h, live, jobs, i)
			}
			e.objectsRead.Add(1)
			e.bytesRead.Add(o.counted())
		}
		if err != nil {
			err = fmt.Errorf("reading %s: %w", j.name, err)
			for _, ln := range j.lanes {
				if !ln.gone.Load() {
					ln.gone.Store(true)
					ln.giveUp(err)
				}
			}
		}
		done++
		if e.opts.Progress != nil {
			e.opts.Progress(PushProgress{ObjectsSent: done, ObjectsTotal: uint64(len(jobs)), BytesSent: e.bytesRead.Load()})
		}
		return nil
	})
}

// live lists the job's lanes still being fed.
func (j *job) live() []*lane {
	var live []*lane
	for _, l := range j.lanes {
		if !l.gone.Load() {
			live = append(live, l)
		}
	}
	return live
}

// stream reads an object too large to hold whole in chunks and queues each
// chunk for every lane taking it.
func (e *engine) stream(j *job, h *wire.ObjectHeader, live []*lane, jobs []*job, at int) error {
	rc, err := openStreamed(e.src, h)
	if err != nil {
		return err
	}
	defer rc.Close()
	for _, l := range live {
		e.put(l, piece{h: h, count: h.Size}, jobs, at)
	}
	for left := h.Size; left > 0; {
		chunk := make([]byte, min(left, fanOutRead))
		if _, err := io.ReadFull(rc, chunk); err != nil {
			return noEOF(err)
		}
		left -= uint64(len(chunk))
		for _, l := range live {
			if !l.gone.Load() {
				e.put(l, piece{data: chunk}, nil, at)
			}
		}
	}
	return nil
}

// put queues a piece for a lane. Waiting on a lane's full queue while
// another lane has nothing left to send holds that one back; once that
// adds up to SlowAfter over the push, the lane is left behind at the
// start of an object (jobs given) with the jobs from at on. A chunk of an
// object already started waits until the lane takes it or fails, or
// until the holding back adds up to twice SlowAfter: then that lane's
// push fails. While every lane is busy, waiting holds nobody back and
// costs nothing.
func (e *engine) put(l *lane, pc piece, jobs []*job, at int) {
	if l.gone.Load() {
		return
	}
	if l.failed() {
		l.gone.Store(true)
		return
	}
	select {
	case l.queue <- pc: // room: no wait
		return
	default:
	}
	tick := time.NewTicker(heldTick)
	defer tick.Stop()
	for {
		select {
		case l.queue <- pc:
			return
		case <-l.dead:
			l.gone.Store(true)
			return
		case <-tick.C:
			if e.othersStarving(l) {
				l.held += heldTick
			}
			switch {
			case jobs != nil && l.held >= e.opts.SlowAfter:
				e.leave(l, jobs, at)
				return
			case jobs == nil && l.held >= 2*e.opts.SlowAfter:
				// It cannot be left behind in the middle of an object;
				// one that stalls there (hung, not closed) must
				// not stall the others for ever.
				l.gone.Store(true)
				l.giveUp(fmt.Errorf("too slow: it held the other destinations back for %v in the middle of a large object", l.held))
				if l.abort != nil {
					l.abort() // its writer may be blocked on the connection
				}
				return
			}
		}
	}
}

// heldTick is how often a wait on a full queue checks the other lanes.
const heldTick = 10 * time.Millisecond

// othersStarving reports whether another lane being fed has (almost)
// nothing queued: waiting on l then holds it back.
func (e *engine) othersStarving(l *lane) bool {
	for _, o := range e.sending {
		if o != l && !o.gone.Load() && len(o.queue) <= cap(o.queue)/8 {
			return true
		}
	}
	return false
}

// leave leaves a lane behind: the jobs from at on that it takes become
// its own to read, and nothing more is queued for it.
func (e *engine) leave(l *lane, jobs []*job, at int) {
	rest := []object.Name{}
	for _, j := range jobs[at:] {
		for _, x := range j.lanes {
			if x == l {
				rest = append(rest, j.name)
			}
		}
	}
	l.rest = rest
	l.leftBehind.Store(true)
	l.gone.Store(true)
	close(l.queue)
}
