package receive

import (
	"bytes"
	"testing"
)

func TestOpenPGPSignatures(t *testing.T) {
	sig := func(body int) []byte { // a new-format signature packet
		return append([]byte{0xc2, byte(body)}, bytes.Repeat([]byte{1}, body)...)
	}
	oldSig := append([]byte{0x88, 3}, 1, 2, 3) // old format, tag 2, 1-byte length
	key := append([]byte{0xc6, 2}, 9, 9)       // a public-key packet: not counted
	many := bytes.Repeat(sig(10), 3000)
	long := append([]byte{0xc2, 0xc0, 0x10}, bytes.Repeat([]byte{1}, 16+192)...) // two-byte length
	partial := append(append([]byte{0xc2, 0xe1}, 1, 2), 1, 7)                    // 2-byte partial chunk, then 1 byte
	for _, tc := range []struct {
		name string
		data []byte
		n    int
		bad  bool
	}{
		{"one", sig(40), 1, false},
		{"old format", oldSig, 1, false},
		{"mixed", append(append(sig(5), key...), oldSig...), 2, false},
		{"one entry, 3000 signatures", many, 3000, false},
		{"two-byte length", long, 1, false},
		{"partial lengths", partial, 1, false},
		{"empty", nil, 0, false},
		{"not a packet", []byte{0x02, 0x01}, 0, true},
		{"short", []byte{0xc2, 40, 1}, 0, true},
	} {
		n, err := openPGPSignatures(tc.data)
		if (err != nil) != tc.bad || n != tc.n {
			t.Errorf("%s: %d, %v; want %d, error %v", tc.name, n, err, tc.n, tc.bad)
		}
	}
}
