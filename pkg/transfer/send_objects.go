package transfer

import (
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// A lane's writer: its QUERYs (send_query.go), then its objects as OBJECT
// and DATA frames, then UPDATE (send_update.go). The objects come from
// the shared reader's queue, or the lane reads them itself: a lone lane
// as its HAVEs arrive, a lane left behind what was still to come. In a
// dry run, the lane only counts them.

type sentStats struct {
	objects, bytes uint64
	result         *wire.Result
	flags          []wire.RefFlags // RESULT_FLAGS, with CapResultFlags in effect; else nil
}

// write is the lane's writer goroutine.
func (l *lane) write(stats *sentStats) error {
	if err := l.writeQueries(); err != nil {
		return err
	}
	if !l.n.dryRun {
		select {
		case <-l.ready:
		case <-l.dead:
		}
	}
	if l.failed() {
		return l.err
	}
	var err error
	if l.shared {
		err = l.writeQueued(stats)
	} else {
		err = l.sendOwn(stats)
	}
	if err != nil {
		return err
	}
	return l.writeUpdate()
}

// sendOwn sends what the lane lacks, reading it itself, or in a dry run
// counts it: the detached metadata first, then each batch as its HAVE
// arrives.
func (l *lane) sendOwn(stats *sentStats) error {
	total := uint64(len(l.n.always) + len(l.n.offer) + len(l.n.metaAsk))
	if err := l.sendOrCount(l.n.always, stats, total); err != nil {
		return err
	}
	for a := range l.answers {
		total -= uint64(a.asked - len(a.missing))
		send := l.sendOrCount
		if a.meta {
			// Sent in a dry run too: only the receiver, merging them
			// with its own, can tell whether they would change it.
			send = l.sendObjects
		}
		if err := send(a.missing, stats, total); err != nil {
			return err
		}
	}
	if l.failed() { // reading the HAVEs failed
		return l.err
	}
	if !l.n.dryRun {
		l.e.objectsRead.Add(stats.objects)
		l.e.bytesRead.Add(stats.bytes)
	}
	return nil
}

// writeQueued writes what the shared reader queues for the lane and then,
// when it was left behind, reads and sends the rest itself.
func (l *lane) writeQueued(stats *sentStats) error {
	for pc := range l.queue {
		if l.failed() {
			return l.err
		}
		if pc.h != nil {
			l.opts.Fault.at("push:object", stats.objects+1)
			if err := l.fw.WriteMessage(pc.h); err != nil {
				return err
			}
			stats.objects++
			stats.bytes += pc.count
		}
		if err := l.writeData(pc.data); err != nil {
			return err
		}
	}
	if l.failed() { // the shared reader gave up on it
		return l.err
	}
	if l.rest == nil {
		return nil
	}
	l.opts.Logf("fell behind the others for %v: reading its last %d objects itself", l.e.opts.SlowAfter, len(l.rest))
	before := stats.bytes
	if err := l.sendObjects(l.rest, stats, 0); err != nil {
		return err
	}
	l.e.objectsRead.Add(uint64(len(l.rest)))
	l.e.bytesRead.Add(stats.bytes - before)
	return nil
}

// sendOrCount sends the objects, or in a dry run only counts them.
func (l *lane) sendOrCount(names []object.Name, stats *sentStats, total uint64) error {
	if !l.n.dryRun {
		return l.sendObjects(names, stats, total)
	}
	for _, n := range names {
		size, err := l.objectSize(n)
		if err != nil {
			return err
		}
		stats.objects++
		stats.bytes += size
	}
	return nil
}

// sendObjects sends the objects in order, with two goroutines reading
// (and, from an archive repository, inflating) the next ones meanwhile.
func (l *lane) sendObjects(names []object.Name, stats *sentStats, total uint64) error {
	filez, deflate := l.filez(), l.deflateMeta()
	return readAhead(len(names), func(i int) (loadedObject, error) {
		return loadObject(l.e.src, names[i], filez, deflate)
	}, func(i int, o loadedObject) error {
		l.opts.Fault.at("push:object", stats.objects+1)
		h := &wire.ObjectHeader{Name: names[i], Size: o.size, Filez: o.filez, Deflated: o.deflated}
		if o.data != nil {
			if err := l.fw.WriteMessage(h); err != nil {
				return err
			}
			if err := l.writeData(o.data); err != nil {
				return err
			}
		} else if err := l.writeStreamed(h); err != nil {
			return err
		}
		stats.objects++
		stats.bytes += o.counted()
		if l.progress != nil {
			l.progress(PushProgress{ObjectsSent: stats.objects, ObjectsTotal: total, BytesSent: stats.bytes})
		}
		return nil
	})
}

// writeData writes an object's bytes (all of it, or a chunk the shared
// reader read) as DATA frames.
func (l *lane) writeData(data []byte) error {
	for len(data) > 0 {
		n := min(len(data), wire.MaxPayload)
		if err := l.fw.WriteFrame(wire.FrameData, data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// writeStreamed sends a file object too large to load whole, reading it
// as it goes.
func (l *lane) writeStreamed(h *wire.ObjectHeader) error {
	rc, err := openStreamed(l.e.src, h)
	if err != nil {
		return err
	}
	defer rc.Close()
	return l.fw.WriteObject(h, rc)
}
