package bufpool

import (
	"math/bits"
	"sync"
)

// Buffers of 4 KiB to 64 KiB are kept, in power-of-two classes; others are
// allocated and dropped as usual.
const (
	minShift = 12
	maxShift = 16
)

var pools [maxShift - minShift + 1]sync.Pool

// class is the size class of a buffer of n bytes: the smallest power of
// two at least n (at least 4 KiB), or -1 when above 64 KiB.
func class(n int) int {
	if n <= 1<<minShift {
		return 0
	}
	s := bits.Len(uint(n - 1))
	if s > maxShift {
		return -1
	}
	return s - minShift
}

// Get returns a buffer of length n, whose contents are arbitrary. Give it
// back with Put once nothing refers to it any more.
func Get(n int) []byte {
	c := class(n)
	if c < 0 {
		return make([]byte, n)
	}
	if p, ok := pools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<(c+minShift))
}

// Put gives back a buffer from Get (any other is dropped).
func Put(b []byte) {
	c := class(cap(b))
	if c < 0 || cap(b) != 1<<(c+minShift) {
		return
	}
	b = b[:0]
	pools[c].Put(&b)
}
