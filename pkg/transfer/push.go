package transfer

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// queryBatch is how many objects one QUERY asks about.
const queryBatch = 8192

// PushSpec is one ref to push: the local rev Src to the remote ref Dst.
// An empty Src deletes Dst.
type PushSpec struct {
	Src   string
	Dst   RefName
	Force bool
}

const (
	// compressMax is the largest content a CompressSource deflates (in
	// memory); a larger file object goes as a content stream.
	compressMax = 16 << 20
	// readAheadBytes bounds the bytes the loaders hold ahead of the
	// writer (see readAhead).
	readAheadBytes = 32 << 20
)

// PushOptions configure Push.
type PushOptions struct {
	Specs    []PushSpec           // what to push; empty: every local ref to the same name
	DryRun   bool                 // negotiate and report; change nothing
	Agent    string               // sent in HELLO
	Progress func(PushProgress)   // called as objects are sent; may be nil
	Remote   func(message string) // the receiver's PROGRESS messages; may be nil
	Fault    FaultFunc            // fault injection for tests (see fault.go); may be nil
	// NoCapabilities lists capabilities not to offer even when possible
	// (for measuring one path against another).
	NoCapabilities []string
	// Compress deflates what crosses the network: the file objects of a
	// source that does not store them compressed (CompressSource: bare,
	// bare-user) when the receiver takes .filez, so that they travel as an
	// archive's would, and metadata objects when the receiver takes them
	// deflated (CapDeflateMetadata).
	Compress bool
	Logf     func(string, ...any) // diagnostics; may be nil
}

// PushProgress is reported while objects are sent.
type PushProgress struct {
	ObjectsSent, ObjectsTotal uint64
	BytesSent                 uint64
}

// RefOutcome is what happened to one ref.
type RefOutcome struct {
	Ref      RefName
	Old, New object.Checksum // remote value before; the value pushed
	Status   RefStatus
	Message  string
	Forced   bool // a non-fast-forward update that --force allowed
}

// PushResult is what a push did (or, in a dry run, would do).
type PushResult struct {
	Refs        []RefOutcome
	ObjectsSent uint64 // objects sent (dry run: that would be sent)
	BytesSent   uint64 // object bytes sent (dry run: that would be sent)
	RemoteMode  string
	RemoteAgent string
}

// OK reports whether every ref was updated or already up to date.
func (r *PushResult) OK() bool {
	for _, o := range r.Refs {
		if o.Status != StatusOK && o.Status != StatusUpToDate {
			return false
		}
	}
	return true
}

// Push runs one push over r (from the receiver) and w (to it): it
// negotiates, sends only the objects the remote lacks and asks the
// receiver to move the refs. Refs the remote rejects are reported in the
// result, not as an error; an error means the push failed as a whole and
// the remote's refs were left as they were, unless the receiver's error
// says that some moved (its ref journal then moves the rest).
func Push(r io.Reader, w io.Writer, src Source, opts PushOptions) (*PushResult, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	first := &firstBytes{r: r}
	p := &pusher{fr: NewFrameReader(first), fw: NewFrameWriter(w), src: src, opts: opts, first: first, walks: newWalks(src)}
	plan, err := p.resolve()
	if err != nil {
		return nil, err
	}
	p.walks.speculate(plan)
	defer p.walks.wait()
	res, err := p.run(plan)
	if err != nil {
		p.sendError(err)
		return nil, err
	}
	return res, nil
}

// sendError sends ERROR for a local failure, once, unless the failure is
// the receiver's own ERROR. Only the goroutine that owns the writer at
// the time may call it.
func (p *pusher) sendError(err error) {
	var remote *RemoteError
	if p.errorSent || errors.As(err, &remote) {
		return
	}
	p.errorSent = true
	p.fw.WriteMessage(&ErrorMsg{Message: truncate(err.Error(), 4000)})
	p.fw.Flush()
}

type pusher struct {
	fr    *FrameReader
	fw    *FrameWriter
	src   Source
	opts  PushOptions
	first *firstBytes
	// errorSent is set once ERROR went out (by the writer goroutine, or
	// by Push after it ended).
	errorSent bool
	caps      Capabilities // in effect, from the HELLOs
	walks     *walks       // negotiate's walks, shared by the lanes of a fan-out
}

