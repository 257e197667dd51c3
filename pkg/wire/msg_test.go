package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/object"
)

// Checksums used by the tests; any non-zero values would do.
var (
	csumA = object.MustParseChecksum("a6a1c05d1b0e0de607849c01b553d816c85c3ce45a3f71d1054d86eea6dc5ef2")
	csumB = object.MustParseChecksum("94d1e17576dd3c8aca7fa81b569c7b397d5e0f3b6dd143db502799975523e0da")
	csumC = object.MustParseChecksum("446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488")
)

func ref(name string) RefName { return RefName{Name: name} }

// validMessages returns messages of every type, including edge cases, that
// must survive a round trip.
func validMessages() []Message {
	manyObjects := make([]object.Name, MaxQueryObjects)
	for i := range manyObjects {
		manyObjects[i] = object.Name{Checksum: csumA, Type: object.File}
		binary.BigEndian.PutUint32(manyObjects[i].Checksum[:], uint32(i))
	}
	manyPresent := make([]bool, MaxQueryObjects)
	for i := range manyPresent {
		manyPresent[i] = i%3 == 0
	}
	return []Message{
		&Hello{Versions: []uint16{1}},
		&Hello{Versions: []uint16{1, 2, 65535}, Capabilities: []string{"a", "compression", "x-1-2"}, Agent: "ostree-push/1.0.0"},
		&Hello{Versions: []uint16{1}, Capabilities: []string{strings.Repeat("z", MaxCapabilityLen)}, Agent: strings.Repeat("é", MaxAgentLen/2)},
		&Advertise{Mode: ModeArchive},
		&Advertise{Mode: ModeBareUserOnly, CollectionID: "org.example.Os", Refs: []AdvertisedRef{
			{Ref: ref("main"), Commit: csumA, Complete: true},
			{Ref: RefName{CollectionID: "org.example.Os", Name: "main"}, Commit: csumB},
			{Ref: ref(strings.Repeat("r", MaxRefNameLen)), Commit: csumC, Complete: true},
			{Ref: RefName{CollectionID: strings.Repeat("c", MaxCollectionIDLen), Name: "x"}, Commit: csumC},
		}},
		&Refs{},
		&Refs{More: true, Refs: []AdvertisedRef{
			{Ref: ref("main"), Commit: csumA, Complete: true},
			{Ref: RefName{CollectionID: "org.example.Os", Name: "main"}, Commit: csumB},
		}},
		&Query{Objects: []object.Name{{Checksum: csumA, Type: object.Commit}}},
		&Query{Objects: []object.Name{
			{Checksum: csumA, Type: object.File}, {Checksum: csumA, Type: object.DirTree},
			{Checksum: csumA, Type: object.DirMeta}, {Checksum: csumA, Type: object.Commit},
			{Checksum: csumA, Type: object.CommitMeta}, {Checksum: csumA, Type: object.File},
		}},
		&Query{Objects: manyObjects},
		&Have{Present: []bool{true}},
		&Have{Present: []bool{false}},
		&Have{Present: []bool{true, false, true, true, false, false, true, false}},
		&Have{Present: []bool{false, false, false, false, false, false, false, false, true}},
		&Have{Present: manyPresent},
		&ObjectHeader{Name: object.Name{Checksum: csumA, Type: object.File}},
		&ObjectHeader{Name: object.Name{Checksum: csumB, Type: object.CommitMeta}, Size: 1<<64 - 1},
		&ObjectHeader{Name: object.Name{Checksum: csumA, Type: object.File}, Size: 7, Filez: true},
		&ObjectHeader{Name: object.Name{Checksum: csumA, Type: object.DirTree}, Size: 7, Deflated: true},
		&ObjectHeader{Name: object.Name{Checksum: csumA, Type: object.DirMeta}, Deflated: true},
		&ObjectHeader{Name: object.Name{Checksum: csumA, Type: object.Commit}, Size: 1, Deflated: true},
		&ObjectHeader{Name: object.Name{Checksum: csumA, Type: object.CommitMeta}, Size: 2, Deflated: true},
		&Update{Refs: []RefUpdate{{Ref: ref("main"), New: csumA}}},
		&Update{DryRun: true, Refs: []RefUpdate{
			{Ref: ref("main"), Old: csumA, New: csumB},
			{Ref: ref("old"), Old: csumA},
			{Ref: RefName{CollectionID: "org.example.Os", Name: "main"}, Old: csumB, New: csumA, Force: true},
			{Ref: ref("same"), Old: csumA, New: csumA},
		}},
		&Result{Refs: []RefResult{{Ref: ref("main")}}},
		&ResultFlags{Refs: []RefFlags{0}},
		&ResultFlags{Refs: []RefFlags{RefForced, 0, RefForced}},
		&ResultFlags{Refs: []RefFlags{RefDryRun, RefForced | RefDryRun}},
		&ResultFlags{Refs: []RefFlags{RefMetadata, RefForced | RefDryRun | RefMetadata}},
		&MetadataQuery{Commits: []MetadataDigest{{Commit: csumA}}},
		&MetadataQuery{Commits: []MetadataDigest{{Commit: csumA, Rest: csumB, Signatures: [][32]byte{csumC, csumA}},
			{Commit: csumB, Rest: csumB}, {Commit: csumC, Rest: csumA, Signatures: [][32]byte{csumB}}}},
		&MetadataHave{Current: []bool{true}},
		&MetadataHave{Current: []bool{false, false, false, false, false, false, false, false, true}},
		&RefFilter{},
		&RefFilter{All: true},
		&RefFilter{Patterns: []RefPattern{
			{Ref: ref("os/x86_64/stable")},
			{Ref: ref("app/"), Prefix: true},
			{Ref: ref(""), Prefix: true},
			{Ref: RefName{CollectionID: "org.example.Os", Name: "main"}},
		}},
		&Result{ObjectsWritten: 3, BytesWritten: 1<<64 - 1, Refs: []RefResult{
			{Ref: ref("a"), Status: StatusOK},
			{Ref: ref("b"), Status: StatusUpToDate},
			{Ref: ref("c"), Status: StatusNonFastForward, Message: "not a fast-forward"},
			{Ref: ref("d"), Status: StatusStale, Message: "ref moved"},
			{Ref: ref("e"), Status: StatusRejected, Message: "commit incomplete: missing 3 objects"},
			{Ref: RefName{CollectionID: "org.example.Os", Name: "e"}, Status: StatusAtomic, Message: "another ref failed"},
		}},
		&Progress{},
		&Progress{Message: "received 3 of 4 objects ✓"},
		&Progress{Message: strings.Repeat("p", maxStr)},
		&ErrorMsg{Message: "no space left on device"},
		&ErrorMsg{},
	}
}

