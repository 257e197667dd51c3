package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ostree-push/ostree-push/internal/report"
	"github.com/ostree-push/ostree-push/pkg/transfer"
)

// progress draws one status line on a terminal, at most ten times a second.
type progress struct {
	w       io.Writer
	on      bool
	mu      sync.Mutex
	start   time.Time
	last    time.Time
	drawn   bool
	current transfer.PushProgress
}

func newProgress(w io.Writer, on bool) *progress {
	return &progress{w: w, on: on, start: time.Now()}
}

func (p *progress) update(pr transfer.PushProgress) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current = pr
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || pr.ObjectsSent == pr.ObjectsTotal {
		p.last = now
		p.draw()
	}
}

func (p *progress) draw() {
	pr := p.current
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(pr.BytesSent) / el
	}
	pct := 100.0
	if pr.ObjectsTotal > 0 {
		pct = 100 * float64(pr.ObjectsSent) / float64(pr.ObjectsTotal)
	}
	eta := ""
	if pr.ObjectsSent > 0 && pr.ObjectsSent < pr.ObjectsTotal {
		left := el * float64(pr.ObjectsTotal-pr.ObjectsSent) / float64(pr.ObjectsSent)
		eta = fmt.Sprintf(", ETA %ds", int(left+0.5))
	}
	fmt.Fprintf(p.w, "\rSending objects: %3.0f%% (%d/%d), %s | %s/s%s\033[K",
		pct, pr.ObjectsSent, pr.ObjectsTotal, report.HumanBytes(pr.BytesSent), report.HumanBytes(uint64(rate)), eta)
	p.drawn = true
}

// done ends the status line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		p.draw()
		fmt.Fprintln(p.w)
	}
}

// println prints a line of its own, above the status line if one is drawn.
func (p *progress) println(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, line)
	if p.drawn {
		p.draw()
	}
}

// block prints lines of its own (f writes them), above the status line if
// one is drawn.
func (p *progress) block(f func(w io.Writer)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
	f(p.w)
	if p.drawn {
		p.draw()
	}
}

// Write prints whole lines above the status line (for a cli.LinePrefixer).
func (p *progress) Write(b []byte) (int, error) {
	p.println(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}
