package receive

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// openPGPSignatures counts the signature packets (tag 2) in data, a run of
// binary OpenPGP packets as `gpg --detach-sign` writes them and libostree
// keeps them, one run per ostree.gpgsigs entry: gpg checks every one, so
// the cap on signatures counts packets, not entries. Framing that does not
// parse is an error.
func openPGPSignatures(data []byte) (int, error) {
	n := 0
	err := openPGPPackets(data, func(tag byte, _ []byte) error {
		if tag == 2 {
			n++
		}
		return nil
	})
	return n, err
}

// checkDetachedGPGSignature refuses data unless it is what gpg takes as a
// detached signature: one or more signature packets (tag 2, version 3 or
// 4, their fields within the packet), nothing else. libostree hands gpg
// every ostree.gpgsigs entry of a commit at once, so one entry that is not
// breaks the verification of the commit for every client.
func checkDetachedGPGSignature(data []byte) error {
	n := 0
	err := openPGPPackets(data, func(tag byte, body []byte) error {
		if tag != 2 {
			return fmt.Errorf("an OpenPGP packet of type %d, not a signature", tag)
		}
		n++
		return checkSignaturePacket(body)
	})
	if err == nil && n == 0 {
		err = errors.New("no OpenPGP signature packet")
	}
	return err
}

// checkSignaturePacket checks the layout of a signature packet's body
// (RFC 4880, section 5.2): version 3 or 4, the lengths it gives within the
// body, and some signature material after them.
func checkSignaturePacket(b []byte) error {
	bad := errors.New("a malformed OpenPGP signature packet")
	if len(b) == 0 {
		return bad
	}
	switch b[0] {
	case 3: // version, 5, type, time(4), key ID(8), algorithms(2), hash(2), MPIs
		if len(b) < 19+2 || b[1] != 5 {
			return bad
		}
	case 4: // version, type, algorithms(2), hashed subpackets, unhashed, hash(2), MPIs
		if len(b) < 6 {
			return bad
		}
		rest := b[4:]
		for range 2 { // the hashed, then the unhashed subpackets
			if len(rest) < 2 {
				return bad
			}
			l := int(binary.BigEndian.Uint16(rest))
			if len(rest) < 2+l {
				return bad
			}
			rest = rest[2+l:]
		}
		if len(rest) < 2+2 {
			return bad
		}
	default:
		return fmt.Errorf("an OpenPGP signature packet of version %d", b[0])
	}
	return nil
}

// openPGPPackets calls visit with the tag and body of each packet of data;
// an error when the framing does not parse, or visit's.
func openPGPPackets(data []byte, visit func(tag byte, body []byte) error) error {
	errMalformed := errors.New("malformed OpenPGP packet framing")
	for len(data) > 0 {
		b := data[0]
		if b&0x80 == 0 {
			return errMalformed
		}
		data = data[1:]
		var tag byte
		var body []byte
		if b&0x40 == 0 { // old format: tag and length type in b
			tag = (b >> 2) & 0x0f
			var l uint64
			switch b & 3 {
			case 0:
				if len(data) < 1 {
					return errMalformed
				}
				l, data = uint64(data[0]), data[1:]
			case 1:
				if len(data) < 2 {
					return errMalformed
				}
				l, data = uint64(binary.BigEndian.Uint16(data)), data[2:]
			case 2:
				if len(data) < 4 {
					return errMalformed
				}
				l, data = uint64(binary.BigEndian.Uint32(data)), data[4:]
			case 3: // indeterminate: the rest
				l = uint64(len(data))
			}
			if l > uint64(len(data)) {
				return errMalformed
			}
			body, data = data[:l], data[l:]
		} else { // new format: tag in b, then lengths, partial ones chained
			tag = b & 0x3f
			for {
				if len(data) < 1 {
					return errMalformed
				}
				o1 := data[0]
				var l uint64
				partial := false
				switch {
				case o1 < 192:
					l, data = uint64(o1), data[1:]
				case o1 < 224:
					if len(data) < 2 {
						return errMalformed
					}
					l, data = (uint64(o1)-192)<<8+uint64(data[1])+192, data[2:]
				case o1 == 255:
					if len(data) < 5 {
						return errMalformed
					}
					l, data = uint64(binary.BigEndian.Uint32(data[1:])), data[5:]
				default:
					l, data, partial = 1<<(o1&0x1f), data[1:], true
				}
				if l > uint64(len(data)) {
					return errMalformed
				}
				body, data = append(body, data[:l]...), data[l:]
				if !partial {
					break
				}
			}
		}
		if err := visit(tag, body); err != nil {
			return err
		}
	}
	return nil
}
