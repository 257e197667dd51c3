package wire

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/object"
)

const protocolMD = "../../protocol.md"

var exampleLine = regexp.MustCompile(`^Example: (\S+)$`)

// readExamples returns the hex blocks of protocol.md by example name: each
// is a line "Example: NAME" followed (after blank lines, if any) by a fenced
// block with the info string "hex".
func readExamples(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open(protocolMD)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	examples := make(map[string][]byte)
	var (
		name   string          // the example whose block is expected or being read
		inHex  bool            // inside its block
		digits strings.Builder // the block's hex digits
		lineNo int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " \t")
		switch {
		case inHex && line == "```":
			b, err := hex.DecodeString(digits.String())
			if err != nil {
				t.Fatalf("protocol.md:%d: example %s: %v", lineNo, name, err)
			}
			if _, dup := examples[name]; dup {
				t.Fatalf("protocol.md:%d: example %s appears twice", lineNo, name)
			}
			examples[name] = b
			name, inHex = "", false
			digits.Reset()
		case inHex:
			for _, f := range strings.Fields(line) {
				digits.WriteString(f)
			}
		case name != "" && line == "```hex":
			inHex = true
		case name != "" && line != "":
			t.Fatalf("protocol.md:%d: example %s is not followed by a ```hex block", lineNo, name)
		case line == "```hex":
			t.Fatalf("protocol.md:%d: ```hex block without an Example: line before it", lineNo)
		case exampleLine.MatchString(line):
			name = exampleLine.FindStringSubmatch(line)[1]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if name != "" {
		t.Fatalf("protocol.md: example %s is not closed", name)
	}
	return examples
}

// exampleFrame is an expected frame of an example: a message, or the
// payload of a DATA frame.
type exampleFrame struct {
	msg  Message
	data []byte
}

func TestProtocolExamples(t *testing.T) {
	var (
		c1 = object.MustParseChecksum("a6a1c05d1b0e0de607849c01b553d816c85c3ce45a3f71d1054d86eea6dc5ef2")
		c2 = object.MustParseChecksum("94d1e17576dd3c8aca7fa81b569c7b397d5e0f3b6dd143db502799975523e0da")
		m  = object.MustParseChecksum("446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488")
		f2 = object.MustParseChecksum("28bbae256340117ff79d82efe91ce557c7b9302bf1a47f335799796c546eb7c2")
	)
	// The content stream of hello.txt: header size, padding, the
	// (uuuusa(ayay)) header, the data.
	stream := []byte("\x00\x00\x00\x12\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x81\xa4\x00\x00\x00\x00\x00\x11" +
		"hello, world\n")
	main := RefName{Name: "main"}
	want := map[string][]exampleFrame{
		"client-hello":   {{msg: &Hello{Versions: []uint16{1}, Capabilities: []string{"x-example"}, Agent: "ostree-push/1.0.0"}}},
		"receiver-hello": {{msg: &Hello{Versions: []uint16{1}, Agent: "ostree-receive/1.0.0"}}},
		"advertise": {{msg: &Advertise{Mode: ModeArchive, Refs: []AdvertisedRef{
			{Ref: main, Commit: c1, Complete: true},
		}}}},
		"query": {{msg: &Query{Objects: []object.Name{
			{Checksum: m, Type: object.DirMeta},
			{Checksum: f2, Type: object.File},
		}}}},
		"have": {{msg: &Have{Present: []bool{true, false}}}},
		"object": {
			{msg: &ObjectHeader{Name: object.Name{Checksum: f2, Type: object.File}, Size: uint64(len(stream))}},
			{data: stream},
		},
		"update": {{msg: &Update{Refs: []RefUpdate{{Ref: main, Old: c1, New: c2}}}}},
		"result": {{msg: &Result{ObjectsWritten: 3, BytesWritten: 158 + 45 + 39, Refs: []RefResult{
			{Ref: main, Status: StatusOK},
		}}}},
		"progress": {{msg: &Progress{Message: "received 3 objects"}}},
		"error":    {{msg: &ErrorMsg{Message: "no space left on device"}}},
	}

	examples := readExamples(t)
	for name := range examples {
		if _, ok := want[name]; !ok {
			t.Errorf("protocol.md has example %s, which this test does not know", name)
		}
	}
	for name, frames := range want {
		raw, ok := examples[name]
		if !ok {
			t.Errorf("protocol.md lacks example %s", name)
			continue
		}
		// Decode.
		r := NewFrameReader(bytes.NewReader(raw))
		for i, wf := range frames {
			typ, p, err := r.Next()
			if err != nil {
				t.Errorf("%s: frame %d: %v", name, i, err)
				break
			}
			if wf.msg == nil {
				if typ != FrameData || !bytes.Equal(p, wf.data) {
					t.Errorf("%s: frame %d: got %v % x, want DATA % x", name, i, typ, p, wf.data)
				}
				continue
			}
			got, err := DecodeMessage(typ, p)
			if err != nil {
				t.Errorf("%s: frame %d: %v", name, i, err)
			} else if !reflect.DeepEqual(got, wf.msg) {
				t.Errorf("%s: frame %d: decoded %v %+v, want %v %+v", name, i, typ, got, wf.msg.FrameType(), wf.msg)
			}
		}
		if _, _, err := r.Next(); err != io.EOF {
			t.Errorf("%s: after the expected frames: %v, want end of example", name, err)
		}
		// Encode.
		var buf bytes.Buffer
		w := NewFrameWriter(&buf)
		for _, wf := range frames {
			var err error
			if wf.msg != nil {
				err = w.WriteMessage(wf.msg)
			} else {
				err = w.WriteFrame(FrameData, wf.data)
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		w.Flush()
		if !bytes.Equal(buf.Bytes(), raw) {
			t.Errorf("%s: encodes to\n% x\nprotocol.md has\n% x", name, buf.Bytes(), raw)
		}
	}

	// The file object of the example is a real one: its checksum is the
	// SHA-256 of the content stream, as protocol.md says.
	if sum := sha256.Sum256(stream); object.Checksum(sum) != f2 {
		t.Errorf("SHA-256 of the example content stream is %x, want %v", sum, f2)
	}
}
