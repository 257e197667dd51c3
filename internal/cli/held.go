package cli

import (
	"bytes"
	"io"
	"sync"
)

// HeldStderr holds what the remote command writes to stderr until it has
// spoken the protocol (see SetLive), at most 64 KiB: a remote that
// turns out to run ostree-push 1.x is recognized by that text (see
// internal/push1x), which is then replaced by one clear sentence rather
// than shown. Release shows what was held.
type HeldStderr struct {
	mu       sync.Mutex
	W        io.Writer
	live     func() bool
	held     bytes.Buffer
	released bool
}

func (h *HeldStderr) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.released && (h.live != nil && h.live() || h.held.Len()+len(p) > 64<<10) {
		h.W.Write(h.held.Bytes())
		h.held.Reset()
		h.released = true
	}
	if h.released {
		return h.W.Write(p)
	}
	return h.held.Write(p)
}

// SetLive gives the test of whether the command has spoken the protocol
// (once it has started: the command's stderr may be written already).
func (h *HeldStderr) SetLive(live func() bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.live = live
}

// Release shows what was held, and passes on what follows.
func (h *HeldStderr) Release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.released {
		h.W.Write(h.held.Bytes())
		h.held.Reset()
		h.released = true
	}
}

// Text is what is held.
func (h *HeldStderr) Text() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held.String()
}
