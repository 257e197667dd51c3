package transfer

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/sign"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// signed returns detached metadata holding the signatures given, as
// libostree stores GPG signatures.
func signed(tb testing.TB, sigs ...string) []byte {
	tb.Helper()
	var meta []byte
	for _, s := range sigs {
		var err error
		if meta, err = sign.AppendDetachedSignature(meta, sign.MetadataKeyGPG, []byte(s)); err != nil {
			tb.Fatal(err)
		}
	}
	return meta
}

// TestPushLateSignatures: a commit signed after it was pushed is pushed
// again: the remote's ref is up to date, and the push sends the detached
// metadata alone, because METADATA_QUERY found it different; the report
// says so (Signed), also in a dry run, which changes nothing; a push that
// finds the same metadata sends nothing; a receiver without the
// capability is left as it was.
func TestPushLateSignatures(t *testing.T) {
	h := newHistory(t)
	src := h.src
	src.setRef("main", h.c2)
	dst := h.dest(t, "main", h.c2)
	meta := func() []byte { return bytes.Clone(dst.objects[object.Name{Checksum: h.c2, Type: object.CommitMeta}]) }
	push := func(name string, opts PushOptions, wantSigned bool, wantSent uint64) {
		t.Helper()
		opts.Specs = []PushSpec{spec("main", "main")}
		ex := runPush(t, src, dst, opts)
		ex.checkNoErrors(t, name+": ")
		checkOutcomes(t, name+": ", ex.push.Refs, []wantRef{{"main", h.c2, h.c2, wire.StatusUpToDate, false}})
		if got := ex.push.Refs[0].Signed; got != wantSigned {
			t.Errorf("%s: Signed = %v, want %v", name, got, wantSigned)
		}
		if ex.push.ObjectsSent != wantSent {
			t.Errorf("%s: %d objects sent, want %d", name, ex.push.ObjectsSent, wantSent)
		}
	}

	push("unsigned, up to date", PushOptions{}, false, 0)
	later := signed(t, "a signature made after the push")
	addCommitMeta(src, h.c2, later)
	push("signed since: dry run", PushOptions{DryRun: true}, true, 1)
	if meta() != nil {
		t.Fatalf("a dry run changed the remote's detached metadata")
	}
	push("without the capability", PushOptions{NoCapabilities: []string{wire.CapCommitmetaUpdate}}, false, 0)
	push("signed since", PushOptions{}, true, 1)
	if got := meta(); !bytes.Equal(got, later) {
		t.Fatalf("the remote's detached metadata is %q", got)
	}
	push("signed, and up to date", PushOptions{}, false, 0)
}

// TestPushLateSignaturesFanOut: with --to, each receiver gets the detached
// metadata only if its own differs.
func TestPushLateSignaturesFanOut(t *testing.T) {
	h := newHistory(t)
	src := h.src
	src.setRef("main", h.c2)
	stale := h.dest(t, "main", h.c2)
	current := h.dest(t, "main", h.c2)
	addCommitMeta(src, h.c2, signed(t, "signed"))
	addCommitMeta(current, h.c2, signed(t, "signed"))
	run := runFanOut(t, src, []fanOutMirror{{dst: stale}, {dst: current}}, FanOutOptions{PushOptions: PushOptions{Specs: []PushSpec{spec("main", "main")}}})
	if run.err != nil {
		t.Fatal(run.err)
	}
	for i, want := range []struct {
		signed bool
		sent   uint64
	}{{true, 1}, {false, 0}} {
		m := run.res.Mirrors[i]
		if m.Err != nil {
			t.Fatalf("mirror %d: %v", i, m.Err)
		}
		if o := m.Result.Refs[0]; o.Status != wire.StatusUpToDate || o.Signed != want.signed || m.Result.ObjectsSent != want.sent {
			t.Errorf("mirror %d: %+v, %d objects sent; want signed %v, %d sent", i, o, m.Result.ObjectsSent, want.signed, want.sent)
		}
	}
	if got := stale.objects[object.Name{Checksum: h.c2, Type: object.CommitMeta}]; !bytes.Equal(got, signed(t, "signed")) {
		t.Errorf("the stale mirror's detached metadata is %q", got)
	}
}