// filez reports whether file objects go as their .filez bytes.
func (p *pusher) filez() bool { return p.caps.Has(CapArchiveFilez) }

// deflateMeta reports whether metadata objects go deflated.
func (p *pusher) deflateMeta() bool { return p.caps.Has(CapDeflateMetadata) }

// openFile opens a file object in the encoding in effect.
func (p *pusher) openFile(c object.Checksum) (io.ReadCloser, uint64, error) {
	return openFile(p.src, c, p.filez())
}

// openFile opens a file object as its stored .filez bytes (from an archive
// source) or as a content stream (any other; see loadObject for the
// .filez a CompressSource makes).
func openFile(src Source, c object.Checksum, filez bool) (io.ReadCloser, uint64, error) {
	if filez && isArchive(src) {
		return src.(FilezSource).OpenFilez(c)
	}
	return src.OpenContent(c)
}

func isArchive(src Source) bool {
	m, ok := src.(interface{ Mode() string })
	return ok && m.Mode() == ModeArchive
}

// canSendFilez reports whether src can send file objects as .filez: an
// archive repository as it stores them, another by deflating them, when
// compress is set.
func canSendFilez(src Source, compress bool) bool {
	if isArchive(src) {
		_, ok := src.(FilezSource)
		return ok
	}
	_, ok := src.(CompressSource)
	return ok && compress
}

// firstBytes keeps the first bytes read from the receiver, to show them
// when they are not the protocol at all.
type firstBytes struct {
	r   io.Reader
	buf []byte
}

func (f *firstBytes) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if room := 64 - len(f.buf); room > 0 {
		f.buf = append(f.buf, p[:min(n, room)]...)
	}
	return n, err
}

// planned is one ref to push, resolved locally.
type planned struct {
	spec   PushSpec
	new    object.Checksum
	parent object.Checksum // new's parent, zero when it has none
}

// resolve turns the specs into commits before anything is sent.
func (p *pusher) resolve() ([]planned, error) { return resolveSpecs(p.src, p.opts.Specs) }

// CheckSpecs resolves specs in src as Push does, without a connection: a
// ref that matches nothing locally, or a commit that is not whole here, is
// an error before ssh starts.
func CheckSpecs(src Source, specs []PushSpec) error {
	_, err := resolveSpecs(src, specs)
	return err
}

// resolveSpecs turns specs into commits of src; no specs means every ref
// of src, under its own name.
func resolveSpecs(src Source, specs []PushSpec) ([]planned, error) {
	if len(specs) == 0 {
		refs, err := src.Refs()
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			specs = append(specs, PushSpec{Src: r.Ref.Name, Dst: r.Ref})
		}
		if len(specs) == 0 {
			return nil, errors.New("no refs to push: the local repository has none")
		}
	}
	seen := map[RefName]bool{}
	var plan []planned
	for _, s := range specs {
		if seen[s.Dst] {
			return nil, fmt.Errorf("remote ref %s is named twice", s.Dst)
		}
		seen[s.Dst] = true
		pl := planned{spec: s}
		if s.Src != "" {
			c, ok, err := src.ResolveRev(s.Src)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("%s does not match any local ref or commit", s.Src)
			}
			info, ok, err := src.Commit(c)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("%s resolves to %s, which is not in the local repository", s.Src, c)
			}
			if info.Partial {
				return nil, fmt.Errorf("%s resolves to %s, which is only partially in the local repository", s.Src, c)
			}
			pl.new, pl.parent = c, info.Parent
		}
		plan = append(plan, pl)
	}
	return plan, nil
}

// negotiated is a push after HELLO, ADVERTISE and the local judgement of
// each ref: what to offer, what to send unasked, what to ask for.
type negotiated struct {
	plan        []planned
	res         *PushResult // RemoteMode and RemoteAgent so far
	remote      map[RefName]object.Checksum
	updates     []RefUpdate
	localReject map[RefName]RefOutcome
	offer       []object.Name // to ask about in QUERYs
	always      []object.Name // sent without asking (detached metadata)
	dryRun      bool          // asked for, or forced by a local rejection
}

