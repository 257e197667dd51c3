package wire

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/object"
)

func TestUnmarshalRejects(t *testing.T) {
	tests := []struct {
		t       FrameType
		payload []byte
		want    string // in the error message
	}{
		// HELLO
		{FrameHello, hexBytes(""), "HELLO: magic: want magic (8 bytes), got end of message"},
		{FrameHello, hexBytes("894f5354"), "HELLO: magic: want magic (8 bytes), only 4 bytes left"},
		{FrameHello, hexBytes("4f5354505348300a 00000001 0001 00000000 0000"), "HELLO: magic: want 89 4f"},
		{FrameHello, hexBytes(magicHex + " 00000000 00000000 0000"), "HELLO: versions: must not be empty"},
		{FrameHello, hexBytes(magicHex + " 00000001 0000 00000000 0000"), "HELLO: versions[0]: version 0"},
		{FrameHello, hexBytes(magicHex + " 00000002 0001 0001 00000000 0000"), "HELLO: versions[1]: version 1 listed twice"},
		{FrameHello, hexBytes(magicHex + " 00000041 z:130 00000000 0000"), "HELLO: versions: count 65 exceeds the limit of 64"},
		{FrameHello, hexBytes(magicHex + " 00000010 0001"), "HELLO: versions: count 16 needs at least 32 bytes, only 2 left"},
		{FrameHello, hexBytes(magicHex + " 00000001 0001 00000001 s:Zip 0000"), `HELLO: capabilities[0]: "Zip" has 'Z' at offset 0`},
		{FrameHello, hexBytes(magicHex + " 00000001 0001 00000001 s: 0000"), "HELLO: capabilities[0]: must not be empty"},
		{FrameHello, hexBytes(magicHex + " 00000001 0001 00000002 s:zip s:zip 0000"), `HELLO: capabilities[1]: capability "zip" listed twice`},
		{FrameHello, hexBytes(magicHex + " 00000001 0001 00000001 s:" + strings.Repeat("a", 65) + " 0000"), "HELLO: capabilities[0]: 65 bytes, more than the 64 allowed"},
		{FrameHello, hexBytes(magicHex + " 00000001 0001 00000001 0005 7a"), "HELLO: capabilities[0]: want string (5 bytes), only 1 bytes left"},
		{FrameHello, hexBytes(magicHex + " 00000001 0001 00000000 s:" + strings.Repeat("a", 257)), "HELLO: agent: 257 bytes, more than the 256 allowed"},
		{FrameHello, hexBytes(magicHex + " 00000001 0001 00000000 0002 ff41"), `HELLO: agent: "\xffA" is not valid UTF-8`},
		{FrameHello, hexBytes(magicHex + " 00000001 0001 00000000 0002 4100"), `HELLO: agent: "A\x00" has a NUL byte at offset 1`},
		{FrameHello, hexBytes(magicHex + " 00000001 0001 00000000 00"), "HELLO: agent length: want u16 (2 bytes), only 1 bytes left"},

		// ADVERTISE
		{FrameAdvertise, hexBytes("s:archivez 0000 00000000"), `ADVERTISE: mode: unknown repository mode "archivez"`},
		{FrameAdvertise, hexBytes("s:bare s:" + strings.Repeat("c", 256) + " 00000000"), "ADVERTISE: collection_id: 256 bytes, more than the 255 allowed"},
		{FrameAdvertise, hexBytes("s:bare 0000 00000001 0000 s:main " + csumAHex + " 02"), "ADVERTISE: refs[0].flags: got 0x02, which has reserved bits 0x02 set"},
		{FrameAdvertise, hexBytes("s:bare 0000 00000001 0000 s:main " + csumAHex), "ADVERTISE: refs[0].flags: want u8 (1 bytes), got end of message"},
		{FrameAdvertise, hexBytes("s:bare 0000 00000001 0000 s:main z:32 01"), "ADVERTISE: refs[0].commit: all-zero checksum"},
		{FrameAdvertise, hexBytes("s:bare 0000 00000002 0000 0000 " + csumAHex + " 01 0000 s:main " + csumAHex + " 00"), "ADVERTISE: refs[0].name: must not be empty"},
		{FrameAdvertise, hexBytes("s:bare 0000 00000002 0000 s:main " + csumAHex + " 01 0000 s:main " + csumBHex + " 00"), `ADVERTISE: refs[1]: ref "main" listed twice`},
		{FrameAdvertise, hexBytes("s:bare 0000 ffffffff 0000 s:main"), "ADVERTISE: refs: count 4294967295 exceeds the limit of 1048576"},
		{FrameAdvertise, hexBytes("s:bare 0000 00000002 0000 s:main " + csumAHex + " 01"), "ADVERTISE: refs: count 2 needs at least 76 bytes, only 41 left"},
		{FrameAdvertise, hexBytes("s:bare 0000 00000001 0000 s:" + strings.Repeat("r", 1025) + " " + csumAHex + " 01"), "ADVERTISE: refs[0].name: 1025 bytes, more than the 1024 allowed"},

		// QUERY
		{FrameQuery, hexBytes("00000000"), "QUERY: objects: must not be empty"},
		{FrameQuery, hexBytes("00007531"), "QUERY: objects: count 30001 exceeds the limit of 30000"},
		{FrameQuery, hexBytes("00007530 01" + csumAHex), "QUERY: objects: count 30000 needs at least 990000 bytes, only 33 left"},
		{FrameQuery, hexBytes("00000001 05" + csumAHex), "QUERY: objects[0]: invalid object type 5"},
		{FrameQuery, hexBytes("00000002 01" + csumAHex + " 00" + csumAHex), "QUERY: objects[1]: invalid object type 0"},
		{FrameQuery, hexBytes("00000001 04 z:32"), "QUERY: objects[0]: all-zero checksum"},
		{FrameQuery, hexBytes("00000001 04 0011"), "QUERY: objects: count 1 needs at least 33 bytes, only 3 left"},

		// HAVE
		{FrameHave, hexBytes("00000000"), "HAVE: count: got 0, want 1 to 30000"},
		{FrameHave, hexBytes("00007531 z:3751"), "HAVE: count: got 30001, want 1 to 30000"},
		{FrameHave, hexBytes("00000009 ff"), "HAVE: bits: want bitmap of 9 objects (2 bytes), only 1 bytes left"},
		{FrameHave, hexBytes("00000003 08"), "HAVE: bits: last byte 0x08 has bits set beyond object 2"},
		{FrameHave, hexBytes("00000009 ff 02"), "HAVE: bits: last byte 0x02 has bits set beyond object 8"},
		{FrameHave, hexBytes("00000008 ff 00"), "HAVE: 1 unexpected bytes after the message"},

		// OBJECT
		{FrameObject, hexBytes("07" + csumAHex + " 0000000000000001"), "OBJECT: object: invalid object type 7"},
		{FrameObject, hexBytes("01 z:32 0000000000000001"), "OBJECT: object: all-zero checksum"},
		{FrameObject, hexBytes("41" + csumAHex + " 0000000000000001"), "OBJECT: object: only a metadata object can be sent deflated, not a file"},
		{FrameObject, hexBytes("45" + csumAHex + " 0000000000000001"), "OBJECT: object: invalid object type 5"},
		{FrameObject, hexBytes("c2" + csumAHex + " 0000000000000001"), "OBJECT: object: invalid object type 194"},
		{FrameObject, hexBytes("82" + csumAHex + " 0000000000000001"), "OBJECT: object: invalid object type 130"},
		{FrameObject, hexBytes("01" + csumAHex + " 00000000000001"), "OBJECT: size: want u64 (8 bytes), only 7 bytes left"},
		{FrameObject, hexBytes("01 a6a1"), "OBJECT: checksum: want checksum (32 bytes), only 2 bytes left"},

		// UPDATE
		{FrameUpdate, hexBytes("02 00000001 0000 s:main z:32 " + csumAHex + " 00"), "UPDATE: flags: got 0x02, which has reserved bits 0x02 set"},
		{FrameUpdate, hexBytes("00 00000001 0000 s:main z:32 " + csumAHex + " 80"), "UPDATE: refs[0].flags: got 0x80, which has reserved bits 0x80 set"},
		{FrameUpdate, hexBytes("00 00000001 0000 s:main z:32 z:32 00"), "UPDATE: refs[0]: old and new are both zero"},
		{FrameUpdate, hexBytes("00 00000000"), "UPDATE: refs: must not be empty"},
		{FrameUpdate, hexBytes("00 00002711"), "UPDATE: refs: count 10001 exceeds the limit of 10000"},
		{FrameUpdate, hexBytes("01 00000002 0000 s:main z:32 " + csumAHex + " 00 0000 s:main " + csumAHex + " z:32 01"), `UPDATE: refs[1]: ref "main" listed twice`},
		{FrameUpdate, hexBytes("00 00000001 0000 s:ma\xffn z:32 " + csumAHex + " 00"), `UPDATE: refs[0].name: "ma\xffn" is not valid UTF-8`},
		{FrameUpdate, hexBytes("00 00000001 0000 s:main z:32 " + csumAHex), "UPDATE: refs[0].flags: want u8 (1 bytes), got end of message"},

		// RESULT
		{FrameResult, hexBytes("z:16 00000001 0000 s:main 06 0000"), "RESULT: refs[0].status: unknown status 6"},
		{FrameResult, hexBytes("z:16 00000001 0000 s:main ff 0000"), "RESULT: refs[0].status: unknown status 255"},
		{FrameResult, hexBytes("z:16 00000000"), "RESULT: refs: must not be empty"},
		{FrameResult, hexBytes("z:16 00000002 0000 s:a 00 0000 0000 s:a 01 0000"), `RESULT: refs[1]: ref "a" listed twice`},
		{FrameResult, hexBytes("z:16 00000001 0000 s:main 00 0001 00"), `RESULT: refs[0].message: "\x00" has a NUL byte at offset 0`},
		{FrameResult, hexBytes("z:15"), "RESULT: bytes_written: want u64 (8 bytes), only 7 bytes left"},

		// RESULT_FLAGS
		{FrameResultFlags, hexBytes("00000000"), "RESULT_FLAGS: refs: no refs"},
		{FrameResultFlags, hexBytes("00000001 08"), "RESULT_FLAGS: refs[0].flags: got 0x08, which has reserved bits 0x08 set"},
		{FrameResultFlags, hexBytes("00000002 01"), "RESULT_FLAGS: refs: count 2 needs at least 2 bytes, only 1 left"},
		{FrameResultFlags, hexBytes("00002711"), "RESULT_FLAGS: refs: count 10001 exceeds the limit of 10000"},

		// METADATA_QUERY, METADATA_HAVE
		{FrameMetadataQuery, hexBytes("00000000"), "METADATA_QUERY: commits: must not be empty"},
		{FrameMetadataQuery, hexBytes("00000001 z:32 " + csumAHex + " 00000000"), "METADATA_QUERY: commits[0]: all-zero commit"},
		{FrameMetadataQuery, hexBytes("00000002 " + csumAHex + " z:32 00000000 " + csumAHex + " " + csumAHex + " 00000000"), "METADATA_QUERY: commits[1]: commit " + csumAHex + " asked about twice"},
		{FrameMetadataQuery, hexBytes("00002711"), "METADATA_QUERY: commits: count 10001 exceeds the limit of 10000"},
		{FrameMetadataQuery, hexBytes("00000001 " + csumAHex), "METADATA_QUERY: commits: count 1 needs at least 68 bytes, only 32 left"},
		{FrameMetadataQuery, hexBytes("00000001 " + csumAHex + " z:32 00000002 " + csumAHex), "METADATA_QUERY: commits[0].signatures: count 2 needs at least 64 bytes, only 32 left"},
		{FrameMetadataQuery, hexBytes("00000001 " + csumAHex + " z:32 00001001"), "METADATA_QUERY: commits[0].signatures: count 4097 exceeds the limit of 4096"},
		{FrameMetadataHave, hexBytes("00000000"), "METADATA_HAVE: count: got 0, want 1 to 10000"},
		{FrameMetadataHave, hexBytes("00000001 02"), "METADATA_HAVE: bits: last byte 0x02 has bits set beyond object 0"},
		{FrameMetadataHave, hexBytes("00000001 01 00"), "METADATA_HAVE: 1 unexpected bytes after the message"},

		// REF_FILTER
		{FrameRefFilter, hexBytes("02 00000000"), "REF_FILTER: flags: got 0x02, which has reserved bits 0x02 set"},
		{FrameRefFilter, hexBytes("01 00000001 0000 s:a 00"), "REF_FILTER: patterns: 1 patterns with ALL set"},
		{FrameRefFilter, hexBytes("00 00000001 0000 0000 00"), "REF_FILTER: patterns[0].name: must not be empty"},
		{FrameRefFilter, hexBytes("00 00000001 0000 s:app 01"), `REF_FILTER: patterns[0].name: a prefix is empty or ends in "/", got "app"`},
		{FrameRefFilter, hexBytes("00 00000001 0000 s:a 02"), "REF_FILTER: patterns[0].flags: got 0x02, which has reserved bits 0x02 set"},
		{FrameRefFilter, hexBytes("00 00000002 0000 s:a 00"), "REF_FILTER: patterns: count 2 needs at least 10 bytes, only 6 left"},

		// PROGRESS and ERROR
		{FrameProgress, hexBytes(""), "PROGRESS: message length: want u16 (2 bytes), got end of message"},
		{FrameProgress, hexBytes("0003 6869"), "PROGRESS: message: want string (3 bytes), only 2 bytes left"},
		{FrameProgress, hexBytes("0002 6869 0a"), "PROGRESS: 1 unexpected bytes after the message"},
		{FrameError, hexBytes("0001 c3"), `ERROR: message: "\xc3" is not valid UTF-8`},
		{FrameError, hexBytes("0001 00"), `ERROR: message: "\x00" has a NUL byte at offset 0`},
		{FrameError, make([]byte, MaxPayload+1), "ERROR: payload of 1048577 bytes exceeds the 1048576-byte frame limit"},
	}
	for i, tt := range tests {
		m := NewMessage(tt.t)
		err := m.UnmarshalBinary(tt.payload)
		if err == nil {
			t.Errorf("#%d: %v %x: no error, want %q", i, tt.t, tt.payload, tt.want)
			continue
		}
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("#%d: %v: error %v (%T) is not a *ProtocolError", i, tt.t, err, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("#%d: %v: error %q does not contain %q", i, tt.t, err, tt.want)
		}
		if !reflect.DeepEqual(m, NewMessage(tt.t)) {
			t.Errorf("#%d: %v: failed UnmarshalBinary changed the message to %+v", i, tt.t, m)
		}
	}
}