// TestMetadataQueryMerging: a receiver that merges signatures (Policy
// with DetachedMetadata, not MetadataReplaces) spares the client metadata
// whose signatures it already has all of, whatever else it has (the
// server's own signature, say); one that replaces metadata does not.
func TestMetadataQueryMerging(t *testing.T) {
	h := newHistory(t)
	src := h.src
	src.setRef("main", h.c2)
	for _, tc := range []struct {
		name     string
		replaces bool
		local    []byte
		wantSent uint64
	}{
		{"merging, the remote has more", false, signed(t, "builder"), 0},
		{"merging, the remote has them in another order", false, signed(t, "server", "builder"), 0},
		{"merging, a signature the remote lacks", false, signed(t, "builder", "releaser"), 1},
		{"replacing, the remote has more", true, signed(t, "builder"), 1},
		{"replacing, the same", true, signed(t, "builder", "server"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := h.dest(t, "main", h.c2)
			addCommitMeta(dst, h.c2, signed(t, "builder", "server"))
			addCommitMeta(src, h.c2, tc.local)
			ex := runPushRecord(t, src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}}, ReceiveOptions{Policy: Policy{
				DetachedMetadata: func(object.Checksum) (bool, error) { return true, nil },
				MetadataReplaces: tc.replaces,
			}}, nil)
			ex.checkNoErrors(t, "")
			if ex.push.ObjectsSent != tc.wantSent {
				t.Errorf("%d objects sent, want %d", ex.push.ObjectsSent, tc.wantSent)
			}
		})
	}
}

// TestSignaturesOfOthersCommits: a pusher allowed only alice/* cannot
// change the detached metadata of a commit a ref it may not update points
// to, not even by creating a ref of its own at that commit (found by a
// hostile review: it could); it can for a commit only its refs point to.
func TestSignaturesOfOthersCommits(t *testing.T) {
	h := newHistory(t)
	src := h.src
	pol := Policy{
		CheckRef: func(u wire.RefUpdate) error {
			if !strings.HasPrefix(u.Ref.Name, "alice/") {
				return fmt.Errorf("ref %s refused", u.Ref.Name)
			}
			return nil
		},
		DetachedMetadata: func(object.Checksum) (bool, error) { return true, nil },
	}
	for _, tc := range []struct {
		name    string
		refs    []any // the destination's refs
		spec    PushSpec
		wantErr string
	}{
		{"a new ref at another's commit", []any{"main", h.c2}, spec("main", "alice/x"), "ref main points to"},
		{"an own ref at another's commit", []any{"main", h.c2, "alice/x", h.c2}, spec("main", "alice/x"), "ref main points to"},
		{"an own commit", []any{"alice/x", h.c2}, spec("main", "alice/x"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src.setRef("main", h.c2)
			dst := h.dest(t, tc.refs...)
			addCommitMeta(dst, h.c2, signed(t, "owner"))
			addCommitMeta(src, h.c2, signed(t, "attacker"))
			ex := runPushRecord(t, src, dst, PushOptions{Specs: []PushSpec{tc.spec}}, ReceiveOptions{Policy: pol}, nil)
			got := dst.objects[object.Name{Checksum: h.c2, Type: object.CommitMeta}]
			if tc.wantErr == "" {
				ex.checkNoErrors(t, "")
				if bytes.Equal(got, signed(t, "owner")) {
					t.Errorf("the pusher's own commit did not get its signature")
				}
				return
			}
			if ex.pushErr == nil || !strings.Contains(ex.pushErr.Error(), tc.wantErr) {
				t.Errorf("push error %v, want one with %q", ex.pushErr, tc.wantErr)
			}
			if !bytes.Equal(got, signed(t, "owner")) {
				t.Errorf("the detached metadata of a commit another's ref points to changed")
			}
		})
	}
}