func (p *pusher) run(plan []planned) (*PushResult, error) {
	n, err := p.prepare(plan)
	if err != nil {
		return nil, err
	}
	if len(n.updates) == 0 {
		return p.allRefused(n), nil
	}
	sent, err := p.transfer(n.offer, n.always, n.updates, n.dryRun)
	if err != nil {
		return nil, err
	}
	return p.outcomes(n, sent)
}

// prepare exchanges HELLOs, reads ADVERTISE, judges each ref and works out
// the objects to offer.
func (p *pusher) prepare(plan []planned) (*negotiated, error) {
	// HELLO, and the receiver's HELLO and ADVERTISE.
	var mine []string
	if canSendFilez(p.src, p.opts.Compress) && !slices.Contains(p.opts.NoCapabilities, CapArchiveFilez) {
		mine = append(mine, CapArchiveFilez)
	}
	if !slices.Contains(p.opts.NoCapabilities, CapResume) {
		mine = append(mine, CapResume)
	}
	if p.opts.Compress && !slices.Contains(p.opts.NoCapabilities, CapDeflateMetadata) {
		mine = append(mine, CapDeflateMetadata)
	}
	if !slices.Contains(p.opts.NoCapabilities, CapAdvertiseRefs) {
		mine = append(mine, CapAdvertiseRefs)
	}
	if err := p.fw.WriteMessage(&Hello{Versions: []uint16{Version}, Capabilities: mine, Agent: truncate(p.opts.Agent, MaxAgentLen)}); err != nil {
		return nil, err
	}
	if err := p.fw.Flush(); err != nil {
		return nil, err
	}
	m, err := p.readMessage("HELLO")
	var perr *ProtocolError
	if errors.As(err, &perr) && len(p.first.buf) > 0 {
		return nil, fmt.Errorf("the remote did not answer with a protocol-1 HELLO but with '%s': "+
			"is the receive command there the ostree-receive of this ostree-push, and does the login shell print nothing? (%w)",
			Printable(string(p.first.buf)), err)
	}
	if err != nil {
		return nil, err
	}
	hello, ok := m.(*Hello)
	if !ok {
		return nil, unexpected("HELLO", m)
	}
	if len(hello.Versions) != 1 || hello.Versions[0] != Version {
		return nil, protocolErrorf("receiver chose protocol version %v, this client speaks %d", hello.Versions, Version)
	}
	p.caps = Intersect(mine, hello.Capabilities)
	p.opts.Logf("receiver %q, capabilities in effect: %v", hello.Agent, p.caps)
	m, err = p.readMessage("ADVERTISE")
	if err != nil {
		return nil, err
	}
	adv, ok := m.(*Advertise)
	if !ok {
		return nil, unexpected("ADVERTISE", m)
	}
	if p.caps.Has(CapAdvertiseRefs) {
		if adv.Refs, err = p.readRefs(adv.Refs); err != nil {
			return nil, err
		}
	}
	p.opts.Fault.at("push:negotiated", 0)
	n := &negotiated{
		plan:        plan,
		res:         &PushResult{RemoteMode: adv.Mode, RemoteAgent: hello.Agent},
		remote:      map[RefName]object.Checksum{},
		localReject: map[RefName]RefOutcome{},
	}
	remoteComplete := map[object.Checksum]bool{}
	for _, r := range adv.Refs {
		n.remote[r.Ref] = r.Commit
		if r.Complete {
			remoteComplete[r.Commit] = true
		}
	}

	// Judge each ref locally first, as git does: a non-fast-forward
	// update is refused before any object is sent.
	var tips []object.Checksum
	for _, pl := range plan {
		old := n.remote[pl.spec.Dst]
		u := RefUpdate{Ref: pl.spec.Dst, Old: old, New: pl.new, Force: pl.spec.Force}
		out := RefOutcome{Ref: u.Ref, Old: old, New: pl.new}
		switch {
		case old.IsZero() && pl.new.IsZero():
			out.Status, out.Message = StatusRejected, "remote ref does not exist"
			n.localReject[u.Ref] = out
			continue
		case !old.IsZero() && !pl.new.IsZero() && old != pl.new:
			ff, err := isAncestor(sourceCommits{p.src}, old, pl.new)
			if err != nil {
				return nil, err
			}
			if !ff && !pl.spec.Force {
				out.Status, out.Message = StatusNonFastForward, "the remote commit is not an ancestor of "+pl.spec.Src
				n.localReject[u.Ref] = out
			}
		}
		n.updates = append(n.updates, u)
		if !pl.new.IsZero() && pl.new != old {
			tips = append(tips, pl.new)
		}
	}
	n.dryRun = p.opts.DryRun || len(n.localReject) > 0
	if len(n.localReject) == 0 && len(tips) > 0 {
		n.offer, n.always, err = p.negotiate(tips, remoteComplete, n.remote, n.updates)
		if err != nil {
			return nil, err
		}
	}
	return n, nil
}