func TestMarshalRefuses(t *testing.T) {
	tooManyRefs := make([]RefUpdate, MaxRefUpdates+1)
	for i := range tooManyRefs {
		tooManyRefs[i] = RefUpdate{Ref: ref(fmt.Sprint(i)), New: csumA}
	}
	// Refs that are each valid but together do not fit in a frame.
	hugeAdvertise := &Advertise{Mode: ModeBare}
	for i := 0; i < MaxPayload/1000; i++ {
		hugeAdvertise.Refs = append(hugeAdvertise.Refs, AdvertisedRef{Ref: ref(fmt.Sprintf("%01000d", i)), Commit: csumA})
	}
	hugeResult := &Result{}
	for i := 0; i < 20; i++ {
		hugeResult.Refs = append(hugeResult.Refs, RefResult{Ref: ref(fmt.Sprint(i)), Message: strings.Repeat("m", maxStr)})
	}
	tests := []struct {
		m    Message
		want string
	}{
		{&Hello{}, "cannot encode HELLO: versions: must not be empty"},
		{&Hello{Versions: make([]uint16, MaxVersions+1)}, "versions: 65 items, more than the 64 allowed"},
		{&Hello{Versions: []uint16{2, 0}}, "versions[1]: version 0"},
		{&Hello{Versions: []uint16{1}, Capabilities: []string{"a b"}}, `capabilities[0]: "a b" has ' ' at offset 1`},
		{&Hello{Versions: []uint16{1}, Capabilities: make([]string, MaxCapabilities+1)}, "capabilities: 65 items"},
		{&Hello{Versions: []uint16{1}, Agent: "\x00"}, "agent: \"\\x00\" has a NUL byte"},
		{&Advertise{}, `mode: unknown repository mode ""`},
		{&Advertise{Mode: ModeBare, Refs: []AdvertisedRef{{Ref: ref("a")}}}, "refs[0].commit: all-zero checksum"},
		{&Advertise{Mode: ModeBare, Refs: []AdvertisedRef{{Ref: RefName{CollectionID: strings.Repeat("c", 256), Name: "a"}, Commit: csumA}}}, "refs[0].collection_id: 256 bytes"},
		{hugeAdvertise, "cannot encode ADVERTISE: encoded size 1086788 bytes exceeds the 1048576-byte frame limit"},
		{&Query{}, "objects: must not be empty"},
		{&Query{Objects: make([]object.Name, MaxQueryObjects+1)}, "objects: 30001 items, more than the 30000 allowed"},
		{&Query{Objects: []object.Name{{Checksum: csumA, Type: 5}}}, "objects[0]: invalid object type 5"},
		{&Have{}, "present: must not be empty"},
		{&Have{Present: make([]bool, MaxQueryObjects+1)}, "present: 30001 items"},
		{&ObjectHeader{Name: object.Name{Type: object.File}}, "object: all-zero checksum"},
		{&ObjectHeader{Name: object.Name{Checksum: csumA, Type: object.File}, Deflated: true}, "only a metadata object can be sent deflated"},
		{&ObjectHeader{Name: object.Name{Checksum: csumA, Type: object.File}, Filez: true, Deflated: true}, "only a metadata object can be sent deflated"},
		{&ObjectHeader{Name: object.Name{Checksum: csumA, Type: object.DirTree}, Filez: true}, "a .filez object must be a file"},
		{&Update{}, "refs: must not be empty"},
		{&Update{Refs: tooManyRefs}, "refs: 10001 items, more than the 10000 allowed"},
		{&Update{Refs: []RefUpdate{{Ref: ref("")}}}, "refs[0].name: must not be empty"},
		{&Update{Refs: []RefUpdate{{Ref: ref("a")}}}, "refs[0]: old and new are both zero"},
		{&Update{Refs: []RefUpdate{{Ref: ref("a"), New: csumA}, {Ref: ref("a"), Old: csumA}}}, `refs[1]: ref "a" listed twice`},
		{&Result{}, "refs: must not be empty"},
		{&Result{Refs: []RefResult{{Ref: ref("a"), Status: 6}}}, "refs[0].status: unknown status 6"},
		{&Result{Refs: []RefResult{{Ref: ref("a"), Message: "\xff"}}}, "refs[0].message: \"\\xff\" is not valid UTF-8"},
		{hugeResult, "cannot encode RESULT: encoded size 1310890 bytes exceeds"},
		{&Progress{Message: strings.Repeat("p", maxStr+1)}, "cannot encode PROGRESS: message: 65536 bytes, more than the 65535 allowed"},
		{&ErrorMsg{Message: "a\x00"}, "cannot encode ERROR: message: \"a\\x00\" has a NUL byte at offset 1"},
	}
	for i, tt := range tests {
		p, err := tt.m.MarshalBinary()
		if err == nil {
			t.Errorf("#%d: %T: encoded to %d bytes, want error %q", i, tt.m, len(p), tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("#%d: %T: error %q does not contain %q", i, tt.m, err, tt.want)
		}
		if isProtocolError(err) {
			t.Errorf("#%d: %T: encoding error %v is a *ProtocolError; the peer did nothing wrong", i, tt.m, err)
		}
	}
}

// TestDecodeCopies checks that decoded messages do not alias the payload,
// which FrameReader reuses.
func TestDecodeCopies(t *testing.T) {
	for i, m := range validMessages() {
		p, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeMessage(m.FrameType(), p)
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		for j := range p {
			p[j] = 0xa5
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("#%d: %T: decoded message changed with the payload", i, m)
		}
	}
}

func TestDecodeMessageBadTypes(t *testing.T) {
	tests := []struct {
		t       FrameType
		unknown bool
		want    string
	}{
		{FrameData, false, "protocol error: unexpected DATA frame (3 bytes) outside an object"},
		{0, true, "protocol error: frame type 0: unknown frame type"},
		{16, true, "protocol error: frame type 16: unknown frame type"},
	}
	for i, tt := range tests {
		m, err := DecodeMessage(tt.t, []byte{1, 2, 3})
		if m != nil || err == nil || err.Error() != tt.want {
			t.Errorf("#%d: got %v, %v; want error %q", i, m, err, tt.want)
		}
		if errors.Is(err, ErrUnknownFrame) != tt.unknown {
			t.Errorf("#%d: errors.Is(%v, ErrUnknownFrame) = %v", i, err, !tt.unknown)
		}
		if NewMessage(tt.t) != nil {
			t.Errorf("#%d: NewMessage(%v) is not nil", i, tt.t)
		}
	}
	for ft := FrameHello; ft <= FrameError; ft++ {
		m := NewMessage(ft)
		if (m == nil) != (ft == FrameData) {
			t.Errorf("NewMessage(%v) = %v", ft, m)
		} else if m != nil && m.FrameType() != ft {
			t.Errorf("NewMessage(%v).FrameType() = %v", ft, m.FrameType())
		}
	}
}

// TestMaxQueryFits checks the arithmetic behind MaxQueryObjects.
func TestMaxQueryFits(t *testing.T) {
	q := &Query{Objects: make([]object.Name, MaxQueryObjects)}
	for i := range q.Objects {
		q.Objects[i] = object.Name{Checksum: csumA, Type: object.File}
	}
	p, err := q.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 990004 {
		t.Errorf("a full QUERY takes %d bytes, want 990004 (as protocol.md says)", len(p))
	}
}

func TestHighestCommonVersion(t *testing.T) {
	tests := []struct {
		a, b []uint16
		want uint16
		ok   bool
	}{
		{[]uint16{1}, []uint16{1}, 1, true},
		{[]uint16{1, 2, 3}, []uint16{2, 1}, 2, true},
		{[]uint16{3, 1}, []uint16{1, 3}, 3, true},
		{[]uint16{2}, []uint16{1}, 0, false},
		{nil, []uint16{1}, 0, false},
	}
	for i, tt := range tests {
		if got, ok := HighestCommonVersion(tt.a, tt.b); got != tt.want || ok != tt.ok {
			t.Errorf("#%d: HighestCommonVersion(%v, %v) = %d, %v; want %d, %v", i, tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCapabilities(t *testing.T) {
	var zero Capabilities
	if zero.Has("compression") {
		t.Error("the zero Capabilities has compression")
	}
	tests := []struct {
		a, b []string
		want Capabilities
	}{
		{nil, nil, nil},
		{[]string{"a", "b"}, nil, nil},
		{[]string{"a", "b", "c"}, []string{"c", "x", "a"}, Capabilities{"a", "c"}},
		{[]string{"a", "a"}, []string{"a"}, Capabilities{"a"}},
	}
	for i, tt := range tests {
		got := Intersect(tt.a, tt.b)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("#%d: Intersect(%q, %q) = %q, want %q", i, tt.a, tt.b, got, tt.want)
		}
		for _, c := range tt.want {
			if !got.Has(c) {
				t.Errorf("#%d: %q.Has(%q) = false", i, got, c)
			}
		}
		if got.Has("x") {
			t.Errorf("#%d: %q.Has(\"x\") = true", i, got)
		}
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		got  any // a fmt.Stringer or an error
		want string
	}{
		{FrameHello, "HELLO"},
		{FrameAdvertise, "ADVERTISE"},
		{FrameQuery, "QUERY"},
		{FrameHave, "HAVE"},
		{FrameObject, "OBJECT"},
		{FrameData, "DATA"},
		{FrameUpdate, "UPDATE"},
		{FrameResult, "RESULT"},
		{FrameProgress, "PROGRESS"},
		{FrameError, "ERROR"},
		{FrameType(0), "FrameType(0)"},
		{FrameType(16), "FrameType(16)"},
		{StatusOK, "ok"},
		{StatusUpToDate, "up to date"},
		{StatusNonFastForward, "non-fast-forward"},
		{StatusStale, "stale"},
		{StatusRejected, "rejected"},
		{StatusAtomic, "atomic"},
		{RefStatus(6), "RefStatus(6)"},
		{RefName{Name: "main"}, "main"},
		{RefName{CollectionID: "org.example.Os", Name: "main"}, "(org.example.Os, main)"},
		{&ProtocolError{Msg: "bad"}, "protocol error: bad"},
		{&ProtocolError{Msg: "bad", Err: ErrFrameTooLarge}, "protocol error: bad: frame too large"},
		{&RemoteError{Message: "disk full"}, "remote: disk full"},
		{&RemoteError{Message: "evil\x1b]0;pwned\a\n"}, `remote: evil\x1b]0;pwned\x07\x0a`},
	}
	for i, tt := range tests {
		var s string
		switch v := tt.got.(type) {
		case error:
			s = v.Error()
		case fmt.Stringer:
			s = v.String()
		}
		if s != tt.want {
			t.Errorf("#%d: got %q, want %q", i, s, tt.want)
		}
	}
	for s := RefStatus(0); s < 8; s++ {
		if s.Success() != (s == StatusOK || s == StatusUpToDate) {
			t.Errorf("%v.Success() = %v", s, s.Success())
		}
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text, ünïcødé ✓ \ufffd", "plain text, ünïcødé ✓ \ufffd"},
		{"a\tb\nc\r\x00\x7f", `a\x09b\x0ac\x0d\x00\x7f`},
		{"\x1b[31mred", `\x1b[31mred`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"bad \xff utf8", `bad \xff utf8`},
		{"c1 \u0085", `c1 \u0085`},
		{`back\slash`, `back\slash`},
	}
	for i, tt := range tests {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("#%d: Printable(%q) = %q, want %q", i, tt.in, got, tt.want)
		}
	}
}

func TestErrorMsgErr(t *testing.T) {
	err := (&ErrorMsg{Message: "locked"}).Err()
	var re *RemoteError
	if !errors.As(err, &re) || re.Message != "locked" {
		t.Errorf("Err() = %#v, want *RemoteError with the message", err)
	}
}
