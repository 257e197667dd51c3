package bufpool

import "testing"

func TestGetPut(t *testing.T) {
	for _, n := range []int{0, 1, 4096, 4097, 60000, 1 << 16, 1<<16 + 1, 1 << 20} {
		b := Get(n)
		if len(b) != n {
			t.Fatalf("Get(%d): length %d", n, len(b))
		}
		if n <= 1<<16 && cap(b)&(cap(b)-1) != 0 {
			t.Fatalf("Get(%d): capacity %d is not a power of two", n, cap(b))
		}
		Put(b)
		if c := Get(n); len(c) != n || cap(c) < n {
			t.Fatalf("Get(%d) after Put: %d/%d", n, len(c), cap(c))
		}
	}
	Put(make([]byte, 5000)) // not from Get: dropped, not handed out short
	if b := Get(8000); cap(b) < 8000 {
		t.Fatalf("capacity %d", cap(b))
	}
}