// allRefused ends a push whose every ref was refused locally: there is
// nothing to ask the receiver, which is told why (protocol.md, section 5).
func (p *pusher) allRefused(n *negotiated) *PushResult {
	res := n.res
	for _, pl := range n.plan {
		res.Refs = append(res.Refs, n.localReject[pl.spec.Dst])
	}
	p.sendError(errors.New("nothing to push: every ref was refused by the client"))
	return res
}

// outcomes turns the receiver's RESULT into the outcome of each ref.
func (p *pusher) outcomes(n *negotiated, sent *sentStats) (*PushResult, error) {
	res := n.res
	res.ObjectsSent, res.BytesSent = sent.objects, sent.bytes
	byRef := map[RefName]RefResult{}
	for _, r := range sent.result.Refs {
		byRef[r.Ref] = r
	}
	for _, pl := range n.plan {
		if out, ok := n.localReject[pl.spec.Dst]; ok {
			res.Refs = append(res.Refs, out)
			continue
		}
		rr, ok := byRef[pl.spec.Dst]
		if !ok {
			return nil, protocolErrorf("RESULT does not mention ref %s", pl.spec.Dst)
		}
		out := RefOutcome{Ref: pl.spec.Dst, Old: n.remote[pl.spec.Dst], New: pl.new, Status: rr.Status, Message: rr.Message}
		if len(n.localReject) > 0 && rr.Status == StatusOK {
			out.Status, out.Message = StatusAtomic, "not applied: another ref of this push was rejected"
		}
		if rr.Status == StatusOK && rr.Message == "forced update" {
			out.Forced = true
		}
		res.Refs = append(res.Refs, out)
	}
	return res, nil
}

// negotiate works out which objects to offer: those reachable from the new
// commits (and their history down to a commit the remote has), minus those
// reachable from remote commits the client also has.
//
// The detached metadata of the commits being pushed is returned apart, to
// be sent without asking: it has no checksum of its own, so the receiver's
// having "a" commitmeta for a commit says nothing about whether it is the
// client's (a commit re-signed since an earlier, refused push, say).
func (p *pusher) negotiate(tips []object.Checksum, remoteComplete map[object.Checksum]bool,
	remote map[RefName]object.Checksum, updates []RefUpdate) (offer, always []object.Name, err error) {
	var history []object.Checksum
	seen := map[object.Checksum]bool{}
	var bases []object.Checksum
	addBase := func(c object.Checksum) {
		if !c.IsZero() && !seen[c] {
			seen[c] = true
			bases = append(bases, c)
		}
	}
	for _, tip := range tips {
		for c := tip; !c.IsZero(); {
			if remoteComplete[c] {
				addBase(c)
				break
			}
			if seen[c] {
				break
			}
			info, ok, err := p.src.Commit(c)
			if err != nil {
				return nil, nil, err
			}
			if !ok || info.Partial {
				break // local history ends here
			}
			seen[c] = true
			history = append(history, c)
			c = info.Parent
		}
	}
	// The remote commits of the refs being updated are bases too, when
	// the client has them (a forced update, say).
	for _, u := range updates {
		if remoteComplete[u.Old] {
			if info, ok, err := p.src.Commit(u.Old); err == nil && ok && !info.Partial {
				addBase(u.Old)
			}
		}
	}
	var baseCommits []object.Checksum
	for _, b := range bases {
		if info, ok, err := p.src.Commit(b); err == nil && ok && !info.Partial {
			baseCommits = append(baseCommits, b)
		}
	}
	r := p.walks.get(history, baseCommits)
	if r.err != nil {
		return nil, nil, r.err
	}
	offer, always = r.offer, r.always
	p.opts.Logf("offering %d objects and %d commits' detached metadata (%d reachable from %d new commits, %d known to the remote)",
		len(offer), len(always), r.want, len(history), r.want-len(offer)-len(always))
	return offer, always, nil
}

