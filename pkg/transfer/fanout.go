package transfer

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// Fan-out: one push to several receivers at once (ostree-push --to A --to B).
//
// Each mirror negotiates on its own connection exactly as a single push
// does (HELLO, ADVERTISE, its refs judged, QUERY and HAVE), so every
// receiver sees an ordinary version-1 push and nothing on the wire changes
// (protocol.md, section 12b). Then one reader goes once through the union
// of the objects the mirrors lack, in the order a single push sends them,
// and hands each object it read to the writer of every mirror that lacks
// it. Each mirror has its own bounded queue, writer and reader: one that
// fails is dropped and the others go on; once waiting on one mirror's full
// queue has held the others back (one of them had nothing left to send)
// for SlowAfter in all, that mirror is left behind and reads the rest of
// its objects itself, so a slow mirror costs the others at most SlowAfter
// (twice that when it stalls in the middle of a large object: then it
// fails).

// DefaultSlowAfter is FanOutOptions.SlowAfter when it is zero.
const DefaultSlowAfter = 5 * time.Second

// Bounds of the shared reader: pieces queued per mirror, and the chunk
// size in which an object too large to hold whole is read and shared.
const (
	laneQueue  = 64
	fanOutRead = 256 << 10
)

// Mirror is one receiver of a fan-out push.
type Mirror struct {
	Name   string               // how reports and messages name it (its DEST)
	R      io.Reader            // from the receiver
	W      io.Writer            // to the receiver
	Remote func(message string) // its PROGRESS messages; may be nil
	// Abort, when set, breaks the connection: PushMany calls it when it
	// gives up on a mirror that stalls with its writer blocked on W.
	Abort func()
}

// FanOutOptions configure PushMany. Progress counts the objects read for
// all mirrors together; Remote is per Mirror and ignored here; Logf lines
// start with the mirror's name.
type FanOutOptions struct {
	PushOptions
	// SlowAfter is how long in all a mirror with a full queue may hold the
	// others back (the shared reader waiting on it while another mirror
	// has nothing left to send) before it is left behind, to read the rest
	// of its objects itself. Zero means DefaultSlowAfter.
	SlowAfter time.Duration
	// Finished, when set, is called as soon as each mirror's push ends
	// (from that mirror's goroutine), with its index in the mirrors given:
	// a report need not wait for the slowest mirror.
	Finished func(i int, r MirrorResult)
}

// MirrorResult is what happened at one mirror: Err when its push failed as
// a whole (the mirror was left as it was), else Result.
type MirrorResult struct {
	Name   string
	Result *PushResult
	Err    error
	// LeftBehind is set when the mirror fell behind the shared reader and
	// read the rest of its objects itself.
	LeftBehind bool
}

// OK reports whether the push to this mirror succeeded with every ref
// updated or up to date.
func (m *MirrorResult) OK() bool { return m.Err == nil && m.Result != nil && m.Result.OK() }

// FanOutResult is what PushMany did.
type FanOutResult struct {
	Mirrors []MirrorResult // in the order given
	// ObjectsRead and BytesRead count the reads of objects from the local
	// repository: one per object sent, whatever the number of mirrors
	// lacking it, plus the rereads of a mirror left behind (and a second
	// read of an object two mirrors take in different encodings).
	ObjectsRead, BytesRead uint64
}

// OK reports whether every mirror's push succeeded.
func (r *FanOutResult) OK() bool {
	for i := range r.Mirrors {
		if !r.Mirrors[i].OK() {
			return false
		}
	}
	return true
}

// PushMany pushes the same refs to every mirror at once, reading each
// object to send once. A mirror's failure is reported in its MirrorResult
// and does not stop the others; the error is for what fails before any
// mirror is contacted (a refspec that resolves to nothing locally).
func PushMany(src Source, mirrors []Mirror, opts FanOutOptions) (*FanOutResult, error) {
	if len(mirrors) == 0 {
		return nil, errors.New("no destinations")
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.SlowAfter <= 0 {
		opts.SlowAfter = DefaultSlowAfter
	}
	opts.Fault = opts.Fault.locked()
	f := &fanOut{src: src, opts: opts}
	shared := newWalks(src)
	for _, m := range mirrors {
		po := opts.PushOptions
		po.Progress = nil
		po.Remote = m.Remote
		name, logf := m.Name, opts.Logf
		po.Logf = func(format string, a ...any) { logf("%s: "+format, append([]any{name}, a...)...) }
		first := &firstBytes{r: m.R}
		f.lanes = append(f.lanes, &lane{
			name:  m.Name,
			abort: m.Abort,
			p:     &pusher{fr: NewFrameReader(first), fw: NewFrameWriter(m.W), src: src, opts: po, first: first, walks: shared},
			dead:  make(chan struct{}),
		})
	}
	plan, err := f.lanes[0].p.resolve()
	if err != nil {
		return nil, err
	}
	shared.speculate(plan)
	defer shared.wait()

	// Negotiate with every mirror at once.
	var wg sync.WaitGroup
	for i, l := range f.lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.negotiate(plan)
			if l.err != nil || l.result != nil {
				f.finished(i, l)
			}
		}()
	}
	wg.Wait()

	// Send: a writer and a reader per mirror, the shared reader here.
	var sending []*lane
	for i, l := range f.lanes {
		if l.err != nil || l.result != nil {
			continue
		}
		if !l.n.dryRun {
			l.queue = make(chan piece, laneQueue)
			sending = append(sending, l)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.finish(f)
			f.finished(i, l)
		}()
	}
	f.share(sending)
	wg.Wait()

	res := &FanOutResult{ObjectsRead: f.objectsRead.Load(), BytesRead: f.bytesRead.Load()}
	for _, l := range f.lanes {
		res.Mirrors = append(res.Mirrors, l.mirrorResult())
	}
	return res, nil
}

