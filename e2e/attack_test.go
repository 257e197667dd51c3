package e2e

// The receiver against a hostile pusher (issue 15): one subtest per
// finding, each a client written from protocol.md that a publisher's stolen
// key could run, fed to the real ostree-receive against a real repository.
// Each was written first and seen to fail on the receiver before the fix;
// RELIABILITY.md lists them with their outcome.

import (
	"bytes"
	"compress/flate"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/internal/testrepo"
	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/ostreefile"
	"github.com/ostree-push/ostree-push/pkg/transfer"
)

// attackConf writes a configuration file for one attack: idle_timeout
// short, plus extra.
func attackConf(t *testing.T, extra string) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "attack.conf")
	if err := os.WriteFile(conf, []byte("idle_timeout: 5s\n"+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// refused checks that run ended with a RESULT refusing its first ref with
// a message saying want, and a non-zero exit.
func refused(t *testing.T, r receiverRun, status transfer.RefStatus, want string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("exit 0, want a failure")
	}
	res, ok := r.last().msg.(*transfer.Result)
	if !ok || len(res.Refs) == 0 {
		t.Fatalf("want a RESULT last, got %v %+v", r.last().typ, r.last().msg)
	}
	if res.Refs[0].Status != status || !strings.Contains(strings.ToLower(res.Refs[0].Message), strings.ToLower(want)) {
		t.Errorf("RESULT: %v %q, want %v and %q", res.Refs[0].Status, res.Refs[0].Message, status, want)
	}
}

// failed checks that run ended with an ERROR saying want and a non-zero exit.
func failed(t *testing.T, r receiverRun, want string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("exit 0, want a failure")
	}
	em, ok := r.last().msg.(*transfer.ErrorMsg)
	if !ok {
		t.Fatalf("want an ERROR last, got %v %+v", r.last().typ, r.last().msg)
	}
	if !strings.Contains(strings.ToLower(em.Message), strings.ToLower(want)) {
		t.Errorf("ERROR %q does not say %q", em.Message, want)
	}
}

func TestHostilePusher(t *testing.T) {
	w := newHostileWorld(t)

	// Finding 5: libostree's pattern ends in a '$' that matches before a
	// final newline, so "os/stable\n" was a valid ref: it bypassed
	// deny_refs, and `ostree refs` showed os/stable twice.
	t.Run("05-control-character-ref", func(t *testing.T) {
		t.Parallel()
		repo := w.e.copyRepo(w.template, "attack 05")
		before := snap(t, repo)
		conf := attackConf(t, "deny_refs: ['os/stable']\n")
		for _, c := range []string{"\n", "\x1b", "\x7f"} {
			name := "os/stable" + c
			if c == "\x1b" {
				name = "os/sta" + c + "ble"
			}
			up := transfer.RefUpdate{Ref: transfer.RefName{Name: name}, New: w.c2}
			r := w.receive(t, repo, hostileInput{data: newStream(t).hello().objects(w.objs).update(up).bytes(), conf: conf})
			refused(t, r, transfer.StatusRejected, "control character")
			coll := transfer.RefUpdate{Ref: transfer.RefName{CollectionID: "org.example.Os" + c, Name: "os/x"}, New: w.c2}
			r = w.receive(t, repo, hostileInput{data: newStream(t).hello().objects(w.objs).update(coll).bytes(), conf: conf})
			refused(t, r, transfer.StatusRejected, "control character")
		}
		unchanged(t, repo, before)
	})
}

// deflateRaw compresses b as one raw deflate stream.
func deflateRaw(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(b)
	fw.Close()
	return buf.Bytes()
}

var (
	_ = testrepo.RevParse
	_ = object.Zero
	_ = ostreefile.ValidateFilez
)