type sentStats struct {
	objects, bytes uint64
	result         *Result
}

// transfer asks about the offered objects in QUERY batches, sends those the
// receiver lacks as the answers arrive, then the UPDATE, and reads the
// RESULT. A writer goroutine sends while this one reads.
func (p *pusher) transfer(offer, always []object.Name, updates []RefUpdate, dryRun bool) (*sentStats, error) {
	var batches [][]object.Name
	for i := 0; i < len(offer); i += queryBatch {
		batches = append(batches, offer[i:min(i+queryBatch, len(offer))])
	}
	haves := make(chan []bool, len(batches))
	stats := &sentStats{}
	stop := make(chan struct{})
	werr := make(chan error, 1)
	go func() {
		err := p.write(batches, always, haves, stop, updates, dryRun, stats)
		if err != nil {
			// Tell the receiver at once, so that it stops waiting for
			// frames and the reader below sees the end of the stream.
			p.sendError(err)
		}
		werr <- err
	}()
	readErr := func() error {
		for _, b := range batches {
			m, err := p.readMessage("HAVE")
			if err != nil {
				return err
			}
			h, ok := m.(*Have)
			if !ok {
				return unexpected("HAVE", m)
			}
			if len(h.Present) != len(b) {
				return protocolErrorf("HAVE answers %d objects, QUERY asked about %d", len(h.Present), len(b))
			}
			haves <- h.Present
		}
		m, err := p.readMessage("RESULT")
		if err != nil {
			return err
		}
		r, ok := m.(*Result)
		if !ok {
			return unexpected("RESULT", m)
		}
		stats.result = r
		return nil
	}()
	close(stop)
	if err := <-werr; err != nil {
		// The writer's failure is the cause; the reader saw its effect.
		var remote *RemoteError
		if readErr == nil || !errors.As(readErr, &remote) {
			return nil, err
		}
	}
	if readErr != nil {
		return nil, readErr
	}
	return stats, nil
}

// write is the writer goroutine of transfer.
func (p *pusher) write(batches [][]object.Name, always []object.Name, haves <-chan []bool, stop <-chan struct{},
	updates []RefUpdate, dryRun bool, stats *sentStats) error {
	for _, b := range batches {
		if err := p.fw.WriteMessage(&Query{Objects: b}); err != nil {
			return err
		}
	}
	if err := p.fw.Flush(); err != nil {
		return err
	}
	total := uint64(len(always))
	for _, b := range batches {
		total += uint64(len(b))
	}
	if err := p.sendOrCount(always, dryRun, stats, total); err != nil {
		return err
	}
	for _, b := range batches {
		var present []bool
		select {
		case present = <-haves:
		case <-stop:
			return nil // the reader gave up; it has the error
		}
		var missing []object.Name
		for i, n := range b {
			if !present[i] {
				missing = append(missing, n)
			} else {
				total--
			}
		}
		if err := p.sendOrCount(missing, dryRun, stats, total); err != nil {
			return err
		}
	}
	p.opts.Fault.at("push:update", 0)
	if err := p.fw.WriteMessage(&Update{DryRun: dryRun, Refs: updates}); err != nil {
		return err
	}
	return p.fw.Flush()
}

// sendOrCount sends the objects, or in a dry run only counts them.
func (p *pusher) sendOrCount(names []object.Name, dryRun bool, stats *sentStats, total uint64) error {
	if !dryRun {
		return p.sendObjects(names, stats, total)
	}
	for _, n := range names {
		size, err := p.objectSize(n)
		if err != nil {
			return err
		}
		stats.objects++
		stats.bytes += size
	}
	return nil
}

