package transfer

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/ostree-push/ostree-push/internal/bufpool"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Limits the receiver enforces on what a client sends.
const (
	// MaxMetadataSize is libostree's limit on a metadata object
	// (OSTREE_MAX_METADATA_SIZE).
	MaxMetadataSize = 10 << 20
	// DefaultMaxObjectSize bounds one content object unless the receiver
	// is configured otherwise.
	DefaultMaxObjectSize = 64 << 30
	// inlineObjectMax is the largest object the receiver buffers in memory
	// to hand to a writer goroutine; larger ones stream straight from the
	// connection into libostree.
	inlineObjectMax = 1 << 20
	// maxAncestry bounds the parent-chain walk of a fast-forward check.
	maxAncestry = 1 << 20
)

// checkDeclaredSize refuses an object whose declared size is over the
// limit of its kind, before any of it is read.
func (rv *receiver) checkDeclaredSize(n object.Name, size uint64) error {
	limit := rv.opts.MaxObjectSize
	if n.Type.IsMeta() {
		limit = MaxMetadataSize
	}
	if size > limit {
		return fmt.Errorf("object %s declares %d bytes, over the limit of %d%s", n, size, limit, rv.objectRule(n.Type.IsMeta()))
	}
	return nil
}

// staged counts an object written (size: what it counts against the
// limits) and remembers the commits and detached metadata among them; an
// error when the push is now over the server's MaxPushSize.
func (rv *receiver) staged(n object.Name, size uint64, res *ReceiveResult) error {
	switch n.Type {
	case object.Commit:
		rv.commits = append(rv.commits, n.Checksum)
	case object.CommitMeta:
		rv.metas = append(rv.metas, n.Checksum)
	}
	res.ObjectsWritten++
	res.BytesWritten += size
	rv.opts.Fault.at("receive:object", res.ObjectsWritten)
	if max := rv.opts.Policy.MaxPushSize; max > 0 && res.BytesWritten > max {
		if rule := rv.opts.Policy.MaxPushSizeRule; rule != "" {
			return fmt.Errorf("push exceeds the limit of %d bytes (%s)", max, rule)
		}
		return fmt.Errorf("push exceeds the server's limit of %d bytes", max)
	}
	return nil
}

// objectRule is what an object size refusal adds: the rule behind
// MaxObjectSize, when named, for a content object.
func (rv *receiver) objectRule(meta bool) string {
	if meta || rv.opts.MaxObjectSizeRule == "" {
		return ""
	}
	return " (" + rv.opts.MaxObjectSizeRule + ")"
}

// readFilezSize reads the head of a .filez of h.Size bytes from r and
// checks the content size it declares (checkFilezSize); it returns that
// size and a reader of the whole object again, head included.
func (rv *receiver) readFilezSize(h *wire.ObjectHeader, r io.Reader) (uint64, io.Reader, error) {
	if h.Size < filezHeadLen {
		return h.Size, r, nil // too short to declare one: see checkFilezSize
	}
	var head [filezHeadLen]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, noEOF(err)
	}
	size, err := rv.checkFilezSize(h, head[:])
	if err != nil {
		return 0, nil, err
	}
	return size, io.MultiReader(bytesReader(head[:]), r), nil
}

// filezHeadLen is how much of a .filez tells the size of its content: the
// 8-byte prefix, then the header's first field, a big-endian uint64.
const filezHeadLen = 16

// checkFilezSize returns the content size a .filez declares, which must be
// within MaxObjectSize: the bytes on the wire say nothing of what it
// inflates to. The writer's strict validation (FilezTxn) holds the object
// to the size it declares, so the limit holds for what is written; an
// object too short to declare one is left to that validation to refuse.
func (rv *receiver) checkFilezSize(h *wire.ObjectHeader, head []byte) (uint64, error) {
	if len(head) < filezHeadLen {
		return h.Size, nil
	}
	size := binary.BigEndian.Uint64(head[8:filezHeadLen])
	if size > rv.opts.MaxObjectSize {
		return 0, fmt.Errorf("object %s.filez declares a content size of %d bytes, over the limit of %d%s", h.Name.Checksum, size, rv.opts.MaxObjectSize, rv.objectRule(false))
	}
	return size, nil
}

