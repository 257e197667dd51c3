package store

import "sync"

// idle keeps C-backed helpers (zlib inflaters, libdeflate compressors)
// for reuse by whoever needs one next; its owner closes them all with
// close. The zero value is ready, given make.
type idle[T interface{ Close() }] struct {
	make func() (T, error)
	mu   sync.Mutex
	v    []T
}

// get takes an idle one, or makes one; give it back with put.
func (p *idle[T]) get() (T, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.v); n > 0 {
		x := p.v[n-1]
		p.v = p.v[:n-1]
		return x, nil
	}
	return p.make()
}

func (p *idle[T]) put(x T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.v = append(p.v, x)
}

// close closes the idle ones (those taken and not given back are their
// holders' to close).
func (p *idle[T]) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, x := range p.v {
		x.Close()
	}
	p.v = nil
}