func (l *lane) mirrorResult() MirrorResult {
	return MirrorResult{Name: l.name, Result: l.result, Err: l.err, LeftBehind: l.leftBehind.Load()}
}

func (f *fanOut) finished(i int, l *lane) {
	if f.opts.Finished != nil {
		f.opts.Finished(i, l.mirrorResult())
	}
}

type fanOut struct {
	src     Source
	opts    FanOutOptions
	lanes   []*lane
	sending []*lane // the mirrors the shared reader feeds
	// Reads from the local repository, by the shared reader and by
	// mirrors left behind.
	objectsRead, bytesRead atomic.Uint64
}

// lane is one mirror's side of a fan-out.
type lane struct {
	name    string
	abort   func() // Mirror.Abort; may be nil
	p       *pusher
	n       *negotiated
	missing []object.Name // what the mirror lacks, in sending order
	queue   chan piece    // from the shared reader to the writer; nil in a dry run
	dead    chan struct{} // closed when this mirror's push failed
	once    sync.Once
	err     error
	causeMu sync.Mutex
	cause   error // set by giveUp
	result  *PushResult
	// Set by the shared reader, before it closes queue:
	gone       atomic.Bool   // nothing more is queued (failed, or left behind); the loaders read it too
	rest       []object.Name // set when left behind: what the writer reads itself
	leftBehind atomic.Bool
	// held is how long the shared reader has waited on this mirror's full
	// queue while another mirror had nothing left to send.
	held time.Duration
}

// piece is one queued unit: an object's header (with its whole data, or
// none for one streamed in chunks), or a chunk of a streamed object.
type piece struct {
	h     *ObjectHeader
	data  []byte
	count uint64 // with h: the object's bytes as counted (loadedObject.counted)
}

// giveUp fails the mirror for a reason of the shared reader's (a local
// read error, a stall), which is then the error reported for it whatever
// its writer and reader see next.
func (l *lane) giveUp(err error) {
	l.causeMu.Lock()
	if l.cause == nil {
		l.cause = err
	}
	l.causeMu.Unlock()
	l.fail(err)
}

// fail records the first error of the mirror and marks it dead.
func (l *lane) fail(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.dead)
	})
}

// negotiate runs everything before objects: HELLO, ADVERTISE, the local
// judgement of the refs and the QUERYs. After it, l.err, l.result (every
// ref refused locally) or l.missing is set.
func (l *lane) negotiate(plan []planned) {
	n, err := l.p.prepare(plan)
	if err != nil {
		l.p.sendError(err)
		l.fail(err)
		return
	}
	l.n = n
	if len(n.updates) == 0 {
		l.result = l.p.allRefused(n)
		return
	}
	missing, err := l.p.queryAll(n.offer)
	if err != nil {
		l.fail(err)
		return
	}
	l.missing = append(append([]object.Name{}, n.always...), missing...)
	l.p.opts.Logf("lacks %d of %d objects offered", len(missing), len(n.offer))
}

// queryAll sends every QUERY and collects the HAVEs: the offered objects
// the receiver lacks, in order. The QUERYs go from a goroutine so that a
// receiver blocked writing HAVEs never blocks them.
func (p *pusher) queryAll(offer []object.Name) ([]object.Name, error) {
	var batches [][]object.Name
	for i := 0; i < len(offer); i += queryBatch {
		batches = append(batches, offer[i:min(i+queryBatch, len(offer))])
	}
	werr := make(chan error, 1)
	go func() {
		for _, b := range batches {
			if err := p.fw.WriteMessage(&Query{Objects: b}); err != nil {
				werr <- err
				return
			}
		}
		werr <- p.fw.Flush()
	}()
	var missing []object.Name
	for _, b := range batches {
		m, err := p.readMessage("HAVE")
		if err == nil {
			h, ok := m.(*Have)
			switch {
			case !ok:
				err = unexpected("HAVE", m)
			case len(h.Present) != len(b):
				err = protocolErrorf("HAVE answers %d objects, QUERY asked about %d", len(h.Present), len(b))
			default:
				for i, n := range b {
					if !h.Present[i] {
						missing = append(missing, n)
					}
				}
				continue
			}
		}
		// The writer goroutine may still own the connection: send
		// nothing more on it (the caller closes it).
		p.errorSent = true
		return nil, err
	}
	if err := <-werr; err != nil {
		p.errorSent = true
		return nil, err
	}
	return missing, nil
}

