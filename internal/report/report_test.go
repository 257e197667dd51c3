package report

import (
	"strings"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/transfer"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// TestWriteEscapes: the remote's messages and ref names (a pull's come
// from the remote too) reach the terminal escaped, so that a hostile remote
// cannot overwrite the line or print a fake success.
func TestWriteEscapes(t *testing.T) {
	res := &transfer.PushResult{Refs: []transfer.RefOutcome{
		{Ref: wire.RefName{Name: "os/\x1b[2Kmain"}, New: object.Checksum{1}, Status: wire.StatusRejected,
			Message: "no\r\x1b[K * [new ref] os/main\x07"},
	}}
	var b strings.Builder
	Write(&b, res, Options{Header: "To host:repo", Verb: "sent"}, time.Second)
	out := b.String()
	for _, c := range "\r\x1b\x07" {
		if strings.ContainsRune(out, c) {
			t.Errorf("the report holds %q raw:\n%q", c, out)
		}
	}
	if !strings.Contains(out, `no\x0d\x1b[K * [new ref] os/main\x07`) || !strings.Contains(out, `os/\x1b[2Kmain`) {
		t.Errorf("the report does not show the message and the ref escaped:\n%s", out)
	}
}
