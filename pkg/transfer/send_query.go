package transfer

import (
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// The query pipeline of a lane: its writer sends every QUERY first
// (protocol.md, section 5 allows any number before an object), and its
// reader hands on each HAVE's answer as it arrives, so that the objects of
// the batches answered go out while the later QUERYs are still being
// answered. The reader then reads RESULT (send_report.go).

// queryBatch is how many objects one QUERY asks about.
const queryBatch = 8192

// answer is what one HAVE (or the METADATA_HAVE) said: the objects of
// its QUERY the receiver lacks, in order, out of asked.
type answer struct {
	missing []object.Name
	asked   int
	meta    bool // the METADATA_HAVE's: detached metadata to send
}

// startQueries splits the offer into QUERY batches, to be written by the
// writer (writeQueries) and answered to the reader (readAnswers).
func (l *lane) startQueries() {
	offer := l.n.offer
	for i := 0; i < len(offer); i += queryBatch {
		l.batches = append(l.batches, offer[i:min(i+queryBatch, len(offer))])
	}
	// Room for every answer: the reader never waits for their consumer.
	l.answers = make(chan answer, len(l.batches)+1)
}

// writeQueries sends the METADATA_QUERY and every QUERY, first thing of
// the writer.
func (l *lane) writeQueries() error {
	if len(l.n.metaAsk) > 0 {
		if err := l.fw.WriteMessage(&wire.MetadataQuery{Commits: l.n.metaAsk}); err != nil {
			return err
		}
	}
	for _, b := range l.batches {
		if err := l.fw.WriteMessage(&wire.Query{Objects: b}); err != nil {
			return err
		}
	}
	return l.fw.Flush()
}

// read is the lane's reader goroutine: the HAVEs, then RESULT. Its error
// fails the lane.
func (l *lane) read(stats *sentStats) error {
	err := l.readAnswers()
	if err == nil {
		err = l.readResult(stats)
	}
	if err != nil {
		l.fail(err)
	}
	return err
}

// readAnswers reads a HAVE for each QUERY and passes on what it says. It
// closes l.answers when done; when it fails, the lane is failed first, so
// that whoever sees l.answers closed can tell the two apart by l.dead.
func (l *lane) readAnswers() error {
	defer close(l.answers)
	if err := l.readMetadataAnswer(); err != nil {
		l.fail(err)
		return err
	}
	lacks := 0
	for _, b := range l.batches {
		m, err := l.readMessage("HAVE")
		if err != nil {
			l.fail(err)
			return err
		}
		h, ok := m.(*wire.Have)
		if !ok {
			err = unexpected("HAVE", m)
		} else if len(h.Present) != len(b) {
			err = wire.ProtocolErrorf("HAVE answers %d objects, QUERY asked about %d", len(h.Present), len(b))
		}
		if err != nil {
			l.fail(err)
			return err
		}
		var missing []object.Name
		for i, n := range b {
			if !h.Present[i] {
				missing = append(missing, n)
			}
		}
		lacks += len(missing)
		l.answers <- answer{missing: missing, asked: len(b)}
	}
	l.opts.Logf("lacks %d of %d objects offered", lacks, len(l.n.offer))
	return nil
}

// readMetadataAnswer reads the METADATA_HAVE that answers the lane's
// METADATA_QUERY, if it sent one, and passes on the detached metadata the
// receiver does not have as the lane's.
func (l *lane) readMetadataAnswer() error {
	if len(l.n.metaAsk) == 0 {
		return nil
	}
	m, err := l.readMessage("METADATA_HAVE")
	if err != nil {
		return err
	}
	h, ok := m.(*wire.MetadataHave)
	if !ok {
		return unexpected("METADATA_HAVE", m)
	}
	if len(h.Current) != len(l.n.metaAsk) {
		return wire.ProtocolErrorf("METADATA_HAVE answers %d commits, METADATA_QUERY asked about %d", len(h.Current), len(l.n.metaAsk))
	}
	var differ []object.Name
	for i, n := range l.n.metaNames {
		if !h.Current[i] {
			differ = append(differ, n)
		}
	}
	l.opts.Logf("the detached metadata of %d of %d commits the remote has differs", len(differ), len(l.n.metaAsk))
	l.answers <- answer{missing: differ, asked: len(l.n.metaAsk), meta: true}
	return nil
}