// finish is the mirror's goroutine from the objects on: it writes what the
// shared reader queues (or, left behind, reads the rest itself), then
// UPDATE, while another goroutine reads up to RESULT.
func (l *lane) finish(f *fanOut) {
	stats := &sentStats{}
	rerr := make(chan error, 1)
	go func() {
		m, err := l.p.readMessage("RESULT")
		if err == nil {
			if r, ok := m.(*Result); ok {
				stats.result = r
			} else {
				err = unexpected("RESULT", m)
			}
		}
		if err != nil {
			l.fail(err)
		}
		rerr <- err
	}()
	werr := l.write(f, stats)
	if werr != nil {
		l.p.sendError(werr)
		l.fail(werr)
	}
	readErr := <-rerr
	// As in a single push: the writer's failure is the cause unless the
	// receiver said why in an ERROR.
	var remote *RemoteError
	switch {
	case readErr != nil && errors.As(readErr, &remote):
		l.err = readErr
	case werr != nil:
		l.err = werr
	case readErr != nil:
		l.err = readErr
	}
	l.causeMu.Lock()
	if l.cause != nil {
		l.err = l.cause
	}
	l.causeMu.Unlock()
	if l.err != nil {
		return
	}
	res, err := l.p.outcomes(l.n, stats)
	if err != nil {
		l.err = err
		return
	}
	l.result = res
}

func (l *lane) write(f *fanOut, stats *sentStats) error {
	if l.n.dryRun {
		if err := l.p.sendOrCount(l.missing, true, stats, 0); err != nil {
			return err
		}
	} else {
		for pc := range l.queue {
			select {
			case <-l.dead:
				return l.err
			default:
			}
			if pc.h != nil {
				l.p.opts.Fault.at("push:object", stats.objects+1)
				if err := l.p.fw.WriteMessage(pc.h); err != nil {
					return err
				}
				stats.objects++
				stats.bytes += pc.count
			}
			for data := pc.data; len(data) > 0; {
				n := min(len(data), MaxPayload)
				if err := l.p.fw.WriteFrame(FrameData, data[:n]); err != nil {
					return err
				}
				data = data[n:]
			}
		}
		select {
		case <-l.dead: // the shared reader failed it
			return l.err
		default:
		}
		if l.rest != nil {
			l.p.opts.Logf("fell behind the others for %v: reading its last %d objects itself", f.opts.SlowAfter, len(l.rest))
			before := stats.bytes
			if err := l.p.sendObjects(l.rest, stats, 0); err != nil {
				return err
			}
			f.objectsRead.Add(uint64(len(l.rest)))
			f.bytesRead.Add(stats.bytes - before)
		}
	}
	l.p.opts.Fault.at("push:update", 0)
	if err := l.p.fw.WriteMessage(&Update{DryRun: l.n.dryRun, Refs: l.n.updates}); err != nil {
		return err
	}
	return l.p.fw.Flush()
}

// job is one read of the shared reader: an object, in one encoding, and
// the mirrors that take it.
type job struct {
	name    object.Name
	filez   bool // a file object as .filez
	deflate bool // a metadata object deflated
	lanes   []*lane
}

// fanOutRank orders objects as a single push sends them: detached metadata
// (sent unasked) first, then contents, dirmeta, dirtrees, commits.
var fanOutRank = map[object.Type]int{object.CommitMeta: 0, object.File: 1, object.DirMeta: 2, object.DirTree: 3, object.Commit: 4}

// jobs merges what the sending mirrors lack into one ordered list.
func (f *fanOut) jobs(sending []*lane) []*job {
	type key struct {
		name          object.Name
		filez, deflat bool
	}
	byKey := map[key]*job{}
	var list []*job
	for _, l := range sending {
		filez, deflat := l.p.filez(), l.p.deflateMeta()
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
		if fanOutRank[a.name.Type] != fanOutRank[b.name.Type] {
			return fanOutRank[a.name.Type] < fanOutRank[b.name.Type]
		}
		if a.name.Checksum != b.name.Checksum {
			return string(a.name.Checksum[:]) < string(b.name.Checksum[:])
		}
		if a.filez != b.filez {
			return !a.filez
		}
		return !a.deflate && b.deflate
	})
	return list
}