func (p *pusher) objectSize(n object.Name) (uint64, error) {
	if n.Type != object.File {
		data, err := p.src.ReadMetadata(n)
		return uint64(len(data)), err
	}
	rc, size, err := p.openFile(n.Checksum)
	if err != nil {
		return 0, err
	}
	rc.Close()
	return size, nil
}

// sendObjects sends the objects in order, with two goroutines reading
// (and, from an archive repository, inflating) the next ones meanwhile.
func (p *pusher) sendObjects(names []object.Name, stats *sentStats, total uint64) error {
	return readAhead(len(names), func(i int) (loadedObject, error) {
		return p.load(names[i])
	}, func(i int, o loadedObject) error {
		p.opts.Fault.at("push:object", stats.objects+1)
		h := &ObjectHeader{Name: names[i], Size: o.size, Filez: o.filez, Deflated: o.deflated}
		if o.data != nil {
			if err := p.writeInline(h, o.data); err != nil {
				return err
			}
		} else if err := p.writeStreamed(h); err != nil {
			return err
		}
		stats.objects++
		stats.bytes += o.counted()
		if p.opts.Progress != nil {
			p.opts.Progress(PushProgress{ObjectsSent: stats.objects, ObjectsTotal: total, BytesSent: stats.bytes})
		}
		return nil
	})
}

