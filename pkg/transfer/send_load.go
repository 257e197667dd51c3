package transfer

import (
	"fmt"
	"io"
	"sync"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// Loading the objects to send from the local repository: in which
// encoding each goes (a file object as .filez or as a content stream, a
// metadata object deflated or not), reading it, and reading ahead of the
// writer in a window of bounded memory.

const (
	// compressMax is the largest content a CompressSource deflates (in
	// memory); a larger file object goes as a content stream.
	compressMax = 16 << 20
	// readAheadBytes bounds the bytes the loaders hold ahead of the
	// writer (see readAhead).
	readAheadBytes = 32 << 20
)

// filez reports whether file objects go to this lane as their .filez bytes.
func (l *lane) filez() bool { return l.caps.Has(wire.CapArchiveFilez) }

// deflateMeta reports whether metadata objects go to this lane deflated.
func (l *lane) deflateMeta() bool { return l.caps.Has(wire.CapDeflateMetadata) }

func isArchive(src Source) bool {
	m, ok := src.(interface{ Mode() string })
	return ok && m.Mode() == wire.ModeArchive
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

// openFile opens a file object as its stored .filez bytes (from an archive
// source) or as a content stream (any other; see loadObject for the
// .filez a CompressSource makes).
func openFile(src Source, c object.Checksum, filez bool) (io.ReadCloser, uint64, error) {
	if filez && isArchive(src) {
		return src.(FilezSource).OpenFilez(c)
	}
	return src.OpenContent(c)
}

// openStreamed opens the file object of h, too large to load whole, to
// send it in the encoding and at the size h gives.
func openStreamed(src Source, h *wire.ObjectHeader) (io.ReadCloser, error) {
	rc, size, err := openFile(src, h.Name.Checksum, h.Filez)
	if err != nil {
		return nil, err
	}
	if size != h.Size {
		rc.Close()
		return nil, fmt.Errorf("%s changed size while being sent", h.Name)
	}
	return rc, nil
}

// loadedObject is what loadObject read of one object.
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

// loadObject reads a metadata object or a small file object whole, with
// file objects as .filez (filez) or content streams, and metadata objects
// deflated (deflate) when that makes them smaller; a large file object is
// left for the writer to stream (data nil). A CompressSource deflates a
// file object whose content is at most compressMax bytes into a .filez,
// and sends a larger one as a content stream.
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

// objectSize is an object's size as a dry run counts it, without reading
// a file object's content.
func (l *lane) objectSize(n object.Name) (uint64, error) {
	if n.Type != object.File {
		data, err := l.e.src.ReadMetadata(n)
		return uint64(len(data)), err
	}
	rc, size, err := openFile(l.e.src, n.Checksum, l.filez())
	if err != nil {
		return 0, err
	}
	rc.Close()
	return size, nil
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
