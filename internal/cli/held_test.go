package cli

import (
	"bytes"
	"sync/atomic"
	"testing"
)

func TestHeldStderr(t *testing.T) {
	var out bytes.Buffer
	var live atomic.Bool
	h := &HeldStderr{W: &out}
	h.Write([]byte("before start\n"))
	h.SetLive(live.Load)
	h.Write([]byte("usage: x\n"))
	if out.Len() != 0 || h.Text() != "before start\nusage: x\n" {
		t.Fatalf("shown %q, held %q", out.String(), h.Text())
	}
	live.Store(true)
	h.Write([]byte("after\n"))
	if out.String() != "before start\nusage: x\nafter\n" || h.Text() != "" {
		t.Fatalf("once live: shown %q, held %q", out.String(), h.Text())
	}
	out.Reset()
	h = &HeldStderr{W: &out}
	h.Write(make([]byte, 40<<10))
	h.Write(make([]byte, 40<<10)) // over 64 KiB: shown, not held
	if out.Len() != 80<<10 {
		t.Fatalf("shown %d bytes", out.Len())
	}
	out.Reset()
	h = &HeldStderr{W: &out}
	h.Write([]byte("kept\n"))
	h.Release()
	h.Write([]byte("then\n"))
	if out.String() != "kept\nthen\n" {
		t.Fatalf("Release: %q", out.String())
	}
}
