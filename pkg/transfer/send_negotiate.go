package transfer

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ostree-push/ostree-push/pkg/wire"
)

// A lane's negotiation (protocol.md, section 5, steps 1 to 3): HELLO both
// ways, ADVERTISE and its REFS; then the refs are judged (send_plan.go).
// Also here: reading the receiver (PROGRESS passed on, ERROR turned into
// a *RemoteError) and telling it about a local failure.

// prepare exchanges HELLOs, reads ADVERTISE, judges each ref and works out
// the objects to offer.
func (l *lane) prepare(plan []planned) (*negotiated, error) {
	mine := l.capabilities()
	if err := l.fw.WriteMessage(&wire.Hello{Versions: []uint16{wire.Version}, Capabilities: mine, Agent: truncate(l.opts.Agent, wire.MaxAgentLen)}); err != nil {
		return nil, err
	}
	if err := l.fw.Flush(); err != nil {
		return nil, err
	}
	m, err := l.readMessage("HELLO")
	var perr *wire.ProtocolError
	if errors.As(err, &perr) && len(l.first.buf) > 0 {
		return nil, fmt.Errorf("the remote did not answer with a protocol-1 HELLO but with '%s': "+
			"is the receive command there the ostree-receive of this ostree-push, and does the login shell print nothing? (%w)",
			wire.Printable(string(l.first.buf)), err)
	}
	if err != nil {
		return nil, err
	}
	hello, ok := m.(*wire.Hello)
	if !ok {
		return nil, unexpected("HELLO", m)
	}
	if len(hello.Versions) != 1 || hello.Versions[0] != wire.Version {
		return nil, wire.ProtocolErrorf("receiver chose protocol version %v, this client speaks %d", hello.Versions, wire.Version)
	}
	l.caps = wire.Intersect(mine, hello.Capabilities)
	l.opts.Logf("receiver %q, capabilities in effect: %v", hello.Agent, l.caps)
	if l.caps.Has(wire.CapRefFilter) {
		f := refFilter(plan)
		l.opts.Logf("asking for %d refs (%d patterns, all: %v)", len(plan), len(f.Patterns), f.All)
		if err := l.fw.WriteMessage(f); err != nil {
			return nil, err
		}
		if err := l.fw.Flush(); err != nil {
			return nil, err
		}
	}
	m, err = l.readMessage("ADVERTISE")
	if err != nil {
		return nil, err
	}
	adv, ok := m.(*wire.Advertise)
	if !ok {
		return nil, unexpected("ADVERTISE", m)
	}
	if l.caps.Has(wire.CapAdvertiseRefs) {
		if adv.Refs, err = l.readRefs(adv.Refs); err != nil {
			return nil, err
		}
	}
	l.opts.Fault.at("push:negotiated", 0)
	return l.judge(plan, adv, hello.Agent)
}

// capabilities are those the client offers: all it can use, but those
// NoCapabilities turns off.
func (l *lane) capabilities() []string {
	var mine []string
	off := func(c string) bool { return slices.Contains(l.opts.NoCapabilities, c) }
	if canSendFilez(l.e.src, l.opts.Compress) && !off(wire.CapArchiveFilez) {
		mine = append(mine, wire.CapArchiveFilez)
	}
	if !off(wire.CapResume) {
		mine = append(mine, wire.CapResume)
	}
	if l.opts.Compress && !off(wire.CapDeflateMetadata) {
		mine = append(mine, wire.CapDeflateMetadata)
	}
	if !off(wire.CapAdvertiseRefs) {
		mine = append(mine, wire.CapAdvertiseRefs)
	}
	if !off(wire.CapResultFlags) {
		mine = append(mine, wire.CapResultFlags)
	}
	if !off(wire.CapRefFilter) {
		mine = append(mine, wire.CapRefFilter)
	}
	if !off(wire.CapResultDryRun) {
		mine = append(mine, wire.CapResultDryRun)
	}
	if !off(wire.CapServerForce) {
		mine = append(mine, wire.CapServerForce)
	}
	if _, ok := l.e.src.(CommitMetaSource); ok && !off(wire.CapCommitmetaUpdate) {
		mine = append(mine, wire.CapCommitmetaUpdate)
	}
	return mine
}