// writeObject writes one object into the transaction, by its encoding.
func writeObject(txn Txn, n object.Name, filez bool, r io.Reader, size uint64) error {
	switch {
	case filez:
		return txn.(FilezTxn).WriteFilez(n.Checksum, r, size)
	case n.Type == object.File:
		return txn.WriteContent(n.Checksum, r, size)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return txn.WriteMetadata(n, data)
}

// writePool writes objects that arrived whole into the transaction from
// several goroutines, so that checksumming and compression use every core
// while the connection is read.
//
// The bytes it holds, from the moment the receiver reserves them to read
// an object until a writer has written it, are bounded by maxHeldBytes:
// the receiver waits for the writers before it reads more (a client that
// sends sixty 10 MiB metadata objects costs 32 MiB, not 600).
type writePool struct {
	txn   Txn
	bytes FilezBytesTxn // txn, when it takes a held .filez as it is
	jobs  chan writeJob
	wg    sync.WaitGroup
	once  sync.Once
	err   error
	fail  chan struct{}

	mu   sync.Mutex
	cond *sync.Cond
	held uint64 // bytes reserved and not yet released
}

// maxHeldBytes bounds the object bytes the receiver holds in memory at
// once; one object larger than that (a metadata object is at most
// MaxMetadataSize) is still taken, alone.
const maxHeldBytes = 32 << 20

// metadataCopies is how many times a metadata object's size the writer
// holds while libostree writes it: the receiver's bytes, GLib's copy of
// them, and the serialization libostree writes.
const metadataCopies = 3

type writeJob struct {
	name   object.Name
	data   []byte
	filez  bool
	pooled bool   // data is from bufpool, given back once written
	held   uint64 // reserved for it, released once written
}

func newWritePool(txn Txn, workers int) *writePool {
	p := &writePool{txn: txn, jobs: make(chan writeJob, 16), fail: make(chan struct{})}
	p.bytes, _ = txn.(FilezBytesTxn)
	p.cond = sync.NewCond(&p.mu)
	for i := 0; i < workers; i++ {
		p.wg.Add(1)
		go p.work()
	}
	return p
}

func (p *writePool) work() {
	defer p.wg.Done()
	for j := range p.jobs {
		select {
		case <-p.fail:
			continue // drain after a failure
		default:
		}
		var err error
		if j.name.Type.IsMeta() {
			err = p.txn.WriteMetadata(j.name, j.data)
		} else if p.bytes != nil && j.filez {
			err = p.bytes.WriteFilezBytes(j.name.Checksum, j.data)
			if j.pooled {
				bufpool.Put(j.data)
			}
		} else {
			err = writeObject(p.txn, j.name, j.filez, bytesReader(j.data), uint64(len(j.data)))
		}
		j.data = nil
		p.release(j.held)
		if err != nil {
			p.failWith(err)
		}
	}
}

func (p *writePool) failWith(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.fail)
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
}

// reserve waits until n more bytes may be held (at once when none are),
// and reserves them; an error when the pool has failed meanwhile.
func (p *writePool) reserve(n uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.held > 0 && p.held+n > maxHeldBytes && p.failure() == nil {
		p.cond.Wait()
	}
	if err := p.failure(); err != nil {
		return err
	}
	p.held += n
	return nil
}

// release gives back n reserved bytes.
func (p *writePool) release(n uint64) {
	if n == 0 {
		return
	}
	p.mu.Lock()
	p.held -= n
	p.cond.Broadcast()
	p.mu.Unlock()
}

// submit queues j, whose bytes were reserved (j.held), for a writer; on
// failure they are released.
func (p *writePool) submit(j writeJob) error {
	select {
	case p.jobs <- j:
		return nil
	case <-p.fail:
		p.release(j.held)
		return p.err
	}
}

// failure returns the first write error, if any yet.
func (p *writePool) failure() error {
	select {
	case <-p.fail:
		return p.err
	default:
		return nil
	}
}

// wait stops the pool and returns the first write error.
func (p *writePool) wait() error {
	close(p.jobs)
	p.wg.Wait()
	return p.failure()
}
