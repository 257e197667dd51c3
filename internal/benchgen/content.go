package benchgen

import (
	"math/rand/v2"
)

// vocabulary of the text-like files: fixed, so that content depends only
// on the seed.
var vocabulary = func() []string {
	base := []string{"the", "of", "and", "to", "in", "is", "for", "that", "with", "on",
		"return", "if", "else", "while", "int", "char", "const", "struct", "static", "void",
		"def", "self", "import", "from", "class", "None", "True", "False", "value", "name",
		"error", "buffer", "length", "size", "count", "index", "file", "path", "data", "config",
		"#include", "<stdio.h>", "printf", "free", "malloc", "NULL", "{", "}", "(", ")", ";", "=",
		"==", "!=", "+", "-", "*", "/", "0", "1", "2", "16", "255", "0x0", "//", "/*", "*/"}
	words := append([]string(nil), base...)
	// Derived words, so the vocabulary is large enough to look like text
	// to a compressor (about 3:1 with gzip) but not like noise.
	r := rand.New(rand.NewPCG(7, 11))
	const letters = "abcdefghijklmnopqrstuvwxyz_"
	for len(words) < 1024 {
		n := 3 + r.IntN(9)
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[r.IntN(len(letters))]
		}
		words = append(words, string(b))
	}
	return words
}()

// Bytes makes the content c describes. buf is reused when large enough.
func (c Content) Bytes(buf []byte) []byte {
	n := int(c.Size)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if c.Text {
		fillText(buf, c.Seed)
	} else {
		fillBinary(buf, c.Seed)
	}
	return buf
}

// fillText writes lines of words.
func fillText(b []byte, seed uint64) {
	r := rand.NewPCG(seed, 0x74657874)
	i, col := 0, 0
	var bits uint64
	nbits := 0
	for i < len(b) {
		if nbits < 10 {
			bits, nbits = r.Uint64(), 64
		}
		w := vocabulary[bits&1023]
		bits >>= 10
		nbits -= 10
		i += copy(b[i:], w)
		col += len(w) + 1
		if i >= len(b) {
			break
		}
		if col > 72 {
			b[i], col = '\n', 0
		} else {
			b[i] = ' '
		}
		i++
	}
}

// fillBinary writes 512-byte blocks: random bytes (40%), zeros (20%), a
// small alphabet (20%) or a copy of an earlier block (20%).
func fillBinary(b []byte, seed uint64) {
	key := seedBytes(seed)
	cc := rand.NewChaCha8(key)
	r := rand.NewPCG(seed, 0x62696e)
	const block = 512
	for off := 0; off < len(b); off += block {
		blk := b[off:min(off+block, len(b))]
		switch k := r.Uint64() % 10; {
		case k < 4:
			cc.Read(blk)
		case k < 6:
			clear(blk)
		case k < 8:
			cc.Read(blk)
			for i := range blk {
				blk[i] = 'A' + blk[i]&15
			}
		default:
			if off == 0 {
				cc.Read(blk)
				continue
			}
			// Only from bytes already written: an overlapping source
			// would read what the buffer held before.
			src := int(r.Uint64() % uint64(off-len(blk)+1))
			copy(blk, b[src:src+len(blk)])
		}
	}
}
