package transfer

import (
	"sync"
	"testing"
	"time"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// walkCountingSource counts the walks (Reachable calls) by their commits.
type walkCountingSource struct {
	*memStore
	mu    sync.Mutex
	walks map[string]int
}

func (s *walkCountingSource) Reachable(commits []object.Checksum) ([]object.Name, error) {
	s.mu.Lock()
	s.walks[walkKey(commits, nil)]++
	s.mu.Unlock()
	return s.memStore.Reachable(commits)
}

// TestPushSpeculativeWalk: the walk started before the receiver answers
// is used when its guess (the remote has the parent, or nothing for a
// commit without one) was right, and a wrong guess only costs a walk: the
// objects sent are the same.
func TestPushSpeculativeWalk(t *testing.T) {
	h := newHistory(t)
	tests := []struct {
		name   string
		tip    object.Checksum
		remote []any // the destination's refs
		sent   int
		walked [][]object.Checksum // each walked exactly once
	}{
		{name: "incremental, right guess", tip: h.c2, remote: []any{"main", h.c1}, sent: 3,
			walked: [][]object.Checksum{{h.c2}, {h.c1}}},
		{name: "fresh, right guess", tip: h.c1, sent: len(newObjects(t, h.src, h.c1)),
			walked: [][]object.Checksum{{h.c1}}},
		{name: "two commits behind, wrong guess", tip: h.c3, remote: []any{"main", h.c1}, sent: 6,
			walked: [][]object.Checksum{{h.c3, h.c2}, {h.c1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &walkCountingSource{memStore: h.src.clone(), walks: map[string]int{}}
			src.setRef("main", tt.tip)
			dst := h.dest(t, tt.remote...)
			ex := runPush(t, src, dst, PushOptions{Specs: []PushSpec{spec("main", "main")}})
			ex.checkNoErrors(t, "")
			if ex.push.ObjectsSent != uint64(tt.sent) {
				t.Errorf("sent %d objects, want %d", ex.push.ObjectsSent, tt.sent)
			}
			if dst.refValue("main") != tt.tip {
				t.Errorf("main not moved to %s", tt.tip)
			}
			src.mu.Lock()
			defer src.mu.Unlock()
			for _, w := range tt.walked {
				if n := src.walks[walkKey(w, nil)]; n != 1 {
					t.Errorf("walked %v %d times, want once (all walks: %v)", w, n, src.walks)
				}
			}
		})
	}
}

// sized is a read-ahead item that claims a size without holding it.
type sized struct{ n uint64 }

func (s sized) bytes() uint64 { return s.n }

// TestReadAheadBudget: the loaders hold at most the byte budget ahead,
// and the item the writer waits for is never held back by those after it
// (here item 0 loads last, behind two items that fill the budget).
func TestReadAheadBudget(t *testing.T) {
	sizes := []uint64{1, readAheadBytes / 2, readAheadBytes / 2, readAheadBytes, 1, 1, readAheadBytes, 1}
	release := make(chan struct{})
	var mu sync.Mutex
	var loaded, maxAhead uint64
	filled := make(chan struct{}) // closed once items 1 and 2 fill the budget
	done := make(chan error, 1)
	go func() {
		done <- readAhead(len(sizes), func(i int) (sized, error) {
			if i == 0 {
				<-release // the first item is slow
			}
			mu.Lock()
			loaded += sizes[i]
			if loaded >= readAheadBytes && filled != nil {
				close(filled)
				filled = nil
			}
			mu.Unlock()
			return sized{sizes[i]}, nil
		}, func(i int, v sized) error {
			mu.Lock()
			maxAhead = max(maxAhead, loaded)
			loaded -= v.n
			mu.Unlock()
			return nil
		})
	}()
	mu.Lock()
	wait := filled
	mu.Unlock()
	if wait != nil {
		select {
		case <-wait: // the other loader has filled the budget
		case <-time.After(10 * time.Second):
			t.Fatal("the loaders never filled the budget behind the slow first item")
		}
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("readAhead is stuck: the item the writer waits for was held back")
	}
	// At most the budget, the next item and the two being loaded.
	if limit := readAheadBytes + 3*readAheadBytes; maxAhead > uint64(limit) {
		t.Errorf("held %d bytes ahead, more than %d", maxAhead, limit)
	}
}
