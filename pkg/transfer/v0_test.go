package transfer

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

const (
	v0CommitA = "2cf59ffc9431e3c03d8755080029954b1cbe33784bb22d302797f5213c75df61"
	v0Zeros   = "0000000000000000000000000000000000000000000000000000000000000000"
)

// TestV0NeedsArchive: the in-memory store is bare-user and stores no
// .filez, so after INFO the receiver refuses the UPDATE with a STATUS.
func TestV0NeedsArchive(t *testing.T) {
	dest := newMemStore()
	var in, out bytes.Buffer
	wire.WriteV0(&in, &wire.V0Message{Type: wire.V0Update, Body: []wire.V0Entry{{Key: "os/main", Value: wire.V0Pair{A: v0Zeros, B: v0CommitA}}}})
	wire.WriteV0(&in, &wire.V0Message{Type: wire.V0Done})
	_, err := ReceiveV0(&in, &out, dest, ReceiveOptions{})
	if err == nil || !strings.Contains(err.Error(), "need an archive repository") {
		t.Fatalf("ReceiveV0: %v", err)
	}
	info, err := wire.ReadV0(&out)
	if err != nil || info.Type != wire.V0Info {
		t.Fatalf("first message %+v, %v", info, err)
	}
	st, err := wire.ReadV0(&out)
	if err != nil || st.Type != wire.V0Status || st.Get("result") != false {
		t.Fatalf("answer to UPDATE %+v, %v", st, err)
	}
	if c := dest.counts(); c.Written != 0 || c.Commits != 0 {
		t.Errorf("the store changed: %+v", c)
	}
}

// TestV0TooManyRefs: refs that do not fit in an INFO (64 KiB) end the
// receive with an error that says so, before anything is sent.
func TestV0TooManyRefs(t *testing.T) {
	dest := newMemStore()
	for i := 0; i < 700; i++ {
		dest.setRef(fmt.Sprintf("os/%0100d", i), object.Checksum{1})
	}
	var in, out bytes.Buffer
	wire.WriteV0(&in, &wire.V0Message{Type: wire.V0Done})
	_, err := ReceiveV0(&in, &out, dest, ReceiveOptions{})
	if err == nil || !strings.Contains(err.Error(), "700 refs do not fit in a version-0 INFO message") {
		t.Fatalf("ReceiveV0: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("the receiver wrote %d bytes", out.Len())
	}
}

// TestV0ClientEnds: a version-0 client that goes away before DONE is told
// of in plain words (not as a protocol error), and counts as an
// interrupted push.
func TestV0ClientEnds(t *testing.T) {
	dest := newMemStore()
	var in, out bytes.Buffer
	_, err := ReceiveV0(&in, &out, dest, ReceiveOptions{})
	if err == nil || !strings.Contains(err.Error(), "the client ended the push before") || strings.Contains(err.Error(), "protocol error") {
		t.Fatalf("ReceiveV0 of a client that sent nothing: %v", err)
	}
	if !interrupted(err) {
		t.Errorf("%v does not count as an interrupted push", err)
	}
}

// TestPhaseTimedFromStart: the first phase a receiver logs, version 0's
// as version 1's, is timed from the receiver's start (version 0's used
// to log 2562047h47m16.854775807s: from the zero time).
func TestPhaseTimedFromStart(t *testing.T) {
	var logged []string
	rv := newReceiver(newMemStore(), ReceiveOptions{Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
	rv.phase("first")
	if len(logged) != 1 || !strings.HasPrefix(logged[0], "first: ") || strings.Contains(logged[0], "h") {
		t.Errorf("logged %q, want a phase of under an hour", logged)
	}
}