func TestRoundTrip(t *testing.T) {
	for i, m := range validMessages() {
		p, err := m.MarshalBinary()
		if err != nil {
			t.Errorf("#%d: %T: MarshalBinary: %v", i, m, err)
			continue
		}
		got, err := DecodeMessage(m.FrameType(), p)
		if err != nil {
			t.Errorf("#%d: %T: DecodeMessage: %v", i, m, err)
			continue
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("#%d: %T: decoded %+v, want %+v", i, m, got, m)
		}
		p2, err := got.MarshalBinary()
		if err != nil || !bytes.Equal(p2, p) {
			t.Errorf("#%d: %T: re-encoding gives %x, %v; want %x", i, m, p2, err, p)
		}
	}
}

// TestTruncatedAndTrailing checks every valid encoding cut short and with a
// byte appended: all must be refused as protocol errors.
func TestTruncatedAndTrailing(t *testing.T) {
	for i, m := range validMessages() {
		p, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("#%d: %T: MarshalBinary: %v", i, m, err)
		}
		if len(p) > 4096 {
			p = nil // too slow to cut everywhere; the small ones cover the code
		}
		for n := 0; n < len(p); n++ {
			// Cutting a Have's bitmap is caught by its count; other
			// cuts by the field being read.
			if _, err := DecodeMessage(m.FrameType(), p[:n]); !isProtocolError(err) {
				t.Errorf("#%d: %T cut to %d of %d bytes: got %v, want a *ProtocolError", i, m, n, len(p), err)
			}
		}
		long := append(append([]byte(nil), p...), 0)
		if p != nil {
			_, err := DecodeMessage(m.FrameType(), long)
			if !isProtocolError(err) || !strings.Contains(err.Error(), "1 unexpected bytes after the message") {
				t.Errorf("#%d: %T with a trailing byte: got %v, want trailing bytes error", i, m, err)
			}
		}
	}
}

func isProtocolError(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe)
}

// hexBytes builds a payload from hex fragments separated by spaces, with
// "s:TEXT" for a str and "z:N" for N zero bytes.
func hexBytes(spec string) []byte {
	var b []byte
	for _, f := range strings.Fields(spec) {
		switch {
		case strings.HasPrefix(f, "s:"):
			s := strings.ReplaceAll(f[2:], "_", " ")
			b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
			b = append(b, s...)
		case strings.HasPrefix(f, "z:"):
			var n int
			fmt.Sscan(f[2:], &n)
			b = append(b, make([]byte, n)...)
		default:
			var x []byte
			if _, err := fmt.Sscanf(f, "%x", &x); err != nil {
				panic(fmt.Sprintf("bad hex fragment %q: %v", f, err))
			}
			b = append(b, x...)
		}
	}
	return b
}

const (
	magicHex = "894f53545053480a"
	csumAHex = "a6a1c05d1b0e0de607849c01b553d816c85c3ce45a3f71d1054d86eea6dc5ef2"
	csumBHex = "94d1e17576dd3c8aca7fa81b569c7b397d5e0f3b6dd143db502799975523e0da"
)