// refFilter is the REF_FILTER that asks for the refs of plan, the only
// ones a push needs to know: their names when they fit in a frame, else
// the top-level directories they are in (every ref of a repository of
// app/..., runtime/... is pushed as "app/", "runtime/"), else all.
func refFilter(plan []planned) *wire.RefFilter {
	f := &wire.RefFilter{}
	for _, pl := range plan {
		f.Patterns = append(f.Patterns, wire.RefPattern{Ref: pl.spec.Dst})
	}
	if f.EncodedSize() <= wire.MaxPayload && len(f.Patterns) <= wire.MaxRefPatterns {
		return f
	}
	seen := map[wire.RefPattern]bool{}
	var dirs []wire.RefPattern
	for _, pl := range plan {
		p := wire.RefPattern{Ref: pl.spec.Dst}
		if top, _, ok := strings.Cut(p.Ref.Name, "/"); ok {
			p.Ref.Name, p.Prefix = top+"/", true
		}
		if !seen[p] {
			seen[p] = true
			dirs = append(dirs, p)
		}
	}
	f.Patterns = dirs
	if f.EncodedSize() <= wire.MaxPayload && len(f.Patterns) <= wire.MaxRefPatterns {
		return f
	}
	return &wire.RefFilter{All: true}
}

// readMessage reads the next message, skipping PROGRESS and turning an
// ERROR into a *RemoteError.
func (l *lane) readMessage(want string) (wire.Message, error) {
	for {
		m, err := l.fr.ReadMessage()
		if err == io.EOF {
			return nil, wire.ProtocolErrorf("connection closed by the receiver while waiting for %s", want)
		}
		if err != nil {
			return nil, err
		}
		switch m := m.(type) {
		case *wire.Progress:
			if l.opts.Remote != nil {
				l.opts.Remote(wire.Printable(m.Message))
			}
			continue
		case *wire.ErrorMsg:
			return nil, m.Err()
		}
		return m, nil
	}
}

// readRefs reads the REFS frames that follow ADVERTISE with
// CapAdvertiseRefs in effect, and returns the refs they list.
func (l *lane) readRefs(inAdvertise []wire.AdvertisedRef) ([]wire.AdvertisedRef, error) {
	if len(inAdvertise) > 0 {
		return nil, wire.ProtocolErrorf("ADVERTISE lists %d refs, but with %s in effect they go in REFS frames", len(inAdvertise), wire.CapAdvertiseRefs)
	}
	var refs []wire.AdvertisedRef
	seen := map[wire.RefName]bool{}
	for {
		m, err := l.readMessage("REFS")
		if err != nil {
			return nil, err
		}
		r, ok := m.(*wire.Refs)
		if !ok {
			return nil, unexpected("REFS", m)
		}
		if len(refs)+len(r.Refs) > wire.MaxAdvertisedRefs {
			return nil, wire.ProtocolErrorf("REFS: the receiver advertises more than %d refs", wire.MaxAdvertisedRefs)
		}
		for _, ar := range r.Refs {
			if seen[ar.Ref] {
				return nil, wire.ProtocolErrorf("REFS: ref %s advertised twice", wire.Printable(ar.Ref.String()))
			}
			seen[ar.Ref] = true
		}
		refs = append(refs, r.Refs...)
		if !r.More {
			return refs, nil
		}
	}
}

// sendError sends ERROR for a local failure, once, unless the failure is
// the receiver's own ERROR. Only the goroutine that owns the writer at
// the time may call it.
func (l *lane) sendError(err error) {
	var remote *wire.RemoteError
	if l.errorSent || errors.As(err, &remote) {
		return
	}
	l.errorSent = true
	l.fw.WriteMessage(&wire.ErrorMsg{Message: truncate(err.Error(), 4000)})
	l.fw.Flush()
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
