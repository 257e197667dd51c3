package transfer

import (
	"testing"

	"github.com/ostree-push/ostree-push/pkg/object"
	"github.com/ostree-push/ostree-push/pkg/wire"
)

// keptStore is a memStore whose next transaction takes up objects kept
// staged from an interrupted push, as libostree's do.
type keptStore struct {
	*memStore
	kept map[object.Name][]byte
}

type keptTxn struct {
	*memTxn
	s *memStore
}

func (k *keptStore) Begin() (Txn, error) {
	t, err := k.memStore.Begin()
	if err != nil {
		return nil, err
	}
	mt := t.(*memTxn)
	for n, data := range k.kept {
		if err := mt.stage(n, data); err != nil {
			return nil, err
		}
	}
	return &keptTxn{memTxn: mt, s: k.memStore}, nil
}

func (t *keptTxn) Resumed() bool { return true }

func (t *keptTxn) HasCommittedObjects(names []object.Name) ([]bool, error) {
	out := make([]bool, len(names))
	for i, n := range names {
		out[i] = t.s.has(n)
	}
	return out, nil
}

// TestResume: with the resume capability in effect, a push does not resend
// what an interrupted push left staged; a client that does not offer it is
// sent HAVE answers from committed objects only and resends them; both
// land.
func TestResume(t *testing.T) {
	h := newHistory(t)
	h.src.setRef("main", h.c3)
	all := newObjects(t, h.src, h.c3)
	for _, noResume := range []bool{false, true} {
		dst := h.dest(t, "main", h.c2)
		kept := map[object.Name][]byte{}
		for _, n := range all {
			if n.Type != object.Commit {
				kept[n] = h.src.object(n)
			}
		}
		var no []string
		if noResume {
			no = []string{wire.CapResume}
		}
		ex := runPush(t, h.src, &keptStore{memStore: dst, kept: kept},
			PushOptions{Specs: []PushSpec{spec("main", "main")}, NoCapabilities: no})
		ex.checkNoErrors(t, "")
		want := uint64(1) // the commit, which the interrupted push never sent
		if noResume {
			want = uint64(len(all))
		}
		if ex.push.ObjectsSent != want {
			t.Errorf("no resume %v: sent %d objects, want %d", noResume, ex.push.ObjectsSent, want)
		}
		if dst.refValue("main") != h.c3 || dst.complete(h.c3) != nil {
			t.Errorf("no resume %v: did not land", noResume)
		}
	}
}
