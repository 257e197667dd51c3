package walk

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ostree-push/ostree-push/pkg/gvariant"
	"github.com/ostree-push/ostree-push/pkg/object"
)

// serialize is d.Serialize, which must not fail.
func serialize(t testing.TB, d *Dirtree) []byte {
	out, err := d.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzParseDirtree: any bytes are read without panic, and what is read
// serializes back to the same bytes (the reader takes normal form only).
func FuzzParseDirtree(f *testing.F) {
	var s1, s2 object.Checksum
	s1[0], s2[31] = 1, 2
	for _, d := range []*Dirtree{
		{},
		{Files: []Entry{{Name: "a", Sum: s1}}},
		{Files: []Entry{{Name: "a", Sum: s1}, {Name: "b", Sum: s2}}, Dirs: []Entry{{Name: "d", Sum: s2, Meta: s1}}},
	} {
		f.Add(serialize(f, d))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDirtree(data)
		if err != nil {
			return
		}
		if again := serialize(t, d); !bytes.Equal(again, data) {
			t.Fatalf("%x read as %+v, which serializes to %x", data, d, again)
		}
	})
}

// mem is a Loader over a map, for the walks' own tests.
type mem map[object.Name][]byte

func (m mem) Metadata(n object.Name) ([]byte, bool, error) { d, ok := m[n]; return d, ok, nil }
func (m mem) HasObjects(names []object.Name) ([]bool, error) {
	out := make([]bool, len(names))
	for i, n := range names {
		_, out[i] = m[n]
	}
	return out, nil
}

// TestCheckCompleteMissing removes each object of a small tree in turn:
// CheckComplete names it, and Reachable lists every object.
func TestCheckCompleteMissing(t *testing.T) {
	sum := func(b byte) object.Checksum { var c object.Checksum; c[0] = b; return c }
	m := mem{}
	file, meta, sub, root, commit := sum(1), sum(2), sum(3), sum(4), sum(5)
	m[object.Name{Checksum: file, Type: object.File}] = nil
	m[object.Name{Checksum: meta, Type: object.DirMeta}] = nil
	m[object.Name{Checksum: sub, Type: object.DirTree}] = serialize(t, &Dirtree{Files: []Entry{{Name: "f", Sum: file}}})
	m[object.Name{Checksum: root, Type: object.DirTree}] = serialize(t, &Dirtree{Dirs: []Entry{{Name: "d", Sum: sub, Meta: meta}}})
	b := gvariant.NewBuilder(commitType, binary.LittleEndian)
	b.Open()
	b.Open() // a{sv}
	b.Close()
	b.Bytes(nil) // parent
	b.Open()     // related
	b.Close()
	b.Str("subject")
	b.Str("")
	b.Uint64(0)
	b.Bytes(root[:])
	b.Bytes(meta[:])
	b.Close()
	data, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	m[object.Name{Checksum: commit, Type: object.Commit}] = data
	names, err := Reachable(m, commit)
	if err != nil || len(names) != 5 {
		t.Fatalf("Reachable = %v, %v; want the 5 objects", names, err)
	}
	if err := CheckComplete(m, commit, object.Zero); err != nil {
		t.Fatalf("CheckComplete of a whole commit: %v", err)
	}
	for _, n := range names {
		saved := m[n]
		delete(m, n)
		e, ok := CheckComplete(m, commit, object.Zero).(*IncompleteError)
		if !ok || e.Missing != n {
			t.Errorf("without %s: CheckComplete = %v", n, CheckComplete(m, commit, object.Zero))
		}
		m[n] = saved
	}
}

// TestParent reads a commit's parent: none, one, and a malformed one.
func TestParent(t *testing.T) {
	commit := func(parent []byte) []byte {
		b := gvariant.NewBuilder(commitType, binary.LittleEndian)
		b.Open()
		b.Open()
		b.Close()
		b.Bytes(parent)
		b.Open()
		b.Close()
		b.Str("s")
		b.Str("")
		b.Uint64(0)
		b.Bytes(make([]byte, 32))
		b.Bytes(make([]byte, 32))
		b.Close()
		data, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	var p object.Checksum
	p[0], p[31] = 7, 9
	if got, err := Parent(commit(nil)); err != nil || got != object.Zero {
		t.Errorf("no parent: %v, %v", got, err)
	}
	if got, err := Parent(commit(p[:])); err != nil || got != p {
		t.Errorf("parent: %v, %v; want %v", got, err, p)
	}
	if _, err := Parent(commit(p[:5])); err == nil {
		t.Error("a 5-byte parent accepted")
	}
}
