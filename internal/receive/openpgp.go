package receive

import (
	"encoding/binary"
	"errors"
)

// openPGPSignatures counts the signature packets (tag 2) in data, a run of
// binary OpenPGP packets as `gpg --detach-sign` writes them and libostree
// keeps them, one run per ostree.gpgsigs entry: gpg checks every one, so
// the cap on signatures counts packets, not entries. Framing that does not
// parse is an error.
func openPGPSignatures(data []byte) (int, error) {
	errMalformed := errors.New("malformed OpenPGP packet framing")
	n := 0
	for len(data) > 0 {
		b := data[0]
		if b&0x80 == 0 {
			return 0, errMalformed
		}
		data = data[1:]
		var tag byte
		if b&0x40 == 0 { // old format: tag and length type in b
			tag = (b >> 2) & 0x0f
			var l uint64
			switch b & 3 {
			case 0:
				if len(data) < 1 {
					return 0, errMalformed
				}
				l, data = uint64(data[0]), data[1:]
			case 1:
				if len(data) < 2 {
					return 0, errMalformed
				}
				l, data = uint64(binary.BigEndian.Uint16(data)), data[2:]
			case 2:
				if len(data) < 4 {
					return 0, errMalformed
				}
				l, data = uint64(binary.BigEndian.Uint32(data)), data[4:]
			case 3: // indeterminate: the rest
				l = uint64(len(data))
			}
			if l > uint64(len(data)) {
				return 0, errMalformed
			}
			data = data[l:]
		} else { // new format: tag in b, then lengths, partial ones chained
			tag = b & 0x3f
			for {
				if len(data) < 1 {
					return 0, errMalformed
				}
				o1 := data[0]
				var l uint64
				partial := false
				switch {
				case o1 < 192:
					l, data = uint64(o1), data[1:]
				case o1 < 224:
					if len(data) < 2 {
						return 0, errMalformed
					}
					l, data = (uint64(o1)-192)<<8+uint64(data[1])+192, data[2:]
				case o1 == 255:
					if len(data) < 5 {
						return 0, errMalformed
					}
					l, data = uint64(binary.BigEndian.Uint32(data[1:])), data[5:]
				default:
					l, data, partial = 1<<(o1&0x1f), data[1:], true
				}
				if l > uint64(len(data)) {
					return 0, errMalformed
				}
				data = data[l:]
				if !partial {
					break
				}
			}
		}
		if tag == 2 {
			n++
		}
	}
	return n, nil
}