// readAhead calls load for items 0 to n-1 from two goroutines, up to 32
// items and readAheadBytes of them ahead, and use for each in order with
// what load returned. It stops at the first error of either (load's is
// returned as it is) and returns once the loaders have stopped.
func readAhead[T interface{ bytes() uint64 }](n int, load func(i int) (T, error), use func(i int, v T) error) error {
	type item struct {
		i    int
		v    T
		err  error
		done chan struct{}
	}
	queue := make(chan *item, 32)
	work := make(chan *item)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	// The bytes loaded and not used yet: a loader waits while they are
	// over the budget (each item is loaded first, so the most held is the
	// budget and two items), unless its item is the next to be used,
	// which must never wait for those after it.
	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		held     uint64
		next     int // the item use is waiting for
		stopping bool
	)
	// On return, stop the feeder first, then wait for the loaders.
	defer func() {
		close(quit)
		mu.Lock()
		stopping = true
		cond.Broadcast()
		mu.Unlock()
		wg.Wait()
	}()
	go func() {
		defer close(queue)
		defer close(work)
		for i := 0; i < n; i++ {
			l := &item{i: i, done: make(chan struct{})}
			select {
			case queue <- l:
			case <-quit:
				return
			}
			select {
			case work <- l:
			case <-quit:
				return
			}
		}
	}()
	for k := 0; k < 2; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range work {
				l.v, l.err = load(l.i)
				b := l.v.bytes()
				mu.Lock()
				for held > 0 && held+b > readAheadBytes && l.i != next && !stopping {
					cond.Wait()
				}
				held += b
				mu.Unlock()
				close(l.done)
			}
		}()
	}
	for l := range queue {
		mu.Lock()
		next = l.i
		cond.Broadcast()
		mu.Unlock()
		<-l.done
		if l.err != nil {
			return l.err
		}
		err := use(l.i, l.v)
		mu.Lock()
		held -= l.v.bytes()
		cond.Broadcast()
		mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// load reads a metadata object or a small content object whole; a large
// content object is left for writeStreamed (data nil).
func (p *pusher) load(n object.Name) (loadedObject, error) {
	return loadObject(p.src, n, p.filez(), p.deflateMeta())
}

// loadedObject is what load read of one object.
type loadedObject struct {
	data     []byte // nil for a large object the writer streams itself
	size     uint64 // as sent
	filez    bool   // a file object as .filez
	deflated bool   // a metadata object deflated
	inflated uint64 // a deflated object's size before
}

// counted is the object's size as the push counts it (and the receiver,
// and a dry run): a deflated metadata object's inflated size, or the size
// sent.
func (o loadedObject) counted() uint64 {
	if o.deflated {
		return o.inflated
	}
	return o.size
}

func (o loadedObject) bytes() uint64 { return uint64(len(o.data)) }

// loadObject is load with file objects as .filez (filez) or content
// streams, and metadata objects deflated (deflate) when that makes them
// smaller. A CompressSource deflates a file object whose content is at
// most compressMax bytes into a .filez, and sends a larger one as a content
// stream.
func loadObject(src Source, n object.Name, filez, deflate bool) (loadedObject, error) {
	if n.Type != object.File {
		data, err := src.ReadMetadata(n)
		o := loadedObject{data: data, size: uint64(len(data))}
		if err != nil || !deflate {
			return o, err
		}
		if z := deflateMetadata(src, data); z != nil {
			o = loadedObject{data: z, size: uint64(len(z)), deflated: true, inflated: o.size}
		}
		return o, nil
	}
	if cs, ok := src.(CompressSource); ok && filez && !isArchive(src) {
		data, ok, err := cs.CompressFilez(n.Checksum, compressMax)
		if err != nil || ok {
			return loadedObject{data: data, size: uint64(len(data)), filez: true}, err
		}
		filez = false
	}
	data, size, err := loadFile(src, n, filez)
	return loadedObject{data: data, size: size, filez: filez}, err
}

// loadFile reads a small file object whole, in the encoding given; a large
// one is left for the writer to stream (data nil).
func loadFile(src Source, n object.Name, filez bool) ([]byte, uint64, error) {
	rc, size, err := openFile(src, n.Checksum, filez)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	if size > inlineObjectMax {
		return nil, size, nil
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(rc, data); err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", n, noEOF(err))
	}
	return data, size, nil
}

func (p *pusher) writeInline(h *ObjectHeader, data []byte) error {
	if err := p.fw.WriteMessage(h); err != nil {
		return err
	}
	for len(data) > 0 {
		n := min(len(data), MaxPayload)
		if err := p.fw.WriteFrame(FrameData, data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func (p *pusher) writeStreamed(h *ObjectHeader) error {
	rc, size, err := openFile(p.src, h.Name.Checksum, h.Filez)
	if err != nil {
		return err
	}
	defer rc.Close()
	if size != h.Size {
		return fmt.Errorf("%s changed size while being sent", h.Name)
	}
	return p.fw.WriteObject(h, rc)
}

// readMessage reads the next message, skipping PROGRESS and turning an
// ERROR into a *RemoteError.
func (p *pusher) readMessage(want string) (Message, error) {
	for {
		m, err := p.fr.ReadMessage()
		if err == io.EOF {
			return nil, protocolErrorf("connection closed by the receiver while waiting for %s", want)
		}
		if err != nil {
			return nil, err
		}
		switch m := m.(type) {
		case *Progress:
			if p.opts.Remote != nil {
				p.opts.Remote(Printable(m.Message))
			}
			continue
		case *ErrorMsg:
			return nil, m.Err()
		}
		return m, nil
	}
}

// readRefs reads the REFS frames that follow ADVERTISE with
// CapAdvertiseRefs in effect, and returns the refs they list.
func (p *pusher) readRefs(inAdvertise []AdvertisedRef) ([]AdvertisedRef, error) {
	if len(inAdvertise) > 0 {
		return nil, protocolErrorf("ADVERTISE lists %d refs, but with %s in effect they go in REFS frames", len(inAdvertise), CapAdvertiseRefs)
	}
	var refs []AdvertisedRef
	seen := map[RefName]bool{}
	for {
		m, err := p.readMessage("REFS")
		if err != nil {
			return nil, err
		}
		r, ok := m.(*Refs)
		if !ok {
			return nil, unexpected("REFS", m)
		}
		if len(refs)+len(r.Refs) > MaxAdvertisedRefs {
			return nil, protocolErrorf("REFS: the receiver advertises more than %d refs", MaxAdvertisedRefs)
		}
		for _, ar := range r.Refs {
			if seen[ar.Ref] {
				return nil, protocolErrorf("REFS: ref %s advertised twice", Printable(ar.Ref.String()))
			}
			seen[ar.Ref] = true
		}
		refs = append(refs, r.Refs...)
		if !r.More {
			return refs, nil
		}
	}
}

// sourceCommits adapts a Source to isAncestor.
type sourceCommits struct{ src Source }

func (s sourceCommits) Commit(c object.Checksum) (CommitInfo, bool, error) { return s.src.Commit(c) }