// share is the shared reader: it reads each job once, two loaders reading
// ahead, and queues it for each mirror that takes it. It closes every
// sending mirror's queue when done.
func (f *fanOut) share(sending []*lane) {
	defer func() {
		for _, l := range sending {
			if !l.gone.Load() || l.rest == nil {
				close(l.queue)
			}
		}
	}()
	f.sending = sending
	jobs := f.jobs(sending)
	if len(jobs) == 0 {
		return
	}
	f.opts.Logf("fan-out: %d objects to read for %d mirrors", len(jobs), len(sending))
	// A local read error fails the mirrors taking that object (as a
	// single push would fail); the others go on, so it is kept apart
	// instead of stopping readAhead.
	readErrs := make([]error, len(jobs))
	var done uint64
	readAhead(len(jobs), func(i int) (loadedObject, error) {
		j := jobs[i]
		if len(j.live()) == 0 {
			return loadedObject{}, nil
		}
		o, err := loadObject(f.src, j.name, j.filez, j.deflate)
		readErrs[i] = err
		return o, nil
	}, func(i int, o loadedObject) error {
		j := jobs[i]
		err := readErrs[i]
		data, size := o.data, o.size
		if live := j.live(); len(live) > 0 && err == nil {
			h := &ObjectHeader{Name: j.name, Size: size, Filez: o.filez, Deflated: o.deflated}
			if data != nil {
				for _, ln := range live {
					f.put(ln, piece{h: h, data: data, count: o.counted()}, jobs, i)
				}
			} else {
				err = f.stream(j, h, live, jobs, i)
			}
			f.objectsRead.Add(1)
			f.bytesRead.Add(o.counted())
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
		if f.opts.Progress != nil {
			f.opts.Progress(PushProgress{ObjectsSent: done, ObjectsTotal: uint64(len(jobs)), BytesSent: f.bytesRead.Load()})
		}
		return nil
	})
}

// live lists the job's mirrors still being fed.
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
// chunk for every mirror taking it.
func (f *fanOut) stream(j *job, h *ObjectHeader, live []*lane, jobs []*job, at int) error {
	rc, size, err := openFile(f.src, j.name.Checksum, h.Filez)
	if err != nil {
		return err
	}
	defer rc.Close()
	if size != h.Size {
		return fmt.Errorf("%s changed size while being sent", j.name)
	}
	for _, l := range live {
		f.put(l, piece{h: h, count: h.Size}, jobs, at)
	}
	for left := size; left > 0; {
		chunk := make([]byte, min(left, fanOutRead))
		if _, err := io.ReadFull(rc, chunk); err != nil {
			return noEOF(err)
		}
		left -= uint64(len(chunk))
		for _, l := range live {
			if !l.gone.Load() {
				f.put(l, piece{data: chunk}, nil, at)
			}
		}
	}
	return nil
}

// put queues a piece for a mirror. Waiting on a mirror's full queue while
// another mirror has nothing left to send holds that one back; once that
// adds up to SlowAfter over the push, the mirror is left behind at the
// start of an object (jobs given) with the jobs from at on. A chunk of an
// object already started waits until the mirror takes it or fails, or
// until the holding back adds up to twice SlowAfter: then that mirror's
// push fails. While every mirror is busy, waiting holds nobody back and
// costs nothing.
func (f *fanOut) put(l *lane, pc piece, jobs []*job, at int) {
	if l.gone.Load() {
		return
	}
	select {
	case l.queue <- pc:
		return
	case <-l.dead:
		l.gone.Store(true)
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
			if f.othersStarving(l) {
				l.held += heldTick
			}
			switch {
			case jobs != nil && l.held >= f.opts.SlowAfter:
				f.leave(l, jobs, at)
				return
			case jobs == nil && l.held >= 2*f.opts.SlowAfter:
				// It cannot be left behind in the middle of an object;
				// a mirror that stalls there (hung, not closed) must
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

// heldTick is how often a wait on a full queue checks the other mirrors.
const heldTick = 10 * time.Millisecond

// othersStarving reports whether another mirror being fed has (almost)
// nothing queued: waiting on l then holds it back.
func (f *fanOut) othersStarving(l *lane) bool {
	for _, o := range f.sending {
		if o != l && !o.gone.Load() && len(o.queue) <= cap(o.queue)/8 {
			return true
		}
	}
	return false
}

// leave leaves a mirror behind: the jobs from at on that it takes become
// its own to read, and nothing more is queued for it.
func (f *fanOut) leave(l *lane, jobs []*job, at int) {
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

// locked makes a FaultFunc safe to call from several goroutines.
func (f FaultFunc) locked() FaultFunc {
	if f == nil {
		return nil
	}
	var mu sync.Mutex
	return func(point string, n uint64) {
		mu.Lock()
		defer mu.Unlock()
		f(point, n)
	}
}
